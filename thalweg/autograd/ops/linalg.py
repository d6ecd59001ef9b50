"""Matrix products: ``@`` (all of ``numpy.matmul``'s cases) and the fused ``linear``.

For ``C = A @ B`` and an incoming gradient ``G = dL/dC``:

    dL/dA = G @ Bᵀ        dL/dB = Aᵀ @ G

(each entry of C is a dot product of a row of A with a column of B, so a change in one
entry of A moves one row of C in proportion to B's columns).
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.broadcast import unbroadcast
from thalweg.autograd.function import Function
from thalweg.autograd.promotion import promote
from thalweg.errors import ShapeError


def _check_matmul_shapes(op: str, shape_a, shape_b) -> None:
    if len(shape_a) == 0 or len(shape_b) == 0:
        raise ShapeError(
            f"{op}: shapes {shape_a} and {shape_b}: matmul needs at least 1-D operands; "
            "use * for scalars"
        )
    inner_a = shape_a[-1]
    inner_b = shape_b[0] if len(shape_b) == 1 else shape_b[-2]
    if inner_a != inner_b:
        raise ShapeError(
            f"{op}: shapes {shape_a} and {shape_b} are not aligned ({inner_a} != {inner_b})"
        )


def affine(x: np.ndarray, weight: np.ndarray, bias) -> np.ndarray:
    """``x @ weight + bias`` with the shape checks of the layer op (no graph)."""
    # Cheap checks first (attributes, not NumPy's helper functions: this runs per layer
    # per step); the detailed message is built only when something is wrong.
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (in, out), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
        _check_matmul_shapes("linear", x.shape, weight.shape)
    if bias is not None and bias.shape != (weight.shape[1],):
        raise ShapeError(
            f"linear: bias of shape {np.shape(bias)} does not match weight {weight.shape}; "
            f"it must be ({weight.shape[1]},)"
        )
    out = x @ weight
    if bias is not None:
        if bias.dtype == out.dtype:
            out += bias  # in place: out is a fresh array
        else:
            out = out + bias
    return out


class MatMul(Function):
    """``a @ b`` with NumPy's rules: 1-D operands are vectors, leading axes broadcast."""

    __slots__ = ()

    def forward(self, a, b):
        a, b = promote(np.asarray(a), np.asarray(b))
        _check_matmul_shapes("matmul", a.shape, b.shape)
        try:
            out = a @ b
        except ValueError as error:  # batch axes that do not broadcast
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: {error}") from None
        self.saved = (a, b)
        return out

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.parents[0] is not None, self.parents[1] is not None
        if a.ndim == 2 and b.ndim == 2:  # the common case, without reshaping
            return (grad @ b.T if need_a else None, a.T @ grad if need_b else None)
        if a.ndim == 1 and b.ndim == 1:  # dot product: grad is a scalar
            return (grad * b if need_a else None, grad * a if need_b else None)
        # Treat vectors as matrices (a row for a, a column for b), as matmul does.
        a2 = a[np.newaxis, :] if a.ndim == 1 else a
        b2 = b[:, np.newaxis] if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = grad_b = None
        if need_a:
            grad_a = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


class Linear(Function):
    """``x @ weight + bias`` as one op: the layer every network is made of.

    Shapes: x ``(..., in)``, weight ``(in, out)``, bias ``(out,)`` or None -> ``(..., out)``.
    Fusing saves a graph node and a temporary per layer, and lets the bias be added in
    place into the fresh matmul output.
    """

    __slots__ = ()

    def forward(self, x, weight, bias=None):
        if type(x) is not np.ndarray:  # a constant given as a list, say
            x = np.asarray(x)
        if x.dtype is not weight.dtype:  # e.g. integer rows: they follow the weights' dtype
            x, weight = promote(x, weight)
        self.saved = (x, weight)
        return affine(x, weight, bias)

    def backward(self, grad):
        x, weight = self.saved
        grad_2d = grad.reshape(-1, grad.shape[-1])
        grad_x = grad_weight = grad_bias = None
        if self.parents[0] is not None:
            grad_x = grad @ weight.T
        if self.parents[1] is not None:
            grad_weight = x.reshape(-1, x.shape[-1]).T @ grad_2d
        if self.parents[2] is not None:
            grad_bias = np.add.reduce(grad_2d, axis=0)
        return grad_x, grad_weight, grad_bias


class StandardizedLinear(Function):
    """``((x - mean) / scale) @ weight + bias``, computed without standardizing ``x``.

    With ``W' = weight / scale`` (row by row) and ``b' = bias - mean @ W'`` the layer is
    ``x @ W' + b'``: one matmul on the raw rows, no standardized copy. Backward, with
    ``G`` the incoming gradient and ``g = ΣG`` over rows::

        d/dbias = g
        d/dweight = (xᵀG - outer(mean, g)) / scale      (b' depends on W' too)
        d/dx = G @ W'ᵀ

    Shapes: x ``(n, in)``, weight ``(in, out)``, bias ``(out,)``, mean and scale ``(in,)``.
    """

    __slots__ = ()

    def forward(self, x, weight, bias, mean, scale):
        raw_weight = weight / scale[:, None]
        raw_bias = bias - mean @ raw_weight
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        x, raw_weight = promote(x, raw_weight)
        self.saved = (x, raw_weight, mean, scale)
        return affine(x, raw_weight, raw_bias)

    def backward(self, grad):
        x, raw_weight, mean, scale = self.saved
        grad_2d = grad.reshape(-1, grad.shape[-1])
        grad_bias = np.add.reduce(grad_2d, axis=0)
        grad_x = grad_weight = None
        if self.parents[0] is not None:
            grad_x = grad @ raw_weight.T
        if self.parents[1] is not None:
            grad_raw = x.reshape(-1, x.shape[-1]).T @ grad_2d - mean[:, None] * grad_bias
            grad_weight = grad_raw / scale[:, None]
        return grad_x, grad_weight, grad_bias if self.parents[2] is not None else None, None, None
