"""The image ops as functions, PyTorch's ``torch.nn.functional`` style.

>>> import thalweg
>>> from thalweg.nn import functional as F
>>> x = thalweg.ones(1, 1, 4, 4)
>>> F.conv2d(x, thalweg.ones(2, 1, 3, 3), padding=1).shape
(1, 2, 4, 4)
>>> F.max_pool2d(x, 2).shape
(1, 1, 2, 2)
"""

from __future__ import annotations

from thalweg.autograd.ops import conv, normalization, pooling
from thalweg.autograd.ops import shape as shape_ops

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "flatten",
    "max_pool2d",
]


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups: int = 1, workspace=None):
    """2-D convolution: x ``(N, C, H, W)``, weight ``(O, C/groups, kH, kW)``, bias ``(O,)``
    -> ``(N, O, Ho, Wo)``. ``workspace``: a :class:`~thalweg.autograd.workspace.Workspace`
    to reuse the im2col buffer across calls."""
    return conv.Conv2d.apply(
        x,
        weight,
        bias,
        stride=conv.pair(stride, "stride"),
        padding=conv.pair(padding, "padding"),
        dilation=conv.pair(dilation, "dilation"),
        groups=int(groups),
        workspace=workspace,
    )


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Maximum over each window: ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)`` (stride defaults to
    the kernel size)."""
    kernel = conv.pair(kernel_size, "kernel_size")
    return pooling.MaxPool2d.apply(
        x,
        kernel_size=kernel,
        stride=kernel if stride is None else conv.pair(stride, "stride"),
        padding=conv.pair(padding, "padding"),
        dilation=conv.pair(dilation, "dilation"),
    )


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
    """Mean over each window: ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``."""
    kernel = conv.pair(kernel_size, "kernel_size")
    return pooling.AvgPool2d.apply(
        x,
        kernel_size=kernel,
        stride=kernel if stride is None else conv.pair(stride, "stride"),
        padding=conv.pair(padding, "padding"),
        count_include_pad=bool(count_include_pad),
    )


def adaptive_avg_pool2d(x, output_size):
    """Average-pool to ``output_size`` (``1``: global average pooling)."""
    if not isinstance(output_size, tuple | list):
        output_size = conv.pair(output_size, "output_size")
    return pooling.AdaptiveAvgPool2d.apply(x, output_size=tuple(output_size))


def batch_norm(
    x,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalisation per channel (axis 1), PyTorch's argument order; in training the
    running statistics (arrays) are updated in place."""
    return normalization.BatchNorm.apply(
        x,
        weight,
        bias,
        running_mean=running_mean,
        running_var=running_var,
        training=training,
        momentum=momentum,
        eps=eps,
    )


def flatten(x, start_dim: int = 1):
    """``(N, C, H, W)`` -> ``(N, C·H·W)`` (every axis from ``start_dim`` on, joined)."""
    return shape_ops.Reshape.apply(x, shape=(*x.shape[:start_dim], -1))
