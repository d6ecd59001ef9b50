"""Adagrad: per-weight learning rates that shrink with the gradients seen so far."""

from __future__ import annotations

import numpy as np

from thalweg.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011).

    ::

        G ← G + g²                        (sum of squared gradients, per weight)
        w ← w - lr·g / (√G + ε)

    Weights with large past gradients take small steps; rare features keep large ones.

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> _ = Adagrad([w], lr=0.1).minimize((w * w).sum())
    >>> w.data.round(4)
    array([0.9], dtype=float32)
    """

    hyperparameters = ("eps", "initial_accumulator", "weight_decay")

    def __init__(
        self,
        params,
        lr=0.01,
        eps=1e-10,
        initial_accumulator=0.0,
        weight_decay=0.0,
        packed=False,
    ):
        super().__init__(params, lr, packed)
        self.eps = eps
        self.initial_accumulator = initial_accumulator
        self.weight_decay = weight_decay

    @classmethod
    def state_entries(cls, settings):
        return {"sum_squares": "square"}

    def effective_learning_rate(self, param, lr):
        total = self.state[param].get("sum_squares")
        return lr if total is None else lr / (np.sqrt(total) + self.eps)

    def update(self, weight, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * weight
        total = state.get("sum_squares")
        if total is None:
            total = state["sum_squares"] = np.full_like(weight, self.initial_accumulator)
        total += grad * grad
        weight -= lr * grad / (np.sqrt(total) + self.eps)
