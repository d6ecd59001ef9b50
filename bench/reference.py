"""Hand-written NumPy optimizers: the reference a NumPy-backed engine is measured against.

What a careful NumPy programmer does for a whole network:

* all parameters live in **one flat float32 buffer** (each layer's weight and bias are
  views into it), and so do all gradients, so an update is a handful of ufunc calls
  over one array instead of a handful per parameter;
* every update is **in place** with ``out=`` and one preallocated scratch buffer: no
  array is allocated per step;
* Python floats as scalars (NumPy 2 keeps them weak, so float32 stays float32);
* Adam's moments have their subnormal entries zeroed every 16 steps, as thalweg's
  optimizers do (``thalweg.numerics.flush_subnormals``): without it, a few thousand steps
  in, moments decaying where gradients are zero spend hundreds of steps in the subnormal
  range and every pass over them runs several times slower (4× per step on the Intel
  machine of the 2026-12-05 run), which would measure the CPU's subnormal penalty, not
  the engine.
"""

from __future__ import annotations

import math

import numpy as np


class FlatBuffer:
    """One contiguous float32 array and views into it shaped like the given shapes."""

    def __init__(self, shapes: list[tuple[int, ...]], dtype=np.float32):
        sizes = [math.prod(shape) for shape in shapes]
        self.flat = np.zeros(sum(sizes), dtype=dtype)
        self.views = []
        start = 0
        for shape, size in zip(shapes, sizes, strict=True):
            self.views.append(self.flat[start : start + size].reshape(shape))
            start += size


class SGD:
    """``w ← w - lr·g``: two passes (scale the gradient in place, subtract it)."""

    def __init__(self, params: FlatBuffer, grads: FlatBuffer, lr: float):
        self.w, self.g, self.lr = params.flat, grads.flat, lr

    def step(self) -> None:
        self.g *= self.lr  # the gradient buffer is rewritten by the next backward anyway
        self.w -= self.g


class Adam:
    """Adam (PyTorch's formula and defaults): 12 ufunc passes over the flat buffers.

    m ← m + (1-β₁)(g - m)      (= β₁m + (1-β₁)g; 3 passes: -, ×, +)
    v ← v + (1-β₂)(g² - v)     (= β₂v + (1-β₂)g²; 4 passes: ², -, ×, +)
    w ← w - lr/(1-β₁ᵗ) · m / (√v/√(1-β₂ᵗ) + ε)     (5 passes: √, +, ×, ÷, -)

    The moments are updated as interpolations (PyTorch's ``lerp``): a small correction
    added to the old value. The tempting ``β₂(v - g²) + g²`` saves nothing and loses
    ~1e-4 relative accuracy to cancellation. NumPy has no fused multiply-add, so 12
    passes is the floor for plain ufuncs.
    """

    def __init__(
        self, params: FlatBuffer, grads: FlatBuffer, lr=1e-3, betas=(0.9, 0.999), eps=1e-8
    ):
        self.w, self.g, self.lr, self.eps = params.flat, grads.flat, lr, eps
        self.beta1, self.beta2 = betas
        self.m = np.zeros_like(self.w)
        self.v = np.zeros_like(self.w)
        self.scratch = np.empty_like(self.w)
        self.t = 0

    def step(self) -> None:
        self.t += 1
        m, v, g, s = self.m, self.v, self.g, self.scratch
        np.subtract(g, m, out=s)
        s *= 1.0 - self.beta1
        m += s
        np.multiply(g, g, out=s)
        s -= v
        s *= 1.0 - self.beta2
        v += s
        if self.t % 16 == 0:  # zero the subnormal entries (see the module docstring)
            for moment in (m, v):
                np.abs(moment, out=s)
                np.greater_equal(s, np.finfo(moment.dtype).tiny, out=s)
                moment *= s
        # w -= (lr/bc1) · m / (√v/√bc2 + ε) = m / ((√v + ε√bc2) · bc1/(lr·√bc2))
        bc1 = 1.0 - self.beta1**self.t
        sqrt_bc2 = math.sqrt(1.0 - self.beta2**self.t)
        np.sqrt(v, out=s)
        s += self.eps * sqrt_bc2
        s *= bc1 / (self.lr * sqrt_bc2)
        np.divide(m, s, out=s)
        self.w -= s


def make_optimizer(name: str, params: FlatBuffer, grads: FlatBuffer, lr: float):
    return {"sgd": SGD, "adam": Adam}[name](params, grads, lr=lr)
