"""Random ops: dropout and additive noise, drawing from a NumPy generator.

They are ops (not NumPy code in the layers) so that the random draw is part of the
recorded work: ``thalweg.compile`` replays a step with dropout by drawing from the same
generator, in the same order, exactly as the eager step would.

``rng`` is a ``numpy.random.Generator``, or None for thalweg's global generator
(``thalweg.manual_seed``), looked up when the op runs.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.function import Function
from thalweg.autograd.promotion import promote


class Dropout(Function):
    """``x · keep / (1 - p)`` with ``keep`` true with probability ``1 - p``, per element.

    d/dx = the same scaled mask: the gradient flows through the kept elements only.
    """

    __slots__ = ()

    def forward(self, x, p, rng=None):
        rng = backend.default_generator() if rng is None else rng
        keep = rng.random(np.shape(x)) >= p
        x, mask = promote(x, (keep * (1.0 / (1.0 - p))).astype(np.asarray(x).dtype))
        self.saved = (mask,)
        return x * mask

    def backward(self, grad):
        (mask,) = self.saved
        return (grad * mask,)


class GaussianNoise(Function):
    """``x + noise``, noise normal with mean 0 and standard deviation ``std``.  d/dx = 1."""

    __slots__ = ()

    def forward(self, x, std, rng=None):
        rng = backend.default_generator() if rng is None else rng
        noise = rng.normal(0.0, std, size=np.shape(x)).astype(np.asarray(x).dtype)
        x, noise = promote(x, noise)
        self.saved = ()
        return x + noise

    def backward(self, grad):
        return (grad,)
