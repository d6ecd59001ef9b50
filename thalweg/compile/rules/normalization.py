"""Replay rule of ``autograd/ops/normalization.py``: batch normalisation, including the
in-place update of the running statistics (and its version stamp)."""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd import versions
from thalweg.autograd.ops import normalization as ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value

_WRITER = "batch_norm's running statistics"


def _per_channel(e, array: Value, ndim: int) -> Value:
    return e.view(array, "reshape", (1, -1) + (1,) * (ndim - 2))


@rule(ops.BatchNorm, writes=("running_mean", "running_var"))
def batch_norm(e, op):
    x, weight, bias = ([*list(op.inputs), None, None])[:3]
    options = op.options
    running_mean, running_var = options.get("running_mean"), options.get("running_var")
    training = options.get("training", True)
    momentum, eps = options.get("momentum", 0.1), options.get("eps", 1e-5)
    if not isinstance(x, Value):
        raise Unsupported
    if x.dtype.kind in "biu":
        floats = weight if weight is not None else running_mean
        x = e.astype(x, backend.get_default_dtype() if floats is None else floats.dtype)
    ndim = len(x.shape)
    channels = x.shape[1]
    axes = (0, *range(2, ndim))
    count = int(np.prod(x.shape)) // channels if channels else 0
    if training:
        mean = e.call(np.mean, x, axis=axes)
        centered = e.call(np.subtract, x, _per_channel(e, mean, ndim))
        variance = e.call(np.mean, e.call(np.square, centered), axis=axes)
        if running_mean is not None:
            e.call(np.multiply, running_mean, 1 - momentum, into=running_mean)
            e.call(np.add, running_mean, e.call(np.multiply, momentum, mean), into=running_mean)
            e.effect(versions.mark_written, running_mean, _WRITER, writes=[running_mean])
        if running_var is not None:
            e.call(np.multiply, running_var, 1 - momentum, into=running_var)
            moved = e.call(
                np.multiply, e.call(np.multiply, momentum, variance), count / (count - 1)
            )
            e.call(np.add, running_var, moved, into=running_var)
            e.effect(versions.mark_written, running_var, _WRITER, writes=[running_var])
    else:
        if running_mean is None or running_var is None:
            raise Unsupported
        mean, variance = running_mean, running_var
        centered = e.call(np.subtract, x, _per_channel(e, mean, ndim))
    root = e.call(np.sqrt, e.call(np.add, variance, eps))
    inv_std = e.call(np.true_divide, 1.0, root, into=root)
    inv_std = e.asarray(inv_std, x.dtype)
    normalized = e.call(np.multiply, centered, _per_channel(e, inv_std, ndim))
    out = normalized
    if weight is not None:
        out = e.call(np.multiply, normalized, _per_channel(e, weight, ndim))
    if bias is not None:
        out = e.call(np.add, out, _per_channel(e, bias, ndim))
    op.saved = (normalized, inv_std, weight, axes, training)
    return out


@backward_rule(ops.BatchNorm)
def batch_norm_backward(e, op, grad):
    normalized, inv_std, weight, axes, training = op.saved
    ndim = len(grad.shape)
    grad_weight = grad_bias = grad_x = None
    grad_times_normalized = e.call(np.multiply, grad, normalized)
    if op.needs[1]:
        grad_weight = e.call(np.sum, grad_times_normalized, axis=axes)
    if op.needs[2]:
        grad_bias = e.call(np.sum, grad, axis=axes)
    if op.needs[0]:
        scale = inv_std if weight is None else e.call(np.multiply, inv_std, weight)
        if training:  # g - mean(g) - x̂·mean(g·x̂), times γ/√(σ² + ε)
            mean_grad = _per_channel(e, e.call(np.mean, grad, axis=axes), ndim)
            grad_x = e.call(np.subtract, grad, mean_grad)
            through_variance = _per_channel(
                e, e.call(np.mean, grad_times_normalized, axis=axes), ndim
            )
            e.call(np.multiply, normalized, through_variance, into=grad_times_normalized)
            e.call(np.subtract, grad_x, grad_times_normalized, into=grad_x)
            e.call(np.multiply, grad_x, _per_channel(e, scale, ndim), into=grad_x)
        else:
            grad_x = e.call(np.multiply, grad, _per_channel(e, scale, ndim))
    return grad_x, grad_weight, grad_bias
