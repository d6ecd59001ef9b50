"""``unbroadcast``: the one place where broadcasting is undone.

When NumPy broadcasts ``b`` of shape ``(3,)`` against ``a`` of shape ``(4, 3)``, every
element of ``b`` is *used four times*. By the chain rule the gradient of ``b`` is the sum
of the gradients of all its uses, so the gradient that arrives with the output's shape
``(4, 3)`` must be summed over the axis that broadcasting stretched, back to ``(3,)``.

Broadcasting does two things, and ``unbroadcast`` undoes both in one reduction:

* it adds leading axes (``(3,)`` -> ``(1, 3)``): sum them away;
* it stretches size-1 axes (``(4, 1)`` -> ``(4, 3)``): sum them, keeping the axis.
"""

from __future__ import annotations

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``.

    Parameters
    ----------
    grad : ndarray
        Gradient with the broadcast (output) shape.
    shape : tuple of int
        The shape of the input that was broadcast.

    Returns
    -------
    ndarray of shape ``shape``. When nothing was broadcast ``grad`` itself is returned:
    no copy, no work.

    Examples
    --------
    >>> unbroadcast(np.ones((4, 3)), (3,))
    array([4., 4., 4.])
    >>> unbroadcast(np.ones((4, 3)), (4, 1)).ravel()
    array([3., 3., 3., 3.])
    """
    if grad.shape == shape:
        return grad
    added = grad.ndim - len(shape)
    # Axes broadcasting created in front, then size-1 axes it stretched (counted in grad).
    axes = tuple(range(added)) + tuple(
        added + i for i, size in enumerate(shape) if size == 1 and grad.shape[added + i] != 1
    )
    return np.add.reduce(grad, axis=axes).reshape(shape)
