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

Gradient descent runs through the training loop of a single process,
:func:`thalweg.train.run_epochs` (epochs, history, callbacks, Ctrl-C): only the step
differs. The estimator is used through its public contract
(:class:`thalweg.models.GradientEstimator`): it learns its preprocessing from the merged
statistics, builds its network, encodes the shards (on the workers), chooses its
optimizer and learning rate, and sets its fitted attributes, as its own ``fit`` does.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from thalweg.autograd import engine
from thalweg.distributed import worker
from thalweg.distributed.cluster import require_dask
from thalweg.distributed.data import ShardedData
from thalweg.distributed.worker import flatten, set_flat, split_flat
from thalweg.errors import ConvergenceWarning
from thalweg.losses import l2_penalty
from thalweg.models import GradientEstimator
from thalweg.models.base import ClassifierMixin
from thalweg.models.compat import sklearn_compatible
from thalweg.nn import layer_to_config
from thalweg.train import History, TrainingState, run_epochs, with_default_callbacks

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
    estimator : a GradientEstimator (LinearRegression, LogisticRegression, MLPClassifier,
        MLPRegressor, ...)
        It learns its preprocessing and builds its network as its own ``fit`` would
        (:mod:`thalweg.models.gradient`). Its settings are used: ``max_epochs`` (steps of
        full-batch GD, epochs of SGD, iterations of L-BFGS), ``optimizer``,
        ``learning_rate`` (``"auto"`` measures the curvature on rows the workers
        sample), ``l1``, ``l2``, ``tol``, ``n_iter_no_change``, ``standardize``,
        ``random_state``, ``verbose``. ``early_stopping`` is not supported.
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

    # The estimator learns its preprocessing from the merged statistics of the shards,
    # and builds its network, exactly as its own fit would.
    data = ShardedData.load(client, X, y, target)
    summary = data.summarize(classify=isinstance(estimator, ClassifierMixin))
    estimator.begin_training(summary)
    seed = estimator.training_seed()
    # L-BFGS works in float64 (its line searches need the digits); descent in the data's.
    dtype = np.dtype(np.float64) if solver == "lbfgs" else summary.sample.dtype
    module = estimator.build_module(summary.n_features, np.random.default_rng(seed), dtype)
    if warn_small:
        message = small_data_message(summary.n_samples, module.num_parameters(), transport)
        if message:
            warnings.warn(message, SmallDataWarning, stacklevel=2)

    # Encode once, on the workers (estimator.encode travels there); raw shards are freed.
    prepared = data.transform(worker.prepare_shard, estimator.encode)
    del data
    if transport == "actors":
        prepared = prepared.to_actors()
    objective = ShardedObjective(
        prepared, worker.ModelSpec(layer_to_config(module), estimator.loss)
    )
    if solver == "lbfgs":
        history = minimize_lbfgs(estimator, module, objective)
        estimator.finish_training(module, history, warn=False)
        if hasattr(estimator, "solver_"):
            estimator.solver_ = "lbfgs"
        return estimator
    batch_size = batch_size if solver == "sgd" else None
    history, optimizer = descend(estimator, module, objective, summary, batch_size, seed)
    return estimator.finish_training(module, history, optimizer)


def check_supported(estimator, solver: str) -> None:
    """Raise a clear error for estimators and options data-parallel training lacks."""
    name = type(estimator).__name__
    if not isinstance(estimator, GradientEstimator):
        raise TypeError(
            f"thalweg.distributed trains estimators built on thalweg.models.GradientEstimator "
            f"(LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor...); got {name}"
        )
    if getattr(estimator, "early_stopping", False):
        raise ValueError(
            f"{name}(early_stopping=True) needs a held-out split, which thalweg.distributed "
            "does not make; set early_stopping=False (tol= still stops at convergence)"
        )
    if getattr(estimator, "l1", 0.0) and solver == "lbfgs":
        raise ValueError(
            f"{name}: l1 is not differentiable at 0, which L-BFGS needs; use solver='gd' "
            "or 'sgd' (proximal gradient descent)"
        )


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
class ShardBatches:
    """The batch source of data-parallel descent: each epoch's batches are the numbers
    ``0..steps-1`` of its mini-batches (rows ``[i·n_w/steps, (i+1)·n_w/steps)`` of each
    worker's ``n_w``); before an epoch of mini-batches, every worker shuffles its rows."""

    def __init__(self, objective: ShardedObjective, steps: int):
        self.objective = objective
        self.steps = steps
        self.n_samples = objective.n_samples
        self.batch_size = math.ceil(self.n_samples / steps)
        self.steps_before = 0  # timings recorded before the current epoch

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0):
        self.steps_before = len(self.objective.timings)
        if self.steps > 1:
            self.objective.shuffle(rng)
        yield from range(skip, self.steps)

    def worker_seconds(self) -> float:
        """The slowest worker's compute time, summed over this epoch's steps."""
        return sum(t.worker for t in self.objective.timings[self.steps_before :])


def descend(
    estimator,
    module,
    objective: ShardedObjective,
    summary,
    batch_size: int | None,
    seed: int,
):
    """Full-batch gradient descent (``batch_size=None``) or synchronous mini-batch SGD,
    through the training loop every thalweg trainer shares
    (:func:`thalweg.train.run_epochs`); the step sums the workers' gradients.

    Returns ``(history, optimizer)``.
    """
    params = module.parameters()
    n = objective.n_samples
    steps = 1 if batch_size is None else max(1, math.ceil(n / batch_size))
    optimizer = estimator.training_optimizer(module, summary.sample, batch_size, n)
    penalized, l2 = estimator.penalized(module), estimator.l2_strength()

    def step(index: int) -> tuple[float, int]:
        # One step: the workers' mean gradient plus the penalty's, then one update.
        loss, gradient, count = objective.loss_and_gradient(flatten(params), index, steps)
        penalty, penalty_gradient = penalty_and_gradient(params, penalized, l2)
        gradient += penalty_gradient
        optimizer.apply_gradients(zip(split_flat(gradient, params), params, strict=True))
        return loss + penalty, count

    callbacks = with_default_callbacks(
        estimator.training_callbacks(module), verbose=getattr(estimator, "verbose", 0)
    )
    batches = ShardBatches(objective, steps)
    state = TrainingState(
        model=module,
        optimizer=optimizer,
        callbacks=callbacks,
        history=History(),
        epochs=estimator.max_epochs,
        batch_size=batches.batch_size,
        n_samples=n,
        rng=np.random.default_rng(seed),
    )
    history = run_epochs(
        state, batches, step, measure=lambda: {"worker_seconds": batches.worker_seconds()}
    )
    return history, optimizer


# ---------------------------------------------------------------------- L-BFGS
def minimize_lbfgs(estimator, module, objective: ShardedObjective) -> History:
    """SciPy's L-BFGS-B on the map-reduced loss and gradient (plus the ``l2`` penalty),
    with the options :class:`~thalweg.models.LogisticRegression` uses; one History row
    per iteration. ``module`` ends with the solution."""
    from scipy.optimize import minimize

    params = module.parameters()
    penalized, l2 = estimator.penalized(module), estimator.l2_strength()
    history = History()
    started = time.perf_counter()

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        loss, gradient, _ = objective.loss_and_gradient(theta)
        set_flat(params, theta)  # the penalty is taken at the same weights
        penalty, penalty_gradient = penalty_and_gradient(params, penalized, l2)
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
            sklearn_compatible(ConvergenceWarning, "ConvergenceWarning"),
            stacklevel=3,
        )
    set_flat(params, result.x)
    history.stop_reason = str(result.message)
    return history
