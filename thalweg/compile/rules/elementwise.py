"""Replay rules of ``autograd/ops/elementwise.py``: one array in, one array out."""

from __future__ import annotations

import numpy as np

from thalweg.autograd.ops import elementwise as ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value


def _input(op) -> Value:
    x = op.inputs[0]
    if not isinstance(x, Value):
        raise Unsupported
    return x


def _unary(op_class, ufunc, saves_output: bool, derivative):
    """An op ``ufunc(x)`` whose backward is ``derivative(e, saved, grad)``."""

    @rule(op_class)
    def forward(e, op):
        x = _input(op)
        quiet = op_class in (ops.Log, ops.Log1p)  # (the op silences log(0) and log(-1))
        out = e.call(
            ufunc, x, errstate={"divide": "ignore", "invalid": "ignore"} if quiet else None
        )
        op.saved = out if saves_output else x
        return out

    @backward_rule(op_class)
    def backward(e, op, grad):
        return (derivative(e, op.saved, grad),)

    return forward, backward


# d/dx, written exactly as the op's backward writes it
_unary(ops.Exp, np.exp, True, lambda e, out, g: e.call(np.multiply, g, out))
_unary(ops.Log, np.log, False, lambda e, x, g: e.call(np.divide, g, x))
_unary(ops.Log1p, np.log1p, False, lambda e, x, g: e.call(np.divide, g, e.call(np.add, 1, x)))
_unary(
    ops.Sqrt,
    np.sqrt,
    True,
    lambda e, out, g: e.call(np.divide, g, e.call(np.multiply, 2, out)),
)
_unary(ops.Abs, np.abs, False, lambda e, x, g: e.call(np.multiply, g, e.call(np.sign, x)))
_unary(ops.Sin, np.sin, False, lambda e, x, g: e.call(np.multiply, g, e.call(np.cos, x)))
_unary(
    ops.Cos,
    np.cos,
    False,
    lambda e, x, g: e.call(np.multiply, e.call(np.negative, g), e.call(np.sin, x)),
)


def _tanh_derivative(e, out, grad):
    square = e.call(np.multiply, out, out)  # grad * (1 - out * out)
    return e.call(np.multiply, grad, e.call(np.subtract, 1, square, into=square))


_unary(ops.Tanh, np.tanh, True, _tanh_derivative)


@rule(ops.ReLU)
def relu(e, op):
    out = e.call(np.maximum, _input(op), 0)
    op.saved = out
    return out


@backward_rule(ops.ReLU)
def relu_backward(e, op, grad):
    return (e.call(np.multiply, grad, e.call(np.greater, op.saved, 0)),)


def stable_sigmoid(e, x: Value) -> Value:
    """``elementwise.stable_sigmoid``: ``exp(-|x|)`` makes both tails accurate."""
    exp = e.call(np.abs, x)
    e.call(np.negative, exp, into=exp)
    e.call(np.exp, exp, into=exp)  # e = exp(-|x|)
    s = e.call(np.add, 1, exp)
    e.call(np.divide, 1, s, into=s)  # s = 1 / (1 + e)
    low = e.call(np.multiply, exp, s, into=exp)  # e * s
    return e.where(e.call(np.greater_equal, x, 0), s, low)


@rule(ops.Sigmoid)
def sigmoid(e, op):
    out = stable_sigmoid(e, _input(op))
    op.saved = out
    return out


@backward_rule(ops.Sigmoid)
def sigmoid_backward(e, op, grad):
    out = op.saved  # grad * out * (1 - out)
    scaled = e.call(np.multiply, grad, out)
    return (e.call(np.multiply, scaled, e.call(np.subtract, 1, out), into=scaled),)


@rule(ops.LeakyReLU)
def leaky_relu(e, op):
    x = _input(op)
    slope = op.options.get("negative_slope", 0.01)
    op.saved = (x, slope)
    return e.where(e.call(np.greater, x, 0), x, e.call(np.multiply, x, slope))


@backward_rule(ops.LeakyReLU)
def leaky_relu_backward(e, op, grad):
    x, slope = op.saved
    return (e.where(e.call(np.greater, x, 0), grad, e.call(np.multiply, grad, slope)),)


@rule(ops.Softplus)
def softplus(e, op):
    x = _input(op)
    op.saved = x
    return e.call(np.logaddexp, 0, x)


@backward_rule(ops.Softplus)
def softplus_backward(e, op, grad):
    return (e.call(np.multiply, grad, stable_sigmoid(e, op.saved)),)


@rule(ops.AsType)
def astype(e, op):
    x = _input(op)
    op.saved = x.dtype
    return e.astype(x, op.options["dtype"])


@backward_rule(ops.AsType)
def astype_backward(e, op, grad):
    return (e.asarray(grad, op.saved),)


@rule(ops.Clip)
def clip(e, op):
    x = _input(op)
    low, high = op.options.get("low"), op.options.get("high")
    if isinstance(low, Value) or isinstance(high, Value):
        raise Unsupported
    out = e.call(np.clip, x, low, high)
    inside = e.const(np.ones(x.shape, dtype=bool))
    if low is not None:
        inside = e.call(np.logical_and, inside, e.call(np.greater_equal, x, low))
    if high is not None:
        inside = e.call(np.logical_and, inside, e.call(np.less_equal, x, high))
    op.saved = inside
    return out


@backward_rule(ops.Clip)
def clip_backward(e, op, grad):
    return (e.call(np.multiply, grad, op.saved),)


def _split(e, op, grad, grad_a, a, b):
    """``elementwise._split_between``."""
    return (
        e.unbroadcast(grad_a, a.shape) if op.needs[0] else None,
        e.unbroadcast(e.call(np.subtract, grad, grad_a), b.shape) if op.needs[1] else None,
    )


def _extremum(op_class, ufunc, wins):
    @rule(op_class)
    def forward(e, op):
        a, b = op.inputs
        if not isinstance(a, Value) or not isinstance(b, Value):
            raise Unsupported
        a, b = e.promote(a, b)
        op.saved = (a, b)
        return e.call(ufunc, a, b)

    @backward_rule(op_class)
    def backward(e, op, grad):
        a, b = op.saved
        tie = e.where(e.call(np.equal, a, b), e.call(np.multiply, grad, 0.5), 0)
        grad_a = e.where(e.call(wins, a, b), grad, tie)
        return _split(e, op, grad, grad_a, a, b)


_extremum(ops.Maximum, np.maximum, np.greater)
_extremum(ops.Minimum, np.minimum, np.less)


@rule(ops.Where)
def where(e, op):
    condition, a, b = op.inputs
    if not all(isinstance(v, Value) for v in (condition, a, b)) or condition.dtype != bool:
        raise Unsupported
    a, b = e.promote(a, b)
    op.saved = (condition, a.shape, b.shape)
    return e.where(condition, a, b)


@backward_rule(ops.Where)
def where_backward(e, op, grad):
    condition, shape_a, shape_b = op.saved
    zero = e.const(np.zeros((), dtype=grad.dtype))
    return (
        None,
        e.unbroadcast(e.where(condition, grad, zero), shape_a) if op.needs[1] else None,
        e.unbroadcast(e.where(condition, zero, grad), shape_b) if op.needs[2] else None,
    )
