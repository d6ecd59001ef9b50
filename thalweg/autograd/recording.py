"""Recording: how ``thalweg.compile`` watches the engine while it traces a step.

``thalweg.compile`` (``thalweg/compile/``, outside the engine) runs a training step once
eagerly, watching what the engine does, and then replays the NumPy work it saw without
the engine. To watch, it installs a *recorder* for the duration of that one call, and a
handful of places in the engine hand their work to it:

* ``Function.apply`` — every op (the recorder runs the op and notes its inputs and output);
* ``backward`` and ``grad`` (``engine.py``) — every backward pass;
* ``Tensor.item``, ``tolist``, ``__bool__``, ``__float__``, ``__int__``, ``__array__``,
  ``numpy`` — Python reading a tensor's values (``note_read``);
* ``Tensor.__init__`` — a tensor made from data (``note_tensor``);
* ``versions.mark_written`` — an in-place write (``note_write``);

and, above the engine, ``Module.__call__`` (``note_module``) and ``Optimizer._apply``.

When nothing is being traced each hook costs one test of the module global ``active``
(a few nanoseconds; ``bench/overhead.py`` measures the op path). The recorder itself is
kept in a :class:`contextvars.ContextVar`, like grad mode: a trace in one thread never
sees the ops of another. While the recorder runs engine code itself (the op it is
recording, an optimizer's update) it *suspends* itself, so the engine's own nested work
is not reported twice.
"""

from __future__ import annotations

import contextvars
import threading
from contextlib import contextmanager

#: True while any thread is tracing; only then do the hooks look further
active = False

_recorder: contextvars.ContextVar = contextvars.ContextVar("thalweg_recorder", default=None)
_tracing = 0  # traces running, in all threads
_lock = threading.Lock()


def current():
    """This thread's (or task's) recorder, or None when it is not tracing."""
    return _recorder.get()


@contextmanager
def recording(recorder):
    """Install ``recorder`` for the body of the ``with`` block (this context only)."""
    global active, _tracing
    with _lock:
        _tracing += 1
        active = True
    token = _recorder.set(recorder)
    try:
        yield recorder
    finally:
        _recorder.reset(token)
        with _lock:
            _tracing -= 1
            active = _tracing > 0


@contextmanager
def suspended():
    """Run engine code without reporting it (the recorder is doing the work itself)."""
    token = _recorder.set(None)
    try:
        yield
    finally:
        _recorder.reset(token)


def note_read(tensor, how: str, value=None) -> None:
    """Python read ``tensor``'s values (``how``: ``"item()"``, ``"bool()"``, ...);
    ``value``: what ``item()`` returned."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder.read(tensor, how, value)


def note_tensor(tensor, data) -> None:
    """``Tensor(data)`` made ``tensor`` (a copy of ``data``)."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder.new_tensor(tensor, data)


def note_write(array, by: str) -> None:
    """``by`` changed ``array`` in place."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder.write(array, by)


def note_module(module) -> None:
    """``module`` was called (its ``training`` flag may decide what it computes)."""
    recorder = _recorder.get()
    if recorder is not None:
        recorder.module_called(module)
