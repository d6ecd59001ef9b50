"""Convolution as one matrix product (im2col), and its backward (col2im).

A 2-D convolution slides a ``kH×kW`` filter over every position of an image and takes
a dot product there. Copy each patch the filter sees into a column, and all those dot
products become **one matrix product** — the work BLAS does fastest::

    image (C=1, 4×4)        patches of a 3×3 filter, stride 1 -> 2×2 positions
    a b c d
    e f g h                  column for position (0,0): a b c e f g i j k
    i j k l         im2col   column for position (0,1): b c d f g h j k l
    m n o p        ------->  column for position (1,0): e f g i j k m n o
                             column for position (1,1): f g h j k l n o p

    cols  (C·kH·kW, N·Ho·Wo)    one column per output position, one row per filter tap
    W     (O, C·kH·kW)          one row per output channel (the filter, flattened)
    out = W @ cols              (O, N·Ho·Wo)  -> reshaped to (N, O, Ho, Wo)

The patches are gathered without a Python loop: NumPy's ``sliding_window_view`` is a
*view* of every window of the padded image (no copy), and one ``copyto`` writes them
into the columns buffer, which a layer's :class:`~thalweg.autograd.workspace.Workspace`
lends again next step instead of allocating it anew.

Backward, with ``G`` the gradient of the output as a ``(O, N·Ho·Wo)`` matrix, the
rules of a matrix product (see ``linalg.py``) give::

    dL/dW    = G @ colsᵀ          (O, C·kH·kW)   -> reshaped to the weight's shape
    dL/db    = Σ over positions of G
    dL/dcols = Wᵀ @ G             (C·kH·kW, N·Ho·Wo)

and ``dL/dcols`` goes back to the image by **col2im**: every pixel was copied into the
columns once per filter tap that saw it, so its gradient is the sum of those copies'
gradients. The sum is done per filter tap (``kH·kW`` vectorized adds of a whole strided
slice of the image), never per pixel.

Layout. The columns are ordered channel first, then batch (``(C, kH, kW, N, Ho, Wo)``):
gathering them then reads each image row left to right, and the product comes out as
``(O, N, Ho, Wo)`` in memory, handed on as an ``(N, O, Ho, Wo)`` *view* (a transpose,
no copy). The next layer's gather reads that layout just as well, so channel-major
memory flows through a whole network without a transposing copy.

Groups split the channels into ``groups`` independent convolutions (``groups = C`` is a
depthwise convolution): the columns and the weight are reshaped to ``(groups, ...)`` and
one batched matrix product does all of them.

Everything here is NCHW with weights ``(O, C/groups, kH, kW)``, PyTorch's layout, so
weights move between the two unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from thalweg.autograd.function import Function
from thalweg.autograd.workspace import Workspace
from thalweg.errors import ShapeError


def pair(value, name: str) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is an error naming ``name``."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, tuple | list) and len(value) == 2:
        if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value):
            return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis: ``⌊(size + 2·pad - dilation·(kernel-1) - 1)/stride⌋ + 1``.

    >>> conv_output_size(28, 5, 1, 0, 1), conv_output_size(25, 3, 2, 1, 1)
    (24, 13)
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _output_hw(op: str, x_shape, kernel, stride, padding, dilation) -> tuple[int, int]:
    heights = [
        conv_output_size(x_shape[2 + a], kernel[a], stride[a], padding[a], dilation[a])
        for a in (0, 1)
    ]
    if min(heights) < 1:
        raise ShapeError(
            f"{op}: an input of height×width {x_shape[2]}×{x_shape[3]} is too small for a "
            f"{kernel[0]}×{kernel[1]} kernel (dilation {dilation}, padding {padding}); "
            "pad it or use a smaller kernel"
        )
    return heights[0], heights[1]


def _check_4d(op: str, x) -> None:
    if np.ndim(x) != 4:
        raise ShapeError(
            f"{op}: input must be 4-D (batch, channels, height, width), got shape "
            f"{np.shape(x)}; add a channel axis to (n, H, W) images with x.reshape(n, 1, H, W)"
        )


def _as_float(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Integer images (uint8 pixels) become the weight's dtype; floats pass unchanged."""
    return x if x.dtype.kind == "f" else x.astype(like.dtype)


def padded_channel_major(
    x: np.ndarray, padding, fill: float, workspace: Workspace | None, role: str
) -> np.ndarray:
    """``x`` (N, C, H, W) as a ``(C, N, H + 2ph, W + 2pw)`` array, border set to ``fill``.

    Without padding it is a transposed view of ``x`` itself (no copy). With padding the
    interior is copied into a workspace array whose border was filled when it was made
    and is never written again.
    """
    ph, pw = padding
    channel_major = x.transpose(1, 0, 2, 3)
    if ph == 0 and pw == 0:
        return channel_major
    c, n, h, w = channel_major.shape
    shape = (c, n, h + 2 * ph, w + 2 * pw)
    role = f"{role}:{fill}:{ph},{pw}"  # one border value and width per array
    if workspace is None:
        out = np.full(shape, fill, x.dtype)
    else:
        out = workspace.take(role, shape, x.dtype, fill=fill)
    out[:, :, ph : ph + h, pw : pw + w] = channel_major
    return out


def im2col(
    x: np.ndarray,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    workspace: Workspace | None = None,
) -> np.ndarray:
    """Every patch a ``kH×kW`` filter sees, one column per output position.

    Shapes: x ``(N, C, H, W)`` -> ``(C·kH·kW, N·Ho·Wo)``, rows ordered (channel, tap row,
    tap column), columns ordered (image, output row, output column).

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, 3)[:, 0]          # the top-left 3x3 patch
    array([ 0.,  1.,  2.,  4.,  5.,  6.,  8.,  9., 10.])
    """
    kernel, stride = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    padding, dilation = pair(padding, "padding"), pair(dilation, "dilation")
    n, c = x.shape[:2]
    out_h, out_w = _output_hw("im2col", x.shape, kernel, stride, padding, dilation)
    source = padded_channel_major(x, padding, 0, workspace, "im2col-padded")
    span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    # (C, N, H', W', span_h, span_w): a view of every window, then every stride-th window
    # and every dilation-th tap inside it -> (C, N, Ho, Wo, kH, kW), still a view.
    windows = sliding_window_view(source, span, axis=(2, 3))
    windows = windows[:, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    shape = (c, kernel[0], kernel[1], n, out_h, out_w)
    cols = np.empty(shape, x.dtype) if workspace is None else workspace.take("cols", shape, x.dtype)
    np.copyto(cols, windows.transpose(0, 4, 5, 1, 2, 3))
    return cols.reshape(c * kernel[0] * kernel[1], n * out_h * out_w)


def col2im(cols: np.ndarray, x_shape, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each column entry back onto the pixel it came from.

    Shapes: cols ``(C·kH·kW, N·Ho·Wo)`` -> ``(N, C, H, W)`` (a view of channel-major
    memory). A pixel seen by several filter taps receives the sum of their entries.

    >>> import numpy as np
    >>> ones = np.ones((9, 4))                       # 3x3 filter, 2x2 positions on 4x4
    >>> col2im(ones, (1, 1, 4, 4), 3)[0, 0]          # how many patches saw each pixel
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    kernel, stride = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    padding, dilation = pair(padding, "padding"), pair(dilation, "dilation")
    n, c, h, w = x_shape
    out_h, out_w = _output_hw("col2im", x_shape, kernel, stride, padding, dilation)
    (ph, pw), (sh, sw) = padding, stride
    image = np.zeros((c, n, h + 2 * ph, w + 2 * pw), cols.dtype)
    taps = cols.reshape(c, kernel[0], kernel[1], n, out_h, out_w)
    for i in range(kernel[0]):  # one vectorized add per filter tap, never per pixel
        top = i * dilation[0]
        rows = slice(top, top + sh * (out_h - 1) + 1, sh)
        for j in range(kernel[1]):
            left = j * dilation[1]
            image[:, :, rows, left : left + sw * (out_w - 1) + 1 : sw] += taps[:, i, j]
    return image[:, :, ph : ph + h, pw : pw + w].transpose(1, 0, 2, 3)


class Conv2d(Function):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    Shapes: x ``(N, C, H, W)``, weight ``(O, C/groups, kH, kW)``, bias ``(O,)`` or None
    -> ``(N, O, Ho, Wo)`` with ``Ho = ⌊(H + 2·ph - dh·(kH-1) - 1) / sh⌋ + 1`` (same for W).
    ``stride``, ``padding``, ``dilation`` are pairs; see the module docstring.
    """

    __slots__ = ()

    def forward(
        self,
        x,
        weight,
        bias=None,
        stride=(1, 1),
        padding=(0, 0),
        dilation=(1, 1),
        groups=1,
        workspace=None,
    ):
        _check_4d("conv2d", x)
        x = _as_float(np.asarray(x), weight)
        _check_weight(x.shape, weight, bias, groups)
        n = x.shape[0]
        out_channels, group_channels, kh, kw = weight.shape
        out_h, out_w = _output_hw("conv2d", x.shape, (kh, kw), stride, padding, dilation)
        cols = im2col(x, (kh, kw), stride, padding, dilation, workspace)
        taps = group_channels * kh * kw  # rows of cols per group
        if groups == 1:
            out = weight.reshape(out_channels, taps) @ cols
        else:
            out = np.matmul(
                weight.reshape(groups, out_channels // groups, taps),
                cols.reshape(groups, taps, n * out_h * out_w),
            ).reshape(out_channels, n * out_h * out_w)
        if bias is not None:
            out += bias[:, None].astype(out.dtype, copy=False)
        self.saved = (cols, weight, x.shape, stride, padding, dilation, groups, workspace)
        return out.reshape(out_channels, n, out_h, out_w).transpose(1, 0, 2, 3)

    def backward(self, grad):
        cols, weight, x_shape, stride, padding, dilation, groups, workspace = self.saved
        out_channels, group_channels, kh, kw = weight.shape
        n, _, out_h, out_w = grad.shape
        positions = n * out_h * out_w
        taps = group_channels * kh * kw
        # (O, N·Ho·Wo): free when grad is channel-major, as this op's own output is.
        grad_2d = grad.transpose(1, 0, 2, 3).reshape(out_channels, positions)
        grad_x = grad_weight = grad_bias = None
        if self.parents[2] is not None:
            grad_bias = np.add.reduce(grad_2d, axis=1)
        if groups == 1:
            if self.parents[1] is not None:
                grad_weight = (grad_2d @ cols.T).reshape(weight.shape)
            if self.parents[0] is not None:
                grad_cols = _buffer(workspace, "grad-cols", cols.shape, cols.dtype)
                np.matmul(weight.reshape(out_channels, taps).T, grad_2d, out=grad_cols)
        else:
            grad_3d = grad_2d.reshape(groups, out_channels // groups, positions)
            cols_3d = cols.reshape(groups, taps, positions)
            if self.parents[1] is not None:
                grad_weight = np.matmul(grad_3d, cols_3d.transpose(0, 2, 1)).reshape(weight.shape)
            if self.parents[0] is not None:
                weight_3d = weight.reshape(groups, out_channels // groups, taps)
                grad_cols = _buffer(workspace, "grad-cols", cols.shape, cols.dtype)
                np.matmul(
                    weight_3d.transpose(0, 2, 1), grad_3d, out=grad_cols.reshape(cols_3d.shape)
                )
        if self.parents[0] is not None:
            grad_x = col2im(grad_cols, x_shape, (kh, kw), stride, padding, dilation)
        return grad_x, grad_weight, grad_bias


def _buffer(workspace: Workspace | None, role: str, shape, dtype) -> np.ndarray:
    return np.empty(shape, dtype) if workspace is None else workspace.take(role, shape, dtype)


def _check_weight(x_shape, weight, bias, groups: int) -> None:
    if np.ndim(weight) != 4:
        raise ShapeError(
            f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kH, kW), got "
            f"shape {np.shape(weight)}"
        )
    out_channels, group_channels = weight.shape[:2]
    if groups < 1 or x_shape[1] % groups or out_channels % groups:
        raise ShapeError(
            f"conv2d: groups={groups} must divide both the input's {x_shape[1]} channels and "
            f"the weight's {out_channels} output channels"
        )
    if group_channels * groups != x_shape[1]:
        raise ShapeError(
            f"conv2d: the input has {x_shape[1]} channels but the weight {weight.shape} "
            f"expects {group_channels * groups} (in_channels/groups = {group_channels}, "
            f"groups = {groups})"
        )
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(
            f"conv2d: bias has shape {np.shape(bias)}; it must be ({out_channels},), one per "
            "output channel"
        )
