"""Values: the arrays of a traced step, and where each one lives when it is replayed.

While a step is traced every array it touches becomes a :class:`Value`. What a value
*is* decides how the replay gets it:

============  ==========================================================================
``input``     an array the caller passes (an argument, or a tensor's ``.data`` among the
              arguments): read from the call's arguments every time, never copied
``external``  an array that lives outside the step and is read (or written) *by
              reference*: a parameter's ``.data``, a buffer such as batch norm's running
              mean, a gradient left on ``.grad`` by an earlier step
``const``     computed while tracing from Python numbers and shapes alone (a ``1/n``, a
              row index ``arange(n)``): frozen into the plan
``buffer``    written by a kernel of the step into memory the plan allocated once
``local``     made afresh by each replay: the output of an op that has no replay rule
              and runs as itself (a *host* op), a view of an input
============  ==========================================================================

A value may also be a *view* of another (a reshape, a transpose, a basic index): it
lives where its base lives, created once when the base is persistent (``external``,
``const``, ``buffer``), on each call when it is not.
"""

from __future__ import annotations

import numpy as np

INPUT = "input"
EXTERNAL = "external"
CONST = "const"
BUFFER = "buffer"
LOCAL = "local"

PERSISTENT = frozenset({EXTERNAL, CONST, BUFFER})


class Value:
    """One array of the traced step.

    ``array`` is the array the replay uses (the buffer, the external array, the constant;
    for inputs and locals, the one seen while tracing). ``trace`` is what the kernels run
    on while tracing: the same array, except for an external one the step writes, whose
    trace-time kernels work on a copy (the eager step already wrote the real one).
    """

    __slots__ = ("array", "index", "kind", "label", "name", "trace", "view")

    def __init__(self, kind: str, array, label: str = "", view=None):
        self.kind = kind
        self.array = array
        self.trace = array
        self.label = label
        self.view = view  # None, or (base Value, how, args): how the view is made
        self.name = None  # set when the replay function is written
        self.index = None  # for inputs: position among the flattened arguments

    @property
    def root(self) -> Value:
        """The value this one is a view of (itself when it is not a view)."""
        value = self
        while value.view is not None:
            value = value.view[0]
        return value

    @property
    def persistent(self) -> bool:
        """Whether the replay can hold this array from one call to the next."""
        return self.root.kind in PERSISTENT

    @property
    def shape(self) -> tuple:
        return self.trace.shape

    @property
    def dtype(self) -> np.dtype:
        return self.trace.dtype

    @property
    def nbytes(self) -> int:
        return self.trace.nbytes

    def __repr__(self) -> str:
        view = f" view of {self.view[0].label or '?'}" if self.view is not None else ""
        return f"<{self.kind}{view} {self.shape} {self.dtype} {self.label}>"


def make_view(array: np.ndarray, how: str, args: tuple) -> np.ndarray:
    """Apply a recorded view operation ``how`` to ``array``."""
    if how == "reshape":
        return array.reshape(args[0])
    if how == "transpose":
        return array.transpose(args[0])
    if how == "T":
        return array.T
    if how == "getitem":
        return array[args[0]]
    if how == "broadcast_to":
        return np.broadcast_to(array, args[0])
    if how == "squeeze":
        return np.squeeze(array, axis=args[0])
    if how == "expand_dims":
        return np.expand_dims(array, args[0])
    if how == "windows":  # every window of a batch-last image (autograd/ops/conv.py)
        from thalweg.autograd.ops.conv import windows

        return windows(array, *args)
    if how == "readonly":  # the same memory, read-only (what broadcast_to gives eagerly)
        view = array.view()
        view.flags.writeable = False
        return view
    raise ValueError(f"unknown view {how!r}")


def same_bits(a, b) -> bool:
    """Whether two arrays hold exactly the same numbers, bit for bit (NaNs and -0 too)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
