"""Transforms of gradients and weights that sit around an optimizer's update."""

from __future__ import annotations

import math

import numpy as np

from thalweg.autograd import versions
from thalweg.autograd.tensor import Tensor
from thalweg.errors import TrainingDivergedError


def global_norm(grads) -> float:
    """``sqrt(Σ ||g||²)`` over all gradients (None entries are skipped)."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads if g is not None))


def clip_by_global_norm(grads_and_params, max_norm: float, error_if_nonfinite: bool = False):
    """Scale all gradients together so their global norm is at most ``max_norm``.

    Returns ``(clipped_pairs, global_norm)`` like TensorFlow's ``clip_by_global_norm``:
    the pairs are new, unchanged when the norm is already small enough. Clipping all
    gradients by one factor keeps the update's direction.

    A gradient holding an infinity or a NaN has no direction to keep. Then every clipped
    gradient is NaN (TensorFlow's rule; PyTorch also gives NaN where the infinities
    were), so the step that follows fails visibly, where passing the gradients on
    unchanged would take an infinite step. With ``error_if_nonfinite=True`` it raises
    ``TrainingDivergedError`` instead.

    >>> import numpy as np, thalweg
    >>> w = thalweg.tensor([0.0, 0.0], requires_grad=True)
    >>> pairs, norm = clip_by_global_norm([(np.array([3.0, 4.0]), w)], 1.0)
    >>> norm, pairs[0][0]
    (5.0, array([0.6, 0.8]))
    >>> clip_by_global_norm([(np.array([np.inf, 1.0]), w)], 1.0)[0][0][0]
    array([nan, nan])
    """
    if max_norm <= 0:
        raise ValueError(f"clip_by_global_norm: max_norm must be positive, got {max_norm}")
    pairs = list(grads_and_params)
    norm = global_norm(g for g, _ in pairs)
    if not math.isfinite(norm):
        if error_if_nonfinite:
            raise TrainingDivergedError(
                f"clip_by_global_norm: the gradients' global norm is {norm}; some gradient "
                "holds an infinity or a NaN (try a smaller learning rate, or "
                "thalweg.detect_anomaly() to find the op that made it)"
            )
        return [(None if g is None else np.full_like(g, np.nan), p) for g, p in pairs], norm
    if norm <= max_norm:
        return pairs, norm
    scale = max_norm / norm
    return [(None if g is None else g * scale, p) for g, p in pairs], norm


def proximal_l1(params, threshold) -> None:
    """Soft-threshold weights in place: ``w ← sign(w)·max(|w| - threshold, 0)``.

    This is the proximal step of the L1 penalty ``λ·Σ|w|`` after a gradient step with
    learning rate ``lr`` (use ``threshold = lr·λ``): proximal gradient descent (ISTA).
    Unlike the subgradient ``λ·sign(w)``, which makes small weights jitter around 0
    forever, it sets them to exactly 0 — the sparsity L1 is used for. ``threshold`` may
    be an array broadcasting against each weight (per-weight step sizes).

    >>> import thalweg
    >>> w = thalweg.tensor([0.05, -2.0], requires_grad=True)
    >>> proximal_l1([w], 0.1)
    >>> w.data
    array([ 0. , -1.9], dtype=float32)
    """
    for p in params:
        data = p.data if isinstance(p, Tensor) else p
        shrunk = np.abs(data) - threshold
        np.maximum(shrunk, 0, out=shrunk)
        np.copysign(shrunk, data, out=data)
        versions.mark_written(data, "proximal_l1")
