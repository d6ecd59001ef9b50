"""Replay rules: for each engine op, the NumPy kernels that compute what it computes.

A rule mirrors its op's ``forward`` (and a backward rule its ``backward``) call for call,
writing each result into a buffer allocated once instead of a new array. The same
NumPy calls on the same inputs give the same numbers, bit for bit, and the tracer
checks that they do: every rule's output is compared with the eager op's while tracing,
and an op whose rule disagrees (or declines a case with :class:`Unsupported`) runs as
itself instead (a *host* op: its own ``forward`` and ``backward``, without a graph).

A forward rule is ``rule(e, op) -> Value``: ``e`` is the :class:`~thalweg.compile.program.
Emitter`, ``op`` the :class:`OpRecord` (``op.inputs``, ``op.options``, ``op.needs``).
It stores in ``op.saved`` whatever its backward rule will need, as the op stores
``self.saved``. A backward rule is ``backward(e, op, grad) -> tuple`` with one value (or
None) per input, as ``Function.backward``.
"""

from __future__ import annotations

FORWARD: dict = {}
BACKWARD: dict = {}


class Unsupported(Exception):
    """A case the rule does not replay: the op runs as a host op."""


class OpRecord:
    """One op as the tracer saw it."""

    __slots__ = (
        "host",
        "inputs",
        "needs",
        "node",
        "op_class",
        "options",
        "out",
        "saved",
        "trace_rng",
    )

    def __init__(self, op_class, inputs, options, node, needs):
        self.op_class = op_class
        self.inputs = inputs  # a Value per array input, the object itself otherwise
        self.options = options  # name -> Value (arrays) or the object itself
        self.node = node  # the eager graph node (None when no gradient was recorded)
        self.needs = needs  # per input: whether backward must compute its gradient
        self.out = None
        self.saved = ()
        self.host = None  # the replay's node variable, when the op runs as a host op
        self.trace_rng = None  # random ops: a copy of the generator as it was before the op

    @property
    def label(self) -> str:
        return self.op_class.op_name()


def rule(op_class, *, writes: tuple = (), random: bool = False):
    """Register a forward rule for ``op_class``.

    ``writes``: names of array options the op changes in place (batch norm's running
    statistics); ``random``: the op draws from its ``rng`` option (or the global
    generator), so the tracer keeps a copy of the generator to replay the draw.
    """

    def register(function):
        function.writes = writes
        function.random = random
        FORWARD[op_class] = function
        return function

    return register


def backward_rule(op_class):
    """Register the backward rule of ``op_class``."""

    def register(function):
        BACKWARD[op_class] = function
        return function

    return register


def load() -> None:
    """Import every rule family (each registers its rules)."""
    from thalweg.compile.rules import (  # noqa: F401
        arithmetic,
        conv,
        elementwise,
        linalg,
        losses,
        normalization,
        random,
        reduce,
        shape,
    )
