"""Fused loss ops: the numerically stable way to compute the losses every model ends in.

Fusing matters twice. *Stability*: ``log(softmax(z))`` computed in two steps overflows
or takes ``log(0)``; computed as ``z - logsumexp(z)`` it cannot. *Speed*: the gradient of
softmax followed by cross-entropy collapses to ``softmax(z) - onehot(y)``, so one node
replaces five and backward is two cheap array ops.

Each op reduces its per-sample losses itself (``reduction="mean" | "sum" | "none"``,
optional per-sample ``weight``), so a loss is one graph node.
"""

from __future__ import annotations

import math

import numpy as np

from thalweg.autograd.function import Function
from thalweg.errors import DataError, ShapeError

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_weight(op: str, weight, n: int, dtype):
    if weight is None:
        return None
    weight = np.asarray(weight, dtype=dtype)
    if weight.shape != (n,):
        raise ShapeError(
            f"{op}: weight has shape {weight.shape}; it must be ({n},), one per sample"
        )
    return weight


class CrossEntropy(Function):
    """Softmax cross-entropy of logits ``(n, C)`` against integer labels ``(n,)``.

    loss_i = logsumexp(z_i) - z_i[y_i];   d loss_i / d z_i = softmax(z_i) - onehot(y_i)
    """

    __slots__ = ()

    def forward(self, logits, labels, weight=None, reduction="mean"):
        check_reduction(reduction)
        if np.ndim(logits) != 2:
            raise ShapeError(
                f"cross_entropy: logits must be (n_samples, n_classes), got shape "
                f"{np.shape(logits)}"
            )
        n, n_classes = logits.shape
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ShapeError(
                f"cross_entropy: labels have shape {labels.shape}; they must be ({n},), one "
                "integer class per row of logits"
            )
        if labels.dtype.kind not in "iu":
            if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
                labels = labels.astype(np.int64)
            else:
                raise DataError(
                    f"cross_entropy: labels must be integer class indices, got {labels.dtype}"
                )
        if n and (labels.min() < 0 or labels.max() >= n_classes):
            raise DataError(
                f"cross_entropy: labels must lie in [0, {n_classes - 1}] for {n_classes} "
                f"classes, got values from {labels.min()} to {labels.max()}"
            )
        weight = _check_weight("cross_entropy", weight, n, logits.dtype)
        rows = np.arange(n)
        shift = np.maximum.reduce(logits, axis=1, keepdims=True)
        exp_shifted = np.exp(logits - shift)
        total = np.add.reduce(exp_shifted, axis=1, keepdims=True)
        losses = (np.log(total) + shift)[:, 0] - logits[rows, labels]
        self.saved = (exp_shifted / total, labels, weight, reduction)
        return _reduce(losses, weight, reduction)

    def backward(self, grad):
        softmax, labels, weight, reduction = self.saved
        n = softmax.shape[0]
        scale = _scale(grad, weight, reduction, (n,), softmax.dtype)
        # d loss_i / d z_i = softmax_i - onehot(y_i), times the reduction's factor.
        grad_logits = softmax * (scale[:, None] if scale.ndim else scale)
        grad_logits[np.arange(n), labels] -= scale
        return grad_logits, None, None


class BinaryCrossEntropyWithLogits(Function):
    """Binary cross-entropy of logits ``z`` against 0/1 targets ``y`` (same shape).

    loss = max(z, 0) - z·y + log(1 + exp(-|z|))   (= -y·log σ(z) - (1-y)·log(1-σ(z)),
    rewritten so no exp overflows and no log sees 0);   d loss / dz = σ(z) - y,
    d loss / dy = -z (soft targets may be learned too). σ(z) is computed as
    ``exp(min(z, 0)) / (1 + exp(-|z|))``: within three units in the last place of
    relative error in both tails, as long as σ(z) is a normal float.
    """

    __slots__ = ()

    def forward(self, logits, targets, weight=None, reduction="mean"):
        check_reduction(reduction)
        targets = np.asarray(targets, dtype=logits.dtype)
        if targets.shape != np.shape(logits):
            raise ShapeError(
                f"binary_cross_entropy_with_logits: logits {np.shape(logits)} and targets "
                f"{targets.shape} must have the same shape (reshape one, e.g. "
                "logits.reshape(-1) for a (n, 1) output)"
            )
        n = np.shape(logits)[0] if np.ndim(logits) else 1
        weight = _check_weight("binary_cross_entropy_with_logits", weight, n, logits.dtype)
        # e = exp(-|z|) is in (0, 1]: nothing overflows. It makes both the loss's tail
        # log(1 + e) and σ(z) = exp(min(z, 0)) / (1 + e) (= e/(1+e) for z < 0, 1/(1+e)
        # for z ≥ 0): each a few roundings, no cancellation in either tail, where
        # (1 + tanh(z/2)) / 2 would lose the far negative one.
        # Three working arrays, each reused once its value is spent: on big batches every
        # fresh array costs the memory's first touch, more than the arithmetic in it.
        # (out= keeps even 0-d results arrays, so the in-place steps below work)
        e = np.abs(logits, out=np.empty_like(logits))
        np.negative(e, out=e)
        np.exp(e, out=e)
        # Each element's loss, max(z, 0) - z·y first (exactly 0 for a confident right
        # answer), then the tail, and only then the sum: never Σmax(z, 0) - Σz·y, whose
        # two large sums cancel to a wrong (even negative) total when confident logits
        # make every loss tiny.
        losses = np.maximum(logits, 0, out=np.empty_like(logits))
        work = np.multiply(logits, targets, out=np.empty_like(logits))
        losses -= work
        losses += np.log1p(e, out=work)  # the tail
        losses = _reduce(losses, weight, reduction)
        one_plus_e = np.add(e, 1, out=e)
        residual = np.minimum(logits, 0, out=work)  # becomes σ(z) - y
        np.exp(residual, out=residual)
        np.divide(residual, one_plus_e, out=residual)
        residual -= targets
        self.saved = (residual, logits, weight, reduction)
        return losses

    def backward(self, grad):
        residual, logits, weight, reduction = self.saved
        scale = _scale(grad, weight, reduction, residual.shape, residual.dtype)
        grad_targets = -logits * scale if self.parents[1] is not None else None
        return residual * scale, grad_targets, None


class SquaredError(Function):
    """Squared error ``(prediction - target)²`` (the ``mse`` loss when averaged).

    d loss / d prediction = 2·(prediction - target) = -d loss / d target.
    """

    __slots__ = ()

    def forward(self, prediction, target, weight=None, reduction="mean"):
        check_reduction(reduction)
        target = np.asarray(target, dtype=prediction.dtype)
        if target.shape != np.shape(prediction):
            raise ShapeError(
                f"mse: prediction {np.shape(prediction)} and target {target.shape} must have "
                "the same shape (reshape one, e.g. prediction.reshape(-1) for a (n, 1) output)"
            )
        n = np.shape(prediction)[0] if np.ndim(prediction) else 1
        weight = _check_weight("mse", weight, n, prediction.dtype)
        difference = prediction - target
        self.saved = (difference, weight, reduction)
        if weight is None and reduction != "none":
            total = np.vdot(difference, difference)  # Σ d², one pass, no temporary
            return total / difference.size if reduction == "mean" else total
        return _reduce(difference * difference, weight, reduction)

    def backward(self, grad):
        difference, weight, reduction = self.saved
        scale = _scale(grad, weight, reduction, difference.shape, difference.dtype)
        grad_prediction = 2 * difference * scale
        grad_target = -grad_prediction if self.parents[1] is not None else None
        return grad_prediction, grad_target, None


class SmoothL1(Function):
    """Smooth L1 (Huber with δ = β, divided by β) of ``prediction - target``, same shapes.

    loss = ½·d²/β where |d| < β, |d| - ½·β elsewhere;   d loss / d prediction = d/β inside,
    sign(d) outside (= -d loss / d target). The box-offset loss of SSD and Faster R-CNN;
    PyTorch's ``smooth_l1_loss(..., beta)``.
    """

    __slots__ = ()

    def forward(self, prediction, target, weight=None, reduction="mean", beta=1.0):
        check_reduction(reduction)
        if not beta > 0:
            raise ValueError(f"smooth_l1: beta must be > 0, got {beta}")
        target = np.asarray(target, dtype=prediction.dtype)
        if target.shape != np.shape(prediction):
            raise ShapeError(
                f"smooth_l1: prediction {np.shape(prediction)} and target {target.shape} must "
                "have the same shape"
            )
        n = np.shape(prediction)[0] if np.ndim(prediction) else 1
        weight = _check_weight("smooth_l1", weight, n, prediction.dtype)
        difference = prediction - target
        size = np.abs(difference)
        inside = size < beta
        losses = np.where(inside, (0.5 / beta) * difference * difference, size - 0.5 * beta)
        # the slope: d/β inside, ±1 outside
        slope = np.where(inside, difference / beta, np.sign(difference))
        self.saved = (slope, weight, reduction)
        return _reduce(losses, weight, reduction)

    def backward(self, grad):
        slope, weight, reduction = self.saved
        scale = _scale(grad, weight, reduction, slope.shape, slope.dtype)
        grad_prediction = slope * scale
        grad_target = -grad_prediction if self.parents[1] is not None else None
        return grad_prediction, grad_target, None


def _reduce(losses, weight, reduction):
    """Losses of shape ``(n, ...)`` -> the requested reduction.

    ``mean`` averages over every element; with per-sample weights ``(n,)`` it is the
    weighted mean ``Σ w·loss / Σ w`` (each sample counted once per trailing element).
    """
    if weight is not None:
        losses = losses * _expand(weight, losses.ndim)
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, axis=None)
    return total / mean_count(losses.shape, weight) if reduction == "mean" else total


def _scale(grad, weight, reduction, loss_shape, dtype):
    """d(reduced loss)/d(each element's loss), broadcastable to ``loss_shape``."""
    scale = grad / mean_count(loss_shape, weight) if reduction == "mean" else grad
    scale = np.asarray(scale, dtype=dtype)
    if weight is not None:
        scale = scale * _expand(weight, len(loss_shape)).astype(dtype)
    return scale


def mean_count(loss_shape, weight):
    """The denominator of a mean: elements, or total weight times elements per sample."""
    size = math.prod(loss_shape)
    if weight is None:
        return size
    return np.add.reduce(weight) * (size // max(len(weight), 1))


def _expand(weight, ndim: int):
    """Per-sample weights ``(n,)`` shaped to broadcast over losses with ``ndim`` axes."""
    return weight.reshape((-1,) + (1,) * (ndim - 1))
