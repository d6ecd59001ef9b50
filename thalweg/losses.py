"""Losses and weight penalties.

Every loss takes ``reduction="mean" | "sum" | "none"`` and optional per-sample
``weight`` of shape ``(n,)`` (a weighted mean is ``Σ w·loss / Σ w``). The most used ones
(``mse``, ``cross_entropy``, ``binary_cross_entropy_with_logits``) are single fused,
numerically stable ops; the others are built from engine ops, so their gradients come
for free.

>>> import thalweg
>>> prediction = thalweg.tensor([1.0, 2.0], requires_grad=True)
>>> mse(prediction, [0.0, 2.0])
tensor(0.5, dtype=float32, grad_fn=<SquaredError>)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from thalweg.autograd import functional as F
from thalweg.autograd.ops import nn as nn_ops
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber",
    "l1_penalty",
    "l2_penalty",
    "mae",
    "mse",
]


def _as_target(target, like: Tensor, op: str) -> np.ndarray:
    target = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=like.dtype)
    if target.shape != like.shape:
        raise ShapeError(
            f"{op}: prediction {like.shape} and target {target.shape} must have the same "
            "shape (reshape one, e.g. prediction.reshape(-1) for a (n, 1) output)"
        )
    return target


def _reduce(losses: Tensor, weight, reduction: str) -> Tensor:
    """Reduce per-element losses ``(n, ...)`` built from engine ops."""
    nn_ops.check_reduction(reduction)
    if weight is not None:
        weight = np.asarray(weight, dtype=losses.dtype)
        if weight.shape != losses.shape[:1]:
            raise ShapeError(
                f"weight has shape {weight.shape}; it must be ({losses.shape[0]},), one per sample"
            )
        losses = losses * weight.reshape((-1,) + (1,) * (losses.ndim - 1))
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / nn_ops.mean_count(losses.shape, weight)


def mse(prediction: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((prediction - target)²)``; shapes must match."""
    return nn_ops.SquaredError.apply(prediction, target, weight, reduction=reduction)


def mae(prediction: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|prediction - target|)``; shapes must match."""
    target = _as_target(target, prediction, "mae")
    return _reduce(F.abs(prediction - target), weight, reduction)


def huber(
    prediction: Tensor, target, delta: float = 1.0, weight=None, reduction: str = "mean"
) -> Tensor:
    """Huber loss: quadratic for errors below ``delta``, linear beyond (robust to outliers).

    loss = ½·e² for |e| ≤ δ, δ·(|e| - ½δ) otherwise, with e = prediction - target.
    """
    target = _as_target(target, prediction, "huber")
    error = F.abs(prediction - target)
    quadratic = F.minimum(error, delta)  # the part of |e| up to δ
    linear = error - quadratic  # the part beyond δ
    return _reduce(0.5 * quadratic * quadratic + delta * linear, weight, reduction)


def binary_cross_entropy(
    probabilities: Tensor, target, weight=None, reduction: str = "mean", eps: float = 1e-7
) -> Tensor:
    """Binary cross-entropy on probabilities in [0, 1]: ``-(y·log p + (1-y)·log(1-p))``.

    ``p`` is clipped to ``[eps, 1-eps]`` so log never sees 0. Prefer
    :func:`binary_cross_entropy_with_logits` on the raw scores: stable, nothing clipped, and
    accurate to a few units in the last place in both tails.
    """
    target = _as_target(target, probabilities, "binary_cross_entropy")
    p = F.clip(probabilities, eps, 1 - eps)
    losses = -(target * F.log(p) + (1 - target) * F.log(1 - p))
    return _reduce(losses, weight, reduction)


def binary_cross_entropy_with_logits(
    logits: Tensor, target, weight=None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy on logits (raw scores), fused and overflow-free."""
    return nn_ops.BinaryCrossEntropyWithLogits.apply(logits, target, weight, reduction=reduction)


def cross_entropy(logits: Tensor, labels, weight=None, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy: logits ``(n, n_classes)``, integer labels ``(n,)``."""
    return nn_ops.CrossEntropy.apply(logits, labels, weight, reduction=reduction)


def l1_penalty(params: Iterable[Tensor]) -> Tensor:
    """``Σ |w|`` over every given tensor (the lasso penalty; multiply by λ yourself).

    For exact zeros in trained weights use a proximal step instead of this term's
    subgradient (``thalweg.optim.proximal_l1``); models with ``l1=`` do.
    """
    terms = [F.abs(p).sum() for p in params]
    return _sum_terms(terms, "l1_penalty")


def l2_penalty(params: Iterable[Tensor]) -> Tensor:
    """``Σ w²`` over every given tensor (the ridge penalty; multiply by λ yourself)."""
    terms = [(p * p).sum() for p in params]
    return _sum_terms(terms, "l2_penalty")


def _sum_terms(terms: list, op: str) -> Tensor:
    if not terms:
        raise ValueError(f"{op}: got no parameters")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
