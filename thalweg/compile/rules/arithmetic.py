"""Replay rules of ``autograd/ops/arithmetic.py``: ``+ - * / **`` and negation."""

from __future__ import annotations

import numpy as np

from thalweg.autograd.ops import arithmetic as ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value


def _shape(x) -> tuple:
    return x.shape if isinstance(x, Value) else np.shape(x)


def _binary(op_class, ufunc):
    """``a <op> b`` after the dtype rule; the operands' shapes saved for backward."""

    @rule(op_class)
    def forward(e, op):
        a, b = e.promote(*op.inputs)
        op.saved = (a, b)
        return e.call(ufunc, a, b)

    return forward


_binary(ops.Add, np.add)
_binary(ops.Sub, np.subtract)
_binary(ops.Mul, np.multiply)


@backward_rule(ops.Add)
def add_backward(e, op, grad):
    a, b = op.saved
    return (
        e.unbroadcast(grad, _shape(a)) if op.needs[0] else None,
        e.unbroadcast(grad, _shape(b)) if op.needs[1] else None,
    )


@backward_rule(ops.Sub)
def sub_backward(e, op, grad):
    a, b = op.saved
    return (
        e.unbroadcast(grad, _shape(a)) if op.needs[0] else None,
        e.unbroadcast(e.call(np.negative, grad), _shape(b)) if op.needs[1] else None,
    )


@backward_rule(ops.Mul)
def mul_backward(e, op, grad):
    a, b = op.saved
    return (
        e.unbroadcast(e.call(np.multiply, grad, b), _shape(a)) if op.needs[0] else None,
        e.unbroadcast(e.call(np.multiply, grad, a), _shape(b)) if op.needs[1] else None,
    )


@rule(ops.Div)
def div(e, op):
    a, b = e.promote(*op.inputs, true_division=True)
    out = e.call(np.true_divide, a, b)
    op.saved = (a, b, out)
    return out


@backward_rule(ops.Div)
def div_backward(e, op, grad):
    a, b, out = op.saved
    grad_over_b = e.call(np.true_divide, grad, b)
    grad_b = None
    if op.needs[1]:
        negated = e.call(np.negative, grad_over_b)
        grad_b = e.unbroadcast(e.call(np.multiply, negated, out, into=negated), _shape(b))
    return (e.unbroadcast(grad_over_b, _shape(a)) if op.needs[0] else None, grad_b)


# What ``ndarray ** k`` calls for a constant exponent k (NumPy's fast paths)
_POWERS = {2: np.square, 0.5: np.sqrt, -1: np.reciprocal, 1: np.positive}


def _power(e, base, exponent: float, errstate=None):
    ufunc = _POWERS.get(exponent)
    if ufunc is not None:
        return e.call(ufunc, base, errstate=errstate)
    return e.call(np.power, base, exponent, errstate=errstate)


@rule(ops.Pow)
def pow_(e, op):
    a, b = e.promote(*op.inputs)
    if not isinstance(a, Value) or isinstance(b, Value) or not isinstance(b, int | float):
        raise Unsupported  # a tensor exponent: the op runs as itself
    out = _power(e, a, b, errstate={"divide": "ignore"})  # (0 ** -1 is inf, as IEEE says)
    op.saved = (a, b)
    return out


@backward_rule(ops.Pow)
def pow_backward(e, op, grad):
    a, b = op.saved  # (a constant exponent: the rule declines tensor exponents)
    if not op.needs[0]:
        return None, None
    if b == 2:  # grad * (2 * a)
        return e.call(np.multiply, grad, e.call(np.multiply, 2, a)), None
    if b == 0:
        return e.copyto(e.buffer(a.shape, grad.dtype), 0), None
    scaled = e.call(np.multiply, grad, b)  # grad * b * a ** (b - 1)
    return e.unbroadcast(e.call(np.multiply, scaled, _power(e, a, b - 1)), a.shape), None


@rule(ops.Neg)
def neg(e, op):
    (a,) = op.inputs
    if not isinstance(a, Value):
        raise Unsupported
    return e.call(np.negative, a)


@backward_rule(ops.Neg)
def neg_backward(e, op, grad):
    return (e.call(np.negative, grad),)
