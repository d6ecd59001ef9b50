"""Replay rules of ``autograd/ops/reduce.py``: sums, means, extrema, the softmax family."""

from __future__ import annotations

import math

import numpy as np

from thalweg.autograd.ops import reduce as ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value

_QUIET_LOG = {"divide": "ignore"}


def _input(op) -> Value:
    x = op.inputs[0]
    if not isinstance(x, Value):
        raise Unsupported
    return x


def _spread(e, grad: Value, shape: tuple, axes) -> Value:
    """``reduce.spread``: the gradient copied to every element the reduction used."""
    if 0 < len(grad.shape) != len(shape):
        kept = ops.kept_shape(shape, range(len(shape)) if axes is None else axes)
        grad = e.view(grad, "reshape", kept)
    return e.copyto(e.buffer(shape, grad.dtype), grad)


@rule(ops.Sum)
def sum_(e, op):
    x = _input(op)
    axis, keepdims = op.options.get("axis"), op.options.get("keepdims", False)
    axes = None if axis is None else ops.normalize_axes(axis, len(x.shape), "sum")
    op.saved = (x.shape, axes)
    return e.call(np.add.reduce, x, axis=axes, keepdims=keepdims)


@backward_rule(ops.Sum)
def sum_backward(e, op, grad):
    shape, axes = op.saved
    return (_spread(e, grad, shape, axes),)


@rule(ops.Mean)
def mean(e, op):
    x = _input(op)
    axis, keepdims = op.options.get("axis"), op.options.get("keepdims", False)
    axes = ops.normalize_axes(axis, len(x.shape), "mean")
    count = math.prod(x.shape[a] for a in axes)
    op.saved = (x.shape, axes, count)
    total = e.call(np.add.reduce, x, axis=axes, keepdims=keepdims)
    return e.call(np.true_divide, total, count)


@backward_rule(ops.Mean)
def mean_backward(e, op, grad):
    shape, axes, count = op.saved
    return (_spread(e, e.call(np.true_divide, grad, count), shape, axes),)


def _extremum(op_class):
    @rule(op_class)
    def forward(e, op):
        x = _input(op)
        axes = ops.normalize_axes(op.options.get("axis"), len(x.shape), op_class.op_name())
        out_kept = e.call(op_class.reduce_ufunc.reduce, x, axis=axes, keepdims=True)
        op.saved = (x, out_kept, axes)
        if op.options.get("keepdims", False):
            return out_kept
        return e.view(out_kept, "reshape", tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @backward_rule(op_class)
    def backward(e, op, grad):
        x, out_kept, axes = op.saved
        winners = e.call(np.equal, x, out_kept)
        count = e.astype(e.call(np.add.reduce, winners, axis=axes, keepdims=True), grad.dtype)
        share = e.call(np.true_divide, e.view(grad, "reshape", out_kept.shape), count)
        return (e.call(np.multiply, winners, share),)


_extremum(ops.Max)
_extremum(ops.Min)


def _stable_exp_shift(e, x, axes):
    shift = e.call(np.maximum.reduce, x, axis=axes, keepdims=True)
    shift = e.where(e.call(np.isfinite, shift), shift, 0)
    return e.call(np.exp, e.call(np.subtract, x, shift)), shift


@rule(ops.LogSumExp)
def logsumexp(e, op):
    x = _input(op)
    axes = ops.normalize_axes(op.options.get("axis"), len(x.shape), "logsumexp")
    exp_shifted, shift = _stable_exp_shift(e, x, axes)
    total = e.call(np.add.reduce, exp_shifted, axis=axes, keepdims=True)
    out_kept = e.call(np.add, e.call(np.log, total, errstate=_QUIET_LOG), shift)
    op.saved = (e.call(np.true_divide, exp_shifted, total), axes)
    if op.options.get("keepdims", False):
        return out_kept
    return e.view(out_kept, "reshape", tuple(n for i, n in enumerate(x.shape) if i not in axes))


@backward_rule(ops.LogSumExp)
def logsumexp_backward(e, op, grad):
    softmax, axes = op.saved
    kept = ops.kept_shape(softmax.shape, axes)
    return (e.call(np.multiply, softmax, e.view(grad, "reshape", kept)),)


@rule(ops.Softmax)
def softmax(e, op):
    x = _input(op)
    axes = ops.normalize_axes(op.options.get("axis", -1), len(x.shape), "softmax")
    exp_shifted, _ = _stable_exp_shift(e, x, axes)
    total = e.call(np.add.reduce, exp_shifted, axis=axes, keepdims=True)
    out = e.call(np.true_divide, exp_shifted, total)
    op.saved = (out, axes)
    return out


@backward_rule(ops.Softmax)
def softmax_backward(e, op, grad):
    out, axes = op.saved
    grad_out = e.call(np.multiply, grad, out)
    total = e.call(np.add.reduce, grad_out, axis=axes, keepdims=True)
    return (e.call(np.subtract, grad_out, e.call(np.multiply, out, total)),)


@rule(ops.LogSoftmax)
def log_softmax(e, op):
    x = _input(op)
    axes = ops.normalize_axes(op.options.get("axis", -1), len(x.shape), "log_softmax")
    exp_shifted, shift = _stable_exp_shift(e, x, axes)
    total = e.call(np.add.reduce, exp_shifted, axis=axes, keepdims=True)
    log_total = e.call(np.log, total, errstate=_QUIET_LOG)
    out = e.call(np.subtract, e.call(np.subtract, x, shift), log_total)
    op.saved = (out, axes)
    return out


@backward_rule(ops.LogSoftmax)
def log_softmax_backward(e, op, grad):
    out, axes = op.saved
    total = e.call(np.add.reduce, grad, axis=axes, keepdims=True)
    return (e.call(np.subtract, grad, e.call(np.multiply, e.call(np.exp, out), total)),)
