"""Adam and AdamW: momentum plus per-weight step sizes, bias-corrected."""

from __future__ import annotations

import math

import numpy as np

from thalweg.numerics import flush_subnormals
from thalweg.optim.optimizer import Optimizer, work_buffer


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015).

    With step count ``t`` (per parameter), for gradient ``g``::

        g ← g + λ·w                          (L2 weight decay, if λ > 0)
        m ← β₁·m + (1-β₁)·g                  (first moment: momentum)
        v ← β₂·v + (1-β₂)·g²                 (second moment: squared gradient scale)
        m̂ = m / (1-β₁ᵗ),  v̂ = v / (1-β₂ᵗ)     (undo the bias of starting at 0)
        w ← w - lr·m̂ / (√v̂ + ε)

    The bias corrections are folded into one step size and one ε so each update makes
    as few passes over the weights as possible:
    ``w ← w - (lr·√(1-β₂ᵗ)/(1-β₁ᵗ)) · m / (√v + ε·√(1-β₂ᵗ))`` — the same number.

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> _ = Adam([w], lr=0.1).minimize((w * w).sum())
    >>> w.data.round(4)   # Adam's first step is lr in the gradient's direction
    array([0.9], dtype=float32)
    """

    hyperparameters = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(
        self,
        params,
        lr=0.001,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.0,
        packed=False,
    ):
        super().__init__(params, lr, packed)
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam: betas must be in [0, 1), got {beta1}, {beta2}")
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay

    @classmethod
    def state_entries(cls, settings):
        return {"step": "count", "m": "array", "v": "square"}

    def update(self, weight, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * weight
        self._adam_step(weight, grad, state, lr)

    def _adam_step(self, weight, grad, state, lr):
        if "m" not in state:
            state["step"] = 0
            state["m"] = np.zeros_like(weight)
            state["v"] = np.zeros_like(weight)
        state["step"] += 1
        t = state["step"]
        m, v, scratch = state["m"], state["v"], work_buffer(state, weight)
        beta1, beta2 = self.beta1, self.beta2

        m *= beta1  # m ← β₁m + (1-β₁)g
        np.multiply(grad, 1 - beta1, out=scratch)
        m += scratch
        v *= beta2  # v ← β₂v + (1-β₂)g²
        np.multiply(grad, grad, out=scratch)
        scratch *= 1 - beta2
        v += scratch
        if t % self.flush_subnormals_every == 0:  # see Optimizer.flush_subnormals_every
            flush_subnormals(m, scratch)
            flush_subnormals(v, scratch)

        correction2 = math.sqrt(1 - beta2**t)
        step_size = lr * correction2 / (1 - beta1**t)
        np.sqrt(v, out=scratch)  # scratch ← √v + ε√(1-β₂ᵗ), then m / scratch
        scratch += self.eps * correction2
        np.divide(m, scratch, out=scratch)
        scratch *= step_size
        weight -= scratch

    def effective_learning_rate(self, param, lr):
        state = self.state[param]
        if "v" not in state:
            return lr
        corrected_v = state["v"] / (1 - self.beta2 ** state["step"])
        return lr / (np.sqrt(corrected_v) + self.eps)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    ::

        w ← w - lr·λ·w                       (decay the weight directly,
        then the Adam update of ``Adam``       not through the gradient)

    Decoupling matters because Adam rescales gradients per weight: L2 added to the
    gradient is rescaled too, decay applied to the weight is not.
    """

    def __init__(
        self,
        params,
        lr=0.001,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.01,
        packed=False,
    ):
        super().__init__(params, lr, beta1, beta2, eps, weight_decay, packed)

    def update(self, weight, grad, state, lr):
        if self.weight_decay:
            weight *= 1 - lr * self.weight_decay
        self._adam_step(weight, grad, state, lr)
