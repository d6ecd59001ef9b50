"""Shape ops: they move elements around without changing them.

So each backward moves the gradient back: reshape the gradient back, transpose it with
the inverse permutation, sum it over broadcast axes, scatter it into the indexed
positions (adding where an index repeats), split it between concatenated inputs.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.broadcast import unbroadcast
from thalweg.autograd.function import Function
from thalweg.autograd.promotion import promote_all
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError


def _axis_error(op: str, axis, x, extra: int = 0) -> ShapeError:
    ndim = np.ndim(x) + extra
    return ShapeError(
        f"{op}: axis {axis} is out of range for a tensor of shape {np.shape(x)} "
        f"(valid axes: {-ndim} to {ndim - 1})"
    )


class Reshape(Function):
    """``x.reshape(shape)``; the gradient is reshaped back."""

    __slots__ = ()

    def forward(self, x, shape):
        try:
            out = np.reshape(x, shape)
        except ValueError:
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {np.shape(x)} ({np.size(x)} "
                f"elements) into {tuple(shape)}"
            ) from None
        self.saved = (np.shape(x),)
        return out

    def backward(self, grad):
        (shape,) = self.saved
        return (grad.reshape(shape),)


class Transpose(Function):
    """``x.transpose(axes)`` (reverse all axes when None); the gradient is permuted back."""

    __slots__ = ()

    def forward(self, x, axes=None):
        ndim = np.ndim(x)
        if axes is not None:
            axes = tuple(a % ndim if -ndim <= a < ndim else a for a in axes)
            if sorted(axes) != list(range(ndim)):
                raise ShapeError(
                    f"transpose: axes {axes} are not a permutation of the {ndim} axes of a "
                    f"tensor of shape {np.shape(x)}"
                )
        self.saved = (None if axes is None else tuple(np.argsort(axes)),)
        return np.transpose(x, axes)

    def backward(self, grad):
        (inverse,) = self.saved
        return (np.transpose(grad, inverse),)


class Squeeze(Function):
    """Remove size-1 axes (all, or the given ones)."""

    __slots__ = ()

    def forward(self, x, axis=None):
        try:
            out = np.squeeze(x, axis=axis)
        except np.exceptions.AxisError:
            raise _axis_error("squeeze", axis, x) from None
        except ValueError:
            raise ShapeError(
                f"squeeze: axis {axis} of a tensor of shape {np.shape(x)} does not have size 1"
            ) from None
        self.saved = (np.shape(x),)
        return out

    def backward(self, grad):
        (shape,) = self.saved
        return (grad.reshape(shape),)


class Unsqueeze(Function):
    """Insert a size-1 axis at ``axis``."""

    __slots__ = ()

    def forward(self, x, axis):
        self.saved = (np.shape(x),)
        try:
            return np.expand_dims(x, axis)
        except np.exceptions.AxisError:
            raise _axis_error("unsqueeze", axis, x, extra=1) from None

    def backward(self, grad):
        (shape,) = self.saved
        return (grad.reshape(shape),)


class BroadcastTo(Function):
    """``broadcast_to(x, shape)`` (``expand``); the gradient is summed back."""

    __slots__ = ()

    def forward(self, x, shape):
        try:
            out = np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(
                f"broadcast_to: cannot broadcast shape {np.shape(x)} to {tuple(shape)}"
            ) from None
        self.saved = (np.shape(x),)
        return out

    def backward(self, grad):
        (shape,) = self.saved
        return (unbroadcast(grad, shape),)


def _index_arrays(index):
    """Tensors and lists inside an index become arrays (lists would mean a tuple index)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    return index


def _has_integer_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


class GetItem(Function):
    """``x[index]``: slices, integers, integer arrays, boolean masks.

    The gradient is scattered back into a zero array of the input's shape. An integer
    array may name the same element twice; ``np.add.at`` then adds both gradients, where
    plain assignment would keep only one.
    """

    __slots__ = ()

    def forward(self, x, index):
        index = _index_arrays(index)
        try:
            out = x[index]
        except IndexError as error:
            raise ShapeError(f"getitem: {error} (tensor of shape {np.shape(x)})") from None
        self.saved = (np.shape(x), index)
        return out

    def backward(self, grad):
        shape, index = self.saved
        grad_x = np.zeros(shape, dtype=grad.dtype)
        if _has_integer_array(index):
            np.add.at(grad_x, index, grad)
        else:  # slices and masks never repeat an element
            grad_x[index] = grad
        return (grad_x,)


class Concat(Function):
    """Join tensors along an existing ``axis``; the gradient is split back."""

    __slots__ = ()

    def forward(self, *arrays, axis=0):
        arrays = promote_all(arrays)
        try:
            out = np.concatenate(arrays, axis=axis)
        except np.exceptions.AxisError:
            raise _axis_error("concat", axis, arrays[0]) from None
        except ValueError:
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(
                f"concat: shapes {shapes} differ outside axis {axis}; they must match there"
            ) from None
        axis = axis % out.ndim
        boundaries = np.cumsum([np.shape(a)[axis] for a in arrays])[:-1]
        self.saved = (axis, boundaries)
        return out

    def backward(self, grad):
        axis, boundaries = self.saved
        return tuple(np.split(grad, boundaries, axis=axis))


class Stack(Function):
    """Join tensors along a new ``axis``; the gradient is unstacked back."""

    __slots__ = ()

    def forward(self, *arrays, axis=0):
        arrays = promote_all(arrays)
        try:
            out = np.stack(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ShapeError(f"stack: shapes {shapes} must all be equal") from None
        self.saved = (axis % out.ndim, len(arrays))
        return out

    def backward(self, grad):
        axis, count = self.saved
        return tuple(np.take(grad, i, axis=axis) for i in range(count))
