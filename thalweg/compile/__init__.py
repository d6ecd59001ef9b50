"""Layer 3: ``thalweg.compile`` — trace a step once, replay its NumPy kernels after.

>>> import numpy as np, thalweg
>>> from thalweg import nn, optim, losses
>>> model = nn.Linear(2, 1, rng=0)
>>> opt = optim.SGD(model.parameters(), lr=0.1)
>>> @thalweg.compile
... def step(x, y):
...     loss = losses.mse(model(x), y)
...     opt.zero_grad(); loss.backward(); opt.step()
...     return loss.item()
>>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
>>> losses_seen = [step(x, y) for _ in range(5)]   # trace, trace, check, replay, replay
>>> step.traces, step.checks, step.replays
(2, 1, 2)

Read in this order: ``compiled.py`` (the cache of signatures and what a call does),
``recorder.py`` (watching an eager call), ``program.py`` and ``values.py`` (what is
recorded), ``rules/`` (each op's kernels), ``backward.py`` (the backward pass),
``optimizers.py`` (updates), ``plan.py`` (the replay function), ``verify.py`` (the
check a new plan passes). ``docs/compile.md`` says what breaks a trace and what thalweg
does then.
"""

from __future__ import annotations

import sys
import types

from thalweg.compile.compiled import CompiledFunction


def compile(fn=None, *, cache_size: int = 8, fallback: bool = False):
    """Trace ``fn`` once per input signature; replay its NumPy kernels afterwards.

    ``fn`` is a whole training step (forward, loss, ``backward``, optimizer update) or an
    inference function. The first two calls with a given signature (argument shapes,
    dtypes and layouts, Python values among the arguments, grad mode, default dtype)
    run eagerly while thalweg records the kernels its engine runs; the third replays
    them once and checks the result against an eager run; later calls replay them into
    buffers allocated once: no tensors, no graph, the same numbers bit for bit. Usable
    as ``thalweg.compile(fn)`` or as a decorator (``@thalweg.compile``,
    ``@thalweg.compile(cache_size=4)``).

    Parameters
    ----------
    fn : callable
        The step. Array arguments (``np.ndarray`` or ``Tensor``) are read by reference
        each call, never copied; Python values among them are part of the signature.
    cache_size : int
        How many signatures to keep (least recently used dropped first).
    fallback : bool
        What to do with a step that cannot be replayed exactly (see ``docs/compile.md``):
        False raises :class:`~thalweg.errors.CompileError` naming the cause; True warns
        (:class:`~thalweg.errors.CompileWarning`) and runs that signature eagerly.

    Returns
    -------
    CompiledFunction
        Call it like ``fn``; ``.explain()`` shows the replay plan (kernels, buffers,
        bytes, the generated code); ``.traces``/``.replays`` count the calls.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size=cache_size, fallback=fallback)
    return CompiledFunction(fn, cache_size=cache_size, fallback=fallback)


class _CallableModule(types.ModuleType):
    """``thalweg.compile`` is this package *and* the function: calling the module calls
    :func:`compile` (``import thalweg.compile.plan`` would otherwise replace a function
    of that name on ``thalweg`` with the package)."""

    def __call__(self, fn=None, *, cache_size: int = 8, fallback: bool = False):
        return compile(fn, cache_size=cache_size, fallback=fallback)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["CompiledFunction", "compile"]
