"""Elementwise functions: each output element depends on one input element.

So each backward is ``grad * f'(x)``, elementwise. Where ``f'`` is cheaper to write in
terms of the output (exp, tanh, sigmoid, sqrt), the op saves its output instead of its
input: ``tanh' = 1 - tanh²`` needs no second ``tanh``.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.broadcast import unbroadcast
from thalweg.autograd.function import Function
from thalweg.autograd.promotion import promote
from thalweg.numerics import stable_sigmoid  # 1/(1+exp(-x)) without overflow, both tails


class AsType(Function):
    """``x.astype(dtype)``.  d/dx = 1; the gradient is cast back to x's dtype."""

    __slots__ = ()

    def forward(self, x, dtype):
        self.saved = (x.dtype,)
        return x.astype(dtype)

    def backward(self, grad):
        (dtype,) = self.saved
        return (grad.astype(dtype, copy=False),)


class Exp(Function):
    """``exp(x)``.  d/dx = exp(x), the output itself."""

    __slots__ = ()

    def forward(self, x):
        out = np.exp(x)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad * out,)


class Log(Function):
    """``log(x)``.  d/dx = 1/x."""

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad / x,)


class Log1p(Function):
    """``log(1 + x)``, accurate for tiny x.  d/dx = 1/(1+x)."""

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad / (1 + x),)


class Sqrt(Function):
    """``sqrt(x)``.  d/dx = 1/(2·sqrt(x))."""

    __slots__ = ()

    def forward(self, x):
        out = np.sqrt(x)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad / (2 * out),)


class Abs(Function):
    """``|x|``.  d/dx = sign(x) (0 at 0, the subgradient PyTorch uses too)."""

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        return np.abs(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad * np.sign(x),)


class Sin(Function):
    """``sin(x)``.  d/dx = cos(x)."""

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        return np.sin(x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad * np.cos(x),)


class Cos(Function):
    """``cos(x)``.  d/dx = -sin(x)."""

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        return np.cos(x)

    def backward(self, grad):
        (x,) = self.saved
        return (-grad * np.sin(x),)


class Tanh(Function):
    """``tanh(x)``.  d/dx = 1 - tanh(x)², from the saved output."""

    __slots__ = ()

    def forward(self, x):
        out = np.tanh(x)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad * (1 - out * out),)


class Sigmoid(Function):
    """``1 / (1 + exp(-x))``.  d/dx = s·(1 - s), from the saved output s."""

    __slots__ = ()

    def forward(self, x):
        out = stable_sigmoid(x)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad * out * (1 - out),)


class ReLU(Function):
    """``max(x, 0)``.  d/dx = 1 where x > 0, else 0 (0 at 0, as PyTorch)."""

    __slots__ = ()

    def forward(self, x):
        out = np.maximum(x, 0)
        self.saved = (out,)
        return out

    def backward(self, grad):
        (out,) = self.saved
        return (grad * (out > 0),)


class LeakyReLU(Function):
    """``x`` where x > 0, else ``slope·x``.  d/dx = 1 or slope."""

    __slots__ = ("negative_slope",)

    def forward(self, x, negative_slope=0.01):
        self.saved = (x,)
        self.negative_slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    def backward(self, grad):
        (x,) = self.saved
        return (np.where(x > 0, grad, grad * self.negative_slope),)


class Softplus(Function):
    """``log(1 + exp(x))``, computed as ``logaddexp(0, x)`` (no overflow).

    d/dx = sigmoid(x).
    """

    __slots__ = ()

    def forward(self, x):
        self.saved = (x,)
        return np.logaddexp(0, x)

    def backward(self, grad):
        (x,) = self.saved
        return (grad * stable_sigmoid(x),)


class Clip(Function):
    """``min(max(x, low), high)``.  d/dx = 1 inside [low, high], 0 outside."""

    __slots__ = ()

    def forward(self, x, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clip: give min, max or both")
        out = np.clip(x, low, high)
        inside = np.ones(np.shape(x), dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.saved = (inside,)
        return out

    def backward(self, grad):
        (inside,) = self.saved
        return (grad * inside,)


class Maximum(Function):
    """Elementwise ``max(a, b)``.  The gradient goes to the larger; ties split it evenly."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        self.saved = (a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved
        grad_a = np.where(a > b, grad, np.where(a == b, grad * 0.5, 0))
        return _split_between(grad, grad_a, a, b, self.parents)


class Minimum(Function):
    """Elementwise ``min(a, b)``.  The gradient goes to the smaller; ties split it evenly."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        self.saved = (a, b)
        return np.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved
        grad_a = np.where(a < b, grad, np.where(a == b, grad * 0.5, 0))
        return _split_between(grad, grad_a, a, b, self.parents)


def _split_between(grad, grad_a, a, b, parents):
    """Gradients of a and b when b receives whatever of ``grad`` a did not."""
    return (
        unbroadcast(grad_a, a.shape) if parents[0] is not None else None,
        unbroadcast(grad - grad_a, b.shape) if parents[1] is not None else None,
    )


class Where(Function):
    """``a`` where ``condition`` else ``b``.  The gradient follows the chosen side."""

    __slots__ = ()

    def forward(self, condition, a, b):
        condition = np.asarray(condition, dtype=bool)
        a, b = promote(a, b)
        self.saved = (condition, np.shape(a), np.shape(b))
        return np.where(condition, a, b)

    def backward(self, grad):
        condition, shape_a, shape_b = self.saved
        zero = np.zeros((), dtype=grad.dtype)
        return (
            None,
            unbroadcast(np.where(condition, grad, zero), shape_a)
            if self.parents[1] is not None
            else None,
            unbroadcast(np.where(condition, zero, grad), shape_b)
            if self.parents[2] is not None
            else None,
        )
