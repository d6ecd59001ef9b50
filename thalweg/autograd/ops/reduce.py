"""Reductions (sum, mean, max, min, logsumexp) and the softmax family.

A reduction maps many elements to one, so its backward *spreads* the incoming gradient
back over the reduced axes: a sum gives every element the whole gradient, a mean gives
each ``1/n`` of it, a max gives it to the element that won.
"""

from __future__ import annotations

import math

import numpy as np

from thalweg.autograd.function import Function
from thalweg.errors import ShapeError


def normalize_axes(axis, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, int or tuple, negatives allowed) as a sorted tuple of axes >= 0."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        normalized.append(int(a) % ndim)
    return tuple(sorted(set(normalized)))


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` set to 1 (what ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def spread(grad: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """The gradient of a reduction's output, copied to every element it reduced.

    ``grad`` has the reduced shape (with or without the kept axes); the result has the
    input's ``shape``; ``axes=None`` means every axis was reduced. (A fresh array filled
    by broadcasting: cheaper to make than ``np.broadcast_to``'s read-only view, and safe
    to hand to any later op.)
    """
    if 0 < grad.ndim != len(shape):  # keepdims=False: put the reduced axes back as size 1
        grad = grad.reshape(kept_shape(shape, range(len(shape)) if axes is None else axes))
    out = np.empty(shape, dtype=grad.dtype)
    out[...] = grad
    return out


class Sum(Function):
    """``x.sum(axis)``.  Every element gets the whole incoming gradient."""

    __slots__ = ()

    def forward(self, x, axis=None, keepdims=False):
        axes = None if axis is None else normalize_axes(axis, x.ndim, "sum")
        self.saved = (x.shape, axes)
        return np.add.reduce(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        shape, axes = self.saved
        return (spread(grad, shape, axes),)


class Mean(Function):
    """``x.mean(axis)``.  Every element gets ``1/n`` of the incoming gradient."""

    __slots__ = ()

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, np.ndim(x), "mean")
        count = math.prod(x.shape[a] for a in axes)
        if count == 0:
            raise ShapeError(f"mean: reducing over an empty axis of shape {np.shape(x)}")
        self.saved = (np.shape(x), axes, count)
        return np.add.reduce(x, axis=axes, keepdims=keepdims) / count

    def backward(self, grad):
        shape, axes, count = self.saved
        return (spread(grad / count, shape, axes),)


class _Extremum(Function):
    """Shared backward of max and min: the winners share the gradient evenly.

    With ties the derivative does not exist; splitting evenly is the symmetric
    subgradient (``torch.amax`` does the same).
    """

    __slots__ = ()
    reduce_ufunc = np.maximum

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, np.ndim(x), self.op_name())
        if np.size(x) == 0:
            raise ShapeError(
                f"{self.op_name()}: cannot reduce an empty tensor of shape {np.shape(x)}"
            )
        out_kept = self.reduce_ufunc.reduce(x, axis=axes, keepdims=True)
        self.saved = (x, out_kept, axes)
        return (
            out_kept
            if keepdims
            else out_kept.reshape([n for i, n in enumerate(np.shape(x)) if i not in axes])
        )

    def backward(self, grad):
        x, out_kept, axes = self.saved
        winners = x == out_kept
        count = np.add.reduce(winners, axis=axes, keepdims=True).astype(grad.dtype)
        return (winners * (grad.reshape(out_kept.shape) / count),)


class Max(_Extremum):
    """``x.max(axis)``."""

    __slots__ = ()
    reduce_ufunc = np.maximum


class Min(_Extremum):
    """``x.min(axis)``."""

    __slots__ = ()
    reduce_ufunc = np.minimum


def _stable_exp_shift(x, axes):
    """exp(x - max) and the max, with all--inf rows shifted by 0 instead of -inf (no NaN)."""
    shift = np.maximum.reduce(x, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    return np.exp(x - shift), shift


class LogSumExp(Function):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the max so exp never overflows.

    d/dx = exp(x - logsumexp(x)) = softmax(x).
    """

    __slots__ = ()

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axes(axis, np.ndim(x), "logsumexp")
        exp_shifted, shift = _stable_exp_shift(x, axes)
        total = np.add.reduce(exp_shifted, axis=axes, keepdims=True)
        with np.errstate(divide="ignore"):
            out_kept = np.log(total) + shift
        self.saved = (exp_shifted / total, axes)
        if keepdims:
            return out_kept
        return out_kept.reshape([n for i, n in enumerate(np.shape(x)) if i not in axes])

    def backward(self, grad):
        softmax, axes = self.saved
        return (softmax * grad.reshape(kept_shape(softmax.shape, axes)),)


class Softmax(Function):
    """``exp(x) / sum(exp(x))`` along ``axis``.

    d/dx: ``s * (g - sum(g * s))`` along the axis (the Jacobian ``diag(s) - s sᵀ``
    applied without ever building it).
    """

    __slots__ = ("axis",)

    def forward(self, x, axis=-1):
        self.axis = normalize_axes(axis, np.ndim(x), "softmax")
        exp_shifted, _ = _stable_exp_shift(x, self.axis)
        out = exp_shifted / np.add.reduce(exp_shifted, axis=self.axis, keepdims=True)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        grad_out = grad * out
        return (grad_out - out * np.add.reduce(grad_out, axis=self.axis, keepdims=True),)


class LogSoftmax(Function):
    """``x - logsumexp(x)`` along ``axis``: log-probabilities without overflow.

    d/dx: ``g - softmax(x) * sum(g)`` along the axis.
    """

    __slots__ = ("axis",)

    def forward(self, x, axis=-1):
        self.axis = normalize_axes(axis, np.ndim(x), "log_softmax")
        exp_shifted, shift = _stable_exp_shift(x, self.axis)
        with np.errstate(divide="ignore"):
            log_total = np.log(np.add.reduce(exp_shifted, axis=self.axis, keepdims=True))
        out = x - shift - log_total
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad - np.exp(out) * np.add.reduce(grad, axis=self.axis, keepdims=True),)
