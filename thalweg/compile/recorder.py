"""The recorder: watches one eager call of a step and writes its replay program.

Installed by :class:`~thalweg.compile.compiled.CompiledFunction` for one call (see
``autograd/recording.py`` for where the engine hands it its work), it

* runs every op eagerly, as the engine would, and then writes the op's replay kernels
  (``rules/``), runs them on the same arrays and checks they give the same numbers;
* mirrors every backward pass (``backward.py``) the way ``engine.py`` walks the graph;
* notes optimizer updates (``optimizers.py``), which the replay calls as themselves;
* notes everything that decides whether the call can be replayed at all: Python reading
  a tensor's value before the end, in-place writes it cannot replay, arrays made outside
  thalweg's ops, the modules' train/eval modes, gradients left on ``.grad``.

What it writes down is a :class:`~thalweg.compile.program.Program` and a *fingerprint*:
the call's ops, operands and constants in order, which a second traced call must repeat
exactly before the program is trusted (an array made afresh outside thalweg's ops, or a
Python number that changes from call to call, shows up as a difference).
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd import recording
from thalweg.autograd.tensor import Tensor
from thalweg.compile import backward as backward_pass
from thalweg.compile import optimizers, rules
from thalweg.compile.program import Emitter, HostForward, Program
from thalweg.compile.rules import OpRecord, Unsupported
from thalweg.compile.values import CONST, EXTERNAL, INPUT, LOCAL, Value, same_bits


class Recorder:
    """One traced call. ``inputs``: the arrays among the call's arguments, in order;
    ``known_leaves``: tensors whose ``.grad`` a previous trace of the same signature
    touched (their gradients at the start of this call decide the replay's guards)."""

    def __init__(self, inputs: list[np.ndarray], known_leaves=()):
        self.program = Program()
        self.fingerprint: list = []
        self.refusal: str | None = None  # the first reason this call cannot be replayed
        self._arrays: dict[int, tuple[np.ndarray, Value]] = {}  # id(eager array) -> value
        self.ops: dict = {}  # eager graph node -> OpRecord
        self.op_count = 0
        self.modules: dict[int, tuple] = {}  # id -> (module, {attribute: value it had})
        self.tensor_guards: dict[int, tuple] = {}  # id(tensor) -> (tensor, array)
        self.leaves: dict = {}  # leaf tensor -> backward_pass.LeafGradient
        self.grads_at_start = {leaf: leaf.grad for leaf in known_leaves}
        self.grad_guards: dict = {}  # leaf -> the .grad it must hold when a replay starts
        self.optimizer_steps: list = []
        self.last_read: str | None = None  # how Python last read a tensor's values
        self.item_reads: list = []  # (python value, Value) of item() calls
        self.outputs = None
        self._serials: dict[int, int] = {}  # id(Value) -> order of first mention
        self._owners: dict[int, Tensor] = {}  # id(external Value) -> the tensor it is .data of
        for index, array in enumerate(inputs):
            if id(array) in self._arrays:
                continue
            value = Value(INPUT, array, label=f"argument {index}")
            value.index = index
            self.program.inputs.append(value)
            self._remember(array, value)

    # ------------------------------------------------------------------ bookkeeping
    def refuse(self, reason: str) -> None:
        """Note why the call cannot be replayed (the first reason wins)."""
        if self.refusal is None:
            self.refusal = reason

    def _remember(self, array: np.ndarray, value: Value) -> None:
        self._arrays[id(array)] = (array, value)  # (kept alive: its id stays its own)

    def known(self, array) -> Value | None:
        """The value of an array this call has seen, or None."""
        entry = self._arrays.get(id(array))
        if entry is not None and entry[0] is array:
            return entry[1]
        return None

    def _event(self, what: str) -> None:
        """Something the replay must do is happening: nothing may come after a read."""
        if self.last_read is not None:
            self.refuse(
                f"the step reads a tensor's value ({self.last_read}) and then goes on to "
                f"{what}: Python may decide something on that value, which a replay cannot "
                "repeat; return the tensor (or read it after the last update) instead"
            )

    def value_of(self, array, tensor=None, label: str = "") -> Value:
        """The value of an array an op or an update reads: seen before, or external."""
        value = self.known(array)
        if value is not None:
            return value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"expected an array, got {type(array).__name__}")
        base = array.base
        while isinstance(base, np.ndarray):
            if self.known(base) is not None and self.known(base).kind not in (EXTERNAL, CONST):
                self.refuse(
                    "the step makes a NumPy view of one of its own arrays outside thalweg's "
                    "ops (through .data or .numpy()); index or reshape the tensor instead"
                )
                break
            base = base.base
        value = Value(EXTERNAL, array, label=label or "external array")
        if tensor is not None:
            self.tensor_guards.setdefault(id(tensor), (tensor, array))
            self._owners[id(value)] = tensor
            value.label = (
                label or tensor.name or ("a parameter" if tensor.requires_grad else "a tensor")
            )
        self._remember(array, value)
        return value

    def operand(self, x):
        """An op input or option as the rules see it: a Value for arrays and tensors."""
        if isinstance(x, Tensor):
            return self.value_of(x.data, tensor=x)
        if isinstance(x, np.ndarray):
            return self.value_of(x)
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, tuple):
            return tuple(self.operand(p) for p in x)
        if isinstance(x, list):
            return [self.operand(p) for p in x]
        return x

    def describe(self, x):
        """How an operand appears in the fingerprint (comparable across calls)."""
        if isinstance(x, Value):
            if x.kind == INPUT:
                return ("input", x.index)
            if x.kind == EXTERNAL:
                owner = self._owners.get(id(x))
                if owner is not None and owner.requires_grad:
                    # a weight: its .data may be replaced between calls (guards check it)
                    return ("tensor", id(owner))
                return ("external", *_geometry(x.array))
            if x.kind == CONST:
                return ("const", x.trace.dtype.str, x.trace.shape, x.trace.tobytes())
            serial = self._serials.setdefault(id(x), len(self._serials))
            return ("value", serial, x.shape, x.dtype.str)
        if isinstance(x, tuple | list):
            return (type(x).__name__, *map(self.describe, x))
        if isinstance(x, float):
            return ("float", x.hex())
        if isinstance(x, int | bool | str | type(None) | slice | np.dtype | type):
            return (type(x).__name__, repr(x))
        return ("object", id(x))

    # ------------------------------------------------------------------ engine hooks
    def apply(self, op_class, inputs, options):
        """``Function.apply`` while tracing: run the op, then write and check its kernels."""
        self._event(f"run {op_class.op_name()}")
        in_values = [self.operand(x) for x in inputs]
        option_values = {name: self.operand(v) for name, v in options.items()}
        forward_rule = rules.FORWARD.get(op_class)
        trace_rng = (
            self._generator_copy(options) if getattr(forward_rule, "random", False) else None
        )
        written = _snapshot(forward_rule, option_values)
        with recording.suspended():
            out_tensor = op_class.apply(*inputs, **options)
        self.op_count += 1
        node = out_tensor.grad_fn
        needs = tuple(p is not None for p in node.parents) if node is not None else ()
        record = OpRecord(op_class, in_values, option_values, node, needs)
        record.trace_rng = trace_rng
        eager_out = out_tensor.data
        self.fingerprint.append(
            (
                "op",
                op_class,
                tuple(map(self.describe, in_values)),
                tuple((k, self.describe(v)) for k, v in option_values.items()),
                needs,
            )
        )
        out = None
        if forward_rule is not None:
            out = self._run_rule(forward_rule, record, eager_out, written)
        if out is None:
            out = self._host_forward(record, eager_out)
        record.out = out
        if self.known(eager_out) is None:
            self._remember(eager_out, out)
        if node is not None:
            self.ops[node] = record
        return out_tensor

    def _run_rule(self, forward_rule, record: OpRecord, eager_out, written) -> Value | None:
        emitter = Emitter(self.program, record.label)
        try:
            out = forward_rule(emitter, record)
            same = same_bits(out.trace, eager_out)
            for value, real in written:
                same = same and same_bits(value.trace, real)
        except Unsupported:
            same = False
        finally:
            for value, _ in written:
                value.trace = value.array
        if not same:
            emitter.rollback()
            return None
        return out

    def _host_forward(self, record: OpRecord, eager_out) -> Value:
        """The op runs as itself each replay (no rule, or the rule declined)."""
        known = self.known(eager_out)  # an op may hand back one of its inputs
        out = known or Value(LOCAL, eager_out, label=record.label)
        record.host = self.program.node_name()
        parents = record.node.parents if record.node is not None else None
        self.program.add(
            HostForward(
                record.op_class,
                record.inputs,
                record.options,
                parents,
                out,
                record.host,
                record.label,
            )
        )
        if record.op_class.op_name() not in self.program.notes:
            self.program.notes.append(record.op_class.op_name())
        return out

    def _generator_copy(self, options):
        """A copy of the generator a random op is about to draw from, as it is now."""
        rng = options.get("rng")
        rng = backend.default_generator() if rng is None else rng
        copy = np.random.Generator(type(rng.bit_generator)())
        copy.bit_generator.state = rng.bit_generator.state
        return copy

    def backward(self, output, grad, retain_graph):
        """``engine.backward`` while tracing."""
        self._event("run a backward pass")
        backward_pass.run(self, output, grad, retain_graph, None)

    def grad(self, output, inputs, grad_output, retain_graph, materialize_grads):
        """``engine.grad`` while tracing."""
        self._event("run a backward pass")
        return backward_pass.gradients(
            self, output, inputs, grad_output, retain_graph, materialize_grads
        )

    def optimizer_step(self, optimizer, updates, lr, in_order):
        """``Optimizer._apply`` while tracing: run it; the replay calls it again."""
        self._event("update the weights")
        optimizers.record_step(self, optimizer, updates, lr, in_order)

    def read(self, tensor, how: str, value) -> None:
        self.last_read = how
        if how == "item()":
            source = self.known(tensor.data)
            if source is None:
                source = self.value_of(tensor.data, tensor=tensor)
            self.item_reads.append((value, source))

    def new_tensor(self, tensor, data) -> None:
        """``Tensor(data)`` inside the step: a copy of ``data``."""
        self._event("make a tensor")
        source = data.data if isinstance(data, Tensor) else data
        if isinstance(source, np.ndarray):
            value = self.value_of(source)
            if value.kind == CONST:
                copy = Value(CONST, tensor.data, label="tensor")
            else:
                emitter = Emitter(self.program, "tensor")
                copy = emitter.copyto(emitter.buffer(tensor.shape, tensor.dtype), value)
                copy.label = "tensor"
            self.fingerprint.append(("tensor", self.describe(value), tensor.dtype.str))
        else:  # Python numbers and lists: a constant
            copy = Value(CONST, tensor.data, label="tensor")
            self.fingerprint.append(("tensor", self.describe(copy)))
        self._remember(tensor.data, copy)

    def write(self, array, by: str) -> None:
        self.refuse(
            f"{by} changed an array in place inside the step, which a replay would not "
            "repeat; do it outside the compiled function"
        )

    def module_called(self, module) -> None:
        """Note the module's attributes: its mode, settings (``p``), parameters, layers."""
        if id(module) not in self.modules:
            attributes = module_attributes(module)
            self.modules[id(module)] = (module, attributes)
            self.fingerprint.append(("module", id(module), module.training))

    def mode(self) -> tuple:
        """What the replay's guards check, as a key: each module's guarded attributes
        (train/eval, settings, layers, weights) and whether each ``.grad`` is set. Two
        traces of one signature are compared only when their modes agree."""
        modules = tuple(
            (id(module), tuple((name, _mode_value(v)) for name, v in attributes.items()))
            for module, attributes in self.modules.values()
        )
        grads = tuple((id(leaf), grad is None) for leaf, grad in self.grad_guards.items())
        from thalweg.compile.plan import Names, python_values  # (plan.py guards them)

        python = tuple(named for _, named in python_values(getattr(self, "fn", None), Names()))
        return modules, grads, python

    # ------------------------------------------------------------------ the end
    def finish(self, result) -> None:
        """The call returned ``result``: note the outputs and the gradients left behind."""
        self.outputs = self._output(result)
        self.fingerprint.append(("outputs", _shape_of(self.outputs)))
        backward_pass.finish(self)

    def _output(self, x):
        if isinstance(x, Tensor):
            value = self.known(x.data)
            if value is None:
                return self._unknown_output(x.data)
            return ("tensor", value)
        if isinstance(x, np.ndarray):
            value = self.known(x)
            return ("array", value) if value is not None else self._unknown_output(x)
        for read, source in self.item_reads:
            if x is read and isinstance(x, float | int | bool):
                return ("item", source)
        if isinstance(x, tuple):
            return ("tuple", [self._output(p) for p in x])
        if isinstance(x, list):
            return ("list", [self._output(p) for p in x])
        if isinstance(x, dict):
            return ("dict", [(k, self._output(v)) for k, v in x.items()])
        self.fingerprint.append(("constant output", self.describe(x)))
        return ("const", x)

    def _unknown_output(self, array):
        self.refuse(
            "the step returns an array made outside thalweg's ops (NumPy on .data, a "
            "comparison such as x > 0); return tensors made by thalweg's ops"
        )
        return ("const", array)


# Attributes a replay checks are unchanged: what forward may read to decide what to
# compute (the mode, a dropout rate) by value, and what it computes with (parameters,
# sub-modules, buffers, generators) by identity.
_BY_VALUE = (bool, int, float, str, type(None))
_BY_IDENTITY = (Tensor, np.ndarray, np.random.Generator, tuple)


def module_attributes(module) -> dict:
    """``{name: value}`` of the attributes of ``module`` a replay guards."""
    from thalweg.nn.module import Module  # (layer 2, imported when a trace runs)

    return {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, _BY_VALUE + _BY_IDENTITY + (Module,))
    }


def _mode_value(value):
    """A module attribute in a mode key: numbers and names by value, objects by identity."""
    return value if isinstance(value, _BY_VALUE) else ("object", id(value))


def _geometry(array: np.ndarray) -> tuple:
    """Which memory an array reads: its root array (the one that owns the memory), the
    offset into it, shape, strides and dtype. A view made afresh each call of the same
    long-lived array (``self.mean.reshape(shape)``) describes the same each call; an
    array made afresh (``np.random.normal(...)``) does not. (The recorders of both
    traces keep their arrays alive, so no id is reused between them.)"""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    offset = array.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return (id(root), offset, array.shape, array.strides, array.dtype.str)


def _snapshot(forward_rule, option_values) -> list:
    """For an op that writes some of its array options in place: give each such value a
    copy to trace on (the eager op writes the real array), paired with the real array."""
    written = []
    for name in getattr(forward_rule, "writes", ()):
        value = option_values.get(name)
        if isinstance(value, Value):
            value.trace = value.array.copy()
            written.append((value, value.array))
    return written


def _shape_of(output) -> tuple:
    """The structure of an output spec, for the fingerprint."""
    kind, content = output
    if kind in ("tuple", "list"):
        return (kind, tuple(_shape_of(p) for p in content))
    if kind == "dict":
        return (kind, tuple((k, _shape_of(v)) for k, v in content))
    if kind == "const":
        return (kind,)
    return (kind, content.label, content.shape)
