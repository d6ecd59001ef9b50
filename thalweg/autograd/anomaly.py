"""``detect_anomaly()``: stop at the first op that makes a NaN or Inf.

A NaN loss is usually born many ops before it is seen. With anomaly detection on, every
op checks its forward output and, during backward, the gradients it produces, and the
first one that is not finite raises an error naming the op and its input shapes.
It costs a full pass over every array, so it is off by default. Like grad mode, the
switch belongs to the thread or asyncio task that turned it on.
"""

from __future__ import annotations

import contextvars

import numpy as np

from thalweg.errors import AnomalyError

_anomaly_enabled = contextvars.ContextVar("thalweg_detect_anomaly", default=False)

#: whether detection is on here; read by Function.apply and by the backward engine
is_enabled = _anomaly_enabled.get


class detect_anomaly:
    """Context manager: raise at the first op whose forward or backward is not finite.

    >>> import thalweg
    >>> x = thalweg.tensor([0.0], requires_grad=True)
    >>> with thalweg.detect_anomaly():
    ...     try:
    ...         thalweg.log(x)
    ...     except thalweg.AnomalyError as e:
    ...         print(str(e).split(" from")[0])
    log: forward produced -inf
    """

    def __init__(self):
        self._previous: list[bool] = []

    def __enter__(self):
        self._previous.append(_anomaly_enabled.get())
        _anomaly_enabled.set(True)
        return self

    def __exit__(self, *exc_info):
        _anomaly_enabled.set(self._previous.pop())
        return False


def _describe(value) -> str:
    return "nan" if np.isnan(value).any() else ("inf" if np.isposinf(value).any() else "-inf")


def check_forward(op_name: str, output: np.ndarray, input_shapes: list) -> None:
    """Raise if an op's forward output holds NaN or Inf."""
    if np.issubdtype(output.dtype, np.inexact) and not np.isfinite(output).all():
        shapes = ", ".join(str(s) for s in input_shapes)
        raise AnomalyError(
            f"{op_name}: forward produced {_describe(output)} from inputs of shapes {shapes}; "
            "check the inputs of this op (log of 0, division by 0, overflow in exp)"
        )


def check_backward(op_name: str, grads, input_shapes: list) -> None:
    """Raise if an op's backward produced a NaN or Inf gradient."""
    for index, grad in enumerate(grads):
        if grad is not None and not np.isfinite(grad).all():
            shapes = ", ".join(str(s) for s in input_shapes)
            raise AnomalyError(
                f"{op_name}: backward produced {_describe(grad)} in the gradient of input "
                f"{index} (inputs of shapes {shapes}); the op's derivative is not finite here"
            )
