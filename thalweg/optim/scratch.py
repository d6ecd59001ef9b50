"""Scratch arrays kept in an optimizer's state, so an update allocates nothing."""

from __future__ import annotations

import numpy as np

WORK_BUFFER = "work_buffer"  # state key of a scratch array: reused each step, never saved


def work_buffer(state: dict, like: np.ndarray) -> np.ndarray:
    """A scratch array shaped like ``like``, kept in ``state`` so updates allocate nothing.

    Its contents mean nothing between steps: ``state_dict`` leaves it out.

    >>> state = {}
    >>> work_buffer(state, np.zeros(3)) is work_buffer(state, np.ones(3))
    True
    """
    buffer = state.get(WORK_BUFFER)
    if buffer is None or buffer.shape != like.shape:
        buffer = state[WORK_BUFFER] = np.empty_like(like)
    return buffer
