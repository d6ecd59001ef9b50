"""``Function``: one differentiable op, its forward and its backward side by side.

Every op in ``autograd/ops/`` is a subclass::

    class Mul(Function):
        def forward(self, a, b):          # plain arrays in, plain array out
            self.saved = (a, b)            # what backward will need
            return a * b

        def backward(self, grad):          # dLoss/dOut in, one dLoss/dInput per input out
            a, b = self.saved
            return unbroadcast(grad * b, np.shape(a)), unbroadcast(grad * a, np.shape(b))

``Mul.apply(x, y)`` runs ``forward`` on the arrays inside the tensors and, when grad mode
is on and some input requires a gradient, returns a tensor whose ``grad_fn`` is this
``Mul`` instance: that instance *is* the graph node. It remembers its ``parents`` (for
each input: the node that made it, the leaf tensor itself, or None when no gradient is
needed) and whatever ``forward`` put in ``saved``.

Conventions every op keeps:

* ``forward`` assigns ``self.saved`` (a tuple, ``()`` if nothing is needed); arrays are
  kept only there, so the engine can free them all after backward.
* ``backward`` returns one entry per input, in order; ``None`` where ``self.parents[i]``
  is None (no gradient wanted) or the input is not differentiable.
* gradients have the shape of their input: broadcasting is undone with
  :func:`~thalweg.autograd.broadcast.unbroadcast`, never by hand.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd import anomaly, recording, versions
from thalweg.autograd.grad_mode import grad_enabled
from thalweg.autograd.tensor import Tensor


class Function:
    """Base class of every differentiable op (and of every graph node)."""

    __slots__ = ("out_shape", "parents", "retained", "saved", "sequence")

    def forward(self, *args, **options) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    @classmethod
    def apply(cls, *inputs, **options) -> Tensor:
        """Run the op on tensors (or constants) and record a graph node when needed."""
        if recording.active:  # thalweg.compile is tracing somewhere (see recording.py)
            recorder = recording.current()
            if recorder is not None:
                return recorder.apply(cls, inputs, options)
        # One pass over the inputs: the arrays forward needs, and for each input the
        # parent backward will send its gradient to (None: no gradient wanted).
        arrays = []
        parents = []
        needs_grad = False
        graph_mode = grad_enabled()  # this thread's (or task's) grad mode
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                if graph_mode and x.requires_grad:
                    needs_grad = True
                    # A non-leaf is reached through its node; a leaf is its own parent.
                    parents.append(x.grad_fn or x)
                    continue
            else:
                arrays.append(_unwrap(x))
            parents.append(None)
        for name, value in options.items():  # (a fresh dict each call: safe to edit)
            if isinstance(value, _WRAPPED):
                options[name] = _unwrap(value)

        node = cls()
        out = node.forward(*arrays, **options)
        if type(out) is not np.ndarray:  # NumPy returns scalars for 0-d results
            out = np.asarray(out)
        if anomaly.is_enabled():
            anomaly.check_forward(cls.op_name(), out, [np.shape(a) for a in arrays])

        if needs_grad:
            node.parents = tuple(parents)
            node.out_shape = out.shape
            node.retained = None
            # Made after every node it consumes: so "newest first" is an order in which
            # backward visits each node after all the nodes that use its output. The
            # same clock stamps in-place writes, so backward can tell whether an array
            # this node saved was changed after it was recorded (see versions.py).
            node.sequence = next(versions.clock)
            return Tensor._from_op(out, node)
        return Tensor._from_op(out, None)

    @classmethod
    def op_name(cls) -> str:
        """The op's name in errors and graphs: ``Mul`` -> ``mul``."""
        return cls.__name__.lower()

    def release(self) -> None:
        """Drop the saved arrays (the engine does this after the node's backward)."""
        self.saved = FREED


FREED = object()  # the value of ``saved`` once backward has released it
_WRAPPED = (Tensor, np.generic)  # option values that _unwrap changes


def _unwrap(x):
    """Tensor -> its array; NumPy scalars -> Python scalars (so they never upcast float32)."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.generic):
        return x.item()
    return x
