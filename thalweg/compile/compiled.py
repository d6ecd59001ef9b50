"""``CompiledFunction``: the cache of traced signatures around a step function.

A call is looked up by its *signature*: the structure of the arguments, each array's
shape, dtype and memory layout, the Python values among them, the grad mode and the
default dtype. Per signature:

1. the first call runs eagerly, recorded (``recorder.py``);
2. the second call runs eagerly, recorded again, and must repeat the first exactly
   (same ops on the same arrays with the same constants): an array made afresh outside
   thalweg's ops, or a Python number that changes between calls, would otherwise be
   frozen into the replay. Then the plan is written (``plan.py``);
3. the third call checks the plan (``verify.py``): it replays, puts the state back, runs
   eagerly, and the two must leave every weight, gradient, optimizer state and random
   generator the same, bit for bit;
4. every later call replays the plan. Its guards (the weights still being the same
   arrays, every module called holding the same attributes, ``.grad`` as the trace found
   it, the optimizer's parameters) are checked first; when one fails the call traces
   again. A signature keeps a plan per *mode* (what the guards check: train or eval,
   ``.grad`` cleared or accumulating), up to three, and tries each; one whose guards
   fail on every call stops tracing after ``RETRACE_LIMIT`` calls and runs eagerly,
   with a warning.

A call that cannot be replayed (see ``recorder.py``) raises
:class:`~thalweg.errors.CompileError` naming the cause — after having run, eagerly, as
it would have without ``compile`` — or, with ``fallback=True``, warns once
(:class:`~thalweg.errors.CompileWarning`) and runs eagerly from then on.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict

import numpy as np

from thalweg import backend
from thalweg.autograd import anomaly, recording
from thalweg.autograd.grad_mode import grad_enabled
from thalweg.autograd.tensor import Tensor
from thalweg.compile import rules
from thalweg.compile.plan import RETRACE, Plan
from thalweg.compile.recorder import Recorder
from thalweg.compile.verify import Snapshot, same_result
from thalweg.errors import CompileError, CompileWarning


class _Entry:
    """One signature in the cache: its checked plans (a few: the modules may be in train
    mode on one call and eval mode on the next, ``.grad`` cleared or accumulating), the
    plans written but not yet checked, the first trace of each *mode* (what the guards
    check: module attributes, ``.grad`` set or not); or ``eager`` with the reason."""

    __slots__ = ("eager", "firsts", "pending", "plans", "reason", "unreplayed")

    def __init__(self):
        self.firsts: dict = {}  # mode -> the first trace in that mode
        self.pending: list[Plan] = []  # written, not yet checked (verify.py)
        self.plans: list[Plan] = []  # checked, most recently replayed first
        self.eager = False
        self.reason = None
        self.unreplayed = 0  # traces since this signature last replayed


PLANS_PER_SIGNATURE = 3  # modes kept per signature
RETRACE_LIMIT = 12  # traces in a row without a replay: the guards never hold, run eagerly


class CompiledFunction:
    """``fn`` traced once per signature and replayed; see :func:`thalweg.compile`."""

    def __init__(self, fn, cache_size: int = 8, fallback: bool = False):
        if not callable(fn):
            raise TypeError(f"thalweg.compile: expected a function, got {type(fn).__name__}")
        if not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(
                f"thalweg.compile: cache_size must be a positive int, got {cache_size!r}"
            )
        rules.load()
        self.fn = fn
        self.cache_size = cache_size
        self.fallback = fallback
        self._cache: OrderedDict = OrderedDict()
        self._last: _Entry | None = None
        self.traces = 0  # calls that ran eagerly to trace (tests and explain read it)
        self.replays = 0
        self.checks = 0  # calls that replayed and ran eagerly to check a new plan
        self.retraced: str | None = None  # the guard that failed at the last retrace
        self.unreplayed = 0  # traces since the last replay, all signatures together
        self.churning = False  # new signatures kept coming: every call runs eagerly
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if anomaly.is_enabled() or recording.current() is not None or self.churning:
            # anomaly mode checks every op (the replay has none); inside another trace the
            # outer recorder sees these ops itself
            return self.fn(*args, **kwargs)
        key, arrays = _signature(args, kwargs)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = _Entry()
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        self._last = entry
        for index, plan in enumerate(entry.plans):
            result = plan.run(*arrays)
            if result is not RETRACE:
                self.replays += 1
                entry.unreplayed = self.unreplayed = 0
                if index:  # the plan that fits comes first next time
                    entry.plans.insert(0, entry.plans.pop(index))
                return result
        if entry.plans:  # every plan's guards failed: trace this signature again
            self.retraced = entry.plans[0].failed_guard()  # (explain() shows it)
        if entry.eager:
            return self.fn(*args, **kwargs)
        for plan in entry.pending:
            if plan.failed_guard() is None:
                return self._check(entry, plan, args, kwargs, arrays)
        return self._trace(entry, args, kwargs, arrays)

    def _trace(self, entry: _Entry, args, kwargs, arrays):
        """Run the call eagerly, recorded; the second trace in a mode writes a plan."""
        self.unreplayed += 1
        if self.unreplayed > 2 * RETRACE_LIMIT:  # the signatures never repeat
            self.churning = True
            name = getattr(self.fn, "__name__", "the function")
            warnings.warn(
                f"thalweg.compile({name}): {2 * RETRACE_LIMIT} traces without a replay: "
                "the calls' signatures keep changing (a Python number among the arguments "
                "that changes every call? pass it as a 0-d array); running eagerly",
                CompileWarning,
                stacklevel=3,
            )
            return self.fn(*args, **kwargs)
        entry.unreplayed += 1
        if entry.unreplayed > RETRACE_LIMIT:
            self._refuse(
                entry,
                f"it traced {RETRACE_LIMIT} times without a replay: a guard fails on every "
                f"call ({self.retraced or 'the state changes from call to call'})",
                always_warn=True,
            )
            return self.fn(*args, **kwargs)
        first_any = next(iter(entry.firsts.values()), None)
        recorder = Recorder(arrays, first_any.leaves if first_any is not None else ())
        recorder.n_inputs = len(arrays)
        recorder.fn = self.fn  # (its closure's and globals' numbers are guarded too)
        with recording.recording(recorder):
            result = self.fn(*args, **kwargs)
        self.traces += 1
        recorder.finish(result)
        mode = recorder.mode()
        first = entry.firsts.get(mode)
        if recorder.refusal is None and first is not None:
            difference = _difference(first.fingerprint, recorder.fingerprint)
            if difference is not None:
                recorder.refuse(difference)
        if recorder.refusal is not None:
            self._refuse(entry, recorder.refusal)
            return result
        if first is None:
            entry.firsts[mode] = recorder
            while len(entry.firsts) > PLANS_PER_SIGNATURE:
                del entry.firsts[next(iter(entry.firsts))]
        else:
            del entry.firsts[mode]
            entry.pending.insert(0, Plan(recorder))
            del entry.pending[PLANS_PER_SIGNATURE:]
        return result

    def _check(self, entry: _Entry, plan: Plan, args, kwargs, arrays):
        """A new plan's first call: replay, put the state back, run eagerly, compare."""
        entry.pending.remove(plan)
        before = Snapshot(plan.recorder, plan.steps)
        replayed = plan.run(*arrays)
        if replayed is RETRACE:
            return self._trace(entry, args, kwargs, arrays)
        after_replay = Snapshot(plan.recorder, plan.steps)
        before.restore()
        result = self.fn(*args, **kwargs)
        self.checks += 1
        difference = after_replay.difference(Snapshot(plan.recorder, plan.steps))
        if difference is None and not same_result(replayed, result):
            difference = "its result differs"
        if difference is not None:
            self._refuse(
                entry,
                f"replayed, {difference}: the step changes something outside thalweg's "
                "ops (a NumPy write into .data, a callback changing weights or state); "
                "do that outside the compiled function",
            )
            return result
        entry.plans.insert(0, plan)
        del entry.plans[PLANS_PER_SIGNATURE:]
        for step in plan.recorder.optimizer_steps:  # the eager run left it as the replay
            if step.packed:
                step.optimizer._packed.checked_step = step.optimizer.global_step
        return result

    def _refuse(self, entry: _Entry, reason: str, always_warn: bool = False) -> None:
        entry.firsts.clear()
        entry.pending.clear()
        entry.reason = reason
        entry.plans = []
        name = getattr(self.fn, "__name__", "the function")
        message = f"thalweg.compile({name}): cannot replay this step: {reason}"
        if self.fallback or always_warn or reason.startswith("internal error"):
            entry.eager = True
            warnings.warn(message, CompileWarning, stacklevel=3)
            return
        raise CompileError(message)

    # ------------------------------------------------------------------ inspecting
    def explain(self) -> str:
        """The replay plan of the most recent signature: kernels, buffers, bytes, code.

        Before a signature has been called twice there is no plan yet; the text says so.
        """
        entry = self._last
        if entry is None:
            return "not called yet: the first two calls of a signature trace it"
        if entry.eager:
            return f"runs eagerly: {entry.reason}"
        if not entry.plans:
            return "traced once: the next calls with the same signature write the plan"
        text = entry.plans[0].explain()
        if self.retraced is not None:
            text += f"\n\nlast retrace: the guard `{self.retraced}` failed"
        return text

    def clear(self) -> None:
        """Forget every traced signature (the next calls trace again)."""
        self._cache.clear()
        self._last = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"thalweg.compile({name}, {len(self._cache)} signatures)"

    def __get__(self, instance, owner=None):
        """As a method decorator: one compiled function per instance."""
        if instance is None:
            return self
        bound = instance.__dict__.get(f"_compiled_{self.fn.__name__}")
        if bound is None:
            bound = CompiledFunction(
                self.fn.__get__(instance, owner), self.cache_size, self.fallback
            )
            instance.__dict__[f"_compiled_{self.fn.__name__}"] = bound
        return bound


# ---------------------------------------------------------------------- signatures
def _signature(args, kwargs) -> tuple[tuple, list]:
    """``(key, arrays)``: what a call's replay must match, and its arrays in order."""
    arrays: list = []
    parts = [grad_enabled(), backend.get_default_dtype()]
    for arg in args:
        kind = type(arg)
        if kind is np.ndarray:  # (the common cases first: this runs every call)
            arrays.append(arg)
            parts.append((arg.shape, arg.dtype, arg.strides))
        elif kind is Tensor:
            data = arg.data
            arrays.append(data)
            parts.append(("tensor", data.shape, data.dtype, data.strides, arg.requires_grad))
        else:
            parts.append(_describe(arg, arrays))
    if kwargs:
        parts.append(tuple((k, _describe(v, arrays)) for k, v in sorted(kwargs.items())))
    if len(arrays) == 2:
        aliased = arrays[0] is arrays[1]
    else:
        aliased = len(arrays) > 2 and len(set(map(id, arrays))) != len(arrays)
    if aliased:
        ids = [id(a) for a in arrays]  # the same array twice: the plan must know
        parts.append(("aliases", tuple(ids.index(i) for i in ids)))
    return tuple(parts), arrays


def _describe(x, arrays: list):
    kind = type(x)
    if kind is np.ndarray:
        arrays.append(x)
        return (x.shape, x.dtype, x.strides)
    if kind is Tensor or isinstance(x, Tensor):
        data = x.data
        arrays.append(data)
        return ("tensor", data.shape, data.dtype, data.strides, x.requires_grad)
    if kind is tuple or kind is list:
        return (kind, tuple(_describe(p, arrays) for p in x))
    if kind is dict:
        return (kind, tuple((k, _describe(v, arrays)) for k, v in x.items()))
    if x is None or kind in (bool, int, float, str):
        return (kind, x)
    if isinstance(x, np.generic):
        return (type(x), x.item())
    return ("object", id(x))


def _difference(first: list, second: list) -> str | None:
    """Why two traces of one signature differ (None when they do not)."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return _explain_difference(index, a, b)
    if len(first) != len(second):
        return (
            f"the second call did {len(second)} things where the first did {len(first)}: "
            "Python control flow in the step changes what it computes"
        )
    return None


def _explain_difference(index: int, a, b) -> str:
    if a[0] == "op" and b[0] == "op" and a[1] is b[1]:
        name = a[1].op_name()
        for x, y in zip(
            a[2] + tuple(v for _, v in a[3]), b[2] + tuple(v for _, v in b[3]), strict=False
        ):
            if x != y:
                if x[0] == "external" or y[0] == "external":
                    return (
                        f"an operand of {name} (step {index}) is a different array on the "
                        "second call: an array made afresh outside thalweg's ops (NumPy on "
                        ".data, np.random, a comparison) — make it with thalweg's ops, or "
                        "pass it as an argument"
                    )
                return (
                    f"a constant of {name} (step {index}) changed between calls (a Python "
                    "number computed from something that changes?); pass it as an argument"
                )
        return f"{name} (step {index}) ran differently on the second call"
    return (
        f"the second call differs from the first at step {index} ({a[0]} vs {b[0]}): Python "
        "control flow in the step changes what it computes"
    )
