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

    cols  (C·kH·kW, Ho·Wo·N)    one column per output position, one row per filter tap
    W     (O, C·kH·kW)          one row per output channel (the filter, flattened)
    out = W @ cols              (O, Ho·Wo·N)  -> seen as (N, O, Ho, Wo)

The patches are gathered without a Python loop: a *view* of every window of the padded
image (NumPy's ``sliding_window_view``, built directly from the strides: no copy), and
one ``copyto`` writes them into the columns buffer, which a layer's
:class:`~thalweg.autograd.workspace.Workspace` lends again next step instead of
allocating it anew.

Backward, with ``G`` the gradient of the output as a ``(O, Ho·Wo·N)`` matrix, the
rules of a matrix product (see ``linalg.py``) give::

    dL/dW    = G @ colsᵀ          (O, C·kH·kW)   -> reshaped to the weight's shape
    dL/db    = Σ over positions of G
    dL/dcols = Wᵀ @ G             (C·kH·kW, Ho·Wo·N)

and ``dL/dcols`` goes back to the image by **col2im**: every pixel was copied into the
columns once per filter tap that saw it, so its gradient is the sum of those copies'
gradients. The sum is done per filter tap (``kH·kW`` vectorized adds of a whole strided
slice of the image), never per pixel.

Memory layout. Tensors are ``(N, C, H, W)`` to the user, but the arrays a convolution
makes hold their numbers **batch last**, ``(C, H, W, N)`` in memory, and the
``(N, C, H, W)`` tensor is a transposed *view* of them (no copy). That is the order the
columns are gathered in: for one channel and one filter tap, the patch values of all
output positions and all images are ``Ho`` runs of ``Wo·N`` consecutive numbers, long
runs NumPy copies fast (with the batch first they would be runs of only ``Wo``), and
the product ``W @ cols`` comes out batch last by itself. The next layer's gather,
pooling and col2im read that layout the same way, so it flows through a network without
a transposing copy; only ``Flatten`` and the first layer's gather reorder. With one
image (``N = 1``) batch last is plain ``(C, H, W)``.

Groups split the channels into ``groups`` independent convolutions (``groups = C`` is a
depthwise convolution): the columns and the weight are reshaped to ``(groups, ...)`` and
one batched matrix product does all of them.

Everything here is NCHW with weights ``(O, C/groups, kH, kW)``, PyTorch's layout, so
weights move between the two unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

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


def batch_last(x: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(C, H, W, N)``: a view, contiguous when ``x`` is a view of
    batch-last memory (every convolution's and pooling's output is)."""
    return x.transpose(1, 2, 3, 0)


def padded_batch_last(
    x: np.ndarray, padding, fill: float, workspace: Workspace | None, role: str
) -> np.ndarray:
    """``x`` (N, C, H, W) as a ``(C, H + 2ph, W + 2pw, N)`` array, border set to ``fill``.

    Without padding it is a view of ``x`` itself when ``x`` is batch-last memory (no
    copy), else a batch-last copy: gathering windows from images ``C·H·W`` numbers apart
    costs more than copying them together once. With padding the interior is copied
    into a workspace array whose border was filled when it was made and is never
    written again.
    """
    ph, pw = padding
    source = batch_last(x)
    if ph == 0 and pw == 0:
        if source.shape[3] == 1 or source.strides[3] == source.itemsize:
            return source
        if workspace is None:
            return np.ascontiguousarray(source)
        copy = workspace.take(f"{role}:batch-last", source.shape, x.dtype)
        np.copyto(copy, source)
        return copy
    c, h, w, n = source.shape
    shape = (c, h + 2 * ph, w + 2 * pw, n)
    role = f"{role}:{fill}:{ph},{pw}"  # one border value and width per array
    if workspace is None:
        out = np.full(shape, fill, x.dtype)
    else:
        out = workspace.take(role, shape, x.dtype, fill=fill)
    out[:, ph : ph + h, pw : pw + w, :] = source
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

    Shapes: x ``(N, C, H, W)`` -> ``(C·kH·kW, Ho·Wo·N)``, rows ordered (channel, tap row,
    tap column), columns ordered (output row, output column, image).

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, 3)[:, 0]          # the top-left 3x3 patch
    array([ 0.,  1.,  2.,  4.,  5.,  6.,  8.,  9., 10.])
    """
    kernel, stride = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    padding, dilation = pair(padding, "padding"), pair(dilation, "dilation")
    return _im2col(x, kernel, stride, padding, dilation, workspace)


def windows(source: np.ndarray, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Every window of a ``(C, Hp, Wp, N)`` image as a ``(C, kH, kW, Ho, Wo, N)`` view.

    The windows ``sliding_window_view(source, span, axis=(1, 2))[:, ::sh, ::sw, :, ::dh,
    ::dw]`` (span = dilation·(kernel-1) + 1), axes ordered as the columns are, built in
    one step from the strides: one output position further moves ``stride`` pixels, one
    tap further moves ``dilation`` pixels. No data is copied.
    """
    c, _, _, n = source.shape
    s_c, s_h, s_w, s_n = source.strides
    shape = (c, kernel[0], kernel[1], out_hw[0], out_hw[1], n)
    strides = (s_c, s_h * dilation[0], s_w * dilation[1], s_h * stride[0], s_w * stride[1], s_n)
    if source.flags.c_contiguous:  # (a workspace array): the cheaper constructor
        return np.ndarray(shape, source.dtype, buffer=source, strides=strides)
    return as_strided(source, shape=shape, strides=strides, writeable=False)


def _im2col(x, kernel, stride, padding, dilation, workspace, out_hw=None) -> np.ndarray:
    """:func:`im2col` with every option already a pair (the op's path)."""
    n, c = x.shape[:2]
    if out_hw is None:
        out_hw = _output_hw("im2col", x.shape, kernel, stride, padding, dilation)
    source = padded_batch_last(x, padding, 0, workspace, "im2col-padded")
    shape = (c, kernel[0], kernel[1], out_hw[0], out_hw[1], n)
    cols = np.empty(shape, x.dtype) if workspace is None else workspace.take("cols", shape, x.dtype)
    np.copyto(cols, windows(source, kernel, stride, dilation, out_hw))
    return cols.reshape(c * kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n)


def col2im(cols: np.ndarray, x_shape, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each column entry back onto the pixel it came from.

    Shapes: cols ``(C·kH·kW, Ho·Wo·N)`` -> ``(N, C, H, W)`` (a view of batch-last memory).
    A pixel seen by several filter taps receives the sum of their entries.

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
    image = np.zeros((c, h + 2 * ph, w + 2 * pw, n), cols.dtype)
    taps = cols.reshape(c, kernel[0], kernel[1], out_h, out_w, n)
    for i in range(kernel[0]):  # one vectorized add per filter tap, never per pixel
        top = i * dilation[0]
        rows = slice(top, top + sh * (out_h - 1) + 1, sh)
        for j in range(kernel[1]):
            left = j * dilation[1]
            image[:, rows, left : left + sw * (out_w - 1) + 1 : sw, :] += taps[:, i, j]
    return image[:, ph : ph + h, pw : pw + w, :].transpose(3, 0, 1, 2)


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
        cols = _im2col(x, (kh, kw), stride, padding, dilation, workspace, (out_h, out_w))
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
        return out.reshape(out_channels, out_h, out_w, n).transpose(3, 0, 1, 2)

    def backward(self, grad):
        cols, weight, x_shape, stride, padding, dilation, groups, workspace = self.saved
        out_channels, group_channels, kh, kw = weight.shape
        n, _, out_h, out_w = grad.shape
        positions = n * out_h * out_w
        taps = group_channels * kh * kw
        # (O, Ho·Wo·N): free when grad is batch last, as this op's own output is.
        grad_2d = batch_last(grad).reshape(out_channels, positions)
        grad_x = grad_weight = grad_bias = None
        if self.parents[2] is not None:
            grad_bias = np.add.reduce(grad_2d, axis=1)
        if groups == 1:
            if self.parents[1] is not None:
                # (cols @ Gᵀ)ᵀ = G @ colsᵀ: BLAS runs this orientation about twice as fast.
                grad_weight = (cols @ grad_2d.T).T.reshape(weight.shape)
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
