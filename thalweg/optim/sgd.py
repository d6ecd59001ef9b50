"""Stochastic gradient descent, with momentum and Nesterov momentum."""

from __future__ import annotations

import numpy as np

from thalweg.numerics import flush_subnormals
from thalweg.optim.optimizer import Optimizer, work_buffer


class SGD(Optimizer):
    r"""Gradient descent: step against the gradient.

    For each parameter ``w`` with gradient ``g``, learning rate ``lr``, momentum ``μ``
    and weight decay ``λ``::

        g ← g + λ·w                    (weight decay, if λ > 0)
        v ← μ·v + g                    (velocity; v = g on the first step)
        w ← w - lr·v                   (momentum)
        w ← w - lr·(g + μ·v)           (Nesterov momentum)
        w ← w - lr·g                   (plain SGD, μ = 0)

    This is PyTorch's formulation (velocity accumulates gradients, the learning rate
    multiplies the step), so results match ``torch.optim.SGD``.

    >>> import thalweg
    >>> w = thalweg.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> _ = opt.minimize((w * w).sum())
    >>> w.data, opt.global_step
    (array([0.8], dtype=float32), 1)
    """

    hyperparameters = ("momentum", "nesterov", "weight_decay")

    def __init__(
        self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, packed=False
    ):
        super().__init__(params, lr, packed)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay

    @classmethod
    def state_entries(cls, settings):
        return {"velocity": "array"} if settings["momentum"] else {}

    def update(self, weight, grad, state, lr):
        if self.weight_decay:
            grad = grad + self.weight_decay * weight
        if self.momentum:
            velocity = state.get("velocity")
            if velocity is None:
                velocity = state["velocity"] = np.array(grad, dtype=weight.dtype)
            else:
                velocity *= self.momentum
                velocity += grad
                if (self.global_step + 1) % self.flush_subnormals_every == 0:
                    flush_subnormals(velocity, work_buffer(state, weight))
            direction = grad + self.momentum * velocity if self.nesterov else velocity
        else:
            direction = grad
        step = np.multiply(direction, lr, out=work_buffer(state, weight))  # no temporary
        weight -= step
