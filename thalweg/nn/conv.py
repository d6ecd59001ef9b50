"""``Conv2d``: the convolution layer, with PyTorch's signature and weight layout.

The op and its backward live in :mod:`thalweg.autograd.ops.conv` (im2col, one matrix
product, col2im); the layer holds the weights and a
:class:`~thalweg.autograd.workspace.Workspace`, so the columns buffer is reused from one
step to the next instead of allocated anew.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.ops import conv
from thalweg.autograd.tensor import Tensor
from thalweg.autograd.workspace import Workspace
from thalweg.nn import init
from thalweg.nn.layers import register_layer
from thalweg.nn.module import Module, Parameter


@register_layer
class Conv2d(Module):
    """2-D convolution over ``(N, C, H, W)`` images.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), "valid" or "same"
        Zeros added on each side. ``"same"`` keeps height and width at stride 1 (odd
        effective kernel sizes only, so the padding is the same on both sides).
    groups : int
        Split the channels into ``groups`` independent convolutions (``in_channels``:
        depthwise). Both channel counts must be divisible by it.
    bias : bool
    weight_init : str
        ``"he_uniform"`` (default; suits ReLU), or any name in
        ``thalweg.nn.init.INITIALIZERS``; fans count ``kH·kW`` taps, as PyTorch's do.
    rng : int or numpy.random.Generator, optional
    dtype : optional (default: ``thalweg.get_default_dtype()``)

    Shapes: x ``(N, in_channels, H, W)`` -> ``(N, out_channels, Ho, Wo)`` with
    ``Ho = ⌊(H + 2·padding - dilation·(kH-1) - 1) / stride⌋ + 1``; ``weight`` is
    ``(out_channels, in_channels/groups, kH, kW)`` (PyTorch's layout: copy weights across
    unchanged), ``bias`` is ``(out_channels,)``.

    >>> import thalweg
    >>> layer = Conv2d(1, 8, kernel_size=3, padding=1, rng=0)
    >>> layer(thalweg.zeros(2, 1, 25, 25)).shape
    (2, 8, 25, 25)
    >>> layer.weight.shape
    (8, 1, 3, 3)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        weight_init: str = "he_uniform",
        rng=None,
        dtype=None,
    ):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"Conv2d: channel counts must be positive, got {in_channels}, {out_channels}"
            )
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = conv.pair(kernel_size, "kernel_size")
        self.stride = conv.pair(stride, "stride")
        self.dilation = conv.pair(dilation, "dilation")
        self.padding = _padding(padding, self.kernel_size, self.dilation, self.stride)
        self.padding_mode = padding if isinstance(padding, str) else None
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError("Conv2d: kernel_size, stride and dilation must be at least 1")
        if min(self.padding) < 0:
            raise ValueError(f"Conv2d: padding must be non-negative, got {padding!r}")
        self.groups = groups
        self.weight_init = weight_init
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        init.get_initializer(weight_init)(self.weight, rng=backend.as_generator(rng))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.workspace = Workspace()

    def forward(self, x: Tensor) -> Tensor:
        return conv.Conv2d.apply(
            x,
            self.weight,
            self.bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            workspace=self.workspace,
        )

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text

    def to_config(self) -> dict:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding_mode or list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "weight_init": self.weight_init,
            "dtype": str(self.weight.dtype),
        }


def _padding(padding, kernel, dilation, stride) -> tuple[int, int]:
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        spans = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
        if stride != (1, 1) or any(span % 2 for span in spans):
            raise ValueError(
                "Conv2d: padding='same' needs stride 1 and an odd effective kernel size "
                f"(kernel {kernel}, dilation {dilation}, stride {stride}); give the padding "
                "as numbers instead"
            )
        return (spans[0] // 2, spans[1] // 2)
    if isinstance(padding, str):
        raise ValueError(
            f"Conv2d: padding must be a number, a pair, 'valid' or 'same', got {padding!r}"
        )
    return conv.pair(padding, "padding")
