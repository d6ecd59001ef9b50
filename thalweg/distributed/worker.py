"""What each Dask worker runs: plain NumPy and thalweg's engine, no Dask.

A worker holds one :class:`Shard`: the rows of the partitions assigned to it, as
arrays. The driver never sees those rows; it only asks the workers for small summaries
of them:

* :func:`shard_statistics` — row count, column means and sums of squared deviations
  (for standardization), the target's moments or its set of class labels, and a few
  evenly spaced rows (for the learning rate);
* :func:`prepare_shard` — encode the rows as the estimator does (``estimator.encode``),
  once;
* :func:`loss_and_gradient_sums` — the summed loss and gradient of the model over the
  shard (or a mini-batch of it) at the weights the driver broadcast.

Every summary is a *sum* (or per-shard moments), so the driver can add the workers'
answers and divide by the total row count to get the exact full-data mean.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from thalweg.autograd import engine
from thalweg.autograd.creation import from_numpy
from thalweg.autograd.tensor import Tensor
from thalweg.errors import DataError, ShapeError
from thalweg.models import checks
from thalweg.nn.layers import layer_from_config


@dataclass
class Shard:
    """The rows one worker holds: features ``X`` (n, d) and target ``y`` (n,) or (n, k)."""

    X: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return self.X.shape[0]


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to rebuild the model: its architecture (a ``thalweg.nn``
    layer config, see ``layer_to_config``) and its loss, ``loss(output, target) ->``
    the batch's mean (the estimator's own ``loss`` method, carried by pickle)."""

    architecture: dict
    loss: object


@dataclass
class PartialSums:
    """One worker's answer for one step: sums over its rows, and how long it took."""

    loss: float  # Σ per-row loss
    gradient: np.ndarray  # Σ per-row gradient, all parameters flattened into one vector
    count: int  # rows summed over
    seconds: float  # compute time on the worker (the rest of a step is overhead)


# ---------------------------------------------------------------------- loading
def shard_from_arrays(x_blocks: list, y_blocks: list) -> Shard:
    """Stack a worker's row blocks of a Dask array (and of its target) into one shard."""
    X = np.concatenate([np.asarray(block) for block in x_blocks])
    y = np.concatenate([np.asarray(block).reshape(len(block), -1) for block in y_blocks])
    return _shard(X, y)


def shard_from_frames(frames: list, target: str) -> Shard:
    """Stack a worker's pandas partitions into one shard; ``target`` is the label column."""
    X = np.concatenate([frame.drop(columns=[target]).to_numpy() for frame in frames])
    y = np.concatenate([np.asarray(frame[target]) for frame in frames])
    return _shard(X, y)


def _shard(X: np.ndarray, y: np.ndarray) -> Shard:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if len(X) != len(y):
        raise ShapeError(
            f"thalweg.distributed: a partition has {len(X)} rows of X but {len(y)} of y; "
            "chunk X and y alike along the rows"
        )
    if len(X) == 0:  # an empty partition (a filter emptied it): contributes nothing
        return Shard(np.empty((0, X.shape[1] if X.ndim == 2 else 0)), y)
    return Shard(checks.check_X(X, "thalweg.distributed"), y)


class ShardActor:
    """Holds one shard inside its worker as a Dask *actor*: the driver calls its methods
    directly on the worker, skipping the scheduler (~2 ms a step instead of ~10 ms with
    tasks on the measured machine; see docs/scale.md). Same functions, other transport.
    """

    def __init__(self, shard: Shard):
        self.shard = shard

    def run(self, function, *args):
        """``function(shard, *args)``: the answer goes back to the driver."""
        return function(self.shard, *args)

    def transform(self, function, *args) -> None:
        """Replace the shard by ``function(shard, *args)``, in place on the worker."""
        self.shard = function(self.shard, *args)


# ---------------------------------------------------------------------- statistics
def shard_statistics(shard: Shard, classify: bool, sample_rows: int) -> dict:
    """Row count, per-column mean and M2 (Σ squared deviations) of ``X``; for a
    regression target the same three of ``y``, for a classification target its labels;
    about ``sample_rows`` evenly spaced rows of ``X``; and ``X``'s dtype.

    Means and M2 of different shards combine exactly (Chan et al.); see
    :func:`thalweg.distributed.data.combine_moments`.
    """
    who = "thalweg.distributed"
    stats = {"n": len(shard), **_moments(shard.X), "dtype": str(shard.X.dtype)}
    stats["sample"] = shard.X[:: max(1, math.ceil(len(shard) / max(sample_rows, 1)))]
    if classify:
        if shard.y.dtype.kind == "f":
            checks.check_finite(shard.y, who, "y")
            if len(shard) and checks.target_type(shard.y) == "continuous":
                raise DataError(
                    f"{who}: y has non-integer values, which is a regression target; use a "
                    "regressor, or convert y to class labels"
                )
        stats["classes"] = np.unique(shard.y)
    else:
        y = checks.check_y_regression(shard.y, len(shard), who)
        stats["y"] = _moments(y[:, None])
    return stats


def _moments(X: np.ndarray) -> dict:
    # Two passes (mean, then squared deviations) so M2 suffers no cancellation.
    if len(X) == 0:
        return {"n": 0, "mean": np.zeros(X.shape[1]), "m2": np.zeros(X.shape[1])}
    mean = X.mean(axis=0)
    return {"n": len(X), "mean": mean, "m2": ((X - mean) ** 2).sum(axis=0)}


# ---------------------------------------------------------------------- preparing
def prepare_shard(shard: Shard, encode) -> Shard:
    """The shard's rows as the estimator trains on them: ``encode(X, y)`` (the
    estimator's ``encode``: standardized features, encoded labels...)."""
    if len(shard) == 0:
        return shard
    return Shard(*encode(shard.X, shard.y))


def shuffle_shard(shard: Shard, seed: int) -> Shard:
    """The shard's rows in a new random order (one per epoch of mini-batch SGD), so a
    mini-batch is then a contiguous slice, like ``ArrayBatches`` slicing a permutation."""
    order = np.random.default_rng(seed).permutation(len(shard))
    return Shard(shard.X[order], shard.y[order])


# ---------------------------------------------------------------------- one step
def loss_and_gradient_sums(
    shard: Shard, model: ModelSpec, theta: np.ndarray, start: int = 0, stop: int | None = None
) -> PartialSums:
    """Σ loss and Σ gradient of the model with weights ``theta`` over rows
    ``start:stop`` of the shard (all of them by default: full-batch gradient descent;
    this worker's share of a mini-batch otherwise).

    The mean loss over the rows times their number is their sum: sums from all workers
    add up to the full-data sum, which the driver divides by the total row count.
    Averaging each worker's mean instead would weight a small shard as much as a big one.
    """
    started = time.perf_counter()
    module = layer_from_config(model.architecture)
    params = module.parameters()
    set_flat(params, theta)
    X, y = shard.X[start:stop], shard.y[start:stop]
    if len(X) == 0:
        return PartialSums(0.0, np.zeros_like(theta), 0, time.perf_counter() - started)
    loss = model.loss(module(from_numpy(X.astype(params[0].dtype, copy=False))), y)
    gradient = flatten(engine.grad(loss, params)) * len(X)
    return PartialSums(loss.item() * len(X), gradient, len(X), time.perf_counter() - started)


# ---------------------------------------------------------------------- weights as a vector
def flatten(arrays) -> np.ndarray:
    """Concatenate arrays (or parameters) into one vector θ, in order."""
    return np.concatenate(
        [(a.data if isinstance(a, Tensor) else np.asarray(a)).ravel() for a in arrays]
    )


def set_flat(params, theta: np.ndarray) -> None:
    """Copy the vector ``theta`` into the parameters, in order, in place."""
    offset = 0
    for param in params:
        param.data[...] = theta[offset : offset + param.size].reshape(param.shape)
        offset += param.size


def split_flat(theta: np.ndarray, params) -> list[np.ndarray]:
    """The vector ``theta`` cut into arrays shaped (and typed) like ``params``."""
    pieces, offset = [], 0
    for param in params:
        pieces.append(theta[offset : offset + param.size].reshape(param.shape).astype(param.dtype))
        offset += param.size
    return pieces
