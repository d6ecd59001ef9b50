"""The ``Tracking`` callback: a ``fit``'s learning curves, kept in the run store.

>>> import numpy as np, tempfile, os
>>> from thalweg import nn, optim, losses
>>> from thalweg.train import fit
>>> from thalweg.tracking import RunStore, start_run
>>> X = np.linspace(-1, 1, 40, dtype=np.float32).reshape(-1, 1); y = 2 * X
>>> model = nn.Linear(1, 1, rng=0)
>>> store = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
>>> with start_run("line", store=store) as run:
...     _ = fit(model, losses.mse, optim.SGD(model.parameters(), lr=0.3), X, y,
...             epochs=5, verbose=0, callbacks=[Tracking(run)])
>>> with RunStore(store) as runs:
...     [step for step, _ in runs.get_run(run.id)["history"]["loss"]]
[1, 2, 3, 4, 5]

Inside a ``start_run`` block the callback is not even needed: ``fit`` adds one by itself
that logs to :func:`thalweg.tracking.active_run`.
"""

from __future__ import annotations

import math
import numbers
import sqlite3
import warnings

from thalweg.train.callbacks import Callback

# How long an epoch took is in the History for profiling; it is not a learning curve.
TIMINGS = ("seconds", "data_seconds", "examples", "examples_per_second")


class Tracking(Callback):
    """Log every epoch's History row (``loss``, ``val_loss``, metrics, learning rate) to a
    run, one step per epoch (timings are left out).

    Parameters
    ----------
    run : thalweg.tracking.Run, optional
        Where to log; default: the active run when training begins (nothing is logged
        without one).
    prefix : str
        Put before every metric name (``"fold1/"``), to keep several fits of one run apart.
    """

    def __init__(self, run=None, prefix: str = ""):
        self.run = run
        self.prefix = prefix
        self._target = None

    def on_train_begin(self, state) -> None:
        from thalweg.tracking import active_run

        self._target = self.run if self.run is not None else active_run()
        if self._target is None:
            return
        from thalweg.tracking.store import RunStoreError

        optimizer = state.optimizer
        try:
            self._target.log_params(
                {
                    f"{self.prefix}fit.optimizer": type(optimizer).__name__,
                    f"{self.prefix}fit.learning_rate": getattr(optimizer, "learning_rate", None),
                    f"{self.prefix}fit.batch_size": state.batch_size,
                    f"{self.prefix}fit.epochs": state.epochs,
                }
            )
        except (sqlite3.Error, RunStoreError) as error:  # the store must not end a training
            warnings.warn(
                f"could not record the training's parameters in the run store ({error}); "
                "training goes on without recording them",
                stacklevel=2,
            )

    def on_epoch_end(self, state, row: dict) -> None:
        if self._target is None:
            return
        from thalweg.tracking.store import RunStoreError

        values = {
            f"{self.prefix}{name}": float(value)
            for name, value in row.items()
            if name != "epoch"
            and name not in TIMINGS
            and isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and math.isfinite(value)
        }
        try:
            self._target.log_metrics(values, step=int(row["epoch"]))
        except (sqlite3.Error, RunStoreError) as error:  # a full disk must not end a training
            warnings.warn(
                f"could not record epoch {row['epoch']} in the run store ({error}); "
                "training goes on without recording its curves",
                stacklevel=2,
            )
            self._target = None
