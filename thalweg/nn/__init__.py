"""Layer 2: modules, parameters, layers and initialisation."""

from thalweg.nn import functional, init
from thalweg.nn.conv import Conv2d
from thalweg.nn.detection import SSDNetwork
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
    register_layer,
)
from thalweg.nn.module import Module, Parameter
from thalweg.nn.normalization import BatchNorm1d, BatchNorm2d, Normalize
from thalweg.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d

__all__ = [
    "LAYERS",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "GaussianNoise",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "Normalize",
    "Parameter",
    "ReLU",
    "SSDNetwork",
    "Sequential",
    "Sigmoid",
    "Standardized",
    "Tanh",
    "functional",
    "init",
    "layer_from_config",
    "layer_to_config",
    "register_layer",
]
