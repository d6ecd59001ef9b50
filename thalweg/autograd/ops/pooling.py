"""Pooling: summarise each window of an image by its maximum or its mean.

Both ops walk the **filter taps**, not the pixels: for a ``kH×kW`` window the output is
built from ``kH·kW`` strided slices of the (padded) image, one per tap, each a whole
``(N, C, Ho, Wo)`` array — slice ``(i, j)`` holds, for every output position, the pixel
at offset ``(i, j)`` inside its window::

    x (one 4×4 channel), 2×2 windows, stride 2      tap (0,0)   tap (0,1)  ...
    a b | c d                                       a c         b d
    e f | g h                                       i k         j l
    ----+----
    i j | k l         max pool = elementwise max of the four tap slices
    m n | o p

Backward, in the engine's terms:

* **max pooling** is a selection: each output is one of its window's pixels, so its
  gradient goes to that pixel alone (the first maximum in scan order on ties, as
  PyTorch does) and the other pixels of the window get 0. Backward finds the winner
  tap by tap: the slice equal to the output, among the windows not yet served.
* **average pooling** is linear: each pixel of a window receives the output's gradient
  divided by the window size, added per tap (windows that overlap add up).
* **adaptive average pooling** averages rows and columns over windows chosen to cover the
  input exactly; that is a separable linear map, ``out = A_h @ x @ A_wᵀ``, so backward is
  ``A_hᵀ @ grad @ A_w``.

Like convolutions, max and average pooling hold their outputs batch last, ``(C, H, W,
N)`` in memory (see ``conv.py``), so nothing is transposed on the way.
"""

from __future__ import annotations

import functools

import numpy as np

from thalweg import backend
from thalweg.autograd.function import Function
from thalweg.autograd.ops.conv import _check_4d, _output_hw, batch_last, padded_batch_last
from thalweg.errors import ShapeError


def _as_float(x: np.ndarray) -> np.ndarray:
    """Integer pixels become the default float dtype (pooling needs -inf and fractions)."""
    return x if x.dtype.kind == "f" else x.astype(backend.get_default_dtype())


@functools.lru_cache(maxsize=256)
def _tap_slices(kernel, stride, dilation, out_hw):
    """For each tap ``(i, j)`` of the window: the index of its strided slice in the
    padded batch-last (C, Hp, Wp, N) image, one entry per output position."""
    out_h, out_w = out_hw
    slices = []  # (a tuple, cached: a layer asks for the same slices every call)
    for i in range(kernel[0]):
        top = i * dilation[0]
        rows = slice(top, top + stride[0] * (out_h - 1) + 1, stride[0])
        for j in range(kernel[1]):
            left = j * dilation[1]
            cols = slice(left, left + stride[1] * (out_w - 1) + 1, stride[1])
            slices.append((slice(None), rows, cols, slice(None)))
    return tuple(slices)


def _check_padding(op: str, kernel, padding, dilation) -> None:
    for k, p, d in zip(kernel, padding, dilation, strict=True):
        if p < 0 or 2 * p > d * (k - 1) + 1:
            raise ShapeError(
                f"{op}: padding {padding} must be at most half the kernel size {kernel} "
                "(a window made only of padding would have no pixel to pool)"
            )


def _overlapping(kernel, stride, dilation) -> bool:
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation, strict=True))


class MaxPool2d(Function):
    """Maximum over each ``kH×kW`` window (padding counts as -inf, as in PyTorch).

    Shapes: x ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``, sizes as for a convolution.
    """

    __slots__ = ()

    def forward(self, x, kernel_size, stride, padding=(0, 0), dilation=(1, 1), workspace=None):
        _check_4d("max_pool2d", x)
        x = _as_float(np.asarray(x))
        _check_padding("max_pool2d", kernel_size, padding, dilation)
        out_hw = _output_hw("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
        source = padded_batch_last(x, padding, -np.inf, workspace, "maxpool-padded")
        taps = _tap_slices(kernel_size, stride, dilation, out_hw)
        if len(taps) == 1:
            out = source[taps[0]].copy()
        else:  # np.maximum propagates NaN, as PyTorch's max pooling does
            out = np.maximum(source[taps[0]], source[taps[1]])
            for index in taps[2:]:
                np.maximum(out, source[index], out=out)
        # Which pixel won is worked out in backward, so inference pays nothing for it.
        self.saved = (source, out, x.shape, kernel_size, stride, padding, dilation)
        return out.transpose(3, 0, 1, 2)

    def backward(self, grad):
        source, out, x_shape, kernel, stride, padding, dilation = self.saved
        h, w = x_shape[2:]
        ph, pw = padding
        image = np.zeros(source.shape, grad.dtype)  # (C, Hp, Wp, N)
        # The gradient still to hand out per window: the first tap (in scan order) that
        # equals the maximum takes it all, as in PyTorch, and later ties get nothing.
        remaining = np.array(batch_last(grad))
        nan_windows = np.isnan(out).any()
        overlapping = _overlapping(kernel, stride, dilation)
        taps = _tap_slices(kernel, stride, dilation, out.shape[1:3])
        for tap, index in enumerate(taps):
            won = source[index] == out
            if nan_windows:  # NaN never equals itself; the first NaN is the maximum
                won |= np.isnan(source[index])
            if overlapping:  # a pixel may win several windows: add every gradient
                given = remaining * won
                image[index] += given
            else:  # each pixel is in one window only: write straight into the slice
                given = np.multiply(remaining, won, out=image[index])
            if tap < len(taps) - 1:
                remaining -= given
        return (image[:, ph : ph + h, pw : pw + w, :].transpose(3, 0, 1, 2),)


class AvgPool2d(Function):
    """Mean over each ``kH×kW`` window.

    ``count_include_pad=True`` (PyTorch's default) divides by ``kH·kW`` everywhere;
    ``False`` divides by the number of real (non-padding) pixels in each window.
    Shapes: x ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``.
    """

    __slots__ = ()

    def forward(self, x, kernel_size, stride, padding=(0, 0), count_include_pad=True):
        _check_4d("avg_pool2d", x)
        x = _as_float(np.asarray(x))
        dilation = (1, 1)
        _check_padding("avg_pool2d", kernel_size, padding, dilation)
        out_hw = _output_hw("avg_pool2d", x.shape, kernel_size, stride, padding, dilation)
        source = padded_batch_last(x, padding, 0, None, "avgpool-padded")
        taps = _tap_slices(kernel_size, stride, dilation, out_hw)
        out = source[taps[0]].copy()
        for index in taps[1:]:
            out += source[index]
        divisor = _window_counts(x.shape, kernel_size, stride, padding, out_hw, count_include_pad)
        out /= divisor[..., None] if np.ndim(divisor) else divisor
        self.saved = (divisor, x.shape, kernel_size, stride, padding, out_hw)
        return out.transpose(3, 0, 1, 2)

    def backward(self, grad):
        divisor, x_shape, kernel, stride, padding, out_hw = self.saved
        n, c, h, w = x_shape
        ph, pw = padding
        # What each pixel of a window gets: the output's gradient over the window size.
        share = batch_last(grad) / (divisor[..., None] if np.ndim(divisor) else divisor)
        image = np.zeros((c, h + 2 * ph, w + 2 * pw, n), share.dtype)
        for index in _tap_slices(kernel, stride, (1, 1), out_hw):
            image[index] += share
        return (image[:, ph : ph + h, pw : pw + w, :].transpose(3, 0, 1, 2),)


def _window_counts(x_shape, kernel, stride, padding, out_hw, count_include_pad):
    """The divisor of each window: ``kH·kW``, or its number of real pixels ``(Ho, Wo)``."""
    if count_include_pad or padding == (0, 0):
        return kernel[0] * kernel[1]
    counts = []
    for axis in (0, 1):
        starts = np.arange(out_hw[axis]) * stride[axis] - padding[axis]
        ends = np.minimum(starts + kernel[axis], x_shape[2 + axis])
        counts.append(ends - np.maximum(starts, 0))
    return np.outer(counts[0], counts[1])


def adaptive_pool_matrix(in_size: int, out_size: int, dtype=np.float64) -> np.ndarray:
    """``(out_size, in_size)`` matrix whose row ``i`` averages PyTorch's adaptive window
    ``[⌊i·in/out⌋, ⌈(i+1)·in/out⌉)``.

    >>> adaptive_pool_matrix(5, 2)
    array([[0.33333333, 0.33333333, 0.33333333, 0.        , 0.        ],
           [0.        , 0.        , 0.33333333, 0.33333333, 0.33333333]])
    """
    outputs = np.arange(out_size)
    starts = (outputs * in_size) // out_size
    ends = -((-(outputs + 1) * in_size) // out_size)  # ceiling division
    inputs = np.arange(in_size)
    inside = (inputs >= starts[:, None]) & (inputs < ends[:, None])
    return (inside / (ends - starts)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """Average pooling to a fixed output size ``(Ho, Wo)`` whatever the input size.

    ``(1, 1)`` is global average pooling. Shapes: x ``(N, C, H, W)`` -> ``(N, C, Ho, Wo)``.
    """

    __slots__ = ()

    def forward(self, x, output_size):
        _check_4d("adaptive_avg_pool2d", x)
        x = _as_float(np.asarray(x))
        h, w = x.shape[2:]
        out_h, out_w = (h if o is None else o for o, _ in zip(output_size, (h, w), strict=True))
        if out_h < 1 or out_w < 1:
            raise ShapeError(f"adaptive_avg_pool2d: output size {output_size} must be positive")
        if (out_h, out_w) == (1, 1):  # global average pooling: one mean per channel
            self.saved = (x.shape, None, None)
            return np.mean(x, axis=(2, 3), keepdims=True)
        rows = adaptive_pool_matrix(h, out_h, x.dtype)
        cols = adaptive_pool_matrix(w, out_w, x.dtype)
        self.saved = (x.shape, rows, cols)
        # Columns first ((N, C, H, Wo)), then rows: two products, each one GEMM.
        by_cols = np.tensordot(x, cols, axes=([3], [1]))  # (N, C, H, Wo)
        return np.tensordot(by_cols, rows, axes=([2], [1])).transpose(0, 1, 3, 2)

    def backward(self, grad):
        x_shape, rows, cols = self.saved
        if rows is None:
            share = grad / (x_shape[2] * x_shape[3])
            return (np.broadcast_to(share, x_shape).copy(),)
        by_rows = np.tensordot(grad, rows, axes=([2], [0]))  # (N, C, Wo, H)
        return (np.tensordot(by_rows, cols, axes=([2], [0])),)  # (N, C, H, W)
