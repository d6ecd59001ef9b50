"""Weight initialisation, filling parameters in place.

The scale of the initial weights decides whether signals and gradients keep their size
through many layers. Glorot (Xavier) keeps the variance of activations and gradients
steady for tanh and sigmoid layers: Var(w) = 2 / (fan_in + fan_out). He (Kaiming)
doubles it for ReLU, which zeroes half its inputs: Var(w) = 2 / fan_in.

Dense weights here have shape ``(fan_in, fan_out)`` (``x @ W``; PyTorch stores the
transpose); convolution weights have PyTorch's ``(out, in/groups, kH, kW)``.
Every function takes an optional ``rng`` (a ``numpy.random.Generator`` or seed); without
one it uses the generator that ``thalweg.manual_seed`` sets.
"""

from __future__ import annotations

import math

import numpy as np

from thalweg import backend
from thalweg.autograd import versions
from thalweg.autograd.tensor import Tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out): a dense weight is ``(in, out)``; a convolution's is PyTorch's
    ``(out, in/groups, kH, kW)``, each input and output seen through ``kH·kW`` taps."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dims, got shape {shape}")
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[2:]))
    return shape[1] * receptive, shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values
    versions.mark_written(tensor.data, "nn.init")  # a graph that saved the old values sees it
    return tensor


def zeros_(tensor: Tensor, rng=None) -> Tensor:
    """Fill with 0 (``rng`` is accepted and ignored, like every initialiser's)."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor, rng=None) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, value: float, rng=None) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, value)


def uniform_(tensor: Tensor, low: float = 0.0, high: float = 1.0, rng=None) -> Tensor:
    """Fill with samples from U(low, high)."""
    return _fill(tensor, backend.as_generator(rng).uniform(low, high, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng=None) -> Tensor:
    """Fill with samples from N(mean, std²)."""
    return _fill(tensor, backend.as_generator(rng).normal(mean, std, tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain·sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng=None) -> Tensor:
    """Glorot normal: N(0, gain²·2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_uniform_(tensor: Tensor, gain: float = math.sqrt(2.0), rng=None) -> Tensor:
    """He uniform: U(-a, a) with a = gain·sqrt(3 / fan_in); gain √2 suits ReLU."""
    fan_in, _ = _fans(tensor)
    bound = gain * math.sqrt(3.0 / fan_in)
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, gain: float = math.sqrt(2.0), rng=None) -> Tensor:
    """He normal: N(0, gain² / fan_in); gain √2 suits ReLU."""
    fan_in, _ = _fans(tensor)
    return normal_(tensor, 0.0, gain / math.sqrt(fan_in), rng)


glorot_uniform_ = xavier_uniform_
glorot_normal_ = xavier_normal_
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_

INITIALIZERS = {
    "zeros": zeros_,
    "ones": ones_,
    "uniform": uniform_,
    "normal": normal_,
    "glorot_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_,
    "xavier_uniform": xavier_uniform_,
    "xavier_normal": xavier_normal_,
    "he_uniform": kaiming_uniform_,
    "he_normal": kaiming_normal_,
    "kaiming_uniform": kaiming_uniform_,
    "kaiming_normal": kaiming_normal_,
}


def get_initializer(name: str):
    """The initialiser called ``name`` (e.g. ``"he_normal"``); unknown names list the known."""
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name!r}; choose one of {sorted(INITIALIZERS)}"
        ) from None
