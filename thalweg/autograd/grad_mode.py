"""Grad mode: whether new ops record graph nodes.

Inside ``no_grad()`` ops compute their values and record nothing, so evaluation and
weight updates cost no graph memory. The switch is one module-level flag that
``Function.apply`` reads on every op (a global is the cheapest thing to read).
"""

from __future__ import annotations

import functools

enabled = True  # read by Function.apply on every op


class _GradModeSwitch:
    """Context manager *and* decorator that sets grad mode, then restores it.

    Works as ``with no_grad():``, ``@no_grad()`` and ``@no_grad``.
    """

    mode = True

    def __new__(cls, func=None):
        if func is not None:  # used as @no_grad without parentheses
            return cls()(func)
        return super().__new__(cls)

    def __enter__(self):
        global enabled
        self._previous = enabled
        enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        global enabled
        enabled = self._previous
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradModeSwitch):
    """Record no graph inside this block (or decorated function).

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
    """Whether ops record the graph right now."""
    return enabled
