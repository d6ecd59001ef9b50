"""RMSProp: Adagrad with a moving average instead of a sum, so steps do not die out."""

from __future__ import annotations

import numpy as np

from thalweg.numerics import flush_subnormals
from thalweg.optim.optimizer import Optimizer, work_buffer


class RMSProp(Optimizer):
    r"""RMSProp (Hinton, 2012), optionally with momentum.

    ::

        s ← ρ·s + (1-ρ)·g²                (moving average of squared gradients)
        w ← w - lr·g / (√s + ε)           (momentum = 0)
        b ← μ·b + g / (√s + ε);  w ← w - lr·b   (momentum μ > 0)

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> _ = RMSProp([w], lr=0.01).minimize((w * w).sum())
    >>> float(w.data[0]) < 1.0
    True
    """

    hyperparameters = ("rho", "eps", "momentum", "weight_decay")

    def __init__(
        self,
        params,
        lr=0.001,
        rho=0.9,
        eps=1e-7,
        momentum=0.0,
        weight_decay=0.0,
        packed=False,
    ):
        super().__init__(params, lr, packed)
        self.rho = rho
        self.eps = eps
        self.momentum = momentum
        self.weight_decay = weight_decay

    @classmethod
    def state_entries(cls, settings):
        entries = {"mean_square": "square"}
        if settings["momentum"]:
            entries["momentum_buffer"] = "array"
        return entries

    def effective_learning_rate(self, param, lr):
        mean_square = self.state[param].get("mean_square")
        return lr if mean_square is None else lr / (np.sqrt(mean_square) + self.eps)

    def update(self, weight, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * weight
        mean_square = state.get("mean_square")
        if mean_square is None:
            mean_square = state["mean_square"] = np.zeros_like(weight)
            work_buffer(state, weight)  # made now: the state's keys never change later
        mean_square *= self.rho
        mean_square += (1 - self.rho) * grad * grad
        flush_due = (self.global_step + 1) % self.flush_subnormals_every == 0
        if flush_due:
            flush_subnormals(mean_square, work_buffer(state, weight))
        scaled = grad / (np.sqrt(mean_square) + self.eps)
        if self.momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.zeros_like(weight)
            buffer *= self.momentum
            buffer += scaled
            if flush_due:
                flush_subnormals(buffer, work_buffer(state, weight))
            scaled = buffer
        weight -= lr * scaled
