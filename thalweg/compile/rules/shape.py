"""Replay rules of ``autograd/ops/shape.py``: views, indexing, joining."""

from __future__ import annotations

import operator

import numpy as np

from thalweg.autograd.ops import shape as ops
from thalweg.autograd.promotion import promote_all
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value


def _input(op) -> Value:
    x = op.inputs[0]
    if not isinstance(x, Value):
        raise Unsupported
    return x


@rule(ops.Reshape)
def reshape(e, op):
    x = _input(op)
    op.saved = x.shape
    return e.view(x, "reshape", tuple(op.options["shape"]))


def _reshape_back(e, op, grad):
    return (e.view(grad, "reshape", op.saved),)


backward_rule(ops.Reshape)(_reshape_back)


@rule(ops.Squeeze)
def squeeze(e, op):
    x = _input(op)
    op.saved = x.shape
    return e.view(x, "squeeze", op.options.get("axis"))


backward_rule(ops.Squeeze)(_reshape_back)


@rule(ops.Unsqueeze)
def unsqueeze(e, op):
    x = _input(op)
    op.saved = x.shape
    return e.view(x, "expand_dims", op.options["axis"])


backward_rule(ops.Unsqueeze)(_reshape_back)


@rule(ops.Transpose)
def transpose(e, op):
    x = _input(op)
    axes = op.options.get("axes")
    ndim = len(x.shape)
    if axes is not None:
        axes = tuple(a % ndim if -ndim <= a < ndim else a for a in axes)
    op.saved = None if axes is None else tuple(int(i) for i in np.argsort(axes))
    return e.view(x, "transpose", axes)


@backward_rule(ops.Transpose)
def transpose_backward(e, op, grad):
    return (e.view(grad, "transpose", op.saved),)


@rule(ops.BroadcastTo)
def broadcast_to(e, op):
    x = _input(op)
    op.saved = x.shape
    return e.view(x, "broadcast_to", tuple(op.options["shape"]))


@backward_rule(ops.BroadcastTo)
def broadcast_to_backward(e, op, grad):
    return (e.unbroadcast(grad, op.saved),)


def _basic(index) -> bool:
    """Slices, integers, None and Ellipsis only: indexing gives a view."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None
        or p is Ellipsis
        or isinstance(p, slice)
        or (isinstance(p, int) and not isinstance(p, bool))
        for p in parts
    )


def _has_list(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, list) for p in parts)


@rule(ops.GetItem)
def getitem(e, op):
    x = _input(op)
    index = op.options["index"]
    if _has_list(index):
        raise Unsupported
    op.saved = (x.shape, index)
    if _basic(index):
        return e.view(x, "getitem", index)
    return e.host(operator.getitem, x, index)


@backward_rule(ops.GetItem)
def getitem_backward(e, op, grad):
    shape, index = op.saved
    grad_x = e.copyto(e.buffer(shape, grad.dtype), 0)
    parts = index if isinstance(index, tuple) else (index,)
    integers = any(isinstance(p, Value) and p.dtype.kind in "iu" for p in parts)
    if integers:  # a repeated index adds both gradients
        return (e.write(np.add.at, grad_x, index, grad, target=grad_x),)
    return (e.write(operator.setitem, grad_x, index, grad, target=grad_x),)


@rule(ops.Concat)
def concat(e, op):
    if not all(isinstance(v, Value) for v in op.inputs):
        raise Unsupported
    inputs = _promoted(e, op.inputs)
    axis = op.options.get("axis", 0)
    out = e.call(np.concatenate, inputs, axis=axis)
    axis = axis % len(out.shape)
    op.saved = (axis, [int(v.shape[axis]) for v in inputs])
    return out


@backward_rule(ops.Concat)
def concat_backward(e, op, grad):
    axis, sizes = op.saved
    pieces, start = [], 0
    for size in sizes:  # np.split's pieces: views
        index = (slice(None),) * axis + (slice(start, start + size),)
        pieces.append(e.view(grad, "getitem", index))
        start += size
    return tuple(pieces)


@rule(ops.Stack)
def stack(e, op):
    if not all(isinstance(v, Value) for v in op.inputs):
        raise Unsupported
    inputs = _promoted(e, op.inputs)
    axis = op.options.get("axis", 0)
    out = e.call(np.stack, inputs, axis=axis)
    op.saved = (axis % len(out.shape), len(inputs))
    return out


@backward_rule(ops.Stack)
def stack_backward(e, op, grad):
    axis, count = op.saved
    return tuple(e.call(np.take, grad, i, axis=axis) for i in range(count))


def _promoted(e, values: list) -> list:
    """``promote_all``: one dtype for all, when floats are mixed with others."""
    probes = promote_all([v.trace for v in values])
    return [
        v if probe is v.trace else e.astype(v, probe.dtype)
        for v, probe in zip(values, probes, strict=True)
    ]
