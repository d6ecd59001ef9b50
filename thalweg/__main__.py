"""``python -m thalweg``: the command line (see ``thalweg.cli``)."""

from thalweg.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
