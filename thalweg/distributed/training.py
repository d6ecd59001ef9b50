"""Data-parallel training: each worker computes the gradient of its rows, the driver adds.

The mean loss over n rows split into shards is a sum of per-shard sums::

    L(θ) = (1/n) Σ_rows ℓ(θ; row) = (1/n) Σ_shards [Σ_{rows in shard} ℓ(θ; row)]

and so is its gradient. One step of full-batch gradient descent is therefore a
map-reduce:

1. **broadcast** θ to every worker (inside each worker's task; a large θ is scattered
   to all of them once, ``client.scatter(θ, broadcast=True)``);
2. **map**: each worker runs the model forward and backward on its shard with
   thalweg's engine and returns Σ loss, Σ gradient and its row count;
3. **reduce**: the driver adds the sums and divides by the total row count — the exact
   full-data mean gradient, whatever the shard sizes;
4. **update**: a thalweg optimizer applies the gradient to the driver's copy of the
   weights, which is broadcast again at the next step.

L-BFGS uses the same map-reduce as the function SciPy minimizes. Synchronous mini-batch
SGD takes, at each step, a slice of each worker's shuffled rows (in proportion to its
share of the data), so the workers together contribute one mini-batch and one update.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from thalweg import backend
from thalweg.autograd import engine
from thalweg.distributed import worker
from thalweg.distributed.cluster import require_dask
from thalweg.distributed.data import ShardedData
from thalweg.distributed.estimators import (
    TrainingPlan,
    TrainingResult,
    check_supported,
    finish_training,
    is_classifier,
    plan_training,
)
from thalweg.distributed.worker import flatten, set_flat, split_flat
from thalweg.losses import l2_penalty
from thalweg.models.gradient_descent import ADAPTIVE_DEFAULT_LR, L1Proximal, make_optimizer
from thalweg.models.logistic import ConvergenceWarning
from thalweg.train import Convergence, History, NaNGuard, ProgressBar, TrainingState

SOLVERS = ("auto", "gd", "sgd", "lbfgs")
TRANSPORTS = ("tasks", "actors")

# Below this much work per step (rows × model parameters), one process trains faster than
# two local workers, for each transport: a step through the scheduler costs tens of
# milliseconds however little the workers compute, an actor call a few. Measured on
# the 2-core bench machine; see docs/scale.md ("Dask data-parallel training").
SMALL_DATA_WORK = {"tasks": 5e7, "actors": 2e7}


class SmallDataWarning(UserWarning):
    """The data is small enough that training in one process would be faster."""


# ---------------------------------------------------------------------- the public call
def fit(
    estimator,
    X,
    y=None,
    *,
    target: str | None = None,
    client=None,
    solver: str = "auto",
    batch_size: int | None = None,
    transport: str = "tasks",
    warn_small: bool = True,
):
    """Train a thalweg estimator data-parallel on a Dask cluster; returns it, fitted.

    The rows stay on the workers; only weights, gradients and summaries travel. A first
    pass computes the standardization statistics (per-shard moments merged exactly) and,
    for classifiers, the classes; then the solver runs, one map-reduce per step. The
    estimator ends fitted as by its own ``fit`` (``predict``, ``score``, ``save`` and
    reports work): with the same settings, full-batch ``"gd"`` reaches the same weights
    as ``estimator.fit`` on the whole data in one process.

    Parameters
    ----------
    estimator : LinearRegression, LogisticRegression, MLPClassifier or MLPRegressor
        Its settings are used: ``max_epochs`` (steps of full-batch GD, epochs of SGD,
        iterations of L-BFGS), ``optimizer``, ``learning_rate`` (``"auto"`` computes the
        curvature bound distributedly), ``l1``, ``l2``, ``tol``, ``n_iter_no_change``,
        ``standardize``, ``seed``, ``verbose``. ``early_stopping`` is not supported.
    X : dask.dataframe.DataFrame, dask.array.Array or numpy.ndarray
        Features (n_samples, n_features); a DataFrame may also hold the label column.
    y : dask Series or dask array (n_samples,), optional
        Labels, aligned with ``X``'s partitions; omit when ``target`` names a column.
    target : str, optional
        The label column of the DataFrame ``X``.
    client : dask.distributed.Client, optional
        Default: the current client (``thalweg.distributed.connect(...)`` makes one).
    solver : "auto", "gd", "sgd" or "lbfgs"
        ``"gd"``: full-batch gradient descent, one step per epoch; ``"sgd"``: synchronous
        mini-batch SGD, ``batch_size`` rows per step across all workers; ``"lbfgs"``:
        SciPy's L-BFGS on the map-reduced loss and gradient (smooth objectives, no
        ``l1``). ``"auto"``: ``"lbfgs"`` if the estimator's own solver is ``"lbfgs"``,
        ``"sgd"`` if its ``batch_size`` is an int, else ``"gd"``.
    batch_size : int, optional
        Rows per SGD step, all workers together (default: the estimator's int
        ``batch_size``). Each worker contributes in proportion to its share of the rows.
    transport : "tasks" or "actors"
        How a step reaches the workers. ``"tasks"``: one Dask task per worker, carrying
        θ (or referring to it, scattered once, when it is over 1 MiB); the scheduler
        tracks everything, and a lost worker's shard is recomputed elsewhere.
        ``"actors"``: each shard lives in a Dask actor that the driver calls directly,
        skipping the scheduler: several times less overhead per step, but Dask calls
        actors experimental, and a lost worker fails the fit.
    warn_small : bool
        Warn (:class:`SmallDataWarning`) when one process would train this faster.

    Returns
    -------
    The fitted estimator.

    Examples
    --------
    >>> import dask.array as da, numpy as np                         # doctest: +SKIP
    >>> from thalweg.models import LinearRegression
    >>> from thalweg.distributed import connect, fit
    >>> with connect("local:2") as client:                           # doctest: +SKIP
    ...     X = da.random.normal(size=(100_000, 20), chunks=(25_000, 20))
    ...     y = X @ np.arange(20.0) + 1
    ...     model = fit(LinearRegression(solver="gd"), X, y, client=client)
    >>> model.predict(np.ones((1, 20)))                              # doctest: +SKIP
    array([191.])
    """
    solver = choose_solver(estimator, solver, batch_size)
    check_supported(estimator, solver)
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {list(TRANSPORTS)}, got {transport!r}")
    if solver == "sgd":
        batch_size = batch_size if batch_size is not None else estimator.batch_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError("solver='sgd' needs batch_size= (rows per step, all workers)")
    client = _current_client() if client is None else client

    data = ShardedData.load(client, X, y, target)
    stats = data.statistics(classify=is_classifier(estimator))
    dtype = np.dtype(np.float64) if solver == "lbfgs" else backend.get_default_dtype()
    plan = plan_training(estimator, stats, solver, dtype)
    if warn_small:
        message = small_data_message(stats.n_samples, plan.module.num_parameters(), transport)
        if message:
            warnings.warn(message, SmallDataWarning, stacklevel=2)

    # Standardize and encode once, on the workers; the raw shards are then released.
    prepared = data.transform(
        worker.prepare_shard, plan.center, plan.scale, plan.feature_dtype, dtype, plan.target
    )
    del data
    if transport == "actors":
        prepared = prepared.to_actors()
    objective = ShardedObjective(prepared, plan.model_spec)
    if solver == "lbfgs":
        result = minimize_lbfgs(estimator, plan, objective)
    else:
        result = descend(estimator, plan, objective, batch_size if solver == "sgd" else None)
    return finish_training(estimator, plan, stats, result, solver)


def choose_solver(estimator, solver: str, batch_size: int | None) -> str:
    """Resolve ``solver="auto"`` from the estimator's own settings (see :func:`fit`)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {list(SOLVERS)}, got {solver!r}")
    if solver != "auto":
        return solver
    if getattr(estimator, "solver", None) == "lbfgs":
        return "lbfgs"
    if batch_size is not None or isinstance(getattr(estimator, "batch_size", None), int):
        return "sgd"
    return "gd"


def small_data_message(n_samples: int, n_parameters: int, transport: str = "tasks") -> str | None:
    """A one-line warning when a step's work, ``n_samples × n_parameters``, is below
    :data:`SMALL_DATA_WORK` for the transport (one process would be faster), else None.

    >>> small_data_message(10_000, 21)[:40]
    'thalweg.distributed: 10,000 rows × 21 pa'
    >>> small_data_message(10_000_000, 21) is None
    True
    """
    threshold = SMALL_DATA_WORK[transport]
    if n_samples * n_parameters >= threshold:
        return None
    return (
        f"thalweg.distributed: {n_samples:,} rows × {n_parameters:,} parameters is small "
        f"(under {threshold:.0e} row-parameters per step): one process trains it faster "
        "than this Dask cluster; train in one process (without --dask)"
    )


def _current_client():
    distributed = require_dask()
    try:
        return distributed.get_client()
    except ValueError:
        raise ValueError(
            "thalweg.distributed.fit: no Dask client; pass client=thalweg.distributed."
            "connect('local:2') (or a scheduler address)"
        ) from None


# ---------------------------------------------------------------------- the map-reduce
@dataclass
class StepTiming:
    """Where one step's time went, in seconds."""

    broadcast: float  # getting θ to the workers (scatter, when θ is large)
    round_trip: float  # submitting the tasks until every answer is back
    worker: float  # the slowest worker's forward + backward (part of round_trip)
    reduce: float  # adding the answers on the driver

    @property
    def total(self) -> float:
        return self.broadcast + self.round_trip + self.reduce


class ShardedObjective:
    """The model's mean loss and gradient over all rows, by map-reduce over the shards.

    Parameters
    ----------
    data : ShardedData or ActorShards
        Prepared shards (standardized features, encoded target), with their ``sizes``.
    model : ModelSpec
        The architecture and loss each worker rebuilds.
    """

    def __init__(self, data, model: worker.ModelSpec):
        self.data = data
        self.model = model
        self.timings: list[StepTiming] = []  # one per call of loss_and_gradient

    @property
    def n_samples(self) -> int:
        return int(sum(self.data.sizes))

    def shuffle(self, rng: np.random.Generator) -> None:
        """Put every worker's rows in a new random order (at the start of an SGD epoch)."""
        seeds = rng.integers(2**63, size=len(self.data.sizes))
        self.data = self.data.transform(worker.shuffle_shard, each=[(int(s),) for s in seeds])

    def loss_and_gradient(
        self, theta: np.ndarray, step: int = 0, steps: int = 1
    ) -> tuple[float, np.ndarray, int]:
        """Mean loss and gradient (float64) at weights ``theta``, and the rows they cover.

        The rows are mini-batch ``step`` of ``steps``: rows ``[step·n_w/steps,
        (step+1)·n_w/steps)`` of each worker w's ``n_w`` (so an epoch visits every row
        once, and each worker gives its share); with ``steps=1``, all of them.
        """
        started = time.perf_counter()
        theta_on_workers = self.data.broadcast(theta)
        broadcast = time.perf_counter()
        rows = [(step * n // steps, (step + 1) * n // steps) for n in self.data.sizes]
        parts = self.data.map(
            worker.loss_and_gradient_sums, self.model, theta_on_workers, each=rows
        )
        gathered = time.perf_counter()
        # The reduce: sums of sums, then one division by the rows they cover.
        count = sum(part.count for part in parts)
        loss = sum(part.loss for part in parts) / count
        gradient = np.sum([part.gradient.astype(np.float64) for part in parts], axis=0) / count
        done = time.perf_counter()

        slowest = max(part.seconds for part in parts)
        self.timings.append(
            StepTiming(broadcast - started, gathered - broadcast, slowest, done - gathered)
        )
        return loss, gradient, count


def penalty_and_gradient(params: list, penalized: list, l2: float) -> tuple[float, np.ndarray]:
    """``l2·Σ‖W‖²`` over the penalized weights, and its gradient as a flat vector over
    ``params`` (zeros for the biases), both by thalweg's engine on the driver."""
    if not l2:
        return 0.0, np.zeros(sum(p.size for p in params))
    penalty = l2 * l2_penalty(penalized)
    grads = dict(zip(map(id, penalized), engine.grad(penalty, penalized), strict=True))
    return penalty.item(), flatten(grads.get(id(p), np.zeros(p.shape)) for p in params)


# ---------------------------------------------------------------------- gradient descent
def descend(
    estimator, plan: TrainingPlan, objective: ShardedObjective, batch_size: int | None
) -> TrainingResult:
    """Full-batch gradient descent (``batch_size=None``) or synchronous mini-batch SGD.

    The loop of :func:`thalweg.train.fit` with the gradient computed by the workers: the
    same optimizer, callbacks (NaN guard, L1 proximal step, convergence, progress bar)
    and one History row per epoch.
    """
    module = plan.module
    params = module.parameters()
    n = objective.n_samples
    lr = estimator.learning_rate
    if lr == "auto":
        lr = auto_learning_rate(estimator, plan, objective.data, batch_size)
    optimizer = make_optimizer(estimator.optimizer, params, lr)

    callbacks = [NaNGuard()]
    if estimator.l1:
        callbacks.append(L1Proximal(plan.penalized, estimator.l1))
    if estimator.tol is not None:
        callbacks.append(Convergence(tol=estimator.tol, patience=estimator.n_iter_no_change))
    if estimator.verbose:
        callbacks.append(ProgressBar(estimator.verbose))
    steps = 1 if batch_size is None or batch_size >= n else math.ceil(n / batch_size)
    state = TrainingState(
        model=module,
        optimizer=optimizer,
        loss_fn=plan.loss,
        callbacks=callbacks,
        history=History(),
        epochs=estimator.max_epochs,
        batch_size=min(batch_size or n, n),
        n_samples=n,
        batches_per_epoch=steps,
    )
    rng = np.random.default_rng(estimator.seed)

    for callback in callbacks:
        callback.on_train_begin(state)
    try:
        while state.epoch < state.epochs and not state.stop:
            for callback in callbacks:
                callback.on_epoch_begin(state)
            state.epoch_started = time.perf_counter()
            state.epoch_loss_sum, state.epoch_examples = 0.0, 0
            steps_before = len(objective.timings)
            if steps > 1:
                objective.shuffle(rng)
            for step in range(steps):
                # One step: the workers' mean gradient plus the penalty's, then one update.
                loss, gradient, count = objective.loss_and_gradient(flatten(params), step, steps)
                penalty, penalty_gradient = penalty_and_gradient(
                    params, plan.penalized, estimator.l2
                )
                loss += penalty
                gradient += penalty_gradient
                optimizer.apply_gradients(zip(split_flat(gradient, params), params, strict=True))

                state.batch_in_epoch += 1
                state.epoch_loss_sum += loss * count
                state.epoch_examples += count
                for callback in callbacks:
                    callback.on_batch_end(state, loss)
            seconds = time.perf_counter() - state.epoch_started
            row = {
                "epoch": state.epoch + 1,
                "loss": state.epoch_loss_sum / state.epoch_examples,
                "lr": float(optimizer.learning_rate),
                "seconds": seconds,
                "data_seconds": 0.0,  # the rows are already on the workers
                "worker_seconds": sum(t.worker for t in objective.timings[steps_before:]),
                "examples": state.epoch_examples,
                "examples_per_second": state.epoch_examples / max(seconds, 1e-9),
            }
            state.history.append(row)
            state.epoch += 1
            state.batch_in_epoch = 0
            for callback in callbacks:
                callback.on_epoch_end(state, row)
    finally:
        for callback in callbacks:
            if isinstance(callback, ProgressBar):
                callback.on_train_end(state)
    for callback in callbacks:
        if not isinstance(callback, ProgressBar):
            callback.on_train_end(state)
    state.history.stop_reason = state.stop_reason
    history = state.history
    return TrainingResult(history, len(history), history.last("loss"), optimizer)


def auto_learning_rate(
    estimator, plan: TrainingPlan, data: ShardedData, batch_size: int | None
) -> float:
    """:func:`thalweg.models.gradient_descent.auto_learning_rate`, with the data on the
    workers: the step ``1/L`` from the largest curvature of the loss."""
    if estimator.optimizer in ADAPTIVE_DEFAULT_LR:
        return ADAPTIVE_DEFAULT_LR[estimator.optimizer]
    n = int(sum(data.sizes))
    curvature = largest_curvature(data, n)
    if batch_size is not None and batch_size < n:
        per_example = sum(data.map(worker.squared_norm_sum)) / n + 1.0
        curvature = max(curvature, per_example / batch_size)
    factor = {"squared": 2.0, "logistic": 0.25, "softmax": 0.5}[plan.loss_kind]
    lr = 1.0 / (factor * curvature + 2.0 * estimator.l2)
    return lr * (0.1 if estimator.optimizer in ("momentum", "nesterov") else 1.0)


def largest_curvature(data: ShardedData, n: int, iterations: int = 30, seed: int = 0) -> float:
    """Largest eigenvalue of ``[X, 1]ᵀ[X, 1] / n``, as the single-process version finds it:
    exactly from the summed ``(d+1)×(d+1)`` matrix when it is small, else by power
    iteration with each product a map-reduce over the shards."""
    if data.n_features + 1 <= 512:
        gram = np.sum(data.map(worker.curvature_gram), axis=0) / n
        return float(np.linalg.eigvalsh(gram)[-1])
    vector = np.random.default_rng(seed).standard_normal(data.n_features + 1)
    value = 1.0
    for _ in range(iterations):
        vector = np.sum(data.map(worker.curvature_product, vector), axis=0) / n
        value = float(np.linalg.norm(vector))
        if value == 0:
            return 1.0
        vector /= value
    return value


# ---------------------------------------------------------------------- L-BFGS
def minimize_lbfgs(estimator, plan: TrainingPlan, objective: ShardedObjective) -> TrainingResult:
    """SciPy's L-BFGS-B on the map-reduced loss and gradient (plus the ``l2`` penalty),
    with the options :class:`~thalweg.models.LogisticRegression` uses; one History row
    per iteration."""
    from scipy.optimize import minimize

    params = plan.module.parameters()
    history = History()
    started = time.perf_counter()

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient, _ = objective.loss_and_gradient(theta)
        set_flat(params, theta)  # the penalty is taken at the same weights
        penalty, penalty_gradient = penalty_and_gradient(params, plan.penalized, estimator.l2)
        return loss + penalty, gradient + penalty_gradient

    def record(intermediate_result) -> None:
        seconds = time.perf_counter() - started
        history.append(
            {"epoch": len(history) + 1, "loss": float(intermediate_result.fun), "seconds": seconds}
        )

    result = minimize(
        loss_and_gradient,
        flatten(params).astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options={
            "maxiter": estimator.max_epochs,
            "maxls": 50,
            "gtol": estimator.tol if estimator.tol is not None else 1e-6,
            "ftol": 64 * np.finfo(float).eps,
        },
    )
    if not result.success and result.nit >= estimator.max_epochs:
        warnings.warn(
            f"{type(estimator).__name__}: L-BFGS did not converge in {estimator.max_epochs} "
            "iterations; increase max_epochs",
            ConvergenceWarning,
            stacklevel=3,
        )
    set_flat(params, result.x)
    history.stop_reason = str(result.message)
    return TrainingResult(history, int(result.nit), float(result.fun))
