"""Optimizer formulas written out per parameter, the textbook way: the tests' oracle.

No thalweg code is used here, and no flat buffers: one dict of state per parameter,
updated only when that parameter has a gradient (PyTorch's rule), every formula in the
form PyTorch 2.13's ``torch.optim`` writes it. Where thalweg folds constants together
(Adam's bias corrections) the two agree to rounding, not bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

# name -> (thalweg class name, keyword arguments); the same names are used everywhere.
CONFIGS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    "momentum": ("SGD", {"lr": 0.1, "momentum": 0.8}),
    "nesterov": ("SGD", {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}),
    "adagrad": ("Adagrad", {"lr": 0.1, "initial_accumulator": 0.1}),
    "rmsprop": ("RMSProp", {"lr": 0.01, "rho": 0.9, "eps": 1e-8}),
    "rmsprop_momentum": ("RMSProp", {"lr": 0.01, "rho": 0.9, "eps": 1e-8, "momentum": 0.5}),
    "adam": ("Adam", {"lr": 0.1, "weight_decay": 0.01}),
    "adamw": ("AdamW", {"lr": 0.1, "weight_decay": 0.05}),
}


class ReferenceOptimizer:
    """``step(weights, grads)`` updates the list ``weights`` in place; a None grad skips."""

    def __init__(self, name: str, n_params: int):
        self.kind, self.options = CONFIGS[name]
        self.states = [{} for _ in range(n_params)]

    def step(self, weights: list, grads: list) -> None:
        for weight, grad, state in zip(weights, grads, self.states, strict=True):
            if grad is not None:
                getattr(self, self.kind.lower())(weight, np.asarray(grad, weight.dtype), state)

    def sgd(self, w, g, state):
        lr, wd = self.options["lr"], self.options.get("weight_decay", 0.0)
        mu, nesterov = self.options.get("momentum", 0.0), self.options.get("nesterov", False)
        g = g + wd * w
        if mu:
            if "buf" not in state:
                state["buf"] = g.copy()
            else:
                state["buf"] = mu * state["buf"] + g
            g = g + mu * state["buf"] if nesterov else state["buf"]
        w -= lr * g

    def adagrad(self, w, g, state):
        lr, eps = self.options["lr"], 1e-10
        state.setdefault("sum", np.full_like(w, self.options.get("initial_accumulator", 0.0)))
        state["sum"] = state["sum"] + g * g
        w -= lr * g / (np.sqrt(state["sum"]) + eps)

    def rmsprop(self, w, g, state):
        lr, rho, eps = self.options["lr"], self.options["rho"], self.options["eps"]
        mu = self.options.get("momentum", 0.0)
        state.setdefault("square_avg", np.zeros_like(w))
        state["square_avg"] = rho * state["square_avg"] + (1 - rho) * g * g
        avg = np.sqrt(state["square_avg"]) + eps
        if mu:
            state["buf"] = mu * state.get("buf", np.zeros_like(w)) + g / avg
            w -= lr * state["buf"]
        else:
            w -= lr * g / avg

    def adam(self, w, g, state, decoupled: bool = False):
        lr, wd = self.options["lr"], self.options.get("weight_decay", 0.0)
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        if decoupled:
            w *= 1 - lr * wd
        else:
            g = g + wd * w
        state["step"] = state.get("step", 0) + 1
        t = state["step"]
        state["m"] = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * g
        state["v"] = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * g * g
        denom = np.sqrt(state["v"]) / math.sqrt(1 - beta2**t) + eps
        w -= (lr / (1 - beta1**t)) * state["m"] / denom

    def adamw(self, w, g, state):
        self.adam(w, g, state, decoupled=True)


def torch_optimizer(name: str, params):
    """The PyTorch 2.13 optimizer matching ``CONFIGS[name]`` (for oracle tests)."""
    import torch

    kind, options = CONFIGS[name]
    options = dict(options)
    if kind == "SGD":
        return torch.optim.SGD(params, **options)
    if kind == "Adagrad":
        options["initial_accumulator_value"] = options.pop("initial_accumulator")
        return torch.optim.Adagrad(params, **options)
    if kind == "RMSProp":
        options["alpha"] = options.pop("rho")
        return torch.optim.RMSprop(params, **options)
    return getattr(torch.optim, kind)(params, **options)
