"""The replay plan: a traced program written out as one plain Python function.

Every step of the program becomes one line — a NumPy call with ``out=`` pointing at a
buffer allocated once — and the lines become the body of a function, compiled once::

    def replay(x0, x1):
        if p0.data is not w0 or m0.training != True:    # guards: replay only what was traced
            return RETRACE
        np_matmul(x0, w0, b0)                            # linear
        np_add(b0, w1, b0)
        np_tanh(b0, b1)                                  # tanh
        ...
        o0._apply(u0, o0._schedule(o0.global_step), True)  # the optimizer's own update
        p0.grad = b7                                     # gradients left on .grad
        return b12.item()

So a replayed step is a straight run of NumPy calls: no tensors, no graph, no walk,
no allocation of arrays (``explain()`` prints this code and what each buffer holds).
Before writing it the plan drops every kernel whose result nothing uses (dead code):
a value computed for a gradient no one asked for, a loss no one reads.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.tensor import Tensor
from thalweg.compile import optimizers
from thalweg.compile.program import Call, HostBackward, HostForward, Kernel, ViewStep
from thalweg.compile.values import BUFFER, CONST, EXTERNAL, INPUT, Value, make_view

RETRACE = object()  # what a replay returns when a guard fails: trace the call again


class Names:
    """Names in the replay function's source, and the objects they stand for."""

    def __init__(self):
        self.namespace: dict = {"RETRACE": RETRACE}
        self._counts: dict[str, int] = {}
        self._ids: dict[int, str] = {}

    def fresh(self, prefix: str) -> str:
        count = self._counts.get(prefix, 0)
        self._counts[prefix] = count + 1
        return f"{prefix}{count}"

    def bind(self, obj, hint: str) -> str:
        """A global name for ``obj`` (the same name each time it is asked for)."""
        name = self._ids.get(id(obj))
        if name is None or self.namespace.get(name) is not obj:
            hint = "".join(c if c.isalnum() else "_" for c in hint) or "obj"
            name = self.fresh(hint)
            self.namespace[name] = obj
            self._ids[id(obj)] = name
        return name

    def function(self, func) -> str:
        if isinstance(func, np.ufunc):
            return self.bind(func, f"np_{func.__name__}")
        owner = getattr(func, "__self__", None)
        if isinstance(owner, np.ufunc):  # np.add.reduce and friends
            return self.bind(func, f"np_{owner.__name__}_{func.__name__}")
        if getattr(func, "__module__", "").startswith("numpy"):
            return self.bind(func, f"np_{func.__name__}")
        return self.bind(func, getattr(func, "__name__", "call"))

    def value(self, value) -> str:
        if value.name is not None:
            return value.name
        if value.persistent:
            prefix = {EXTERNAL: "w", CONST: "c", BUFFER: "b"}[value.root.kind]
            value.name = self.bind(_materialize(value), prefix)
        elif value.kind == INPUT and value.view is None:
            value.name = f"x{value.index}"
        else:
            value.name = self.fresh("t")
        return value.name

    def expression(self, x) -> str:
        """Source for an argument: a value's name, a literal, or a bound constant."""
        from thalweg.compile.values import Value

        if isinstance(x, Value):
            return self.value(x)
        if isinstance(x, tuple):
            parts = [self.expression(p) for p in x]
            return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
        if isinstance(x, list):
            return f"[{', '.join(self.expression(p) for p in x)}]"
        if x is None or isinstance(x, bool | int | str):
            return repr(x)
        if isinstance(x, float) and np.isfinite(x):
            return repr(x)
        if isinstance(x, slice):
            parts = ", ".join(self.expression(p) for p in (x.start, x.stop, x.step))
            return f"slice({parts})"
        return self.bind(x, "k")

    def view_expression(self, base: str, how: str, args: tuple) -> str:
        if how == "T":
            return f"{base}.T"
        if how in ("reshape", "transpose"):
            return f"{base}.{how}({self.expression(args[0])})"
        if how == "getitem":
            return f"{base}[{self.expression(args[0])}]"
        function = {
            "broadcast_to": np.broadcast_to,
            "squeeze": np.squeeze,
            "expand_dims": np.expand_dims,
        }.get(how)
        if function is not None:
            return f"{self.function(function)}({base}, {self.expression(args[0])})"
        return f"{self.bind(make_view, 'make_view')}({base}, {how!r}, {self.expression(args)})"


def python_values(fn, names) -> list:
    """``[(expression, (name, value))]``: the numbers, flags and names the step function
    reads from its closure or its module's globals, frozen into the plan by the trace,
    so guarded: ``step`` reading ``scale`` from an enclosing function traces again when
    ``scale`` changes. (Values read deeper, by functions it calls, are not seen.)"""
    fn = getattr(fn, "__func__", fn)  # a bound method: its function
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    found = []
    for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False):
        try:
            value = cell.cell_contents
        except ValueError:  # not bound yet
            continue
        if isinstance(value, _BY_VALUE):
            found.append((f"{names.bind(cell, 'cell')}.cell_contents", (name, value)))
    module_globals = getattr(fn, "__globals__", {})
    for name in code.co_names:
        value = module_globals.get(name)
        if isinstance(value, _BY_VALUE) and name in module_globals:
            found.append((f"{names.bind(module_globals, 'g')}.get({name!r})", (name, value)))
    return found


_BY_VALUE = (bool, int, float, str)


def _materialize(value):
    """The replay's array for a persistent value: a view made from its base's array."""
    if value.view is None:
        return value.array
    base, how, args = value.view
    return make_view(_materialize(base), how, args)


def dead_code(steps: list, roots: list) -> list:
    """The steps that something the call leaves behind depends on (in order)."""
    live: set[int] = set()

    def mark(value):
        while value is not None:
            live.add(id(value))
            value = value.view[0] if value.view is not None else None

    for value in roots:
        mark(value)
    kept = []
    for step in reversed(steps):
        if isinstance(step, ViewStep):
            needed = id(step.value) in live
        else:
            needed = step.side_effect or any(
                id(w) in live or id(w.root) in live for w in step.writes()
            )
        if needed:
            kept.append(step)
            for value in step.reads():
                mark(value)
    kept.reverse()
    return kept


def share_buffers(steps: list, kept: list, own_memory: set) -> int:
    """Let buffers whose lifetimes do not overlap share memory; returns how many bytes
    that saves.

    A buffer lives from the step that first writes it to the last step that reads or
    writes it (through any view). When it dies its memory goes to a pool, and a later
    buffer of the same shape, dtype and layout takes it instead of its own: the working
    set of a step shrinks to what is live at once, as an eager step's allocator recycles
    freed arrays, and stays in cache. Kept whole (never shared): what the call leaves
    behind (``kept``: gradients, outputs), buffers with a part written once
    (``own_memory``), and anything an op run as itself (a host op) may hold on to.
    """
    pinned = {id(v.root) for v in kept} | set(own_memory)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    roots: dict[int, Value] = {}
    for index, step in enumerate(steps):
        holds = isinstance(step, HostForward | HostBackward) or getattr(step, "result", None)
        for value in step.reads():
            root = value.root
            if root.kind == BUFFER:
                last[id(root)] = index
                if holds:
                    pinned.add(id(root))
        for value in step.writes():
            root = value.root
            if root.kind == BUFFER:
                roots[id(root)] = root
                first.setdefault(id(root), index)
                last[id(root)] = index
    for key, root in roots.items():  # only fresh arrays of our own can be shared
        if root.array is not root.trace or root.array.base is not None:
            pinned.add(key)
    dying: dict[int, list] = {}
    for key, index in last.items():
        if key not in pinned and key in roots:
            dying.setdefault(index, []).append(roots[key])
    pool: dict[tuple, list] = {}
    saved = 0
    for index in range(len(steps)):
        for key, start in first.items():
            if start != index or key in pinned:
                continue
            root = roots[key]
            array = root.array
            shape = (array.shape, array.dtype.str, array.strides)
            if pool.get(shape):
                root.array = pool[shape].pop()
                saved += array.nbytes
        for root in dying.get(index, ()):
            array = root.array
            pool.setdefault((array.shape, array.dtype.str, array.strides), []).append(array)
    return saved


class Plan:
    """A traced call, compiled: ``run(arrays)`` replays it."""

    def __init__(self, recorder):
        self.recorder = recorder
        program = recorder.program
        roots = [v for _, v in recorder.final_grads if v is not None]
        roots += _output_values(recorder.outputs)
        self.steps = dead_code(program.steps, roots)
        self.shared = share_buffers(self.steps, roots, program.own_memory)
        self.names = Names()
        self.lines: list[str] = []
        self.guards: list[str] = []
        self._write()
        scope: dict = {}
        exec(compile(self.source, "<thalweg.compile replay>", "exec"), self.names.namespace, scope)
        self.run = scope["replay"]

    # ------------------------------------------------------------------ writing
    def _write(self) -> None:
        names, recorder = self.names, self.recorder
        for tensor, array in recorder.tensor_guards.values():
            self.guards.append(f"{names.bind(tensor, 'p')}.data is not {names.bind(array, 'w')}")
        for module, attributes in recorder.modules.values():
            # (vars(): a module's attributes live in its __dict__; reading it once per
            # module is cheaper than one attribute lookup per guard)
            state = names.bind(vars(module), "m")
            for attribute, value in attributes.items():
                if isinstance(value, bool | int | float | str | type(None)):
                    expected = names.expression(value)  # (a NaN or inf gets a name)
                    test = "is not" if value != value else "!="  # NaN: never equal to itself
                    self.guards.append(f"{state}.get({attribute!r}) {test} {expected}")
                else:
                    self.guards.append(
                        f"{state}.get({attribute!r}) is not {names.bind(value, 'a')}"
                    )
        for holder, expected in python_values(getattr(recorder, "fn", None), names):
            test = "is not" if expected[1] != expected[1] else "!="  # (NaN)
            self.guards.append(f"{holder} {test} {names.expression(expected[1])}")
        for leaf, grad in recorder.grad_guards.items():
            target = "None" if grad is None else names.bind(grad, "w")
            self.guards.append(f"{names.bind(leaf, 'p')}.grad is not {target}")
        body = []
        for step in self.steps:
            if isinstance(step, Call) and isinstance(step.func, optimizers.OptimizerStep):
                body += self._optimizer_lines(step.func)
            else:
                body += step.lines(names)
        for leaf, value in recorder.final_grads:
            target = "None" if value is None else names.value(value)
            body.append(f"{names.bind(leaf, 'p')}.grad = {target}")
        body.append(f"return {self._output(recorder.outputs)}")
        arguments = ", ".join(f"x{i}" for i in range(recorder.n_inputs))
        lines = [f"def replay({arguments}):"]
        if self.guards:
            lines.append("    if (")
            lines += [f"        {guard} or" for guard in self.guards[:-1]]
            lines.append(f"        {self.guards[-1]}")
            lines.append("    ):")
            lines.append("        return RETRACE")
        lines += [f"    {line}" for line in body]
        self.source = "\n".join(lines) + "\n"

    def _optimizer_lines(self, step) -> list[str]:
        names = self.names
        optimizer = names.bind(step.optimizer, "opt")
        schedule = f"{optimizer}._schedule({optimizer}.global_step)"
        # the optimizer's parameter list as traced (step() walks it to find gradients)
        params = names.bind(step.optimizer.params, "params")
        self.guards.append(f"{optimizer}.params is not {params}")
        self.guards.append(f"len({params}) != {len(step.optimizer.params)}")
        self.guards += [
            f"{params}[{i}] is not {names.bind(p, 'p')}"
            for i, p in enumerate(step.optimizer.params)
        ]
        if step.packed:
            packed = names.bind(step.optimizer._packed, "packed")
            self.guards += [
                f"{optimizer}._packed is not {packed}",
                f"{packed}.weights is not {names.bind(step.optimizer._packed.weights, 'w')}",
                f"{packed}.grads is not {names.bind(step.optimizer._packed.grads, 'w')}",
                f"{optimizer}.state is not {names.bind(step.optimizer.state, 'state')}",
                # nothing but a checked flat pass has updated the optimizer since
                f"{optimizer}.global_step != {packed}.checked_step",
            ]
            return [
                f"{packed}.update_packed({optimizer}, {schedule})",
                f"{optimizer}.global_step += 1",
                f"{packed}.checked_step = {optimizer}.global_step",
            ]
        pairs = ", ".join(
            f"({names.bind(p, 'p')}, {names.value(g)})"
            for p, g in zip(step.params, step.grads, strict=True)
        )
        if all(g.persistent for g in step.grads):  # the same list every call
            updates = names.bind(
                [(p, _materialize(g)) for p, g in zip(step.params, step.grads, strict=True)],
                "updates",
            )
        else:
            updates = f"[{pairs}]"
        return [f"{optimizer}._apply({updates}, {schedule}, {step.in_order!r})"]

    def _output(self, output) -> str:
        kind, content = output
        names = self.names
        if kind == "tensor":
            make = names.bind(_tensor, "tensor")
            return f"{make}({names.value(content)}.copy())"
        if kind == "array":
            return f"{names.value(content)}.copy()"
        if kind == "item":
            return f"{names.value(content)}.item()"
        if kind in ("tuple", "list"):
            parts = [self._output(p) for p in content]
            if kind == "list":
                return f"[{', '.join(parts)}]"
            return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
        if kind == "dict":
            items = [f"{names.bind(k, 'key')}: {self._output(v)}" for k, v in content]
            return "{" + ", ".join(items) + "}"
        return names.bind(content, "const")

    def failed_guard(self) -> str | None:
        """The first guard that fails now (what made the last call retrace), or None."""
        for guard in self.guards:
            if eval(guard, self.names.namespace):  # (our own generated expressions)
                return guard
        return None

    # ------------------------------------------------------------------ explain
    def buffers(self) -> list:
        """The arrays the plan allocated and writes: ``[(name, shape, dtype, bytes, label)]``."""
        seen, rows = set(), []
        for step in self.steps:
            for value in step.writes():
                root = value.root
                if root.kind == BUFFER and id(root) not in seen:
                    seen.add(id(root))
                    rows.append(
                        (self.names.value(root), root.shape, root.dtype, root.nbytes, root.label)
                    )
        return rows

    def explain(self) -> str:
        """The plan in words: kernels, buffers and bytes, then the replay function."""
        kernels = [s for s in self.steps if isinstance(s, Kernel)]
        hosts = [s for s in self.steps if isinstance(s, HostForward | HostBackward)]
        buffers = self.buffers()
        arrays = {row[0]: row[3] for row in buffers}  # buffers sharing memory share a name
        lines = [
            f"replay plan: {len(kernels)} NumPy kernels, {len(hosts)} host-op calls, "
            f"{len(self.steps) - len(kernels) - len(hosts)} other steps; "
            f"{len(buffers)} buffers in {len(arrays)} arrays, "
            f"{_bytes(sum(arrays.values()))} allocated once "
            f"({_bytes(self.shared)} saved by sharing)",
        ]
        if self.recorder.program.notes:
            lines.append(
                "ops run as themselves (no replay rule): "
                + ", ".join(sorted(set(self.recorder.program.notes)))
            )
        lines.append("")
        lines.append("buffers:")
        for name, shape, dtype, nbytes, label in buffers:
            lines.append(f"  {name:<6} {shape!s:<18} {dtype!s:<8} {_bytes(nbytes):>10}  {label}")
        lines.append("")
        lines.append("steps (op: NumPy call):")
        for step in self.steps:
            if isinstance(step, Call) and isinstance(step.func, optimizers.OptimizerStep):
                lines.append(f"  optimizer: {step.text}")
            else:
                lines.append(f"  {step.label}: {step.describe(self.names)}")
        lines.append("")
        lines.append("the replay function:")
        lines += ["  " + line for line in self.source.splitlines()]
        return "\n".join(lines)


def _tensor(array):
    return Tensor._from_op(array, None)


def _output_values(output) -> list:
    kind, content = output
    if kind in ("tensor", "array", "item"):
        return [content]
    if kind in ("tuple", "list"):
        return [v for p in content for v in _output_values(p)]
    if kind == "dict":
        return [v for _, p in content for v in _output_values(p)]
    return []


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


__all__ = ["RETRACE", "Names", "Plan", "dead_code"]
