"""Grad mode: whether new ops record graph nodes.

Inside ``no_grad()`` ops compute their values and record nothing, so evaluation and
weight updates cost no graph memory.

The switch is a :class:`contextvars.ContextVar`, not a global: each thread and each
asyncio task has its own. A ``no_grad`` block in a data-loading thread, or in a server
answering a prediction while another request trains, turns recording off there and
nowhere else. (Reading it costs ``Function.apply`` about 10 ns per op.)
"""

from __future__ import annotations

import contextvars
import functools
import inspect

_grad_enabled = contextvars.ContextVar("thalweg_grad_enabled", default=True)

#: ``is_grad_enabled()`` without the call: ``Function.apply`` runs it on every op
grad_enabled = _grad_enabled.get


class _GradModeSwitch:
    """Context manager *and* decorator that sets grad mode, then restores it.

    Works as ``with no_grad():``, ``@no_grad()`` and ``@no_grad``. A decorated generator
    runs its body in the mode (each time it resumes, as PyTorch does) and leaves the
    caller's mode alone between items; a decorated ``async def`` runs in the mode until
    it returns.
    """

    mode = True

    def __new__(cls, func=None):
        if func is not None:  # used as @no_grad without parentheses
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None):
        self._previous: list[bool] = []  # a stack: the same object may be entered twice

    def __enter__(self):
        self._previous.append(_grad_enabled.get())
        _grad_enabled.set(self.mode)
        return self

    def __exit__(self, *exc_info):
        # set, not reset(token): a generator may resume its block in another context
        _grad_enabled.set(self._previous.pop())
        return False

    def __call__(self, func):
        switch = self.__class__
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(switch, func)
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def coroutine_wrapper(*args, **kwargs):
                with switch():
                    return await func(*args, **kwargs)

            return coroutine_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with switch():
                return func(*args, **kwargs)

        return wrapper


def _wrap_generator(switch, func):
    """A generator function whose body runs in ``switch``'s mode each time it resumes.

    Wrapping only the call would set the mode while the generator object is *created*,
    before any of its body runs. So each ``next``/``send``/``throw``/``close`` is
    forwarded inside the mode, and the mode is the caller's again at every ``yield``.
    """

    @functools.wraps(func)
    def generator_wrapper(*args, **kwargs):
        generator = func(*args, **kwargs)
        try:
            with switch():
                item = generator.send(None)
            while True:
                try:
                    sent = yield item
                except GeneratorExit:
                    with switch():
                        generator.close()
                    raise
                except BaseException as error:  # thrown in by the caller: pass it on
                    with switch():
                        item = generator.throw(error)
                else:
                    with switch():
                        item = generator.send(sent)
        except StopIteration as finished:
            return finished.value

    return generator_wrapper


class no_grad(_GradModeSwitch):
    """Record no graph inside this block (or decorated function or generator).

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> with thalweg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    mode = False


class enable_grad(_GradModeSwitch):
    """Record the graph again inside a ``no_grad`` block.

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> with thalweg.no_grad(), thalweg.enable_grad():
    ...     y = w * 2
    >>> y.requires_grad
    True
    """

    mode = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph right now, in this thread or task."""
    return _grad_enabled.get()
