"""The backward pass, as the replay does it: ``engine.py``'s walk, written out once.

While tracing, a backward pass is first *mirrored* here — the same walk over the graph
the eager step recorded (the newest node first), the same sums where gradients meet,
the same rules for what lands on ``.grad`` — writing each node's backward as kernels;
then the engine runs it for real, and every gradient it leaves on a ``.grad`` (or
returns, for ``grad``) is compared, bit for bit, with the mirrored one.

``.grad`` follows the engine's rules (see ``engine._deliver``): the first gradient a
leaf receives in a pass is adopted (copied when it is a view, or shared), later ones are
added; a ``.grad`` left by an earlier pass is added to in place. Whether a leaf's
``.grad`` is None or holds an array when a call starts (``zero_grad`` before the call,
or inside it) decides which of these the replay does, so the replay checks it (a
*guard*) before it runs.
"""

from __future__ import annotations

import heapq

import numpy as np

from thalweg.autograd import engine, recording
from thalweg.autograd.function import FREED
from thalweg.autograd.tensor import Tensor
from thalweg.compile import rules
from thalweg.compile.program import Emitter, HostBackward
from thalweg.compile.values import BUFFER, EXTERNAL, LOCAL, Value, same_bits

_UNSEEN = object()  # a leaf the previous trace did not touch


class LeafGradient:
    """A leaf tensor's ``.grad`` through the traced call: ``value`` is what it holds now
    (None: no gradient)."""

    __slots__ = ("leaf", "value")

    def __init__(self, leaf, value):
        self.leaf = leaf
        self.value = value


def run(recorder, output, grad, retain_graph, targets) -> None:
    """Mirror ``engine.backward(output, grad, retain_graph)``, then run it."""
    mirrored = _can_mirror(recorder, output, grad)
    if mirrored:
        emitter = Emitter(recorder.program, "backward")
        written = []  # (external .grad value, real array): traced on a copy
        touched = _walk(recorder, emitter, output, grad, None, written)
    with recording.suspended():
        engine.backward(output, grad, retain_graph)
    if mirrored:
        _check_and_map(recorder, touched, written)


def gradients(recorder, output, inputs, grad_output, retain_graph, materialize_grads):
    """Mirror ``engine.grad(...)``, then run it; returns what it returns."""
    single = isinstance(inputs, Tensor)
    tensors = [inputs] if single else list(inputs)
    mirrored = _can_mirror(recorder, output, grad_output) and all(t.requires_grad for t in tensors)
    if mirrored:
        emitter = Emitter(recorder.program, "grad")
        targets = {(t.grad_fn or t): None for t in tensors}
        _walk(recorder, emitter, output, grad_output, targets, [])
    with recording.suspended():
        results = engine.grad(output, inputs, grad_output, retain_graph, materialize_grads)
    if mirrored:
        for tensor, result in zip(tensors, results, strict=True):
            value = targets[tensor.grad_fn or tensor]
            if value is None:
                if result is None:
                    continue
                value = emitter.copyto(emitter.buffer(result.shape, result.dtype), 0)
            else:  # grad() returns a copy in the tensor's dtype
                value = emitter.astype(value, tensor.dtype)
            if not same_bits(result, value.trace):
                recorder.refuse(_mismatch("the gradients thalweg.grad returned"))
            recorder._remember(result, value)
    return results


def _can_mirror(recorder, output, grad) -> bool:
    """Whether the graph behind ``output`` is this call's own and can be walked (when it
    cannot, the engine runs alone: it raises the error it would raise anyway)."""
    if not output.requires_grad:
        return False
    if grad is None and output.data.size != 1:
        return False
    nodes, stack = set(), [output.grad_fn] if output.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if node in nodes:
            continue
        nodes.add(node)
        if node.saved is FREED:
            return False  # the engine raises: the graph was freed by an earlier backward
        if node not in recorder.ops:
            recorder.refuse(
                "the step runs backward through a graph recorded before it started; "
                "compute the forward pass inside the compiled function"
            )
            return False
        if node.retained is not None:
            recorder.refuse("retain_grad() inside a compiled step is not replayed")
            return False
        stack.extend(p for p in node.parents if p is not None and not isinstance(p, Tensor))
    return True


def _initial_grad(recorder, emitter, output, grad) -> Value:
    """``engine._initial_grad``: ones for a scalar, else a copy of ``grad``."""
    if grad is None:
        ones = np.empty(output.data.shape, output.data.dtype)
        ones.fill(1)
        return emitter.const(ones)
    source = recorder.operand(grad)
    if not isinstance(source, Value):
        return emitter.const(np.array(source, dtype=output.dtype))
    return emitter.astype(source, output.dtype)


def _walk(recorder, emitter, output, grad, targets, written) -> dict:
    """``engine._run`` on values: every node's backward, newest first. Returns the
    leaves it delivered to (targets=None) as {leaf: LeafGradient}."""
    grad = _initial_grad(recorder, emitter, output, grad)
    touched: dict = {}
    delivered: set = set()  # ids of values adopted as some leaf's .grad in this pass
    root = output.grad_fn
    if root is None:
        _deliver(recorder, emitter, output, grad, targets, delivered, touched, written)
        return touched
    pending = {root: grad}
    reached = [(-root.sequence, root)]
    while reached:
        node = heapq.heappop(reached)[1]
        grad = pending.pop(node)
        record = recorder.ops[node]
        if grad is None:
            input_grads = (None,) * len(node.parents)
        else:
            if targets is not None and node in targets:
                targets[node] = (
                    grad if targets[node] is None else emitter.call(np.add, targets[node], grad)
                )
            input_grads = _node_backward(recorder, record, grad)
        for parent, input_grad in zip(node.parents, input_grads, strict=True):
            if parent is None:
                continue
            if isinstance(parent, Tensor):
                if input_grad is not None:
                    _deliver(
                        recorder, emitter, parent, input_grad, targets, delivered, touched, written
                    )
            elif parent not in pending:
                pending[parent] = input_grad
                heapq.heappush(reached, (-parent.sequence, parent))
            elif input_grad is not None:
                earlier = pending[parent]
                pending[parent] = (
                    input_grad if earlier is None else emitter.call(np.add, earlier, input_grad)
                )
    return touched


def _node_backward(recorder, record, grad: Value) -> tuple:
    """One node's backward: its rule's kernels, or its own ``backward`` (a host op)."""
    if record.host is None:
        emitter = Emitter(recorder.program, f"{record.label} backward")
        return tuple(rules.BACKWARD[record.op_class](emitter, record, grad))
    arrays = record.node.backward(grad.trace)
    results = []
    for array in arrays:
        if array is None:
            results.append(None)
        elif array is grad.trace:
            results.append(grad)
        else:
            results.append(Value(LOCAL, array, label=f"{record.label} backward"))
    fresh = [r if r is not None and r is not grad else None for r in results]
    recorder.program.add(HostBackward(record.host, grad, fresh, f"{record.label} backward"))
    return tuple(results)


def _fresh(value: Value) -> bool:
    """Whether a leaf may adopt ``value`` as its ``.grad`` without a copy: an array no one
    else owns (a buffer, or a new array an op made), not a view."""
    if value.view is not None:
        return False
    if value.kind == BUFFER:
        return True
    if value.kind == LOCAL:
        return value.trace.base is None and value.trace.flags.writeable
    return False  # constants, inputs, external arrays: never handed out as a .grad


def _writable(value: Value) -> bool:
    return value.trace.flags.writeable and value.array.flags.writeable


def _deliver(recorder, emitter, leaf, grad, targets, delivered, touched, written) -> None:
    """``engine._deliver``: add ``grad`` to the leaf's gradient, in its dtype."""
    if targets is not None:
        if leaf in targets:
            earlier = targets[leaf]
            targets[leaf] = grad if earlier is None else emitter.call(np.add, earlier, grad)
        return
    state = touched.get(leaf)
    if state is None:
        state = touched[leaf] = LeafGradient(leaf, _current_grad(recorder, leaf, written))
    dtype = leaf.data.dtype
    if state.value is not None:
        current = state.value
        if id(current) in delivered or not _writable(current):
            if grad.dtype != dtype:
                grad = emitter.astype(grad, dtype)
            state.value = emitter.call(np.add, current, grad)
        else:  # a .grad from before this pass is the leaf's own: add in place
            emitter.call(np.add, current, grad, into=current)
        return
    if grad.dtype != dtype:
        grad = emitter.astype(grad, dtype)
    elif not _fresh(grad) or id(grad) in delivered:
        grad = emitter.copy(grad)
    delivered.add(id(grad))
    state.value = grad


def _current_grad(recorder, leaf, written) -> Value | None:
    """The value of ``leaf.grad`` when a pass first reaches the leaf (and the guard it
    implies for a replay: what ``.grad`` must hold when a call starts)."""
    current = leaf.grad
    first = leaf not in recorder.leaves
    start = recorder.grads_at_start.get(leaf, _UNSEEN)
    if current is None:
        if first and start is None:
            recorder.grad_guards[leaf] = None  # the caller clears it before each call
        return None
    value = recorder.known(current)
    if value is not None and value.kind != EXTERNAL:
        return value  # made earlier in this call
    if value is None:
        value = recorder.value_of(current, label=f"{leaf.name or 'parameter'}.grad")
    if first and start is not _UNSEEN and start is not current:
        recorder.refuse("the step assigns a tensor's .grad itself; a replay would not")
    if first:
        recorder.grad_guards[leaf] = current  # accumulates into last call's gradient
    if value.trace is value.array:  # the engine adds into the real array: trace on a copy
        value.trace = value.array.copy()
        written.append((value, value.array))
    return value


def _check_and_map(recorder, touched: dict, written: list) -> None:
    """After the engine's pass: compare every .grad with the mirrored one, and remember
    which value each .grad array is."""
    for leaf, state in touched.items():
        if state.value is None:
            continue
        if leaf.grad is None or not same_bits(leaf.grad, state.value.trace):
            recorder.refuse(_mismatch(f"the gradient of {leaf.name or 'a parameter'}"))
        elif recorder.known(leaf.grad) is None:
            recorder._remember(leaf.grad, state.value)
        recorder.leaves[leaf] = state
    for value, real in written:
        value.trace = real


def finish(recorder) -> None:
    """The call is over: each leaf's final ``.grad``, which the replay leaves behind."""
    recorder.final_grads = []
    for leaf in recorder.leaves:
        data = recorder.known(leaf.data)
        if data is None or data.kind != EXTERNAL:
            recorder.refuse(
                "the step computes the gradient of a tensor it was given or made itself; "
                "compiled steps give gradients to parameters only"
            )
            continue
        if leaf.grad is None:
            recorder.final_grads.append((leaf, None))
            continue
        value = recorder.known(leaf.grad)
        if value is None:
            recorder.refuse("the step assigns a tensor's .grad itself; a replay would not")
            continue
        recorder.final_grads.append((leaf, value))


def _mismatch(what: str) -> str:
    return (
        f"internal error: {what} as replayed differs from the eager result; the step "
        "runs eagerly (please report this with the step)"
    )
