"""The training loop: gradient descent over mini-batches, epoch after epoch.

One step of gradient descent is four lines (:func:`gradient_step`)::

    output = model(X_batch)                 # forward: predictions
    loss = loss_fn(output, y_batch)         # how wrong they are
    optimizer.zero_grad(); loss.backward()  # backward: d loss / d every weight
    optimizer.step()                        # move every weight a little downhill

``batch_size`` decides what ``X_batch`` is, and so which flavour of gradient descent
this is: ``None`` — the whole training set each step (batch gradient descent: exact
gradient, one step per epoch); ``1`` — one example per step (stochastic gradient
descent: n noisy steps per epoch); ``k`` — ``k`` examples per step (mini-batch: the
usual compromise).

:func:`run_epochs` is the loop around the step, and the only one in thalweg: epochs,
batches, the running loss, the history, callbacks, Ctrl-C. The step is what varies —
:func:`fit` passes :func:`gradient_step`; data-parallel training
(:mod:`thalweg.distributed`) passes a step that sums the workers' gradients — so both
keep the same history, callbacks and checkpoints. :func:`fit` itself only turns arrays
into batches, sets up the state and measures each epoch.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import backend
from thalweg.autograd.creation import from_numpy
from thalweg.autograd.grad_mode import no_grad
from thalweg.data.split import train_val_test_split
from thalweg.errors import DataError, ShapeError, ThalwegError
from thalweg.tracking import active_run
from thalweg.train.batches import ArrayBatches, InputBalance
from thalweg.train.callbacks import Callback, NaNGuard, ProgressBar
from thalweg.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    saved_split_seed,
)
from thalweg.train.history import History
from thalweg.train.random_state import set_generator_state
from thalweg.train.tracking import Tracking

EVAL_CHUNK = 8192  # rows per forward pass when evaluating (bounds memory on big data)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, SIGHUP) during training: the loop stopped between two steps
    (weights consistent). ``signal_number`` says which signal it was, ``where`` where
    training stopped, ``checkpoint`` the checkpoint saved (None if none was)."""

    def __init__(
        self,
        message: str = "",
        signal_number: int = signal.SIGINT,
        where: str = "",
        checkpoint: Path | None = None,
    ):
        super().__init__(message)
        self.signal_number = signal_number
        self.where = where
        self.checkpoint = checkpoint


@dataclass
class TrainingState:
    """What the loop knows; callbacks read it (and set ``stop``)."""

    model: object
    optimizer: object
    callbacks: list
    history: History
    epochs: int
    batch_size: int | None
    n_samples: int | None
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    loss_fn: Callable | None = None
    epoch: int = 0  # epochs completed
    batch_in_epoch: int = 0  # steps completed in the current epoch
    epoch_rng_state: dict | None = None  # generator state when the current epoch began
    split_seed: int | None = None  # seed of the held-out rows (validation_fraction)
    epoch_loss_sum: float = 0.0  # Σ batch loss · batch size, this epoch
    epoch_examples: int = 0
    epoch_examples_before: int = 0  # of those, examples done before this run (a resume)
    epoch_started: float = field(default_factory=time.perf_counter)
    epoch_data_seconds: float = 0.0  # time spent waiting for batches, this epoch
    stop: bool = False
    stop_reason: str | None = None

    @property
    def batches_per_epoch(self) -> int | None:
        """Steps in a full epoch, when the number of rows and the batch size are known."""
        if not (self.n_samples and self.batch_size):
            return None
        return math.ceil(self.n_samples / self.batch_size)


def gradient_step(model, loss_fn: Callable, optimizer) -> Callable:
    """One step of gradient descent on a batch, as the function :func:`run_epochs` calls.

    A batch is ``(X, y)`` or ``(X, y, sample_weight)``; the step returns the batch's
    loss and its number of rows.

    >>> import numpy as np
    >>> from thalweg import nn, optim, losses
    >>> model = nn.Linear(1, 1, rng=0)
    >>> step = gradient_step(model, losses.mse, optim.SGD(model.parameters(), lr=0.1))
    >>> loss, rows = step((np.ones((4, 1), np.float32), np.zeros((4, 1), np.float32)))
    >>> rows
    4
    """

    def step(batch) -> tuple[float, int]:
        X, y, *sample_weight = batch
        output = model(from_numpy(X))  # forward: predictions
        loss = loss_fn(output, y, *sample_weight)  # how wrong they are
        optimizer.zero_grad()
        loss.backward()  # backward: d loss / d every weight
        optimizer.step()  # move every weight a little downhill
        return loss.item(), len(X)

    return step


def compiled_gradient_step(model, loss_fn: Callable, optimizer) -> Callable:
    """:func:`gradient_step`, traced once per batch shape and replayed (``thalweg.compile``).

    The same four lines, the same numbers bit for bit; after the first calls of a batch
    shape each step is a straight run of NumPy kernels into buffers allocated once. A
    step that cannot be replayed exactly (a loss that reads ``.item()`` mid-step, say)
    warns once (:class:`~thalweg.errors.CompileWarning`) and runs eagerly.

    >>> import numpy as np
    >>> from thalweg import nn, optim, losses
    >>> model = nn.Linear(1, 1, rng=0)
    >>> step = compiled_gradient_step(model, losses.mse, optim.SGD(model.parameters(), lr=0.1))
    >>> batch = (np.ones((4, 1), np.float32), np.zeros((4, 1), np.float32))
    >>> [round(step(batch)[0], 4) for _ in range(4)]  # traced, traced, checked, replayed
    [0.2251, 0.081, 0.0292, 0.0105]
    """
    from thalweg.compile import compile as trace  # (layer 3, loaded when asked for)

    # a few batch shapes: the full batches, the last partial one, a resumed epoch's
    @trace(cache_size=4, fallback=True)
    def update(X, y, *sample_weight):
        loss = loss_fn(model(X), y, *sample_weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    def step(batch) -> tuple[float, int]:
        X, y, *sample_weight = batch
        return update(from_numpy(X), y, *sample_weight).item(), len(X)

    return step


def run_epochs(
    state: TrainingState,
    batches,
    step: Callable,
    *,
    measure: Callable[[], dict] | None = None,
) -> History:
    """Train epoch after epoch: every batch through ``step``, and the bookkeeping.

    Parameters
    ----------
    state : TrainingState
        Where training is (a resumed run starts mid-epoch) and what callbacks see.
    batches : batch source
        ``batches.epoch_batches(rng, skip)`` yields one epoch's batches; ``skip`` is the
        number already done in this epoch (see :mod:`thalweg.train.batches`).
    step : callable
        ``step(batch) -> (loss, rows)``: one update on one batch, returning the batch's
        mean loss and its number of examples (e.g. :func:`gradient_step`).
    measure : callable, optional
        ``measure() -> dict``: more columns for each epoch's row, computed after its last
        step (the validation loss, metrics).

    Returns
    -------
    History
        ``state.history``, one row per epoch; a callback may stop training early.
    """
    for callback in state.callbacks:
        callback.on_train_begin(state)
    # With a NaNGuard, a step whose numbers overflow ends training with one clear error;
    # NumPy's "overflow encountered" warnings before it would only bury that line.
    guarded = any(isinstance(c, NaNGuard) for c in state.callbacks)
    quiet = np.errstate(over="ignore", invalid="ignore") if guarded else contextlib.nullcontext()
    try:
        with _stop_on_signals() as interrupted, quiet:
            while state.epoch < state.epochs and not state.stop:
                _begin_epoch(state)
                for batch in _timed(batches.epoch_batches(state.rng, state.batch_in_epoch), state):
                    loss, rows = step(batch)
                    _end_step(state, loss, rows)
                    if interrupted():
                        raise TrainingInterrupted("", interrupted())
                _end_epoch(state, measure)
    except TrainingInterrupted as stop:
        raise _interruption(state, stop.signal_number) from None
    finally:
        for callback in state.callbacks:  # close progress bars first, so errors print clean
            if isinstance(callback, ProgressBar):
                callback.on_train_end(state)
    for callback in state.callbacks:
        if not isinstance(callback, ProgressBar):
            callback.on_train_end(state)
    for callback in state.callbacks:
        if isinstance(callback, NaNGuard):
            callback.check_weights(state)
    state.history.stop_reason = state.stop_reason or state.history.stop_reason
    return state.history


def _begin_epoch(state: TrainingState) -> None:
    state.epoch_rng_state = state.rng.bit_generator.state  # a resumed epoch redraws this order
    if state.batch_in_epoch == 0:  # (not when resuming in the middle of one)
        state.epoch_loss_sum, state.epoch_examples = 0.0, 0
        for callback in state.callbacks:
            callback.on_epoch_begin(state)
    state.epoch_started = time.perf_counter()
    state.epoch_data_seconds = 0.0
    state.epoch_examples_before = state.epoch_examples


def _timed(batches: Iterator, state: TrainingState) -> Iterator:
    """The batches, adding the time spent waiting for each to ``state.epoch_data_seconds``."""
    batches = iter(batches)
    while True:
        waited = time.perf_counter()
        batch = next(batches, None)
        state.epoch_data_seconds += time.perf_counter() - waited
        if batch is None:
            return
        yield batch


def _end_step(state: TrainingState, loss: float, rows: int) -> None:
    state.batch_in_epoch += 1
    state.epoch_loss_sum += loss * rows
    state.epoch_examples += rows
    if state.history.step_losses is not None:
        state.history.step_losses.append(loss)
    for callback in state.callbacks:
        callback.on_batch_end(state, loss)


def _end_epoch(state: TrainingState, measure: Callable[[], dict] | None) -> None:
    seconds = time.perf_counter() - state.epoch_started
    examples = state.epoch_examples - state.epoch_examples_before
    row = {"epoch": state.epoch + 1, "loss": state.epoch_loss_sum / max(state.epoch_examples, 1)}
    if measure is not None:
        row.update(measure())
    row["lr"] = float(state.optimizer.learning_rate)
    row["seconds"] = seconds
    row["data_seconds"] = state.epoch_data_seconds
    row["examples"] = examples
    row["examples_per_second"] = examples / max(seconds, 1e-9)
    state.history.append(row)
    state.epoch += 1
    state.batch_in_epoch = 0
    state.epoch_rng_state = state.rng.bit_generator.state  # where the next epoch starts
    if hasattr(state.model, "train"):
        state.model.train()  # measuring may have switched it to eval mode
    for callback in state.callbacks:
        callback.on_epoch_end(state, row)


def _interruption(state: TrainingState, signum: int) -> TrainingInterrupted:
    """Save a checkpoint for every ``Checkpoint`` callback; say where training stopped
    (and, if a checkpoint could not be written, why this run cannot be resumed)."""
    checkpoints = [c for c in state.callbacks if isinstance(c, Checkpoint)]
    where = f"epoch {state.epoch + 1}, step {state.batch_in_epoch}"
    for checkpoint in checkpoints:
        try:
            save_checkpoint(checkpoint.path, state)
        except (OSError, ThalwegError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            return TrainingInterrupted(
                f"training interrupted at {where}, but the checkpoint could not be saved to "
                f"{checkpoint.path} ({reason}); this run cannot be resumed",
                signum,
                where,
            )
    if checkpoints:
        path = checkpoints[0].path
        return TrainingInterrupted(
            f"training interrupted at {where}; checkpoint saved to {path}; "
            f"resume with fit(..., resume={str(path)!r})",
            signum,
            where,
            path,
        )
    return TrainingInterrupted(f"training interrupted at {where}", signum, where)


def fit(
    model,
    loss_fn: Callable,
    optimizer,
    X,
    y=None,
    *,
    epochs: int,
    batch_size: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    sample_weight=None,
    validation: tuple | None = None,
    validation_fraction: float | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[Callable] | dict = (),
    verbose: int = 1,
    record_steps: bool = False,
    resume=None,
    nan_guard: bool = True,
    compile: bool = False,
) -> History:
    """Train ``model`` by gradient descent on ``(X, y)``.

    Parameters
    ----------
    model : callable
        Maps a Tensor ``(batch, n_features)`` to outputs; usually a ``thalweg.nn.Module``.
    loss_fn : callable
        ``loss_fn(output, y_batch) -> scalar Tensor``, e.g. ``thalweg.losses.mse``; with
        ``sample_weight``, ``loss_fn(output, y_batch, weight_batch)``.
    optimizer : thalweg.optim.Optimizer
        Built on ``model.parameters()``.
    X : array_like, shape (n_samples, ...), or a batch source
        Training inputs; or an object with ``epoch_batches(rng, skip)`` yielding
        ``(X_batch, y_batch)`` (a stream from disk, a feature pipeline; see
        :mod:`thalweg.train.batches`), in which case ``y`` is None and ``batch_size`` /
        ``shuffle`` are the source's business.
    y : array_like, shape (n_samples, ...)
    epochs : int
        Passes over the training data (fewer if a callback stops early).
    batch_size : int or None
        None: full-batch gradient descent; 1: stochastic; k: mini-batch.
    shuffle : bool
        Visit examples in a new random order each epoch (mini-batch and stochastic).
    seed : int, optional
        Seed of the shuffling (and of the validation split); the same seed gives the
        same result bit for bit on the same machine.
    sample_weight : array_like, shape (n_samples,), optional
        One weight per row, passed to ``loss_fn`` with each batch (and split with the
        rows by ``validation_fraction``).
    validation : (X_val, y_val) or (X_val, y_val, weight_val), optional
        Data to compute ``val_loss`` (and ``val_<metric>``) on after each epoch.
    validation_fraction : float, optional
        Instead of ``validation``, hold out this fraction of ``(X, y)``.
    callbacks : sequence of Callback
        ``EarlyStopping``, ``Convergence``, ``Checkpoint``, ``ProgressBar``, your own.
    metrics : sequence of callables or dict of name -> callable
        ``metric(y_true, output_array) -> float``, computed at the end of each epoch on
        the validation data (``val_<name>``) or, without validation data, on the training
        data (``<name>``).
    verbose : int
        0: silent; 1: a progress bar when writing to a terminal.
    record_steps : bool
        Also keep every step's loss in ``history.step_losses``.
    resume : path, optional
        Continue from a checkpoint written by ``Checkpoint`` (or by Ctrl-C) exactly.
    nan_guard : bool
        Stop with a clear error when the loss becomes NaN or Inf.
    compile : bool
        Trace the training step once per batch shape and replay it
        (:func:`compiled_gradient_step`, ``docs/compile.md``): the same weights bit for
        bit, less Python overhead per step. Pays most for small networks and batches.

    Returns
    -------
    History
        One row per epoch; see :class:`~thalweg.train.history.History`. Each row also
        says how long the loop waited for data (``data_seconds``) out of ``seconds``:
        the input pipeline's share of the epoch. ``history.input_balance`` sums it up
        (:class:`~thalweg.train.batches.InputBalance`: ``T_g``, ``C``, ``B``,
        ``T_step``, utilisation, advice); with ``verbose``, a stream or pipeline prints it.

    Examples
    --------
    >>> import numpy as np, thalweg
    >>> from thalweg import nn, optim, losses
    >>> X = np.linspace(-1, 1, 50, dtype=np.float32).reshape(-1, 1); y = 3 * X + 1
    >>> model = nn.Linear(1, 1, rng=0)
    >>> history = fit(model, losses.mse, optim.SGD(model.parameters(), lr=0.5), X, y,
    ...               epochs=100, verbose=0)
    >>> round(float(model.weight.data[0, 0]), 3), round(float(model.bias.data[0]), 3)
    (3.0, 1.0)
    """
    rng = np.random.default_rng(
        seed if seed is not None else backend.default_generator().integers(2**63)
    )
    dtype = optimizer.params[0].dtype
    split_seed = None
    if validation_fraction is not None:
        split_seed = int(rng.integers(2**63))
        if resume is not None and Path(resume).exists():  # hold out the same rows as before
            split_seed = saved_split_seed(resume, split_seed)
    source, validation = _batches(
        X, y, sample_weight, batch_size, shuffle, validation, validation_fraction, split_seed, dtype
    )
    state = TrainingState(
        model=model,
        optimizer=optimizer,
        callbacks=with_default_callbacks(callbacks, nan_guard, verbose),
        history=History(record_steps),
        epochs=epochs,
        batch_size=source.batch_size,
        n_samples=source.n_samples,
        rng=rng,
        loss_fn=loss_fn,
        split_seed=split_seed,
    )
    if resume is not None and Path(resume).exists():
        load_checkpoint(resume, state)
        if record_steps and state.history.step_losses is None:
            state.history.step_losses = []
        if state.epoch_rng_state is not None:
            set_generator_state(rng, state.epoch_rng_state)  # checked by load_checkpoint

    if hasattr(model, "train"):
        model.train()
    stats_before = source.input_stats() if hasattr(source, "input_stats") else None
    history = run_epochs(
        state,
        source,
        (compiled_gradient_step if compile else gradient_step)(model, loss_fn, optimizer),
        measure=_epoch_measures(model, loss_fn, validation, metrics, source),
    )
    # Did training wait for its input? (T_g·B/C against T_step; see InputBalance.)
    history.input_balance = InputBalance.measure(history.rows, source, stats_before)
    in_memory = isinstance(source, ArrayBatches) or getattr(source, "in_memory", False)
    if verbose and history.input_balance and not in_memory:
        print(history.input_balance, file=sys.stderr)
    return history


def _batches(
    X, y, sample_weight, batch_size, shuffle, validation, validation_fraction, split_seed, dtype
):
    """The batch source and the validation arrays ``fit`` trains and measures on
    (``split_seed`` chooses the rows ``validation_fraction`` holds out)."""
    if validation is not None and validation_fraction is not None:
        raise ValueError("fit: pass validation or validation_fraction, not both")
    if hasattr(X, "epoch_batches"):  # a stream or a pipeline: it makes its own batches
        if validation_fraction is not None:
            raise ValueError("fit: validation_fraction needs in-memory arrays; pass validation=")
        if sample_weight is not None:
            raise ValueError("fit: sample_weight needs in-memory arrays")
        if validation is not None:
            validation = _as_arrays(*validation, dtype=dtype)
        return X, validation
    arrays = _as_arrays(X, y, sample_weight, dtype=dtype)
    if validation_fraction is not None:
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        parts = train_val_test_split(
            *arrays,
            fractions=(1 - validation_fraction, validation_fraction),
            seed=split_seed,
        )
        arrays, validation = parts[0::2], parts[1::2]
    elif validation is not None:
        validation = _as_arrays(*validation, dtype=dtype)
    X, y, *weight = arrays
    n = X.shape[0]
    batch_size = n if batch_size is None else min(int(batch_size), n)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return ArrayBatches(X, y, batch_size, shuffle, *weight), validation


def with_default_callbacks(callbacks, nan_guard: bool = True, verbose: int = 0) -> list:
    """``callbacks`` and the ones every training gets: a :class:`NaNGuard` first (unless
    ``nan_guard=False``), a :class:`ProgressBar` with ``verbose``, and — inside
    ``thalweg.tracking.start_run(...)`` — :class:`Tracking`, which logs the learning
    curves to the run."""
    callbacks = list(callbacks)
    if nan_guard and not any(isinstance(c, NaNGuard) for c in callbacks):
        callbacks.insert(0, NaNGuard())
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar(verbose))
    if not any(isinstance(c, Tracking) for c in callbacks) and active_run() is not None:
        callbacks.append(Tracking())  # inside start_run(...): keep the learning curves
    return callbacks


def _epoch_measures(model, loss_fn, validation, metrics, source) -> Callable[[], dict] | None:
    """What ``fit`` adds to each epoch's row: the validation loss and the metrics."""
    metric_fns = dict(metrics) if isinstance(metrics, dict) else {m.__name__: m for m in metrics}
    if validation is None and not (metric_fns and isinstance(source, ArrayBatches)):
        return None

    def measure() -> dict:
        row = {}
        if validation is not None:
            row["val_loss"] = evaluate_loss(model, loss_fn, *validation)
        if metric_fns:
            if validation is not None:
                X_metric, y_metric, prefix = validation[0], validation[1], "val_"
            else:
                X_metric, y_metric, prefix = source.X, source.y, ""
            output = predict_array(model, X_metric)
            for name, fn in metric_fns.items():
                row[prefix + name] = float(fn(y_metric, output))
        return row

    return measure


def predict_array(model, X: np.ndarray, chunk: int = EVAL_CHUNK) -> np.ndarray:
    """Model outputs for ``X`` as an array: eval mode, no graph, in chunks."""
    if hasattr(model, "eval"):
        model.eval()
    with no_grad():
        parts = [model(from_numpy(X[i : i + chunk])).data for i in range(0, len(X), chunk)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def evaluate_loss(
    model, loss_fn, X: np.ndarray, y: np.ndarray, sample_weight=None, chunk: int = EVAL_CHUNK
) -> float:
    """Mean loss over ``(X, y)`` without recording a graph (chunk means, size-weighted).

    With ``sample_weight``, ``loss_fn`` is called with each chunk's weights.
    """
    if hasattr(model, "eval"):
        model.eval()
    total = 0.0
    with no_grad():
        for i in range(0, len(X), chunk):
            rows = slice(i, i + chunk)
            weight = () if sample_weight is None else (sample_weight[rows],)
            loss = loss_fn(model(from_numpy(X[rows])), y[rows], *weight)
            total += loss.item() * len(X[rows])
    return total / len(X)


def _as_arrays(X, y, sample_weight=None, *, dtype) -> tuple[np.ndarray, ...]:
    X = np.asarray(X)
    if X.dtype.kind in "fiub" and X.dtype != dtype:
        X = X.astype(dtype)
    y = np.asarray(y)
    if y.dtype.kind == "f" and y.dtype != dtype:
        y = y.astype(dtype)
    if X.ndim == 0 or len(X) == 0:
        raise DataError("fit: X is empty; pass at least one training example")
    if len(X) != len(y):
        raise ShapeError(f"fit: X has {len(X)} rows but y has {len(y)}; they must match")
    if sample_weight is None:
        return X, y
    sample_weight = np.asarray(sample_weight, dtype=dtype)
    if sample_weight.shape != (len(X),):
        raise ShapeError(
            f"fit: sample_weight has shape {sample_weight.shape}; it must be ({len(X)},), "
            "one weight per row"
        )
    return X, y, sample_weight


# Signals that stop training between two steps, with a checkpoint: Ctrl-C, `kill`
# (SIGTERM, what schedulers and `docker stop` send) and a closed terminal (SIGHUP).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def _stop_on_signals():
    """Turn the first Ctrl-C, SIGTERM or SIGHUP into a flag the loop checks between steps.

    Stopping between steps (not in the middle of an update) keeps the weights and the
    optimizer state consistent, so the checkpoint saved on interrupt can be resumed. A
    second signal interrupts immediately. The flag's value is the signal's number.
    """
    received: list[int] = []

    def handler(signum, frame):
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    previous = {}
    try:
        for number in STOP_SIGNALS:
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread: leave the signals alone
        for number, old in previous.items():
            signal.signal(number, old)
        yield lambda: 0
        return
    try:
        yield lambda: received[0] if received else 0
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
