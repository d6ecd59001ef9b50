"""Batch normalisation as one op: normalise each channel, then scale and shift it.

For a channel with values ``x`` over the batch (and over every pixel, for images)::

    μ = mean(x)     σ² = mean((x - μ)²)     x̂ = (x - μ) / √(σ² + ε)     y = γ·x̂ + β

In **training** ``μ`` and ``σ²`` are the batch's own, so every ``x`` influences every
``y`` of its channel through them. Written out, with ``g = dL/dy`` and ``M`` values per
channel, the chain rule through ``x̂`` collapses to one line::

    dL/dx = γ / √(σ² + ε) · (g - mean(g) - x̂ · mean(g · x̂))
    dL/dγ = Σ g · x̂        dL/dβ = Σ g

(``mean(g)`` is what flows through ``μ``, ``x̂·mean(g·x̂)`` what flows through ``σ²``.)
The op also updates the running statistics in place, as PyTorch's ``batch_norm`` does:
``running = (1 - momentum)·running + momentum·batch``, with the *unbiased* batch
variance (``· M / (M - 1)``).

In **evaluation** ``μ`` and ``σ²`` are the running statistics, constants: the op is an
affine map per channel and ``dL/dx = γ / √(σ² + ε) · g``.

Shapes: x ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``; γ, β, running statistics ``(C,)``.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd import versions
from thalweg.autograd.function import Function
from thalweg.errors import ShapeError


def _per_channel(array: np.ndarray, ndim: int) -> np.ndarray:
    """``(C,)`` -> ``(1, C, 1, ...)`` to broadcast against an ``ndim``-axis input."""
    return array.reshape((1, -1) + (1,) * (ndim - 2))


class BatchNorm(Function):
    """``γ·(x - μ)/√(σ² + ε) + β`` per channel (axis 1); see the module docstring."""

    __slots__ = ()

    def forward(
        self,
        x,
        weight=None,
        bias=None,
        running_mean=None,
        running_var=None,
        training=True,
        momentum=0.1,
        eps=1e-5,
    ):
        if np.ndim(x) not in (2, 3, 4):
            raise ShapeError(
                f"batch_norm: input must be (N, C), (N, C, L) or (N, C, H, W), got shape "
                f"{np.shape(x)}"
            )
        x = np.asarray(x)
        if x.dtype.kind in "biu":  # integers follow the floats (promotion.py): uint8 pixels
            floats = weight if weight is not None else running_mean
            x = x.astype(backend.get_default_dtype() if floats is None else floats.dtype)
        channels = x.shape[1]
        for name, array in (("weight", weight), ("bias", bias)):
            if array is not None and np.shape(array) != (channels,):
                raise ShapeError(
                    f"batch_norm: {name} has shape {np.shape(array)}; it must be ({channels},), "
                    "one per channel"
                )
        axes = (0, *range(2, x.ndim))  # every axis but the channels
        count = x.size // channels if channels else 0
        if training:
            if count < 2:
                raise ShapeError(
                    f"batch_norm: training needs more than one value per channel to estimate "
                    f"a variance, got input of shape {x.shape}; use a larger batch or eval()"
                )
            mean = np.mean(x, axis=axes)
            centered = x - _per_channel(mean, x.ndim)
            variance = np.mean(np.square(centered), axis=axes)
            # In-place writes, stamped (versions.py) like every write thalweg makes: this
            # op's own backward never reads them (it saves fresh arrays), another graph might.
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                versions.mark_written(running_mean, "batch_norm's running statistics")
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += momentum * variance * (count / (count - 1))
                versions.mark_written(running_var, "batch_norm's running statistics")
        else:
            if running_mean is None or running_var is None:
                raise ShapeError("batch_norm: evaluation mode needs running_mean and running_var")
            mean, variance = running_mean, running_var
            centered = x - _per_channel(mean, x.ndim)
        inv_std = 1.0 / np.sqrt(variance + eps)
        normalized = centered * _per_channel(inv_std.astype(x.dtype, copy=False), x.ndim)
        out = normalized if weight is None else normalized * _per_channel(weight, x.ndim)
        if bias is not None:
            out = out + _per_channel(bias, x.ndim)
        self.saved = (normalized, inv_std.astype(x.dtype, copy=False), weight, axes, training)
        return out

    def backward(self, grad):
        normalized, inv_std, weight, axes, training = self.saved
        ndim = grad.ndim
        grad_weight = grad_bias = grad_x = None
        grad_times_normalized = grad * normalized
        if self.parents[1] is not None:
            grad_weight = np.sum(grad_times_normalized, axis=axes)
        if self.parents[2] is not None:
            grad_bias = np.sum(grad, axis=axes)
        if self.parents[0] is not None:
            scale = inv_std if weight is None else inv_std * weight
            if training:  # g - mean(g) - x̂·mean(g·x̂), times γ/√(σ² + ε)
                grad_x = grad - _per_channel(np.mean(grad, axis=axes), ndim)
                through_variance = _per_channel(np.mean(grad_times_normalized, axis=axes), ndim)
                grad_x -= np.multiply(normalized, through_variance, out=grad_times_normalized)
                grad_x *= _per_channel(scale, ndim)
            else:
                grad_x = grad * _per_channel(scale, ndim)
        return grad_x, grad_weight, grad_bias
