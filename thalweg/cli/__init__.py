"""The ``thalweg`` command line (layer 5): train, profile-input, evaluate, predict, inspect,
demo, datasets, playground.

Run ``thalweg --help``, or ``python -m thalweg --help``. See ``docs/cli.md``.

* ``main.py``: the entry point and the error policy (exit 2 and one line for user
  mistakes, exit 1 and a traceback for bugs);
* ``app.py``: the commands and their options;
* ``training.py``, ``scoring.py``, ``reporting.py``, ``inspection.py``, ``demo.py``: what
  the commands do; ``options.py``, ``display.py``: parsing and printing;
* ``scale.py`` (``train --stream``, ``train --dask``), ``holdout.py`` (held-out rows of
  data never loaded whole), ``profiling.py`` (``profile-input``): data bigger than memory;
* ``playground.py``: ``thalweg playground``, the web playground (``thalweg.playground``).
"""

from thalweg.cli.main import main

__all__ = ["main"]
