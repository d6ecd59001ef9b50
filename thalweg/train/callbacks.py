"""Callbacks: small objects the training loop calls at fixed moments.

``fit`` calls, for every callback in order::

    on_train_begin(state)
    for each epoch:   on_epoch_begin(state)
        for each step:    on_batch_end(state, loss)
                      on_epoch_end(state, row)      # row: this epoch's History entry
    on_train_end(state)

A callback stops training by setting ``state.stop = True`` and ``state.stop_reason``.
Callbacks that keep counters (early stopping's patience, say) expose ``state_dict`` /
``load_state_dict`` so a checkpoint resumes them exactly.
"""

from __future__ import annotations

import math
import time

import numpy as np

from thalweg.errors import TrainingDivergedError
from thalweg.optim.transforms import proximal_l1
from thalweg.schema import Integer, Json, MapOf, Number, Optional, Record, Schema


class Callback:
    """Base class: every hook does nothing.

    ``state_schema`` describes what ``state_dict`` returns (arrays aside); a checkpoint's
    saved state is checked against it before ``load_state_dict`` sees it.
    """

    state_schema: Schema = MapOf(Json(max_depth=4), max_items=1000)

    def on_train_begin(self, state) -> None:
        pass

    def on_epoch_begin(self, state) -> None:
        pass

    def on_batch_end(self, state, loss: float) -> None:
        pass

    def on_epoch_end(self, state, row: dict) -> None:
        pass

    def on_train_end(self, state) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class NaNGuard(Callback):
    """Stop with a clear error the moment the loss becomes NaN or Inf.

    A diverging loss is almost always a learning rate that is too large (or features on
    wildly different scales); the message says so and names where it happened.
    """

    def on_batch_end(self, state, loss):
        if not math.isfinite(loss):
            where = f"epoch {state.epoch + 1}, step {state.batch_in_epoch}"
            self._diverged(state, f"the loss became {loss}", where)

    def on_epoch_end(self, state, row):
        # The last step of an epoch can blow the weights up after its loss was measured;
        # the validation loss is the first number computed with them.
        value = row.get("val_loss")
        if isinstance(value, float) and not math.isfinite(value):
            self._diverged(state, f"the validation loss became {value}", f"epoch {row['epoch']}")

    def check_weights(self, state) -> None:
        """Called once training has ended (after every callback, so after early stopping
        put the best weights back): a run whose last step made the weights NaN or
        infinite (one step per epoch and no validation, say) must not end as a success,
        since its model could never be loaded."""
        params = getattr(state.optimizer, "params", ())
        if any(not np.isfinite(p.data).all() for p in params):
            where = f"epoch {state.epoch}, its last step"
            self._diverged(state, "the weights became NaN or infinite", where)

    @staticmethod
    def _diverged(state, what: str, where: str):
        lr = state.optimizer.learning_rate
        raise TrainingDivergedError(
            f"training diverged: {what} at {where} (learning rate "
            f"{lr:g}); try a smaller learning rate (e.g. {lr / 10:g}) or standardize the "
            "features"
        )


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A History column, ``"val_loss"`` by default (falls back to ``"loss"`` with a
        note in ``stop_reason`` when there is no validation data).
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        An improvement must beat the best value by more than this.
    restore_best : bool
        Put back the weights of the best epoch when training stops.
    mode : "min" or "max"
        Whether smaller (loss) or larger (accuracy) is better; ``"auto"`` guesses from
        the name.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        mode: str = "auto",
    ):
        if mode == "auto":
            mode = "max" if any(w in monitor for w in ("acc", "auc", "r2", "f1")) else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.mode = mode
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state, row):
        value = row.get(self.monitor)
        if value is None:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r} but the history has "
                f"{sorted(row)}; pass validation data or monitor='loss'"
            )
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_weights = state.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop = True
                state.stop_reason = (
                    f"early stopping: {self.monitor} did not improve for {self.patience} "
                    f"epochs (best {self.best:.6g} at epoch {self.best_epoch})"
                )
        state.history.best_epoch = self.best_epoch

    def on_train_end(self, state):
        if self.restore_best and self.best_weights is not None and state.stop:
            state.model.load_state_dict(self.best_weights)

    state_schema = Record(
        required={
            "best": Optional(Number()),
            "best_epoch": Optional(Integer(minimum=0)),
            "wait": Integer(minimum=0),
        },
        optional={"best_weights": MapOf(Json(max_depth=1))},  # arrays, stored beside
        name="early-stopping state",
    )

    def state_dict(self):
        state = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}
        if self.best_weights is not None:
            state["best_weights"] = self.best_weights
        return state

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights = state.get("best_weights")


class Convergence(Callback):
    """Stop when the loss stops improving: for ``patience`` epochs in a row it has not
    beaten its best value by more than ``tol`` (times the best value, when that is
    above 1).

    "Converged" means further epochs would not change the model meaningfully: the
    stopping rule of scikit-learn's iterative estimators (``tol`` / ``n_iter_no_change``:
    no improvement on the best loss). Losses of thalweg's estimators are on standardized
    targets, of order 1, so ``tol`` is nearly relative. A mini-batch loss that wanders
    around its floor no longer sets new bests, so noisy training stops too.

    >>> rule = Convergence(tol=0.01, patience=2)
    >>> class State: stop = False; stop_reason = None
    >>> state = State()
    >>> for loss in [1.0, 0.5, 0.499, 0.501, 0.4995]:
    ...     rule.on_epoch_end(state, {"loss": loss})
    >>> state.stop, rule.best
    (True, 0.499)
    """

    def __init__(self, tol: float = 1e-4, patience: int = 5, monitor: str = "loss"):
        self.tol = tol
        self.patience = patience
        self.monitor = monitor
        self.best = None
        self.calm_epochs = 0

    def on_epoch_end(self, state, row):
        value = row[self.monitor]
        if self.best is not None and value > self.best - self.tol * max(1.0, abs(self.best)):
            self.calm_epochs += 1
        else:
            self.calm_epochs = 0
        self.best = value if self.best is None else min(self.best, value)
        if self.calm_epochs >= self.patience:
            state.stop = True
            state.stop_reason = (
                f"converged: {self.monitor} improved by less than {self.tol:g} for "
                f"{self.patience} epochs"
            )

    state_schema = Record(
        required={"calm_epochs": Integer(minimum=0)},
        optional={"best": Optional(Number()), "previous": Optional(Number())},  # older: previous
        name="convergence state",
    )

    def state_dict(self):
        return {"best": self.best, "calm_epochs": self.calm_epochs}

    def load_state_dict(self, state):
        self.best, self.calm_epochs = state.get("best", state.get("previous")), state["calm_epochs"]


class L1Proximal(Callback):
    """After every step, soft-threshold ``weights`` by ``step size · l1``.

    Gradient step on the smooth part of the loss, then the proximal step of
    ``l1·Σ|w|``: proximal gradient descent (ISTA). It drives irrelevant weights to
    exactly 0, where a subgradient would leave them jittering around it. With an
    adaptive optimizer the step size is per weight (``lr/(√v̂+ε)`` for Adam), so the
    threshold is too: the proximal step is taken in the optimizer's own geometry.
    """

    def __init__(self, weights, l1: float):
        self.weights = weights
        self.l1 = l1

    def on_batch_end(self, state, loss):
        optimizer = state.optimizer
        lr = optimizer.learning_rate_at(optimizer.global_step - 1)
        for weight in self.weights:
            proximal_l1([weight], optimizer.effective_learning_rate(weight, lr) * self.l1)


class ProgressBar(Callback):
    """A Rich progress bar: epoch, loss, validation loss, examples/s, ETA.

    Silent when standard output is not a terminal (logs, CI, pipes) or ``verbose=0``.
    It redraws at most ten times a second, so tiny models do not pay for drawing.
    """

    def __init__(self, verbose: int = 1, unit: str = "examples"):
        self.verbose = verbose
        self.unit = unit
        self.progress = None

    def on_train_begin(self, state):
        if not self.verbose:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self.progress = Progress(
            TextColumn("epoch"),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn("{task.fields[metrics]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=state.epochs, completed=state.epoch, metrics=""
        )
        self.last_draw = 0.0

    def on_batch_end(self, state, loss):
        if self.progress is None:
            return
        now = time.perf_counter()
        if now - self.last_draw > 0.1:
            self.last_draw = now
            fraction = (
                state.batch_in_epoch / state.batches_per_epoch if state.batches_per_epoch else 0
            )
            self.progress.update(
                self.task,
                completed=state.epoch + fraction,
                metrics=f"loss {loss:.4g}  {self._rate(state)}",
            )

    def _rate(self, state) -> str:
        elapsed = time.perf_counter() - state.epoch_started
        seen = state.epoch_examples
        return f"{seen / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""

    def on_epoch_end(self, state, row):
        if self.progress is None:
            return
        parts = [f"loss {row['loss']:.4g}"]
        if "val_loss" in row:
            parts.append(f"val_loss {row['val_loss']:.4g}")
        parts.append(f"{row['examples_per_second']:,.0f} {self.unit}/s")
        self.progress.update(self.task, completed=row["epoch"], metrics="  ".join(parts))

    def on_train_end(self, state):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
