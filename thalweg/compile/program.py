"""The replay program: a list of steps over values, and the emitter rules write it with.

A traced step becomes a :class:`Program`: an ordered list of steps, mostly
:class:`Kernel` — one NumPy call writing into a buffer allocated once (``out=``) —
plus the few steps that are not a NumPy call: an op without a replay rule run as
itself (:class:`HostForward`, :class:`HostBackward`), an optimizer's update, a version
stamp. Each step can run *now*, on the arrays seen while tracing (so every kernel is
checked against what the eager step computed), and can write itself as a line of the
replay function (``plan.py``).

Replay rules (``rules/``) write kernels through an :class:`Emitter`::

    out = e.call(np.add, a, b)              # a buffer, written by np.add(a, b, out=...)
    e.call(np.add, out, bias, into=out)     # in place, as the eager op does
    xt = e.view(x, "T")                     # a view (made once when x is persistent)

A call whose array arguments are all constants is computed at once and folded into a
constant (the ``1/n`` of a mean loss, a row index).
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.promotion import promote
from thalweg.compile.values import (
    BUFFER,
    CONST,
    EXTERNAL,
    INPUT,
    LOCAL,
    Value,
    make_view,
)

# np.maximum(a, b, out) positionally is deprecated (NumPy 2.4)
_OUT_BY_KEYWORD = (np.maximum, np.minimum)

# ufunc.reduce takes (array, axis, dtype, out, keepdims) positionally
_REDUCE_ORDER = ("axis", "dtype", "out", "keepdims")


def _is_reduce(func) -> bool:
    return isinstance(getattr(func, "__self__", None), np.ufunc) and func.__name__ == "reduce"


def _trace(x):
    return x.trace if isinstance(x, Value) else x


class Step:
    """One step of the replay: runs now (tracing) and writes its line(s) (replaying)."""

    label = ""
    side_effect = False  # kept even when nothing reads what it writes

    def reads(self) -> list[Value]:
        return []

    def writes(self) -> list[Value]:
        return []

    def run_trace(self) -> None:
        """Do the step on the trace-time arrays."""

    def lines(self, names) -> list[str]:
        raise NotImplementedError

    def describe(self, names) -> str:
        return "; ".join(self.lines(names))


class Kernel(Step):
    """``func(*args, **kwargs)``: writes into ``writes`` (through ``out=``), or assigns its
    result to ``result`` (a value made afresh each call)."""

    def __init__(self, func, args, kwargs, writes=(), result=None, label="", side_effect=False):
        self.func = func
        self.args = list(args)
        self.kwargs = dict(kwargs)
        self._writes = list(writes)
        self.result = result
        self.label = label
        self.side_effect = side_effect
        self.errstate = None  # np.errstate settings the op runs its call under

    def reads(self):
        values = [a for a in self.args if isinstance(a, Value)]
        values += [v for v in self.kwargs.values() if isinstance(v, Value)]
        return values + _nested_values(self.args) + _nested_values(list(self.kwargs.values()))

    def writes(self):
        return self._writes if self.result is None else [*self._writes, self.result]

    def run_trace(self):
        args = [_resolve_nested(a) for a in self.args]
        kwargs = {k: _resolve_nested(v) for k, v in self.kwargs.items()}
        with np.errstate(**(self.errstate or {})):
            out = self.func(*args, **kwargs)
        if self.result is not None:
            self.result.array = self.result.trace = out

    def lines(self, names):
        args = [names.expression(a) for a in self.args]
        args += [f"{k}={names.expression(v)}" for k, v in self.kwargs.items()]
        call = f"{names.function(self.func)}({', '.join(args)})"
        if self.result is not None:
            call = f"{names.value(self.result)} = {call}"
        if self.errstate:  # (an np.errstate object can be entered once: a new one per call)
            settings = ", ".join(f"{k}={v!r}" for k, v in self.errstate.items())
            return [f"with {names.function(np.errstate)}({settings}):", f"    {call}"]
        return [call]


class ViewStep(Step):
    """A view of a value that is made afresh each call (its base is an input or a local)."""

    def __init__(self, value: Value, label=""):
        self.value = value
        self.label = label

    def reads(self):
        return [self.value.view[0]]

    def writes(self):
        return [self.value]

    def lines(self, names):
        base, how, args = self.value.view
        return [
            f"{names.value(self.value)} = {names.view_expression(names.value(base), how, args)}"
        ]


class HostForward(Step):
    """An op without a replay rule, run as itself: a fresh node's ``forward`` each call.

    Its output is a new array each call (a local). The node is kept until the op's
    backward (when the step has one) reads what ``forward`` saved.
    """

    def __init__(self, op_class, inputs, options, parents, out: Value, node_name: str, label):
        self.op_class = op_class
        self.inputs = inputs  # values or constants, one per positional input
        self.options = options  # name -> value or constant
        self.parents = parents  # the eager node's parents pattern (None where no grad)
        self.out = out
        self.node_name = node_name
        self.label = label
        self.side_effect = True  # (an unknown op may change state: always run)

    def reads(self):
        values = [v for v in self.inputs if isinstance(v, Value)]
        return values + _nested_values(self.inputs) + _nested_values(list(self.options.values()))

    def writes(self):
        return [self.out]

    def __call__(self, *arrays, **options):
        """One call: ``(node, out)``."""
        node = self.op_class()
        node.parents = self.parents
        out = node.forward(*arrays, **options)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        return node, out

    def lines(self, names):
        args = [names.expression(v) for v in self.inputs]
        args += [f"{k}={names.expression(v)}" for k, v in self.options.items()]
        run = names.bind(self, f"host_{self.op_class.op_name()}")
        return [f"{self.node_name}, {names.value(self.out)} = {run}({', '.join(args)})"]


class HostBackward(Step):
    """The backward of a host op: ``node.backward(grad)`` on the node its forward made."""

    def __init__(self, node_name: str, grad: Value, results: list, label):
        self.node_name = node_name
        self.grad = grad
        self.results = results  # one Value (or None) per input
        self.label = label

    def reads(self):
        return [self.grad]

    def writes(self):
        return [r for r in self.results if r is not None]

    def lines(self, names):
        targets = ", ".join(names.value(r) if r is not None else "_" for r in self.results)
        if len(self.results) == 1:
            targets += ","
        return [f"{targets} = {self.node_name}.backward({names.value(self.grad)})"]


class Call(Step):
    """A call made for its effect (an optimizer's update, a version stamp, a check)."""

    def __init__(self, func, args=(), label="", reads=(), writes=(), text=None):
        self.func = func
        self.args = list(args)
        self.label = label
        self._reads = list(reads)
        self._writes = list(writes)
        self.text = text  # how explain() shows it
        self.side_effect = True

    def reads(self):
        return self._reads + [a for a in self.args if isinstance(a, Value)]

    def writes(self):
        return self._writes

    def lines(self, names):
        args = ", ".join(names.expression(a) for a in self.args)
        return [f"{names.bind(self.func, getattr(self.func, '__name__', 'call'))}({args})"]

    def describe(self, names):
        return self.text or self.lines(names)[0]


def _nested_values(items) -> list[Value]:
    """Values inside tuples and lists among ``items`` (an index with array parts)."""
    found = []
    for item in items:
        if isinstance(item, tuple | list):
            for part in item:
                if isinstance(part, Value):
                    found.append(part)
                elif isinstance(part, tuple | list):
                    found += _nested_values([part])
    return found


def _resolve_nested(x):
    if isinstance(x, Value):
        return x.trace
    if isinstance(x, tuple):
        return tuple(_resolve_nested(p) for p in x)
    if isinstance(x, list):
        return [_resolve_nested(p) for p in x]
    return x


def _is_constant(x) -> bool:
    if isinstance(x, Value):
        return x.kind == CONST
    if isinstance(x, tuple | list):
        return all(_is_constant(p) for p in x)
    return True


class Program:
    """The steps of a traced call, the values they use, and what the call returns."""

    def __init__(self):
        self.steps: list[Step] = []
        self.inputs: list[Value] = []  # one per array among the flattened arguments
        self.notes: list[str] = []  # things explain() should say (ops run as host ops)
        self.own_memory: set[int] = set()  # ids of buffers no other buffer may share
        self._host_count = 0

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def node_name(self) -> str:
        self._host_count += 1
        return f"node{self._host_count}"


class Emitter:
    """What a replay rule writes kernels with, for one op (``label``)."""

    def __init__(self, program: Program, label: str):
        self.program = program
        self.label = label
        self.start = len(program.steps)

    # ------------------------------------------------------------------ values
    def const(self, value) -> Value:
        """A constant (a Python number or an array computed while tracing)."""
        array = np.asarray(value)
        return Value(CONST, array, label=f"{self.label} constant")

    def buffer(self, shape, dtype, label="", fill=None) -> Value:
        """A new buffer (C order), written by the kernels that follow (``into=``).

        ``fill``: a value written once, when the buffer is made (a padded image's
        border, which the kernels never write again).
        """
        array = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
        value = Value(BUFFER, array, label=label or self.label)
        if fill is not None:  # its filled part is written once: it keeps its own memory
            self.program.own_memory.add(id(value))
        return value

    def buffer_like(self, value: Value, dtype=None) -> Value:
        """A new buffer with ``value``'s shape and memory order (``np.empty_like``):
        what ``astype``, ``np.array`` and NumPy's ufuncs give."""
        return Value(BUFFER, np.empty_like(value.trace, dtype=dtype), label=self.label)

    def view(self, base: Value, how: str, *args) -> Value:
        """A view of ``base`` (``reshape``, ``transpose``, ``T``, ``getitem``, ...)."""
        if isinstance(base, Value) and base.kind == CONST:
            return Value(CONST, make_view(base.trace, how, args), label=base.label)
        probe = make_view(base.trace, how, args)
        if probe.size and not np.may_share_memory(probe, base.trace):
            # NumPy copied (a reshape of a non-contiguous array): copy, as it does
            out = self.buffer(probe.shape, probe.dtype)
            self.copyto(self.view(out, "reshape", base.shape), base)
            return out
        # (the replay's persistent views are made from the base's array when the replay
        # function is written: a buffer may still move until then)
        value = Value(
            base.root.kind, make_view(base.trace, how, args), self.label, (base, how, args)
        )
        if not value.persistent:
            self.program.add(ViewStep(value, self.label))
        return value

    # ------------------------------------------------------------------ kernels
    def call(self, func, *args, into: Value | None = None, errstate=None, **kwargs) -> Value:
        """``func(*args, **kwargs)`` writing into a buffer (a new one, or ``into``).

        With constant arguments only (and no ``into``) it is computed now and returns a
        constant value. ``errstate``: ``np.errstate`` settings to run it under (as the
        op does, e.g. ``{"divide": "ignore"}`` for a log).
        """
        settings = errstate or {}
        if into is None:
            with np.errstate(**settings):
                probe = func(
                    *[_resolve_nested(a) for a in args],
                    **{k: _resolve_nested(v) for k, v in kwargs.items()},
                )
            if all(_is_constant(a) for a in args) and all(_is_constant(v) for v in kwargs.values()):
                return self.const(probe)
            # the buffer has the probe's memory order, as NumPy would have made it
            into = Value(BUFFER, np.empty_like(np.asarray(probe)), label=self.label)
        elif into.root.kind not in (BUFFER, EXTERNAL, LOCAL):
            raise ValueError(f"{self.label}: a kernel may only write a buffer, got {into!r}")
        call_args, call_kwargs = _with_out(func, list(args), dict(kwargs), into)
        kernel = Kernel(func, call_args, call_kwargs, writes=[into], label=self.label)
        kernel.errstate = errstate
        if into.root.kind == EXTERNAL:
            kernel.side_effect = True
        self.program.add(kernel)
        kernel.run_trace()
        return into

    def host(self, func, *args, **kwargs) -> Value:
        """``func(*args)`` returning a new array each call (no ``out=`` form exists)."""
        if all(_is_constant(a) for a in args) and all(_is_constant(v) for v in kwargs.values()):
            return self.const(func(*[_resolve_nested(a) for a in args], **kwargs))
        result = Value(LOCAL, None, label=self.label)
        kernel = Kernel(func, args, kwargs, result=result, label=self.label)
        self.program.add(kernel)
        kernel.run_trace()
        result.array = result.trace = np.asarray(result.trace)
        return result

    def effect(self, func, *args, writes=(), text=None) -> None:
        """A call made for its effect (``writes``: the values it changes)."""
        self.program.add(Call(func, args, self.label, writes=writes, text=text))

    # ------------------------------------------------------------------ helpers
    def promote(self, a, b, true_division: bool = False):
        """``promotion.promote`` on values: the casts the eager op makes, as kernels."""
        probe_a = _probe(a)
        probe_b = _probe(b)
        new_a, new_b = promote(probe_a, probe_b, true_division)
        return self._cast_like(a, probe_a, new_a), self._cast_like(b, probe_b, new_b)

    def _cast_like(self, x, probe, promoted):
        if promoted is probe:
            return x
        return self.astype(x, promoted.dtype)

    def astype(self, x: Value, dtype) -> Value:
        """``x.astype(dtype)``: always a new array, as NumPy's ``astype``."""
        dtype = np.dtype(dtype)
        if not isinstance(x, Value):
            return self.const(np.asarray(x).astype(dtype))
        if x.kind == CONST:
            return self.const(x.trace.astype(dtype))
        return self.copyto(self.buffer_like(x, dtype), x, casting="unsafe")

    def asarray(self, x, dtype) -> Value:
        """``np.asarray(x, dtype=dtype)``: the same array when it has that dtype."""
        if isinstance(x, Value) and x.dtype == np.dtype(dtype):
            return x
        return self.astype(x, dtype)

    def copy(self, x: Value, order: str = "K") -> Value:
        """A copy of ``x`` in a new buffer: ``np.array(x)`` (order ``"K"``, the default:
        ``x``'s memory order) or ``x.copy()`` (order ``"C"``)."""
        out = self.buffer_like(x) if order == "K" else self.buffer(x.shape, x.dtype)
        return self.copyto(out, x)

    def copyto(self, destination: Value, source, **kwargs) -> Value:
        """``np.copyto(destination, source, **kwargs)``; returns ``destination``."""
        kernel = Kernel(np.copyto, [destination, source], kwargs, [destination], label=self.label)
        if destination.root.kind == EXTERNAL:
            kernel.side_effect = True
        self.program.add(kernel)
        kernel.run_trace()
        return destination

    def write(self, func, *args, target: Value, **kwargs) -> Value:
        """A call that changes ``target`` in place and returns nothing useful
        (``operator.setitem``, ``np.add.at``); returns ``target``."""
        kernel = Kernel(func, args, kwargs, [target], label=self.label)
        if target.root.kind == EXTERNAL:
            kernel.side_effect = True
        self.program.add(kernel)
        kernel.run_trace()
        return target

    def unbroadcast(self, grad: Value, shape: tuple) -> Value:
        """``autograd.broadcast.unbroadcast``: sum over the axes broadcasting made."""
        if grad.shape == shape:
            return grad
        added = len(grad.shape) - len(shape)
        axes = tuple(range(added)) + tuple(
            added + i for i, size in enumerate(shape) if size == 1 and grad.shape[added + i] != 1
        )
        summed = self.call(np.add.reduce, grad, axis=axes)
        return self.view(summed, "reshape", shape) if summed.shape != shape else summed

    def where(self, condition, a, b) -> Value:
        """``np.where(condition, a, b)`` (same numbers: a selection, no arithmetic)."""
        probe = np.where(_trace(condition), _trace(a), _trace(b))
        if all(_is_constant(x) for x in (condition, a, b)):
            return self.const(probe)
        out = Value(BUFFER, np.empty_like(probe), label=self.label)
        self.copyto(out, b)
        return self.copyto(out, a, where=condition)

    def rollback(self) -> None:
        """Forget the steps this emitter added (the rule is being replaced by a host op)."""
        del self.program.steps[self.start :]


def _probe(x):
    """What ``promote`` decides on: the trace-time array of a value, a constant as is."""
    return x.trace if isinstance(x, Value) else x


def _with_out(func, args: list, kwargs: dict, out: Value):
    """Place ``out`` where ``func`` takes it: positionally for ufuncs (faster to call)."""
    if isinstance(func, np.ufunc) and not kwargs and func not in _OUT_BY_KEYWORD:
        return [*args, out], kwargs
    if _is_reduce(func) and set(kwargs) <= {"axis", "dtype", "keepdims"}:
        positional = [args[0]]
        given = {**kwargs, "out": out}
        last = max(_REDUCE_ORDER.index(k) for k in given)
        defaults = {"axis": 0, "dtype": None, "keepdims": False}
        for name in _REDUCE_ORDER[: last + 1]:
            positional.append(given[name] if name in given else defaults[name])
        return positional, {}
    return args, {**kwargs, "out": out}


__all__ = [
    "BUFFER",
    "CONST",
    "EXTERNAL",
    "INPUT",
    "LOCAL",
    "Call",
    "Emitter",
    "HostBackward",
    "HostForward",
    "Kernel",
    "Program",
    "Step",
    "ViewStep",
]
