"""Making tensors: from data, filled with a constant, ranges and random numbers."""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.tensor import Tensor


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        return tuple(shape[0])
    return tuple(shape)


def tensor(data, requires_grad: bool = False, dtype=None, name: str | None = None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Python floats become float32 (the default dtype); NumPy arrays keep their dtype.

    >>> tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor that shares memory with ``array`` (no copy; in-place updates show in both).

    >>> import numpy as np
    >>> from_numpy(np.zeros(2)).dtype
    dtype('float64')
    """
    out = Tensor._from_op(np.asarray(array), None)
    return out.requires_grad_(requires_grad) if requires_grad else out


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros. ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return from_numpy(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones. ``ones(2, 3)`` or ``ones((2, 3))``."""
    return from_numpy(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return from_numpy(np.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    return from_numpy(np.zeros_like(data, dtype=dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    return from_numpy(np.ones_like(data, dtype=dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, like ``numpy.arange``.

    Integer arguments give int64; any float argument gives the default float dtype.

    >>> arange(3).tolist()
    [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = backend.get_default_dtype()
    return from_numpy(np.arange(start, stop, step, dtype=dtype), requires_grad)


def randn(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples; reproducible with ``thalweg.manual_seed``.

    >>> _ = backend.manual_seed(0); a = randn(2)
    >>> _ = backend.manual_seed(0); bool((a == randn(2)).all())
    True
    """
    rng = backend.as_generator(generator)
    data = rng.standard_normal(_shape(shape), dtype=np.float64).astype(_dtype(dtype))
    return from_numpy(data, requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in ``[0, 1)``; reproducible with ``thalweg.manual_seed``."""
    rng = backend.as_generator(generator)
    data = rng.random(_shape(shape), dtype=np.float64).astype(_dtype(dtype))
    return from_numpy(data, requires_grad)
