"""Arithmetic: ``+ - * / **`` and negation, with NumPy broadcasting.

Each backward is the derivative from school, times the incoming gradient, then
``unbroadcast`` back to the input's shape (an input that was broadcast was used many
times, so its gradient is the sum over those uses). Each forward first applies the
dtype rule for mixed operands (``promotion.py``: integers follow the floats).
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.broadcast import unbroadcast
from thalweg.autograd.function import Function
from thalweg.autograd.promotion import promote


class Add(Function):
    """``a + b``.  d/da = 1, d/db = 1."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        self.saved = (np.shape(a), np.shape(b))
        return a + b

    def backward(self, grad):
        shape_a, shape_b = self.saved
        return (
            unbroadcast(grad, shape_a) if self.parents[0] is not None else None,
            unbroadcast(grad, shape_b) if self.parents[1] is not None else None,
        )


class Sub(Function):
    """``a - b``.  d/da = 1, d/db = -1."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        self.saved = (np.shape(a), np.shape(b))
        return a - b

    def backward(self, grad):
        shape_a, shape_b = self.saved
        return (
            unbroadcast(grad, shape_a) if self.parents[0] is not None else None,
            unbroadcast(-grad, shape_b) if self.parents[1] is not None else None,
        )


class Mul(Function):
    """``a * b``.  d/da = b, d/db = a."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        self.saved = (a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        return (
            unbroadcast(grad * b, a.shape) if self.parents[0] is not None else None,
            unbroadcast(grad * a, b.shape) if self.parents[1] is not None else None,
        )


class Div(Function):
    """``a / b``.  d/da = 1/b, d/db = -a/b² = -(a/b)/b."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b, true_division=True)
        out = a / b
        self.saved = (a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        grad_over_b = grad / b
        return (
            unbroadcast(grad_over_b, a.shape) if self.parents[0] is not None else None,
            unbroadcast(-grad_over_b * out, b.shape) if self.parents[1] is not None else None,
        )


class Pow(Function):
    """``a ** b``.  d/da = b·a^(b-1), d/db = a^b·ln(a).

    Where a formula meets 0·∞ the limit is taken instead, as PyTorch does: d/da is 0
    wherever ``b == 0`` (``x**0`` is the constant 1, even at ``x = 0``), and d/db is 0
    wherever ``a == 0`` and ``b >= 0`` (``0**b`` is constant there: 0, or 1 at ``b = 0``).
    So ``Σ cₖ·x**k`` has the right gradient at 0.
    """

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(a, b)
        with np.errstate(divide="ignore"):  # 0 ** -1 is inf, as IEEE says
            out = a**b
        self.saved = (a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        grad_a = grad_b = None
        if self.parents[0] is not None:
            if isinstance(b, int | float):  # a constant exponent: the usual x**k
                if b == 2:  # the common square: no pow needed
                    grad_a = grad * (2 * a)
                elif b == 0:
                    grad_a = np.zeros(np.shape(a), dtype=grad.dtype)
                else:
                    grad_a = unbroadcast(grad * b * a ** (b - 1), np.shape(a))
            else:
                with np.errstate(divide="ignore", invalid="ignore"):  # 0**(-1) where b = 0
                    slope = np.where(b == 0, 0, b * a ** (b - 1))
                grad_a = unbroadcast(grad * slope, np.shape(a))
        if self.parents[1] is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = out * np.log(a, dtype=out.dtype)
            slope = np.where((a == 0) & (b >= 0), 0, slope)
            grad_b = unbroadcast(grad * slope, np.shape(b))
        return grad_a, grad_b


class Neg(Function):
    """``-a``.  d/da = -1."""

    __slots__ = ()

    def forward(self, a):
        self.saved = ()
        return -a

    def backward(self, grad):
        return (-grad,)
