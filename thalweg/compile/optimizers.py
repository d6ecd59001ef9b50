"""Optimizer updates in a replay: the optimizer's own code, called with the replay's
gradients.

An update is already what a replay wants — in place, no new arrays (``optim/``) — and
its Python side is where the learning-rate schedule, ``global_step`` and Adam's step
counts advance. So the replay does not copy the formula: it calls the optimizer
(``Optimizer._apply``) with the buffers the replayed backward wrote, and the learning
rate the schedule gives *at that step*: the same code, the same numbers, every state
advancing exactly as in eager mode.

A packed optimizer (``packed=True``) gets one shortcut: the replayed backward writes
each gradient straight into its slice of the optimizer's flat gradient buffer, and the
replay runs only the flat pass (``PackedWeights.update_packed``), skipping the copy and
the checks ``PackedWeights.update`` makes every step. Those checks were made once while
tracing; what could change their answer is guarded: the flat buffers, the optimizer's
state, and ``packed.checked_step`` — the ``global_step`` after the last flat pass known
to leave the state consistent (a trace, a checked plan, a replay). An update by anything
else (an eager step, ``load_state_dict``) moves ``global_step`` past it: the next call
traces again, and the trace checks the state afresh.
"""

from __future__ import annotations

from operator import is_

from thalweg.autograd import recording
from thalweg.compile.program import Call, Emitter
from thalweg.compile.values import BUFFER, EXTERNAL, Value


class OptimizerStep:
    """One optimizer update in the replay (what ``plan.py`` writes a line for)."""

    def __init__(self, optimizer, params, grads: list[Value], in_order: bool, packed: bool):
        self.optimizer = optimizer
        self.params = params
        self.grads = grads
        self.in_order = in_order
        self.packed = packed  # the flat pass (PackedWeights.update_packed)


def record_step(recorder, optimizer, updates, lr, in_order) -> None:
    """Run ``optimizer._apply(updates, lr, in_order)`` and note it for the replay."""
    schedule_lr = optimizer._schedule(optimizer.global_step)
    if lr != schedule_lr:
        recorder.refuse(
            "an optimizer update with a learning rate other than its schedule's; use "
            "step(), apply_gradients() or minimize()"
        )
    params = [param for param, _ in updates]
    for param in params:
        recorder.value_of(param.data, tensor=param)
    grads = []
    for _, grad in updates:
        value = recorder.known(grad)
        if value is None:  # a gradient from before the call (left on .grad)
            value = recorder.value_of(grad, label="gradient")
        grads.append(value)
    packed = optimizer._packed
    flat = (
        packed is not None
        and len(updates) == len(optimizer.params)
        and all(map(is_, params, optimizer.params))
    )
    with recording.suspended():
        optimizer._apply(updates, lr, in_order)
    if flat:  # did the eager update take the flat path (and leave it consistent)?
        per_param = [optimizer.state[p] for p in optimizer.params]
        flat = (
            packed.weights is not None
            and all(map(is_, (p.data for p in optimizer.params), packed.views))
            and packed._holds(per_param)
        )
    step = OptimizerStep(optimizer, params, grads, in_order, flat)
    if flat:  # the flat state is consistent at this step (replays check they follow it)
        packed.checked_step = optimizer.global_step
    if flat:  # (any copies it needs come before the update's step, added below)
        _gradients_into_flat_buffer(recorder, step)
    recorder.optimizer_steps.append(step)
    recorder.program.add(
        Call(
            step,
            label="optimizer",
            reads=list(step.grads),
            writes=[recorder.known(p.data) for p in params],
            text=f"{type(optimizer).__name__}: update {len(params)} parameters in place"
            + (" (one flat pass)" if flat else ""),
        )
    )
    recorder.fingerprint.append(("optimizer", id(optimizer), len(params), in_order, flat))


def _gradients_into_flat_buffer(recorder, step: OptimizerStep) -> None:
    """Make each gradient live in its slice of the packed optimizer's flat buffer: a
    buffer only this gradient uses moves there; anything else is copied in."""
    packed = step.optimizer._packed
    views = packed.grad_views()
    moved = set()
    emitter = Emitter(recorder.program, "optimizer")
    for i, (value, view) in enumerate(zip(step.grads, views, strict=True)):
        if (
            value.kind == BUFFER
            and value.view is None
            and id(value) not in moved
            and value.shape == view.shape
            and value.dtype == view.dtype
        ):
            view[...] = value.trace
            value.array = value.trace = view
            moved.add(id(value))
        else:  # copied into the slice just before the update
            slot = Value(EXTERNAL, view, label="packed gradient")
            copy = emitter.copyto(slot, value)
            step.grads[i] = copy


__all__ = ["OptimizerStep", "record_step"]
