"""The training loop: gradient descent over mini-batches, epoch after epoch.

One step of gradient descent is four lines::

    output = model(X_batch)               # forward: predictions
    loss = loss_fn(output, y_batch)       # how wrong they are
    optimizer.zero_grad(); loss.backward()  # backward: d loss / d every weight
    optimizer.step()                      # move every weight a little downhill

``batch_size`` decides what ``X_batch`` is, and so which flavour of gradient descent
this is: ``None`` — the whole training set each step (batch gradient descent: exact
gradient, one step per epoch); ``1`` — one example per step (stochastic gradient
descent: n noisy steps per epoch); ``k`` — ``k`` examples per step (mini-batch: the
usual compromise). Everything else in this file is bookkeeping around those lines:
shuffling, validation, history, callbacks, checkpoints.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import backend
from thalweg.autograd.creation import from_numpy
from thalweg.autograd.grad_mode import no_grad
from thalweg.data.split import train_val_test_split
from thalweg.errors import DataError, ShapeError
from thalweg.tracking import active_run
from thalweg.train.batches import ArrayBatches, InputBalance
from thalweg.train.callbacks import Callback, NaNGuard, ProgressBar
from thalweg.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from thalweg.train.history import History
from thalweg.train.tracking import Tracking

EVAL_CHUNK = 8192  # rows per forward pass when evaluating (bounds memory on big data)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: the loop stopped between two steps (weights consistent)."""


@dataclass
class TrainingState:
    """What the loop knows; callbacks read it (and set ``stop``)."""

    model: object
    optimizer: object
    loss_fn: Callable
    callbacks: list
    history: History
    epochs: int
    batch_size: int
    n_samples: int
    batches_per_epoch: int
    epoch: int = 0  # epochs completed
    batch_in_epoch: int = 0  # steps completed in the current epoch
    epoch_rng_state: dict | None = None  # generator state when the current epoch began
    epoch_loss_sum: float = 0.0  # Σ batch loss · batch size, this epoch
    epoch_examples: int = 0
    epoch_started: float = field(default_factory=time.perf_counter)
    stop: bool = False
    stop_reason: str | None = None


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
    validation: tuple | None = None,
    validation_fraction: float | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[Callable] | dict = (),
    verbose: int = 1,
    record_steps: bool = False,
    resume=None,
    nan_guard: bool = True,
) -> History:
    """Train ``model`` by gradient descent on ``(X, y)``.

    Parameters
    ----------
    model : callable
        Maps a Tensor ``(batch, n_features)`` to outputs; usually a ``thalweg.nn.Module``.
    loss_fn : callable
        ``loss_fn(output, y_batch) -> scalar Tensor``, e.g. ``thalweg.losses.mse``.
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
    validation : (X_val, y_val), optional
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
    dtype = optimizer.params[0].dtype
    if validation is not None and validation_fraction is not None:
        raise ValueError("fit: pass validation or validation_fraction, not both")
    rng = np.random.default_rng(
        seed if seed is not None else backend.default_generator().integers(2**63)
    )
    streaming = hasattr(X, "epoch_batches")
    if streaming:
        if validation_fraction is not None:
            raise ValueError("fit: validation_fraction needs in-memory arrays; pass validation=")
    else:
        X, y = _as_arrays(X, y, dtype)
    if validation_fraction is not None:
        if not 0 < validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        split_seed = int(rng.integers(2**63))
        X, X_val, y, y_val = train_val_test_split(
            X, y, fractions=(1 - validation_fraction, validation_fraction), seed=split_seed
        )
        validation = (X_val, y_val)
    if validation is not None:
        validation = _as_arrays(*validation, dtype)

    if streaming:
        source = X
    else:
        n = X.shape[0]
        batch_size = n if batch_size is None else min(int(batch_size), n)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        source = ArrayBatches(X, y, batch_size, shuffle)
    metric_fns = dict(metrics) if isinstance(metrics, dict) else {m.__name__: m for m in metrics}

    callbacks = list(callbacks)
    if nan_guard and not any(isinstance(c, NaNGuard) for c in callbacks):
        callbacks.insert(0, NaNGuard())
    if verbose and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(ProgressBar(verbose))
    if not any(isinstance(c, Tracking) for c in callbacks) and active_run() is not None:
        callbacks.append(Tracking())  # inside start_run(...): keep the learning curves

    state = TrainingState(
        model=model,
        optimizer=optimizer,
        loss_fn=loss_fn,
        callbacks=callbacks,
        history=History(record_steps),
        epochs=epochs,
        batch_size=source.batch_size,
        n_samples=source.n_samples,
        batches_per_epoch=(
            -(-source.n_samples // source.batch_size)
            if source.n_samples and source.batch_size
            else None
        ),
    )
    if resume is not None and Path(resume).exists():
        load_checkpoint(resume, state)
        if record_steps and state.history.step_losses is None:
            state.history.step_losses = []
    if state.epoch_rng_state is not None:
        rng.bit_generator.state = state.epoch_rng_state

    if hasattr(model, "train"):
        model.train()
    stats_before = source.input_stats() if hasattr(source, "input_stats") else None
    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        with _stop_on_ctrl_c() as interrupted:
            _run_epochs(state, rng, source, validation, metric_fns, interrupted)
    except TrainingInterrupted:
        checkpoints = [c for c in callbacks if isinstance(c, Checkpoint)]
        for checkpoint in checkpoints:
            save_checkpoint(checkpoint.path, state)
        where = f"epoch {state.epoch + 1}, step {state.batch_in_epoch}"
        if checkpoints:
            raise TrainingInterrupted(
                f"training interrupted at {where}; checkpoint saved to {checkpoints[0].path}; "
                f"resume with fit(..., resume={str(checkpoints[0].path)!r})"
            ) from None
        raise TrainingInterrupted(f"training interrupted at {where}") from None
    finally:
        for callback in callbacks:
            if isinstance(callback, ProgressBar):
                callback.on_train_end(state)
    for callback in callbacks:
        if not isinstance(callback, ProgressBar):
            callback.on_train_end(state)
    state.history.stop_reason = state.stop_reason or state.history.stop_reason
    # Did training wait for its input? (T_g·B/C against T_step; see InputBalance.)
    state.history.input_balance = InputBalance.measure(state.history.rows, source, stats_before)
    in_memory = isinstance(source, ArrayBatches) or getattr(source, "in_memory", False)
    if verbose and state.history.input_balance and not in_memory:
        print(state.history.input_balance, file=sys.stderr)
    return state.history


def _run_epochs(state, rng, source, validation, metric_fns, interrupted) -> None:
    model, optimizer, loss_fn = state.model, state.optimizer, state.loss_fn
    callbacks, history = state.callbacks, state.history

    while state.epoch < state.epochs and not state.stop:
        state.epoch_rng_state = rng.bit_generator.state
        if state.batch_in_epoch == 0:
            state.epoch_loss_sum, state.epoch_examples = 0.0, 0
            for callback in callbacks:
                callback.on_epoch_begin(state)
        state.epoch_started = time.perf_counter()
        epoch_examples_before = state.epoch_examples
        data_seconds = 0.0  # time spent waiting for the next batch
        batches = iter(source.epoch_batches(rng, state.batch_in_epoch))

        while True:
            waited = time.perf_counter()
            try:
                X_batch, y_batch = next(batches)
            except StopIteration:
                break
            data_seconds += time.perf_counter() - waited

            # The four lines of gradient descent.
            output = model(from_numpy(X_batch))
            loss = loss_fn(output, y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            loss_value = loss.item()
            count = X_batch.shape[0]
            state.batch_in_epoch += 1
            state.epoch_loss_sum += loss_value * count
            state.epoch_examples += count
            if history.step_losses is not None:
                history.step_losses.append(loss_value)
            for callback in callbacks:
                callback.on_batch_end(state, loss_value)
            if interrupted():
                raise TrainingInterrupted

        seconds = time.perf_counter() - state.epoch_started
        examples = state.epoch_examples - epoch_examples_before
        row = {
            "epoch": state.epoch + 1,
            "loss": state.epoch_loss_sum / max(state.epoch_examples, 1),
        }
        if validation is not None:
            row["val_loss"] = evaluate_loss(model, loss_fn, *validation)
        if metric_fns and (validation is not None or isinstance(source, ArrayBatches)):
            if validation is not None:
                X_metric, y_metric, prefix = *validation, "val_"
            else:
                X_metric, y_metric, prefix = source.X, source.y, ""
            output = predict_array(model, X_metric)
            for name, fn in metric_fns.items():
                row[prefix + name] = float(fn(y_metric, output))
        row["lr"] = float(optimizer.learning_rate)
        row["seconds"] = seconds
        row["data_seconds"] = data_seconds
        row["examples"] = examples
        row["examples_per_second"] = examples / max(seconds, 1e-9)
        history.append(row)
        state.epoch += 1
        state.batch_in_epoch = 0
        state.epoch_rng_state = rng.bit_generator.state  # where the next epoch starts
        if hasattr(model, "train"):
            model.train()
        for callback in callbacks:
            callback.on_epoch_end(state, row)


def predict_array(model, X: np.ndarray, chunk: int = EVAL_CHUNK) -> np.ndarray:
    """Model outputs for ``X`` as an array: eval mode, no graph, in chunks."""
    if hasattr(model, "eval"):
        model.eval()
    with no_grad():
        parts = [model(from_numpy(X[i : i + chunk])).data for i in range(0, len(X), chunk)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def evaluate_loss(model, loss_fn, X: np.ndarray, y: np.ndarray, chunk: int = EVAL_CHUNK) -> float:
    """Mean loss over ``(X, y)`` without recording a graph (chunk means, size-weighted)."""
    if hasattr(model, "eval"):
        model.eval()
    total = 0.0
    with no_grad():
        for i in range(0, len(X), chunk):
            rows = slice(i, i + chunk)
            total += loss_fn(model(from_numpy(X[rows])), y[rows]).item() * len(X[rows])
    return total / len(X)


def _as_arrays(X, y, dtype) -> tuple[np.ndarray, np.ndarray]:
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
    return X, y


@contextmanager
def _stop_on_ctrl_c():
    """Turn the first Ctrl-C into a flag the loop checks between steps.

    Stopping between steps (not in the middle of an update) keeps the weights and the
    optimizer state consistent, so the checkpoint saved on interrupt can be resumed. A
    second Ctrl-C interrupts immediately.
    """
    pressed = []

    def handler(signum, frame):
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield lambda: False
        return
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)
