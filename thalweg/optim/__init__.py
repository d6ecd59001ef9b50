"""Layer 2: optimizers, learning-rate schedules and gradient transforms."""

from thalweg.optim.adagrad import Adagrad
from thalweg.optim.adam import Adam, AdamW
from thalweg.optim.optimizer import Optimizer
from thalweg.optim.rmsprop import RMSProp
from thalweg.optim.schedules import (
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseScaling,
    StepDecay,
    constant,
    cosine_decay,
    exponential_decay,
    inverse_scaling,
    step_decay,
)
from thalweg.optim.sgd import SGD
from thalweg.optim.transforms import clip_by_global_norm, global_norm, proximal_l1

OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adagrad, RMSProp, Adam, AdamW)}

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Constant",
    "CosineDecay",
    "ExponentialDecay",
    "InverseScaling",
    "Optimizer",
    "RMSProp",
    "StepDecay",
    "clip_by_global_norm",
    "constant",
    "cosine_decay",
    "exponential_decay",
    "global_norm",
    "inverse_scaling",
    "proximal_l1",
    "step_decay",
]
