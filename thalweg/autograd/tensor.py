"""``Tensor``: a NumPy array that remembers how it was made.

A tensor holds its values in ``.data`` (a plain ``numpy.ndarray``). When it is the result
of an op on tensors that require gradients, ``.grad_fn`` points at the graph node (a
:class:`~thalweg.autograd.function.Function`) that made it; calling ``.backward()`` walks
those nodes in reverse and leaves gradients in the ``.grad`` of every leaf tensor that
asked for one (``requires_grad=True``).

Every operator and method below is a one-line call into an op in ``autograd/ops/``;
the derivatives live there, next to the forward they differentiate.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd import recording, versions
from thalweg.autograd.grad_mode import grad_enabled
from thalweg.errors import DTypeError, GraphError


def _as_array(data, dtype=None) -> np.ndarray:
    """Copy user data into a new ndarray; Python floats become the default float dtype.

    It copies (like ``torch.tensor``) so that training, which updates weights in place,
    never writes into an array the caller still holds. ``from_numpy`` shares instead.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    array = np.array(data)
    if array.dtype == np.float64 and not isinstance(data, np.ndarray | np.generic):
        # Python floats and lists of them: float32 by default, never silently float64.
        array = array.astype(backend.get_default_dtype())
    return array


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Values, copied. Python floats (and lists of them) become float32 unless ``dtype``
        says otherwise; NumPy arrays keep their dtype (float64 stays float64).
    requires_grad : bool
        Whether ``backward`` should compute a gradient for this tensor.
    dtype : dtype, optional
        Force a dtype.
    name : str, optional
        A label shown by ``repr`` and ``thalweg.to_dot``.

    Examples
    --------
    >>> import thalweg
    >>> w = thalweg.tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> w.grad
    array([2., 4.], dtype=float32)
    """

    __slots__ = ("__weakref__", "data", "grad", "grad_fn", "name", "requires_grad")

    # NumPy must hand ``ndarray * tensor`` to Tensor.__rmul__ instead of looping over it.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if recording.active:  # made inside a step thalweg.compile is tracing
            recording.note_tensor(self, data)

    @classmethod
    def _from_op(cls, data: np.ndarray, grad_fn) -> Tensor:
        """Wrap an op's output without any checks (the hot path of every op)."""
        out = object.__new__(cls)
        out.data = data
        out.grad = None
        out.grad_fn = grad_fn
        out.name = None
        out.requires_grad = grad_fn is not None
        return out

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaf tensors only) and return self."""
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise DTypeError(
                f"only floating-point tensors can require gradients, got {self.data.dtype}; "
                "create it with dtype=float32 or float64"
            )
        if self.grad_fn is not None and not requires_grad:
            raise GraphError(
                "cannot turn off requires_grad on the result of an op; use .detach() instead"
            )
        self.requires_grad = requires_grad
        return self

    # ----------------------------------------------------------------- array properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (their ``.grad`` gets filled)."""
        return self.grad_fn is None

    # Python reading the values: a step being compiled must not decide anything on them
    # (thalweg.compile is told, see recording.py).
    def numpy(self) -> np.ndarray:
        """The values as an ndarray (shares memory, like ``torch.Tensor.numpy``)."""
        if recording.active:
            recording.note_read(self, "numpy()")
        return self.data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): tensor has {self.data.size} elements, not 1; index it first")
        value = self.data.item()
        if recording.active:
            recording.note_read(self, "item()", value)
        return value

    def tolist(self):
        if recording.active:
            recording.note_read(self, "tolist()")
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf tensor sharing the values, cut off from the graph."""
        return Tensor._from_op(self.data, None)

    def retain_grad(self) -> Tensor:
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward``.

        Learners use it to see the gradient at every step of the chain rule.
        """
        if self.grad_fn is not None:
            self.grad_fn.retained = self
        return self

    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Parameters
        ----------
        grad : array_like, optional
            The gradient of some scalar with respect to this tensor, same shape as it.
            Needed only when this tensor is not a scalar.
        retain_graph : bool
            Keep the saved arrays so backward can run through this graph again.
        """
        engine.backward(self, grad, retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def __array__(self, dtype=None, copy=None):
        # NumPy 2's protocol: copy=True always copies, copy=False never does (or raises).
        if recording.active:
            recording.note_read(self, "np.asarray()")
        return np.array(self.data, dtype=dtype, copy=copy)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        # Without this Python iterates by indexing until IndexError, but an index out
        # of range raises ShapeError here, so ``for row in x`` would fail at the end.
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if recording.active:
            recording.note_read(self, "bool()")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # __eq__ returns a tensor (elementwise), so identity is the only sane hash: tensors
    # key dicts by identity (an optimizer's state, say). object's own C-level hash is that.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extras = [f"dtype={self.data.dtype}"]
        if self.name:
            extras.append(f"name={self.name!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    # ----------------------------------------------------------------- in place
    # Change the values without making a new tensor, like PyTorch's ``add_``. Each one
    # records the write (versions.py), so a graph that saved these values refuses to
    # backpropagate through them afterwards instead of using the new ones.
    def _writable(self, method: str) -> np.ndarray:
        if self.grad_fn is not None:
            raise GraphError(
                f"{method}: this tensor was computed by a recorded op, and changing it in "
                "place would break the graph; write the out-of-place form (y = y + 1)"
            )
        if self.requires_grad and grad_enabled():
            raise GraphError(
                f"{method}: in-place change of a leaf that requires grad while grad mode "
                "is on; do it inside `with thalweg.no_grad():` (as optimizers do)"
            )
        return self.data

    def _written(self, method: str) -> Tensor:
        versions.mark_written(self.data, f"Tensor.{method}")
        return self

    def add_(self, other, alpha=1) -> Tensor:
        """``self += alpha * other`` in place; returns self."""
        data = self._writable("add_")
        data += _data(other) if alpha == 1 else alpha * _data(other)
        return self._written("add_")

    def sub_(self, other) -> Tensor:
        """``self -= other`` in place; returns self."""
        data = self._writable("sub_")
        data -= _data(other)
        return self._written("sub_")

    def mul_(self, other) -> Tensor:
        """``self *= other`` in place; returns self."""
        data = self._writable("mul_")
        data *= _data(other)
        return self._written("mul_")

    def div_(self, other) -> Tensor:
        """``self /= other`` in place; returns self."""
        data = self._writable("div_")
        data /= _data(other)
        return self._written("div_")

    def fill_(self, value) -> Tensor:
        """Set every element to ``value``; returns self."""
        self._writable("fill_").fill(value)
        return self._written("fill_")

    def zero_(self) -> Tensor:
        """Set every element to 0; returns self."""
        return self.fill_(0)

    def copy_(self, source) -> Tensor:
        """Copy ``source``'s values (broadcast to this shape) in; returns self.

        >>> import thalweg
        >>> w = thalweg.zeros(2)
        >>> w.copy_([1.0, 2.0]).tolist()
        [1.0, 2.0]
        """
        self._writable("copy_")[...] = _data(source)
        return self._written("copy_")

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return arithmetic.Add.apply(self, other)

    def __radd__(self, other):
        return arithmetic.Add.apply(other, self)

    def __sub__(self, other):
        return arithmetic.Sub.apply(self, other)

    def __rsub__(self, other):
        return arithmetic.Sub.apply(other, self)

    def __mul__(self, other):
        return arithmetic.Mul.apply(self, other)

    def __rmul__(self, other):
        return arithmetic.Mul.apply(other, self)

    def __truediv__(self, other):
        return arithmetic.Div.apply(self, other)

    def __rtruediv__(self, other):
        return arithmetic.Div.apply(other, self)

    def __pow__(self, exponent):
        return arithmetic.Pow.apply(self, exponent)

    def __rpow__(self, base):
        return arithmetic.Pow.apply(base, self)

    def __neg__(self):
        return arithmetic.Neg.apply(self)

    def __pos__(self):
        return self

    def __matmul__(self, other):
        return linalg.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return linalg.MatMul.apply(other, self)

    # Comparisons give plain boolean tensors: nothing to differentiate.
    def __lt__(self, other):
        return Tensor._from_op(self.data < _data(other), None)

    def __le__(self, other):
        return Tensor._from_op(self.data <= _data(other), None)

    def __gt__(self, other):
        return Tensor._from_op(self.data > _data(other), None)

    def __ge__(self, other):
        return Tensor._from_op(self.data >= _data(other), None)

    def __eq__(self, other):
        return Tensor._from_op(self.data == _data(other), None)

    def __ne__(self, other):
        return Tensor._from_op(self.data != _data(other), None)

    # Not differentiable: they answer questions about the values.
    def all(self, axis=None) -> Tensor:
        return Tensor._from_op(np.asarray(self.data.all(axis=axis)), None)

    def any(self, axis=None) -> Tensor:
        return Tensor._from_op(np.asarray(self.data.any(axis=axis)), None)

    def argmax(self, axis=None) -> Tensor:
        return Tensor._from_op(np.asarray(self.data.argmax(axis=axis)), None)

    def argmin(self, axis=None) -> Tensor:
        return Tensor._from_op(np.asarray(self.data.argmin(axis=axis)), None)

    def astype(self, dtype) -> Tensor:
        """A copy in another dtype; the gradient flows back in this tensor's dtype."""
        return elementwise.AsType.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False):
        if axis is None and not keepdims:  # the usual loss.sum(): no options to pass
            return reduce.Sum.apply(self)
        return reduce.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        return reduce.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return reduce.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False):
        return reduce.Min.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims: bool = False):
        return reduce.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1):
        return reduce.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1):
        return reduce.LogSoftmax.apply(self, axis=axis)

    # ----------------------------------------------------------------- elementwise
    def exp(self):
        return elementwise.Exp.apply(self)

    def log(self):
        return elementwise.Log.apply(self)

    def log1p(self):
        return elementwise.Log1p.apply(self)

    def sqrt(self):
        return elementwise.Sqrt.apply(self)

    def abs(self):
        return elementwise.Abs.apply(self)

    def sin(self):
        return elementwise.Sin.apply(self)

    def cos(self):
        return elementwise.Cos.apply(self)

    def tanh(self):
        return elementwise.Tanh.apply(self)

    def sigmoid(self):
        return elementwise.Sigmoid.apply(self)

    def relu(self):
        return elementwise.ReLU.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01):
        return elementwise.LeakyReLU.apply(self, negative_slope=negative_slope)

    def softplus(self):
        return elementwise.Softplus.apply(self)

    def clip(self, min=None, max=None):
        return elementwise.Clip.apply(self, low=min, high=max)

    def __abs__(self):
        return elementwise.Abs.apply(self)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return shape_ops.Reshape.apply(self, shape=shape)

    def flatten(self):
        return shape_ops.Reshape.apply(self, shape=(-1,))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return shape_ops.Transpose.apply(self, axes=axes or None)

    def permute(self, *axes):
        return self.transpose(*axes)

    @property
    def T(self):
        return shape_ops.Transpose.apply(self, axes=None)

    def squeeze(self, axis=None):
        return shape_ops.Squeeze.apply(self, axis=axis)

    def unsqueeze(self, axis: int):
        return shape_ops.Unsqueeze.apply(self, axis=axis)

    def expand(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return shape_ops.BroadcastTo.apply(self, shape=shape)

    def broadcast_to(self, shape):
        return shape_ops.BroadcastTo.apply(self, shape=tuple(shape))

    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, index=index)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


# The op modules import Tensor from here, so they are imported after the class exists;
# the methods above look them up when called.
from thalweg.autograd import engine  # noqa: E402
from thalweg.autograd.ops import (  # noqa: E402
    arithmetic,
    elementwise,
    linalg,
    reduce,
)
from thalweg.autograd.ops import shape as shape_ops  # noqa: E402
