"""Layer 2: modules, parameters, layers and initialisation."""

from thalweg.nn import init
from thalweg.nn.layers import (
    LAYERS,
    Dropout,
    GaussianNoise,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Standardized,
    Tanh,
    layer_from_config,
    layer_to_config,
)
from thalweg.nn.module import Module, Parameter

__all__ = [
    "LAYERS",
    "Dropout",
    "GaussianNoise",
    "Identity",
    "LeakyReLU",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Standardized",
    "Tanh",
    "init",
    "layer_from_config",
    "layer_to_config",
]
