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
from thalweg.nn.layers import FLOAT_DTYPES, MAX_WIDTH, pair_schema, register_layer
from thalweg.nn.module import Module, Parameter
from thalweg.schema import Boolean, Integer, OneOf, Record, Text


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
        self._configure(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, weight_init
        )
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        init.get_initializer(weight_init)(self.weight, rng=backend.as_generator(rng))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None
        self.workspace = Workspace()

    def _configure(
        self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, weight_init
    ) -> None:
        """Check and keep the geometry (everything but the weights)."""
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
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.dilation) < 1:
            raise ValueError("Conv2d: kernel_size, stride and dilation must be at least 1")
        self.padding = _padding(padding, self.kernel_size, self.dilation, self.stride)
        self.padding_mode = padding if isinstance(padding, str) else None
        if min(self.padding) < 0:
            raise ValueError(f"Conv2d: padding must be non-negative, got {padding!r}")
        self.groups = groups
        self.weight_init = weight_init

    @classmethod
    def from_arrays(
        cls,
        weight: np.ndarray,
        bias: np.ndarray | None = None,
        *,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        weight_init: str = "he_uniform",
    ) -> Conv2d:
        """A layer whose parameters *are* these arrays: nothing is initialised or copied.

        ``weight`` is ``(out_channels, in_channels/groups, kH, kW)`` (PyTorch's layout),
        ``bias`` ``(out_channels,)``. This is how a saved model is rebuilt: the stored
        weights are the only allocation.

        >>> layer = Conv2d.from_arrays(np.ones((4, 1, 3, 3), np.float32), padding=1)
        >>> layer
        Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
        """
        weight = np.asarray(weight)
        if weight.ndim != 4 or weight.dtype.kind != "f":
            raise ValueError(
                "Conv2d weight must be a 4-D float array (out_channels, in_channels/groups, "
                f"kH, kW), got {weight.dtype} {weight.shape}"
            )
        if bias is not None and (np.shape(bias) != weight.shape[:1] or bias.dtype != weight.dtype):
            raise ValueError(
                f"Conv2d bias must be ({weight.shape[0]},) {weight.dtype}, got "
                f"{np.asarray(bias).dtype} {np.shape(bias)}"
            )
        layer = cls.__new__(cls)
        Module.__init__(layer)
        out_channels, group_channels, *kernel = weight.shape
        layer._configure(
            group_channels * groups,
            out_channels,
            tuple(kernel),
            stride,
            padding,
            dilation,
            groups,
            weight_init,
        )
        layer.weight = Parameter(weight)
        layer.bias = Parameter(bias) if bias is not None else None
        layer.workspace = Workspace()
        return layer

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

    # ------------------------------------------------------------------ model files
    config_schema = Record(
        required={
            "in_channels": Integer(1, MAX_WIDTH),
            "out_channels": Integer(1, MAX_WIDTH),
            "kernel_size": pair_schema(),
        },
        optional={
            "stride": pair_schema(),
            "padding": OneOf(Text(choices=("same", "valid")), pair_schema(minimum=0)),
            "dilation": pair_schema(),
            "groups": Integer(1, MAX_WIDTH),
            "bias": Boolean(),
            "weight_init": Text(choices=sorted(init.INITIALIZERS)),
            "dtype": Text(choices=FLOAT_DTYPES),
        },
        name="a Conv2d config",
    )

    @classmethod
    def stored_arrays(cls, config: dict) -> dict:
        """``weight`` ``(out, in/groups, kH, kW)`` and ``bias`` ``(out,)`` of a config."""
        geometry = _geometry(config)
        dtype = np.dtype(config.get("dtype", backend.get_default_dtype()))
        shape = (geometry.out_channels, geometry.in_channels // geometry.groups)
        arrays = {"weight": ((*shape, *geometry.kernel_size), dtype)}
        if config.get("bias", True):
            arrays["bias"] = ((geometry.out_channels,), dtype)
        return arrays

    @classmethod
    def from_stored(cls, config: dict, arrays: dict) -> Conv2d:
        return cls.from_arrays(
            arrays["weight"],
            arrays.get("bias"),
            stride=config.get("stride", 1),
            padding=config.get("padding", 0),
            dilation=config.get("dilation", 1),
            groups=config.get("groups", 1),
            weight_init=config.get("weight_init", "he_uniform"),
        )

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, int, int]:
        """``(C, H, W)`` -> ``(out_channels, Ho, Wo)``."""
        geometry = _geometry(config)
        if len(shape) != 3 or shape[0] != geometry.in_channels:
            raise ValueError(
                f"takes (C, H, W) images of {geometry.in_channels} channels, gets shape {shape}"
            )
        sizes = [
            conv.conv_output_size(
                shape[1 + a],
                geometry.kernel_size[a],
                geometry.stride[a],
                geometry.padding[a],
                geometry.dilation[a],
            )
            for a in (0, 1)
        ]
        if min(sizes) < 1:
            raise ValueError(f"its {geometry.kernel_size} kernel does not fit a {shape} input")
        return (geometry.out_channels, *sizes)

    @classmethod
    def workspace_elements(cls, config: dict, shape) -> int:
        """The im2col columns of one example: ``C·kH·kW`` numbers per output pixel."""
        _, height, width = cls.output_shape(config, shape)
        kernel = conv.pair(config["kernel_size"], "kernel_size")
        return shape[0] * kernel[0] * kernel[1] * height * width


def _geometry(config: dict) -> Conv2d:
    """A Conv2d config's checked geometry, as an unbuilt layer (ValueError if it
    contradicts itself, e.g. groups that do not divide the channels)."""
    geometry = Conv2d.__new__(Conv2d)
    geometry._configure(
        config["in_channels"],
        config["out_channels"],
        config["kernel_size"],
        config.get("stride", 1),
        config.get("padding", 0),
        config.get("dilation", 1),
        config.get("groups", 1),
        config.get("weight_init", "he_uniform"),
    )
    return geometry


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
