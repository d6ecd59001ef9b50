"""The check a new plan passes before it is trusted: replay once, run eagerly once, compare.

The tracer proves each kernel against the eager op it mirrors, but a step can also
change state *around* the engine: a NumPy write into a parameter's ``.data``
(``w.data[...] *= 0.5``), a clipping callback, a Python number an optimizer keeps. A
replay would skip those. So the first call after a plan is written runs twice from the
same starting state — the plan, then the eager step — and everything the step can
reach (parameters and their gradients, optimizer state and ``global_step``, the arrays
it read, the random generators it drew from, its result) must come out the same, bit
for bit. Only then do later calls replay; otherwise the call names the difference.

The eager run goes second, so the state the call leaves behind is the eager one.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.tensor import Tensor
from thalweg.compile.rules.random import Draw
from thalweg.compile.values import EXTERNAL, same_bits


class Snapshot:
    """What a traced step can reach, copied: ``restore()`` puts it back, ``difference``
    names the first thing two snapshots disagree on."""

    def __init__(self, recorder, plan_steps):
        self.arrays = []  # (label, the array, a copy)
        for array, value in recorder._arrays.values():
            if value.kind == EXTERNAL and array.flags.writeable:
                self.arrays.append((value.label, array, array.copy()))
        tensors = {id(t): t for t, _ in recorder.tensor_guards.values()}
        tensors.update((id(leaf), leaf) for leaf in recorder.leaves)
        self.tensors = [  # (tensor, .data, .grad, a copy of .grad)
            (t, t.data, t.grad, None if t.grad is None else t.grad.copy()) for t in tensors.values()
        ]
        self.optimizers = []  # (optimizer, global_step, {param: {key: (object, copy)}})
        for step in recorder.optimizer_steps:
            optimizer = step.optimizer
            state = {param: _copy_entries(entries) for param, entries in optimizer.state.items()}
            packed = optimizer._packed
            flat = _copy_entries(packed.state) if packed is not None else None
            self.optimizers.append((optimizer, optimizer.global_step, state, flat))
        generators = {id(backend.default_generator()): backend.default_generator()}
        for step in plan_steps:
            if isinstance(step, Draw) and step.rng is not None:
                generators[id(step.rng)] = step.rng
        self.generators = [(g, g.bit_generator.state) for g in generators.values()]

    def restore(self) -> None:
        """Put every array, gradient, optimizer state and generator back as copied."""
        for _, array, copy in self.arrays:
            np.copyto(array, copy)
        for tensor, data, grad, copy in self.tensors:
            tensor.data = data
            tensor.grad = grad
            if grad is not None:
                np.copyto(grad, copy)
        for optimizer, global_step, state, flat in self.optimizers:
            optimizer.global_step = global_step
            optimizer.state.clear()
            optimizer.state.update(
                (param, _restore_entries(entries)) for param, entries in state.items()
            )
            if flat is not None:
                _restore_entries(flat)
        for generator, state in self.generators:
            generator.bit_generator.state = state

    def difference(self, other: Snapshot) -> str | None:
        """The first thing that differs between two snapshots of the same step."""
        for (label, _, a), (_, _, b) in zip(self.arrays, other.arrays, strict=True):
            if not same_bits(a, b):
                return f"{label} ends different"
        for (tensor, _, grad_a, a), (_, _, grad_b, b) in zip(
            self.tensors, other.tensors, strict=True
        ):
            if (grad_a is None) != (grad_b is None) or (a is not None and not same_bits(a, b)):
                return f"the gradient of {tensor.name or 'a parameter'} ends different"
        for (optimizer, step_a, state_a, _), (_, step_b, state_b, _) in zip(
            self.optimizers, other.optimizers, strict=True
        ):
            name = type(optimizer).__name__
            if step_a != step_b:
                return f"{name}.global_step ends at {step_b}, the replay's at {step_a}"
            if state_a.keys() != state_b.keys() or not all(
                _same_entries(state_a[p], state_b[p]) for p in state_a
            ):
                return f"the state of {name} ends different"
        for (_, a), (_, b) in zip(self.generators, other.generators, strict=True):
            if a != b:
                return "a random generator ends in a different state"
        return None


def _copy_entries(entries):
    """A dict of arrays and numbers: ``(the dict, {key: (object, copy of an array)})``."""
    if isinstance(entries, dict):
        return (entries, {key: _copy_entries(value) for key, value in entries.items()})
    if isinstance(entries, np.ndarray):
        return (entries, entries.copy())
    return (entries, None)


def _restore_entries(entries):
    """The original objects, holding the copied values again (dicts refilled in place)."""
    original, copy = entries
    if isinstance(original, dict):
        original.clear()
        original.update((key, _restore_entries(value)) for key, value in copy.items())
    elif copy is not None:
        np.copyto(original, copy)
    return original


def _same_entries(a, b) -> bool:
    (_, copy_a), (_, copy_b) = a, b
    if isinstance(copy_a, dict) or isinstance(copy_b, dict):
        if not (isinstance(copy_a, dict) and isinstance(copy_b, dict)):
            return False
        if copy_a.keys() != copy_b.keys():
            return False
        return all(_same_entries(copy_a[key], copy_b[key]) for key in copy_a)
    if copy_a is None or copy_b is None:
        return copy_a is None and copy_b is None and a[0] == b[0]
    return same_bits(copy_a, copy_b)


def same_result(a, b) -> bool:
    """Whether a replayed call's result equals the eager call's (values, bit for bit)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return isinstance(a, Tensor) and isinstance(b, Tensor) and same_bits(a.data, b.data)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return same_bits(a, b)
    if isinstance(a, tuple | list) and type(a) is type(b):
        return len(a) == len(b) and all(map(same_result, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_result(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float):
        return a.hex() == b.hex() or (a != a and b != b)
    return type(a) is type(b) and a == b
