"""Versions: noticing that an array the graph saved was changed in place.

A node's backward reads the arrays its forward saved (``Mul`` keeps both inputs,
``Linear`` keeps ``x`` and the weight). Change one in place before backward runs — an
optimizer step between two backward calls through one graph, ``w.add_(...)`` — and
backward would silently use the new values: a wrong gradient, no error. PyTorch catches
this with a version counter on every tensor. thalweg keeps the same promise with one clock:

* every graph node is stamped from the clock when it is recorded (``Function.sequence``,
  the number that also orders the backward walk);
* every in-place write that thalweg makes — an optimizer step, ``Tensor.add_`` and the
  other in-place methods, ``Module.load_state_dict``, ``proximal_l1`` — stamps the array
  it wrote from the same clock (:func:`mark_written`). It stamps the array that *owns* the
  memory, so a view (``w.T``, a reshape, a packed optimizer's slice) counts as written too;
* before running a node, backward checks the arrays in its ``saved``
  (:func:`check_saved`): one stamped after the node was recorded no longer holds the
  values the forward used, and backward stops with a ``GraphError`` naming the op and
  the fix.

It is cheap where it matters: in a training loop every write (the step) comes before
the next forward, so each node is newer than the last write and the check is one
comparison per node. Only a node recorded *before* some write looks at its arrays.

The error stops backward at the node where it is found, as in PyTorch: nodes visited
before it (those nearer the output) may already have added to some leaves' ``.grad``.
Zero the gradients and recompute the forward pass.

What it cannot see: writes thalweg does not make. ``w.data[...] = 0``, ``w.data -= 1``,
NumPy code on an array shared through ``from_numpy`` or ``.numpy()`` change memory
without telling anyone (PyTorch cannot see writes through ``.data`` either). Use the
in-place methods (``w.add_``, ``w.copy_``, ...) when a graph may still need the values.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from thalweg.autograd import recording
from thalweg.errors import GraphError

clock = itertools.count()  # graph nodes and in-place writes, in one increasing order
_last_write = -1  # the stamp of the newest write: nodes recorded after it need no check
_writes: dict[int, WriteRecord] = {}  # id(owner array) -> its newest write


class WriteRecord:
    """The newest write to one array's memory: its ``stamp`` and who made it (``by``)."""

    __slots__ = ("by", "reference", "stamp")

    def __init__(self, reference, by: str):
        self.reference = reference  # a weak reference: the record must not keep it alive
        self.stamp = -1
        self.by = by

    def touch(self) -> None:
        """Record a write now (a writer that writes every step keeps its record)."""
        global _last_write
        self.stamp = stamp = next(clock)
        if stamp > _last_write:
            _last_write = stamp


def owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def record_for(array: np.ndarray, by: str) -> WriteRecord:
    """The write record of ``array``'s memory, made if needed, now naming ``by``."""
    if array.base is not None:
        array = owner(array)
    key = id(array)
    record = _writes.get(key)
    if record is None:  # forget the array when it is freed (its id may then be reused)
        reference = weakref.ref(array, lambda _, key=key: _writes.pop(key, None))
        record = _writes[key] = WriteRecord(reference, by)
    record.by = by
    return record


def mark_written(array: np.ndarray, by: str) -> None:
    """Record that ``array`` (and every view of its memory) was changed in place by ``by``.

    >>> import numpy as np
    >>> w = np.zeros(3)
    >>> mark_written(w[:2], "an example")  # the view's owner, w, is stamped
    >>> last_write_of(w)[1]
    'an example'
    """
    record_for(array, by).touch()
    if recording.active:  # a write inside a step thalweg.compile is tracing
        recording.note_write(array, by)


def last_write_of(array: np.ndarray) -> tuple[int, str] | None:
    """``(stamp, who)`` of the newest recorded write to ``array``'s memory, or None."""
    record = _writes.get(id(owner(array)))
    return None if record is None else (record.stamp, record.by)


def last_write() -> int:
    """The stamp of the newest in-place write anywhere (-1 before the first)."""
    return _last_write


def check_saved(node) -> None:
    """Raise ``GraphError`` if an array ``node`` saved was written after it was recorded."""
    for item in node.saved:
        if not isinstance(item, np.ndarray):
            continue
        record = _writes.get(id(owner(item)))
        if record is not None and record.stamp > node.sequence:
            raise GraphError(
                f"backward: an array that {node.op_name()} saved for its gradient was "
                f"changed in place (by {record.by}) after the forward pass, so the gradient "
                "would use the new values; run backward before changing the weights (e.g. "
                "before optimizer.step()), or recompute the forward pass after the change"
            )
