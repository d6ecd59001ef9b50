"""``gradcheck``: test analytic gradients against finite differences.

For every element of every input, nudge it by ``±eps`` and see how a fixed random
projection of the output moves:  (f(x + eps) - f(x - eps)) / 2eps. That is the
derivative of ``sum(output * v)`` up to O(eps²), which is what backward computes when it
starts from ``v``. A random ``v`` exercises every output element at once.

Everything runs in float64: float32 finite differences are too coarse to trust.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd import engine
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ThalwegError


class GradcheckError(ThalwegError, AssertionError):
    """Analytic and numerical gradients disagree."""


def gradcheck(
    fn,
    *inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Parameters
    ----------
    fn : callable
        Takes the tensors in ``inputs`` and returns a tensor (any shape).
    *inputs : Tensor or array_like
        Tensors with ``requires_grad=True`` are checked; others are passed as they are.
        Checked tensors are copied to float64.
    eps, atol, rtol : float
        Step of the central difference; tolerance ``|analytic - numeric| <= atol +
        rtol * |numeric|``.
    seed : int
        Seed of the random output projection.
    raise_exception : bool
        Raise :class:`GradcheckError` naming the input and the worst element (default),
        or return False.

    Returns
    -------
    bool
        True when every gradient matches.

    Examples
    --------
    >>> import thalweg
    >>> x = thalweg.tensor([[1.0, 2.0]], dtype="float64", requires_grad=True)
    >>> thalweg.gradcheck(lambda t: (t * t).sum(axis=1), x)
    True
    """
    checked = [
        Tensor(np.array(x.data, dtype=np.float64), requires_grad=True)
        if isinstance(x, Tensor) and x.requires_grad
        else x
        for x in inputs
    ]
    wrt = [i for i, x in enumerate(checked) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input has requires_grad=True; nothing to check")

    output = fn(*checked)
    projection = np.random.default_rng(seed).standard_normal(output.shape)

    def projected(*args) -> float:
        out = fn(*args)
        return float(np.sum(np.asarray(out.data, dtype=np.float64) * projection))

    analytic = engine.grad(output, [checked[i] for i in wrt], grad_output=projection)

    for position, index in enumerate(wrt):
        values = checked[index].data
        numeric = np.zeros_like(values)
        flat_values, flat_numeric = values.reshape(-1), numeric.reshape(-1)
        for k in range(flat_values.size):
            original = flat_values[k]
            flat_values[k] = original + eps
            plus = projected(*checked)
            flat_values[k] = original - eps
            minus = projected(*checked)
            flat_values[k] = original
            flat_numeric[k] = (plus - minus) / (2 * eps)

        got = analytic[position]
        if got.shape != values.shape:
            return _fail(
                raise_exception,
                f"gradcheck: gradient of input {index} has shape {got.shape}, expected "
                f"{values.shape}",
            )
        error = np.abs(got - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and (not np.all(np.isfinite(got)) or error.max() > 0):
            # NaN in the analytic gradient counts as the worst possible error.
            error = np.where(np.isnan(error), np.inf, error)
            # Plain ints and floats, so the message reads (1, 0), not (np.int64(1), ...).
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), values.shape))
            return _fail(
                raise_exception,
                f"gradcheck: input {index} (shape {values.shape}) element {worst}: analytic "
                f"gradient {float(got[worst])!r} != numerical {float(numeric[worst])!r} "
                f"(atol={atol}, rtol={rtol})",
            )
    return True


def _fail(raise_exception: bool, message: str) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False
