"""Replay rules of ``autograd/ops/conv.py`` and ``pooling.py``: im2col convolution and
pooling, with the padded images and column matrices in buffers of the plan (the
eager op borrows them from its layer's ``Workspace``; a replay owns them)."""

from __future__ import annotations

import numpy as np

from thalweg.autograd.ops import conv as conv_ops
from thalweg.autograd.ops import pooling as pool_ops
from thalweg.compile.rules import Unsupported, backward_rule, rule
from thalweg.compile.values import Value

_BATCH_LAST = (1, 2, 3, 0)
_BATCH_FIRST = (3, 0, 1, 2)


def _padded_batch_last(e, x: Value, padding, fill, contiguous_without_padding: bool = True):
    """``conv.padded_batch_last``: ``x`` as ``(C, Hp, Wp, N)``, border ``fill``."""
    ph, pw = padding
    source = e.view(x, "transpose", _BATCH_LAST)
    if ph == 0 and pw == 0:
        if source.shape[3] == 1 or source.trace.strides[3] == source.trace.itemsize:
            return source
        return e.copy(source, order="C")
    c, h, w, n = source.shape
    out = e.buffer((c, h + 2 * ph, w + 2 * pw, n), x.dtype, fill=fill)
    interior = (slice(None), slice(ph, ph + h), slice(pw, pw + w), slice(None))
    e.copyto(e.view(out, "getitem", interior), source)
    return out


def _im2col(e, x: Value, kernel, stride, padding, dilation, out_hw) -> Value:
    n, c = x.shape[:2]
    source = _padded_batch_last(e, x, padding, 0)
    cols = e.buffer((c, kernel[0], kernel[1], out_hw[0], out_hw[1], n), x.dtype)
    e.copyto(cols, e.view(source, "windows", kernel, stride, dilation, out_hw))
    return e.view(cols, "reshape", (c * kernel[0] * kernel[1], out_hw[0] * out_hw[1] * n))


def _col2im(e, cols: Value, x_shape, kernel, stride, padding, dilation) -> Value:
    """``conv.col2im``: each column entry added back onto its pixel, tap by tap."""
    n, c, h, w = x_shape
    out_h, out_w = conv_ops._output_hw("col2im", x_shape, kernel, stride, padding, dilation)
    (ph, pw), (sh, sw) = padding, stride
    image = e.copyto(e.buffer((c, h + 2 * ph, w + 2 * pw, n), cols.dtype), 0)
    taps = e.view(cols, "reshape", (c, kernel[0], kernel[1], out_h, out_w, n))
    for i in range(kernel[0]):
        top = i * dilation[0]
        rows = slice(top, top + sh * (out_h - 1) + 1, sh)
        for j in range(kernel[1]):
            left = j * dilation[1]
            region = e.view(
                image, "getitem", (slice(None), rows, slice(left, left + sw * (out_w - 1) + 1, sw))
            )
            e.call(np.add, region, e.view(taps, "getitem", (slice(None), i, j)), into=region)
    interior = (slice(None), slice(ph, ph + h), slice(pw, pw + w), slice(None))
    return e.view(e.view(image, "getitem", interior), "transpose", _BATCH_FIRST)


def _as_float(e, x: Value, dtype) -> Value:
    return x if x.dtype.kind == "f" else e.astype(x, dtype)


@rule(conv_ops.Conv2d)
def conv2d(e, op):
    x, weight, *rest = op.inputs
    bias = rest[0] if rest else op.options.get("bias")
    if not isinstance(x, Value) or not isinstance(weight, Value):
        raise Unsupported
    stride = op.options.get("stride", (1, 1))
    padding = op.options.get("padding", (0, 0))
    dilation = op.options.get("dilation", (1, 1))
    groups = op.options.get("groups", 1)
    x = _as_float(e, x, weight.dtype)
    n = x.shape[0]
    out_channels, group_channels, kh, kw = weight.shape
    out_h, out_w = conv_ops._output_hw("conv2d", x.shape, (kh, kw), stride, padding, dilation)
    cols = _im2col(e, x, (kh, kw), stride, padding, dilation, (out_h, out_w))
    taps = group_channels * kh * kw
    positions = n * out_h * out_w
    if groups == 1:
        out = e.call(np.matmul, e.view(weight, "reshape", (out_channels, taps)), cols)
    else:
        out = e.call(
            np.matmul,
            e.view(weight, "reshape", (groups, out_channels // groups, taps)),
            e.view(cols, "reshape", (groups, taps, positions)),
        )
        out = e.view(out, "reshape", (out_channels, positions))
    if bias is not None:
        column = e.asarray(e.view(bias, "getitem", (slice(None), None)), out.dtype)
        e.call(np.add, out, column, into=out)
    op.saved = (cols, weight, x.shape, stride, padding, dilation, groups)
    shaped = e.view(out, "reshape", (out_channels, out_h, out_w, n))
    return e.view(shaped, "transpose", _BATCH_FIRST)


@backward_rule(conv_ops.Conv2d)
def conv2d_backward(e, op, grad):
    cols, weight, x_shape, stride, padding, dilation, groups = op.saved
    out_channels, group_channels, kh, kw = weight.shape
    n, _, out_h, out_w = grad.shape
    positions = n * out_h * out_w
    taps = group_channels * kh * kw
    grad_2d = e.view(e.view(grad, "transpose", _BATCH_LAST), "reshape", (out_channels, positions))
    grad_x = grad_weight = grad_bias = grad_cols = None
    if op.needs[2]:
        grad_bias = e.call(np.add.reduce, grad_2d, axis=1)
    if groups == 1:
        if op.needs[1]:
            product = e.call(np.matmul, cols, e.view(grad_2d, "T"))
            grad_weight = e.view(e.view(product, "T"), "reshape", weight.shape)
        if op.needs[0]:
            flat_weight = e.view(weight, "reshape", (out_channels, taps))
            grad_cols = e.call(np.matmul, e.view(flat_weight, "T"), grad_2d)
    else:
        grad_3d = e.view(grad_2d, "reshape", (groups, out_channels // groups, positions))
        cols_3d = e.view(cols, "reshape", (groups, taps, positions))
        if op.needs[1]:
            product = e.call(np.matmul, grad_3d, e.view(cols_3d, "transpose", (0, 2, 1)))
            grad_weight = e.view(product, "reshape", weight.shape)
        if op.needs[0]:
            weight_3d = e.view(weight, "reshape", (groups, out_channels // groups, taps))
            grad_cols = e.buffer(cols.shape, cols.dtype)
            e.call(
                np.matmul,
                e.view(weight_3d, "transpose", (0, 2, 1)),
                grad_3d,
                into=e.view(grad_cols, "reshape", cols_3d.shape),
            )
    if op.needs[0]:
        grad_x = _col2im(e, grad_cols, x_shape, (kh, kw), stride, padding, dilation)
    return grad_x, grad_weight, grad_bias


# ---------------------------------------------------------------------- pooling
def _pool_input(e, op) -> Value:
    x = op.inputs[0]
    if not isinstance(x, Value):
        raise Unsupported
    from thalweg import backend

    return _as_float(e, x, backend.get_default_dtype())


@rule(pool_ops.MaxPool2d)
def max_pool2d(e, op):
    x = _pool_input(e, op)
    kernel, stride = op.options["kernel_size"], op.options["stride"]
    padding = op.options.get("padding", (0, 0))
    dilation = op.options.get("dilation", (1, 1))
    out_hw = conv_ops._output_hw("max_pool2d", x.shape, kernel, stride, padding, dilation)
    source = _padded_batch_last(e, x, padding, -np.inf)
    taps = pool_ops._tap_slices(kernel, stride, dilation, out_hw)
    if len(taps) == 1:
        out = e.copy(e.view(source, "getitem", taps[0]), order="C")
    else:  # np.maximum propagates NaN, as the op's does
        out = e.call(
            np.maximum, e.view(source, "getitem", taps[0]), e.view(source, "getitem", taps[1])
        )
        for index in taps[2:]:
            e.call(np.maximum, out, e.view(source, "getitem", index), into=out)
    op.saved = (source, out, x.shape, kernel, stride, padding, dilation)
    return e.view(out, "transpose", _BATCH_FIRST)


@backward_rule(pool_ops.MaxPool2d)
def max_pool2d_backward(e, op, grad):
    source, out, x_shape, kernel, stride, padding, dilation = op.saved
    h, w = x_shape[2:]
    ph, pw = padding
    image = e.copyto(e.buffer(source.shape, grad.dtype), 0)
    remaining = e.copy(e.view(grad, "transpose", _BATCH_LAST))
    # (NaN windows: the op checks for them and then also lets the first NaN win; with no
    # NaN in the output there is none in any window, so always doing it is the same)
    overlapping = pool_ops._overlapping(kernel, stride, dilation)
    taps = pool_ops._tap_slices(kernel, stride, dilation, out.shape[1:3])
    for tap, index in enumerate(taps):
        window = e.view(source, "getitem", index)
        won = e.call(np.equal, window, out)
        e.call(np.bitwise_or, won, e.call(np.isnan, window), into=won)
        region = e.view(image, "getitem", index)
        if overlapping:
            given = e.call(np.multiply, remaining, won)
            e.call(np.add, region, given, into=region)
        else:
            given = e.call(np.multiply, remaining, won, into=region)
        if tap < len(taps) - 1:
            e.call(np.subtract, remaining, given, into=remaining)
    interior = (slice(None), slice(ph, ph + h), slice(pw, pw + w), slice(None))
    return (e.view(e.view(image, "getitem", interior), "transpose", _BATCH_FIRST),)


@rule(pool_ops.AvgPool2d)
def avg_pool2d(e, op):
    x = _pool_input(e, op)
    kernel, stride = op.options["kernel_size"], op.options["stride"]
    padding = op.options.get("padding", (0, 0))
    include_pad = op.options.get("count_include_pad", True)
    out_hw = conv_ops._output_hw("avg_pool2d", x.shape, kernel, stride, padding, (1, 1))
    source = _padded_batch_last(e, x, padding, 0)
    taps = pool_ops._tap_slices(kernel, stride, (1, 1), out_hw)
    out = e.copy(e.view(source, "getitem", taps[0]), order="C")
    for index in taps[1:]:
        e.call(np.add, out, e.view(source, "getitem", index), into=out)
    divisor = pool_ops._window_counts(x.shape, kernel, stride, padding, out_hw, include_pad)
    divisor = e.const(divisor[..., None] if np.ndim(divisor) else divisor)
    e.call(np.true_divide, out, divisor, into=out)
    op.saved = (divisor, x.shape, kernel, stride, padding, out_hw)
    return e.view(out, "transpose", _BATCH_FIRST)


@backward_rule(pool_ops.AvgPool2d)
def avg_pool2d_backward(e, op, grad):
    divisor, x_shape, kernel, stride, padding, out_hw = op.saved
    n, c, h, w = x_shape
    ph, pw = padding
    share = e.call(np.true_divide, e.view(grad, "transpose", _BATCH_LAST), divisor)
    image = e.copyto(e.buffer((c, h + 2 * ph, w + 2 * pw, n), share.dtype), 0)
    for index in pool_ops._tap_slices(kernel, stride, (1, 1), out_hw):
        region = e.view(image, "getitem", index)
        e.call(np.add, region, share, into=region)
    interior = (slice(None), slice(ph, ph + h), slice(pw, pw + w), slice(None))
    return (e.view(e.view(image, "getitem", interior), "transpose", _BATCH_FIRST),)


@rule(pool_ops.AdaptiveAvgPool2d)
def adaptive_avg_pool2d(e, op):
    x = _pool_input(e, op)
    h, w = x.shape[2:]
    size = op.options["output_size"]
    out_h, out_w = (h if o is None else o for o, _ in zip(size, (h, w), strict=True))
    if (out_h, out_w) != (1, 1):
        raise Unsupported  # two tensordots: the op runs as itself
    op.saved = x.shape
    return e.call(np.mean, x, axis=(2, 3), keepdims=True)


@backward_rule(pool_ops.AdaptiveAvgPool2d)
def adaptive_avg_pool2d_backward(e, op, grad):
    x_shape = op.saved
    share = e.call(np.true_divide, grad, x_shape[2] * x_shape[3])
    return (e.copyto(e.buffer(x_shape, share.dtype), share),)
