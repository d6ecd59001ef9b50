"""Pooling layers: ``MaxPool2d``, ``AvgPool2d``, ``AdaptiveAvgPool2d``, and ``Flatten``.

The ops and their backward live in :mod:`thalweg.autograd.ops.pooling`.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd.ops import conv, pooling
from thalweg.autograd.ops import shape as shape_ops
from thalweg.autograd.tensor import Tensor
from thalweg.autograd.workspace import Workspace
from thalweg.errors import ShapeError
from thalweg.nn.layers import pair_schema, register_layer
from thalweg.nn.module import Module
from thalweg.schema import Boolean, Integer, ListOf, OneOf, Optional, Record

# The largest output side AdaptiveAvgPool2d may declare (its pooling matrices are
# output × input numbers; no image is this large).
MAX_SIDE = 2**16


@register_layer
class MaxPool2d(Module):
    """The maximum of each ``kernel_size`` window (PyTorch's ``MaxPool2d``).

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size`` (windows side by side, no overlap).
    padding : int or (int, int)
        Implicit -inf on each side, at most half the kernel.
    dilation : int or (int, int)

    Shapes: ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``, ``Ho = ⌊(H + 2p - d(k-1) - 1)/s⌋ + 1``.

    >>> import thalweg
    >>> MaxPool2d(2)(thalweg.zeros(1, 3, 25, 25)).shape
    (1, 3, 12, 12)
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        super().__init__()
        self.kernel_size = conv.pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else conv.pair(stride, "stride")
        self.padding = conv.pair(padding, "padding")
        self.dilation = conv.pair(dilation, "dilation")
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError("MaxPool2d: kernel_size, stride and dilation must be at least 1")
        self.workspace = Workspace()

    def forward(self, x: Tensor) -> Tensor:
        return pooling.MaxPool2d.apply(
            x,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            workspace=self.workspace,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def to_config(self) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
        }

    config_schema = Record(
        required={"kernel_size": pair_schema()},
        optional={
            "stride": pair_schema(),
            "padding": pair_schema(minimum=0),
            "dilation": pair_schema(),
        },
        name="a MaxPool2d config",
    )

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, int, int]:
        return _pooled(cls(**config), shape)


@register_layer
class AvgPool2d(Module):
    """The mean of each ``kernel_size`` window (PyTorch's ``AvgPool2d``).

    ``count_include_pad=True`` (the default) counts padding zeros in the mean;
    ``False`` averages the real pixels of each window only.

    >>> import thalweg
    >>> AvgPool2d(2)(thalweg.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = conv.pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else conv.pair(stride, "stride")
        self.padding = conv.pair(padding, "padding")
        self.count_include_pad = bool(count_include_pad)
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("AvgPool2d: kernel_size and stride must be at least 1")

    def forward(self, x: Tensor) -> Tensor:
        return pooling.AvgPool2d.apply(
            x,
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            count_include_pad=self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def to_config(self) -> dict:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "count_include_pad": self.count_include_pad,
        }

    config_schema = Record(
        required={"kernel_size": pair_schema()},
        optional={
            "stride": pair_schema(),
            "padding": pair_schema(minimum=0),
            "count_include_pad": Boolean(),
        },
        name="an AvgPool2d config",
    )

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, int, int]:
        return _pooled(cls(**config), shape)


@register_layer
class AdaptiveAvgPool2d(Module):
    """Average-pool to a fixed ``output_size`` whatever the input's size.

    ``output_size=1`` is global average pooling (one number per channel); ``None`` in a
    pair keeps that axis.

    >>> import thalweg
    >>> AdaptiveAvgPool2d(1)(thalweg.ones(2, 5, 7, 9)).shape
    (2, 5, 1, 1)
    """

    def __init__(self, output_size):
        super().__init__()
        if isinstance(output_size, tuple | list):
            if len(output_size) != 2 or not all(
                o is None or (isinstance(o, int) and o >= 1) for o in output_size
            ):
                raise ValueError(f"AdaptiveAvgPool2d: bad output_size {output_size!r}")
            self.output_size = tuple(output_size)
        else:
            self.output_size = conv.pair(output_size, "output_size")
            if min(self.output_size) < 1:
                raise ValueError(
                    f"AdaptiveAvgPool2d: output_size must be positive, got {output_size}"
                )

    def forward(self, x: Tensor) -> Tensor:
        return pooling.AdaptiveAvgPool2d.apply(x, output_size=self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def to_config(self) -> dict:
        return {"output_size": list(self.output_size)}

    config_schema = Record(
        required={
            "output_size": OneOf(
                Integer(1, MAX_SIDE),
                ListOf(Optional(Integer(1, MAX_SIDE)), min_items=2, max_items=2),
            )
        },
        name="an AdaptiveAvgPool2d config",
    )

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, int, int]:
        if len(shape) != 3:
            raise ValueError(f"takes (C, H, W) images, gets shape {shape}")
        size = cls(**config).output_size
        return (shape[0], *(s if o is None else o for o, s in zip(size, shape[1:], strict=True)))


@register_layer
class Flatten(Module):
    """Flatten every axis from ``start_dim`` on: ``(N, C, H, W)`` -> ``(N, C·H·W)``.

    >>> import thalweg
    >>> Flatten()(thalweg.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1):
        super().__init__()
        if start_dim < 0:
            raise ValueError(f"Flatten: start_dim must be 0 or more, got {start_dim}")
        self.start_dim = start_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < self.start_dim:
            raise ShapeError(
                f"Flatten: start_dim {self.start_dim} but the input has shape {x.shape}"
            )
        return shape_ops.Reshape.apply(x, shape=(*x.shape[: self.start_dim], -1))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}" if self.start_dim != 1 else ""

    def to_config(self) -> dict:
        return {"start_dim": self.start_dim}

    config_schema = Record(optional={"start_dim": Integer(0, 32)}, name="a Flatten config")

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, ...]:
        # start_dim counts the batch axis: 1 flattens everything of one example
        keep = config.get("start_dim", 1) - 1
        if keep < 0 or keep > len(shape):
            raise ValueError(f"start_dim {keep + 1} does not fit an input of shape {shape}")
        return (*shape[:keep], int(np.prod(shape[keep:], dtype=object)))


def _pooled(layer, shape) -> tuple[int, int, int]:
    """``(C, H, W)`` -> ``(C, Ho, Wo)`` for a max or average pooling layer."""
    if len(shape) != 3:
        raise ValueError(f"takes (C, H, W) images, gets shape {shape}")
    dilation = getattr(layer, "dilation", (1, 1))
    sizes = []
    for a in (0, 1):
        k, p, d = layer.kernel_size[a], layer.padding[a], dilation[a]
        if 2 * p > d * (k - 1) + 1:
            raise ValueError(f"padding {layer.padding} is more than half its kernel")
        sizes.append(conv.conv_output_size(shape[1 + a], k, layer.stride[a], p, d))
    if min(sizes) < 1:
        raise ValueError(f"its {layer.kernel_size} window does not fit a {shape} input")
    return (shape[0], *sizes)
