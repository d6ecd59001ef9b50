"""The ``thalweg`` command line (layer 5): train, profile-input, evaluate, predict, inspect,
demo, datasets, runs, serve, skew, labels, playground.

Run ``thalweg --help``, or ``python -m thalweg --help``. See ``docs/cli.md``.

* ``main.py``: the entry point and the error policy (exit 2 and one line for user
  mistakes, exit 1 and a traceback for bugs); ``flags.py``: library parameters shown as
  flags;
* ``app.py``: the commands, one module each (``train.py``, ``profile_input.py``,
  ``evaluate.py``, ``predict.py``, ``inspect_model.py``, ``demo.py``, ``datasets.py``),
  registered in one list;
* ``common.py``, ``options.py``, ``display.py``: shared options, parsing and printing;
* ``runs.py``, ``serve.py``, ``skew.py``, ``labels.py`` (with ``recording.py``, which
  records every train and evaluate), ``playground.py``: the infrastructure commands.

Each command parses, calls the library and displays: the work is in
:mod:`thalweg.models.table_training`, :mod:`thalweg.models.tabular`,
:mod:`thalweg.distributed.table_training` and :mod:`thalweg.data`.
"""

from thalweg.cli.main import main

__all__ = ["main"]
