"""Replay rules of ``autograd/ops/linalg.py``: matmul and the fused linear layers."""

from __future__ import annotations

import numpy as np

from thalweg.autograd.ops import linalg
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value


def _affine(e, x, weight, bias):
    """``linalg.affine``: ``x @ weight``, then the bias added in place."""
    out = e.call(np.matmul, x, weight)
    if bias is None:
        return out
    if bias.dtype == out.dtype:
        return e.call(np.add, out, bias, into=out)
    return e.call(np.add, out, bias)


def _rows(e, array: Value) -> Value:
    """``array.reshape(-1, array.shape[-1])``."""
    return e.view(array, "reshape", (-1, array.shape[-1]))


@rule(linalg.Linear)
def linear(e, op):
    x, weight, *rest = op.inputs
    bias = rest[0] if rest else op.options.get("bias")
    if not isinstance(x, Value) or not isinstance(weight, Value):
        raise Unsupported
    if x.dtype is not weight.dtype:
        x, weight = e.promote(x, weight)
    op.saved = (x, weight)
    return _affine(e, x, weight, bias)


@backward_rule(linalg.Linear)
def linear_backward(e, op, grad):
    x, weight = op.saved
    grad_x = grad_weight = grad_bias = None
    if op.needs[0]:
        grad_x = e.call(np.matmul, grad, e.view(weight, "T"))
    if op.needs[1]:
        grad_weight = e.call(np.matmul, e.view(_rows(e, x), "T"), _rows(e, grad))
    if len(op.needs) > 2 and op.needs[2]:
        grad_bias = e.call(np.add.reduce, _rows(e, grad), axis=0)
    return grad_x, grad_weight, grad_bias


@rule(linalg.StandardizedLinear)
def standardized_linear(e, op):
    x, weight, bias, mean, scale = op.inputs
    if not all(isinstance(v, Value) for v in (x, weight, bias, mean, scale)):
        raise Unsupported
    column = e.view(scale, "getitem", (slice(None), None))
    raw_weight = e.call(np.divide, weight, column)
    raw_bias = e.call(np.subtract, bias, e.call(np.matmul, mean, raw_weight))
    x, raw_weight = e.promote(x, raw_weight)
    op.saved = (x, raw_weight, mean, scale)
    return _affine(e, x, raw_weight, raw_bias)


@backward_rule(linalg.StandardizedLinear)
def standardized_linear_backward(e, op, grad):
    x, raw_weight, mean, scale = op.saved
    grad_2d = _rows(e, grad)
    grad_bias = e.call(np.add.reduce, grad_2d, axis=0)
    grad_x = grad_weight = None
    if op.needs[0]:
        grad_x = e.call(np.matmul, grad, e.view(raw_weight, "T"))
    if op.needs[1]:
        product = e.call(np.matmul, e.view(_rows(e, x), "T"), grad_2d)
        spread = e.call(np.multiply, e.view(mean, "getitem", (slice(None), None)), grad_bias)
        grad_raw = e.call(np.subtract, product, spread)
        grad_weight = e.call(np.divide, grad_raw, e.view(scale, "getitem", (slice(None), None)))
    return grad_x, grad_weight, grad_bias if op.needs[2] else None, None, None


@rule(linalg.MatMul)
def matmul(e, op):
    a, b = op.inputs
    if (
        not isinstance(a, Value)
        or not isinstance(b, Value)
        or a.trace.ndim != 2
        or b.trace.ndim != 2
    ):
        raise Unsupported  # vectors and batches: the op runs as itself
    a, b = e.promote(a, b)
    op.saved = (a, b)
    return e.call(np.matmul, a, b)


@backward_rule(linalg.MatMul)
def matmul_backward(e, op, grad):
    a, b = op.saved
    return (
        e.call(np.matmul, grad, e.view(b, "T")) if op.needs[0] else None,
        e.call(np.matmul, e.view(a, "T"), grad) if op.needs[1] else None,
    )
