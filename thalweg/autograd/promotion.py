"""The dtype of an op on mixed inputs: integers follow the floats.

NumPy turns ``float32 * int64`` into float64, so one integer tensor (``arange``, a
label array) would silently double every later array and halve the speed of the model
it touches. thalweg follows PyTorch's rule instead:

* a floating array combined with an integer or boolean one keeps its own dtype
  (float32 × int64 → float32; float64 × int8 → float64);
* integers combined with a Python float, or divided by ``/``, give the default float
  dtype (float32 unless ``set_default_dtype`` says otherwise), never float64 by accident;
* float32 with float64 gives float64, integers with integers stay integers (NumPy's
  rule, and PyTorch's);
* Python and NumPy scalars never change a float array's dtype.

Binary ops call :func:`promote` on their operands before computing; ``concat`` and
``stack`` call :func:`promote_all`.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend


def _is_integer(x) -> bool:
    """Integer or boolean."""
    return x.dtype.kind in "biu"


def promote(a, b, true_division: bool = False):
    """``(a, b)`` cast so the op on them has thalweg's result dtype (see module doc).

    Either may be an ndarray or a Python scalar. Costs two attribute reads when both
    are arrays of one dtype, the usual case.

    >>> a, b = promote(np.ones(2, np.float32), np.arange(2))
    >>> (a * b).dtype
    dtype('float32')
    >>> a, b = promote(np.arange(2), 0.5)
    >>> (a * b).dtype
    dtype('float32')
    """
    array_a, array_b = type(a) is np.ndarray, type(b) is np.ndarray
    if array_a and array_b:
        if a.dtype is b.dtype and not true_division:
            return a, b
        integer_a, integer_b = _is_integer(a), _is_integer(b)
        if integer_b and a.dtype.kind == "f":
            return a, b.astype(a.dtype)
        if integer_a and b.dtype.kind == "f":
            return a.astype(b.dtype), b
        if integer_a and integer_b and true_division:  # int / int: the default float
            default = backend.get_default_dtype()
            return a.astype(default), b.astype(default)
        return a, b
    if array_a and _is_integer(a) and (true_division or isinstance(b, float)):
        return a.astype(backend.get_default_dtype()), b
    if array_b and _is_integer(b) and (true_division or isinstance(a, float)):
        return a, b.astype(backend.get_default_dtype())
    return a, b


def promote_all(arrays: list) -> list:
    """The arrays of a ``concat``/``stack``, cast to one dtype by the same rule."""
    dtypes = {np.asarray(a).dtype for a in arrays}
    if len(dtypes) < 2:
        return arrays
    floats = [d for d in dtypes if d.kind == "f"]
    if not floats:
        return arrays  # integers and booleans: NumPy's rule
    target = np.result_type(*floats)
    return [np.asarray(a).astype(target, copy=False) for a in arrays]
