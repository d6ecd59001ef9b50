"""``Workspace``: scratch arrays an op reuses from one training step to the next.

A convolution unrolls its input into a large matrix of image patches (im2col) at every
step; allocating and freeing it each time costs page faults and zeroing (the matrix is
many times larger than the image). A layer therefore keeps a ``Workspace`` and its op
borrows arrays from it: the same memory serves step after step.

The one rule that keeps this correct: an array is lent out again only when **nothing
else refers to it** — not a graph node that saved it for backward, not a view of it.
NumPy views keep a reference to the array that owns the memory, so Python's reference
count of the owner says whether anyone still uses it. Two forward passes through one
layer before a backward (shared weights, a validation pass mid-step) therefore get two
different arrays, and the engine's releasing of saved arrays after backward is what
makes an array free again.

>>> import numpy as np
>>> space = Workspace()
>>> a = space.take("cols", (2, 3), np.float32)
>>> b = space.take("cols", (2, 3), np.float32)   # `a` is still held: a second array
>>> a is b
False
>>> address = a.ctypes.data
>>> del a, b                                      # nobody uses them any more
>>> space.take("cols", (2, 3), np.float32).ctypes.data == address   # memory reused
True
"""

from __future__ import annotations

import sys

import numpy as np

# sys.getrefcount of an array held only by the workspace's list: the list's reference
# plus the one of getrefcount's own argument.
_UNUSED_REFCOUNT = 2


class Workspace:
    """A small pool of reusable arrays, keyed by a role name, shape and dtype.

    Parameters
    ----------
    capacity : int
        Most arrays kept per role; the oldest unused one is dropped beyond it (a layer
        sees a handful of shapes: the training batch, the last partial batch, the
        evaluation chunk).
    max_bytes : int
        Most memory kept between calls. A request that would go beyond it (a forward
        pass over thousands of images at once, say) gets an array that is not kept, so
        one big evaluation does not pin its buffers for the life of the layer.
    """

    def __init__(self, capacity: int = 4, max_bytes: int = 256 * 2**20):
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._arrays: dict[str, list[np.ndarray]] = {}
        self.allocations = 0  # how many arrays were ever made (tests and profiles read it)

    def take(self, role: str, shape: tuple, dtype, fill=None) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that nothing else is using.

        ``fill`` (a number) is written into a *newly made* array only: a reused array
        keeps whatever its last user left there. Padding relies on this: the border of a
        padded copy is filled once and never written again, only the interior is.
        """
        dtype = np.dtype(dtype)
        arrays = self._arrays.setdefault(role, [])
        for i in range(len(arrays)):
            # (indexing, not a loop variable: a variable's reference would count as a user)
            if (
                arrays[i].shape == shape
                and arrays[i].dtype == dtype
                and sys.getrefcount(arrays[i]) == _UNUSED_REFCOUNT
            ):
                return arrays[i]
        array = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
        self.allocations += 1
        if self.nbytes + array.nbytes > self.max_bytes:
            return array  # too big to keep: lent once, freed by its last user
        arrays.append(array)
        if len(arrays) > self.capacity:
            for i in range(len(arrays) - 1):
                if sys.getrefcount(arrays[i]) == _UNUSED_REFCOUNT:
                    del arrays[i]
                    break
        return array

    def __getstate__(self) -> dict:
        """A pickle or deep copy carries the settings, not the scratch arrays: nothing in
        them outlives the step that wrote them (a new array gets its ``fill`` again)."""
        return {**vars(self), "_arrays": {}, "allocations": 0}

    def clear(self) -> None:
        """Drop every array (arrays still in use stay alive with their users)."""
        self._arrays.clear()

    @property
    def nbytes(self) -> int:
        """Bytes held by the workspace."""
        return sum(a.nbytes for arrays in self._arrays.values() for a in arrays)

    def __repr__(self) -> str:
        count = sum(len(a) for a in self._arrays.values())
        return f"Workspace({count} arrays, {self.nbytes / 2**20:.1f} MiB)"
