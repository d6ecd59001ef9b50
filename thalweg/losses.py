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
from typing import NamedTuple

import numpy as np

from thalweg.autograd import functional as F
from thalweg.autograd.ops import nn as nn_ops
from thalweg.autograd.tensor import Tensor
from thalweg.errors import DataError, ShapeError

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber",
    "l1_penalty",
    "l2_penalty",
    "mae",
    "mse",
    "multibox_loss",
    "smooth_l1",
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
    accurate to three units in the last place in both tails.
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


def smooth_l1(
    prediction: Tensor, target, beta: float = 1.0, weight=None, reduction: str = "mean"
) -> Tensor:
    """Smooth L1: ``½·d²/β`` for ``|d| < β``, ``|d| - ½·β`` beyond, with d = prediction - target.

    PyTorch's ``smooth_l1_loss``; the box-offset loss of SSD. One fused op.

    >>> import thalweg
    >>> smooth_l1(thalweg.tensor([0.5, 3.0]), [0.0, 0.0], reduction="none")
    tensor([0.125, 2.5  ], dtype=float32)
    """
    return nn_ops.SmoothL1.apply(prediction, target, weight, reduction=reduction, beta=beta)


class MultiboxLoss(NamedTuple):
    """:func:`multibox_loss` with ``parts=True``: the total and its two terms (tensors)."""

    total: Tensor
    localization: Tensor
    confidence: Tensor


def multibox_loss(
    class_logits: Tensor,
    box_offsets: Tensor,
    labels,
    offset_targets,
    negatives_per_positive: float = 3.0,
    beta: float = 1.0,
    confidence_weighting: bool = False,
    alpha: float = 1.0,
    confidence_threshold: float = 0.5,
    parts: bool = False,
):
    """SSD's loss: smooth-L1 on positives' offsets + cross-entropy with hard negatives.

    Parameters
    ----------
    class_logits : Tensor (B, A, C + 1)
        Scores per anchor; class 0 is background.
    box_offsets : Tensor (B, A, 4)
        Predicted offsets (``thalweg.detection.encode``'s encoding).
    labels : int array (B, A)
        Target class per anchor, 0 for background (``thalweg.detection.multibox_targets``).
    offset_targets : array (B, A, 4)
        Target offsets (read only where ``labels > 0``).
    negatives_per_positive : float
        Hard negative mining: per image, the ``⌊ratio · positives⌋`` background anchors
        with the highest confidence loss count (at most all of them); the other
        background anchors are ignored. SSD uses 3.
    beta : float
        The smooth-L1 knee.
    confidence_weighting : bool
        The fix from the face-detector story: a positive anchor whose predicted
        probability of its true class is already above ``confidence_threshold`` gets its
        localization loss multiplied by ``1 + alpha`` — once the class is right, work on
        the box. (The weight is computed from the current predictions but is not
        differentiated: it is a per-anchor constant of this step.)
    alpha, confidence_threshold : float
        See ``confidence_weighting``; α = 1 doubles the weight (the story found ×10,
        α = 9, unstable).
    parts : bool
        Return :class:`MultiboxLoss` ``(total, localization, confidence)`` instead of the total.

    Returns
    -------
    Tensor ()
        ``(Σ_positives smooth_l1 + Σ_positives ∪ mined CE) / N`` with N the number of
        positive anchors in the batch (1 if there are none).

    Negatives are ranked by their loss in a stable order (equal losses: the lower anchor
    index first), so the selection is deterministic even when all scores are equal, as
    at initialisation.

    >>> import numpy as np, thalweg
    >>> logits = thalweg.zeros((1, 4, 2), requires_grad=True)
    >>> offsets = thalweg.zeros((1, 4, 4), requires_grad=True)
    >>> loss = multibox_loss(logits, offsets, np.array([[1, 0, 0, 0]]), np.ones((1, 4, 4)))
    >>> round(loss.item(), 4)  # 4 · 0.5 (smooth-L1 of 1) + 4 · log 2 (one positive, 3 negatives)
    4.7726
    """
    if class_logits.ndim != 3:
        raise ShapeError(
            f"multibox_loss: class_logits must be (batch, anchors, classes + 1), got "
            f"{class_logits.shape}"
        )
    n_images, n_anchors, n_scores = class_logits.shape
    if box_offsets.shape != (n_images, n_anchors, 4):
        raise ShapeError(
            f"multibox_loss: box_offsets must be {(n_images, n_anchors, 4)} to go with "
            f"class_logits {class_logits.shape}, got {box_offsets.shape}"
        )
    labels = np.asarray(labels)
    if labels.shape != (n_images, n_anchors):
        raise ShapeError(
            f"multibox_loss: labels must be {(n_images, n_anchors)}, got {labels.shape}"
        )
    if labels.dtype.kind not in "iu" or (
        labels.size and (labels.min() < 0 or labels.max() >= n_scores)
    ):
        raise DataError(
            f"multibox_loss: labels must be integers in [0, {n_scores - 1}] (0 = background)"
        )
    offset_targets = np.asarray(offset_targets, dtype=box_offsets.dtype)
    if offset_targets.shape != (n_images, n_anchors, 4):
        raise ShapeError(
            f"multibox_loss: offset_targets must be {(n_images, n_anchors, 4)}, got "
            f"{offset_targets.shape}"
        )
    if negatives_per_positive < 0:
        raise ValueError("multibox_loss: negatives_per_positive must be >= 0")

    # Everything that picks anchors or weighs them is computed from the current values
    # without recording: it is a constant of this step, not part of the gradient.
    logits = class_logits.data
    positive = labels > 0
    shift = logits.max(axis=2, keepdims=True)
    log_total = np.log(np.exp(logits - shift).sum(axis=2)) + shift[..., 0]  # logsumexp
    background_loss = log_total - logits[..., 0]
    negative = _hard_negatives(background_loss, positive, negatives_per_positive)

    localization_weight = positive.astype(box_offsets.dtype)
    if confidence_weighting:
        true_logit = np.take_along_axis(logits, labels[..., None], axis=2)[..., 0]
        confidence = np.exp(true_logit - log_total)  # softmax probability of the label
        confident = positive & (confidence > confidence_threshold)
        localization_weight[confident] *= 1 + alpha
    n_positive = max(int(positive.sum()), 1)

    localization = nn_ops.SmoothL1.apply(
        box_offsets.reshape(n_images * n_anchors, 4),
        offset_targets.reshape(n_images * n_anchors, 4),
        localization_weight.reshape(-1),
        reduction="sum",
        beta=beta,
    )
    confidence_loss = nn_ops.CrossEntropy.apply(
        class_logits.reshape(n_images * n_anchors, n_scores),
        labels.reshape(-1),
        (positive | negative).reshape(-1).astype(class_logits.dtype),
        reduction="sum",
    )
    localization = localization / n_positive
    confidence_loss = confidence_loss / n_positive
    total = localization + confidence_loss
    return MultiboxLoss(total, localization, confidence_loss) if parts else total


def _hard_negatives(background_loss, positive, ratio: float) -> np.ndarray:
    """Per image, the ``⌊ratio · positives⌋`` background anchors with the highest loss."""
    n_images, n_anchors = background_loss.shape
    n_positive = positive.sum(axis=1)
    n_negative = np.minimum(np.floor(ratio * n_positive).astype(np.int64), n_anchors - n_positive)
    mining = np.where(positive, -np.inf, background_loss)
    order = np.argsort(-mining, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_anchors)[None, :].repeat(n_images, 0), axis=1)
    return (rank < n_negative[:, None]) & ~positive


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
