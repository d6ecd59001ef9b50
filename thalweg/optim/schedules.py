"""Learning-rate schedules: pure functions of ``global_step``.

A schedule is a small frozen object you call with the step number; optimizers accept
one wherever they accept a learning rate. Because a schedule is data (its class name and
numbers), it is saved with the optimizer and resumes exactly.

>>> schedule = exponential_decay(0.1, decay_rate=0.5, decay_steps=100)
>>> schedule(0), schedule(100), schedule(200)
(0.1, 0.05, 0.025)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Constant:
    """``lr`` at every step."""

    lr: float

    def __call__(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class StepDecay:
    """``lr · drop^floor(step / every)``: multiply by ``drop`` every ``every`` steps."""

    lr: float
    drop: float = 0.5
    every: int = 1000

    def __call__(self, step: int) -> float:
        return self.lr * self.drop ** (step // self.every)


@dataclass(frozen=True)
class ExponentialDecay:
    """``lr · decay_rate^(step / decay_steps)`` (``floor`` of the exponent if staircase),
    as TensorFlow's ``exponential_decay``."""

    lr: float
    decay_rate: float
    decay_steps: int
    staircase: bool = False

    def __call__(self, step: int) -> float:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.lr * self.decay_rate**exponent


@dataclass(frozen=True)
class InverseScaling:
    """``lr / (1 + step / decay_steps)^power``: the Robbins–Monro decay that makes SGD
    converge (power 1 is TensorFlow's inverse time decay; scikit-learn uses power 0.5)."""

    lr: float
    power: float = 0.5
    decay_steps: int = 1

    def __call__(self, step: int) -> float:
        return self.lr / (1 + step / self.decay_steps) ** self.power


@dataclass(frozen=True)
class CosineDecay:
    """Half a cosine from ``lr`` down to ``alpha·lr`` over ``decay_steps``, then flat."""

    lr: float
    decay_steps: int
    alpha: float = 0.0

    def __call__(self, step: int) -> float:
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.lr * ((1 - self.alpha) * cosine + self.alpha)


SCHEDULES = {
    cls.__name__: cls
    for cls in (Constant, StepDecay, ExponentialDecay, InverseScaling, CosineDecay)
}


def constant(lr: float) -> Constant:
    """A constant learning rate."""
    return Constant(lr)


def step_decay(lr: float, drop: float = 0.5, every: int = 1000) -> StepDecay:
    """Multiply the learning rate by ``drop`` every ``every`` steps."""
    return StepDecay(lr, drop, every)


def exponential_decay(
    lr: float, decay_rate: float, decay_steps: int, staircase: bool = False
) -> ExponentialDecay:
    """``lr · decay_rate^(step / decay_steps)``."""
    return ExponentialDecay(lr, decay_rate, decay_steps, staircase)


def inverse_scaling(lr: float, power: float = 0.5, decay_steps: int = 1) -> InverseScaling:
    """``lr / (1 + step / decay_steps)^power``."""
    return InverseScaling(lr, power, decay_steps)


def cosine_decay(lr: float, decay_steps: int, alpha: float = 0.0) -> CosineDecay:
    """Cosine annealing from ``lr`` to ``alpha·lr`` over ``decay_steps``."""
    return CosineDecay(lr, decay_steps, alpha)


def as_schedule(lr):
    """A number becomes ``Constant``; schedules and other callables pass through."""
    if callable(lr):
        return lr
    if not isinstance(lr, int | float) or lr < 0 or not math.isfinite(lr):
        raise ValueError(f"learning rate must be a non-negative number or a schedule, got {lr!r}")
    return Constant(float(lr))


def schedule_to_config(lr):
    """JSON-able form of a learning rate: a number, or ``{"class": ..., **fields}``."""
    if isinstance(lr, int | float):
        return float(lr)
    if type(lr).__name__ in SCHEDULES:
        return {"class": type(lr).__name__, **asdict(lr)}
    raise TypeError(
        f"cannot save a learning rate of type {type(lr).__name__}; use a number or one of "
        f"{sorted(SCHEDULES)}"
    )


def schedule_from_config(config):
    """Inverse of ``schedule_to_config`` (only known schedule classes are built)."""
    if isinstance(config, int | float):
        return float(config)
    fields = dict(config)
    name = fields.pop("class", None)
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {sorted(SCHEDULES)}")
    return SCHEDULES[name](**fields)
