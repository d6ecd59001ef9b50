"""Convolution, pooling and batch-norm ops: gradients by gradcheck, values by references.

Three independent checks of every op:

* ``thalweg.gradcheck`` in float64 on hypothesis-drawn shapes, strides, paddings,
  dilations and groups (the engine's standard);
* a plain loop-over-output-positions NumPy reference, written from the definition
  (runs everywhere, no PyTorch needed);
* PyTorch 2.13 CPU in float64, values and every gradient, to 1e-10 (skipped cleanly when
  torch is not installed).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import thalweg
from thalweg.autograd.ops.conv import col2im, conv_output_size, im2col
from thalweg.autograd.ops.pooling import adaptive_pool_matrix
from thalweg.autograd.workspace import Workspace
from thalweg.errors import ShapeError
from thalweg.nn import functional as F

FEW = settings(max_examples=12, deadline=None)


def leaf(array):
    return thalweg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


@st.composite
def conv_configs(draw):
    """A convolution whose output is at least 1×1: (x shape, weight shape, options)."""
    groups = draw(st.integers(1, 3))
    in_channels = groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)]
    height = draw(st.integers(max(1, spans[0] - 2 * padding[0]), 7))
    width = draw(st.integers(max(1, spans[1] - 2 * padding[1]), 7))
    n = draw(st.integers(1, 2))
    options = {
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }
    return (n, in_channels, height, width), (out_channels, in_channels // groups, *kernel), options


@st.composite
def pool_configs(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 7))
    width = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 7))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), height, width)
    return shape, {"kernel_size": kernel, "stride": stride, "padding": padding}


# ---------------------------------------------------------------------- references


def reference_conv2d(x, w, b, stride, padding, dilation, groups):
    """The definition, one output position at a time."""
    n, _, h, width = x.shape
    out_channels, group_channels, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    out_h = conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    out_w = conv_output_size(width, kw, stride[1], padding[1], dilation[1])
    out = np.zeros((n, out_channels, out_h, out_w))
    per_group = out_channels // groups
    for o in range(out_channels):
        channels = slice((o // per_group) * group_channels, (o // per_group + 1) * group_channels)
        for i in range(out_h):
            for j in range(out_w):
                rows = slice(i * stride[0], i * stride[0] + dilation[0] * (kh - 1) + 1, dilation[0])
                cols = slice(j * stride[1], j * stride[1] + dilation[1] * (kw - 1) + 1, dilation[1])
                patch = xp[:, channels, rows, cols]
                out[:, o, i, j] = np.sum(patch * w[o], axis=(1, 2, 3)) + (0 if b is None else b[o])
    return out


def reference_pool(x, kernel, stride, padding, reduce, fill):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    out_h = conv_output_size(h, kernel[0], stride[0], padding[0], 1)
    out_w = conv_output_size(w, kernel[1], stride[1], padding[1], 1)
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = xp[:, :, i * stride[0] : i * stride[0] + kernel[0], j * stride[1] :][
                :, :, :, : kernel[1]
            ]
            out[:, :, i, j] = reduce(window.reshape(n, c, -1), axis=2)
    return out


def distinct(shape, seed):
    """Values pairwise >= 0.08 apart: no ties, so max pooling is differentiable there."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * 0.1 + rng.uniform(-0.01, 0.01, size)).reshape(
        shape
    )


# ---------------------------------------------------------------------- conv2d


@FEW
@given(conv_configs(), st.integers(0, 2**31), st.booleans())
def test_conv2d_gradients_pass_gradcheck(config, seed, with_bias):
    x_shape, w_shape, options = config
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    inputs = [leaf(x), leaf(w)] + ([leaf(rng.standard_normal(w_shape[0]))] if with_bias else [])
    assert thalweg.gradcheck(lambda *t: F.conv2d(*t, **options), *inputs)


@FEW
@given(conv_configs(), st.integers(0, 2**31))
def test_conv2d_matches_the_loop_reference(config, seed):
    x_shape, w_shape, options = config
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[0]))
    got = F.conv2d(thalweg.tensor(x), thalweg.tensor(w), thalweg.tensor(b), **options).data
    expected = reference_conv2d(x, w, b, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_conv2d_reuses_its_workspace_between_steps_and_not_within_one():
    rng = np.random.default_rng(0)
    layer = thalweg.nn.Conv2d(2, 3, 3, padding=1, dtype="float64", rng=0)
    x = thalweg.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    for _ in range(3):  # forward + backward, three steps: buffers made once
        layer(x).sum().backward()
    made = layer.workspace.allocations
    for _ in range(3):
        layer(x).sum().backward()
    assert layer.workspace.allocations == made

    # Two forwards before one backward (shared weights): the first graph's columns must
    # survive the second forward, so the gradient is twice one forward's.
    layer.zero_grad()
    x.grad = None
    (layer(x).sum() + layer(x).sum()).backward()
    twice_weight, twice_x = layer.weight.grad.copy(), x.grad.copy()
    layer.zero_grad()
    x.grad = None
    layer(x).sum().backward()
    np.testing.assert_allclose(twice_weight, 2 * layer.weight.grad)
    np.testing.assert_allclose(twice_x, 2 * x.grad)


def test_workspace_lends_an_array_again_only_when_nobody_holds_it():
    space = Workspace()
    first = space.take("cols", (3, 4), np.float32)
    view = first.reshape(12)  # a view keeps the memory in use
    del first
    second = space.take("cols", (3, 4), np.float32)
    assert not np.shares_memory(second, view)
    address = second.ctypes.data
    del second  # now free: lent again, while `first` stays held through the view
    assert space.take("cols", (3, 4), np.float32).ctypes.data == address
    assert space.allocations == 2
    small = Workspace(max_bytes=100)
    big = small.take("cols", (10, 10), np.float32)  # 400 bytes: lent, not kept
    assert big.shape == (10, 10) and small.nbytes == 0


def test_im2col_and_col2im_are_adjoint():
    """<im2col(x), c> = <x, col2im(c)> for every x, c: col2im is im2col's transpose."""
    rng = np.random.default_rng(0)
    shape, options = (2, 3, 7, 6), {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1)}
    x = rng.standard_normal(shape)
    cols = im2col(x, (2, 3), **options)
    c = rng.standard_normal(cols.shape)
    back = col2im(c, shape, (2, 3), **options)
    assert np.isclose(np.vdot(cols, c), np.vdot(x, back))


def test_conv2d_rejects_mismatched_shapes_with_one_clear_line():
    x = thalweg.zeros(1, 3, 8, 8)
    with pytest.raises(ShapeError, match="3 channels but the weight"):
        F.conv2d(x, thalweg.zeros(4, 2, 3, 3))
    with pytest.raises(ShapeError, match="4-D"):
        F.conv2d(thalweg.zeros(3, 8, 8), thalweg.zeros(4, 3, 3, 3))
    with pytest.raises(ShapeError, match="too small"):
        F.conv2d(thalweg.zeros(1, 3, 2, 2), thalweg.zeros(4, 3, 3, 3))
    with pytest.raises(ShapeError, match="groups=2"):
        F.conv2d(x, thalweg.zeros(4, 1, 3, 3), groups=2)


def test_conv2d_accepts_integer_pixels():
    pixels = np.arange(16, dtype=np.uint8).reshape(1, 1, 4, 4)
    out = F.conv2d(thalweg.tensor(pixels), thalweg.ones(1, 1, 2, 2))
    assert out.dtype == np.float32
    assert out.data[0, 0, 0, 0] == 0 + 1 + 4 + 5


# ---------------------------------------------------------------------- pooling


@FEW
@given(pool_configs(), st.integers(0, 2**31))
def test_max_pool_gradients_pass_gradcheck_and_match_the_reference(config, seed):
    shape, options = config
    x = distinct(shape, seed)
    assert thalweg.gradcheck(lambda t: F.max_pool2d(t, **options), leaf(x))
    window = options["kernel_size"], options["stride"], options["padding"]
    expected = reference_pool(x, *window, np.max, -np.inf)
    np.testing.assert_array_equal(F.max_pool2d(thalweg.tensor(x), **options).data, expected)


@FEW
@given(pool_configs(), st.integers(0, 2**31), st.booleans())
def test_avg_pool_gradients_pass_gradcheck_and_match_the_reference(config, seed, include_pad):
    shape, options = config
    x = np.random.default_rng(seed).standard_normal(shape)
    fn = lambda t: F.avg_pool2d(t, **options, count_include_pad=include_pad)  # noqa: E731
    assert thalweg.gradcheck(fn, leaf(x))
    window = options["kernel_size"], options["stride"], options["padding"]
    if include_pad:
        expected = reference_pool(x, *window, np.mean, 0.0)
    else:  # padding as NaN, ignored by nanmean: the mean of the real pixels
        expected = reference_pool(x, *window, np.nanmean, np.nan)
    np.testing.assert_allclose(fn(thalweg.tensor(x)).data, expected, rtol=1e-12, atol=1e-12)


@FEW
@given(
    st.integers(1, 7), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4), st.integers(0, 99)
)
def test_adaptive_avg_pool_gradients_pass_gradcheck_and_average_whole_windows(h, w, oh, ow, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, h, w))
    assert thalweg.gradcheck(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), leaf(x))
    out = F.adaptive_avg_pool2d(thalweg.tensor(x), (oh, ow)).data
    for i in range(oh):  # PyTorch's windows: [floor(i·h/oh), ceil((i+1)·h/oh))
        rows = slice(i * h // oh, -(-(i + 1) * h // oh))
        for j in range(ow):
            cols = slice(j * w // ow, -(-(j + 1) * w // ow))
            np.testing.assert_allclose(out[:, :, i, j], x[:, :, rows, cols].mean(axis=(2, 3)))


def test_global_average_pooling_is_the_mean_of_each_channel():
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 6))
    assert thalweg.gradcheck(lambda t: F.adaptive_avg_pool2d(t, 1), leaf(x))
    out = F.adaptive_avg_pool2d(thalweg.tensor(x), 1).data
    np.testing.assert_allclose(out[:, :, 0, 0], x.mean(axis=(2, 3)))
    assert adaptive_pool_matrix(6, 1).sum() == pytest.approx(1.0)


def test_max_pool_sends_the_gradient_to_the_first_maximum_on_ties_and_propagates_nan():
    x = thalweg.tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[1.0, 0.0], [0.0, 0.0]])
    with_nan = np.array([[[[1.0, np.nan], [5.0, 2.0]]]])
    assert np.isnan(F.max_pool2d(thalweg.tensor(with_nan), 2).item())


# ---------------------------------------------------------------------- batch norm


@FEW
@given(
    st.sampled_from([(4, 3), (3, 2, 5), (2, 3, 3, 2)]),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_batch_norm_gradients_pass_gradcheck(shape, training, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 1
    channels = shape[1]
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 2, channels)
    inputs = [leaf(x)]
    if affine:
        inputs += [leaf(rng.standard_normal(channels)), leaf(rng.standard_normal(channels))]

    def fn(x, weight=None, bias=None):
        return F.batch_norm(x, mean.copy(), var.copy(), weight, bias, training=training)

    assert thalweg.gradcheck(fn, *inputs)


def test_batch_norm_normalises_each_channel_and_updates_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 4, 4)) * 3 + 2
    mean, var = np.zeros(3), np.ones(3)
    out = F.batch_norm(thalweg.tensor(x), mean, var, training=True, momentum=0.5).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    m = x.size // 3
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(var, 0.5 + 0.5 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    with pytest.raises(ShapeError, match="more than one value per channel"):
        F.batch_norm(thalweg.zeros(1, 3), np.zeros(3), np.ones(3), training=True)


# ---------------------------------------------------------------------- PyTorch


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is a test-only reference")


@settings(max_examples=25, deadline=None)
@given(conv_configs(), st.integers(0, 2**31))
def test_conv2d_matches_pytorch_values_and_gradients(config, seed):
    torch = _torch()
    x_shape, w_shape, options = config
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[0]))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    expected = torch.nn.functional.conv2d(tx, tw, tb, **options)
    grad = rng.standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(grad))
    X, W, B = leaf(x), leaf(w), leaf(b)
    out = F.conv2d(X, W, B, **options)
    out.backward(grad)
    for ours, theirs in (
        (out.data, expected),
        (X.grad, tx.grad),
        (W.grad, tw.grad),
        (B.grad, tb.grad),
    ):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(pool_configs(), st.integers(0, 2**31), st.sampled_from(["max", "avg", "avg_real"]))
def test_pooling_matches_pytorch_values_and_gradients(config, seed, kind):
    torch = _torch()
    shape, options = config
    x = distinct(shape, seed)
    theirs = {
        "max": lambda t: torch.nn.functional.max_pool2d(t, **options),
        "avg": lambda t: torch.nn.functional.avg_pool2d(t, **options),
        "avg_real": lambda t: torch.nn.functional.avg_pool2d(t, **options, count_include_pad=False),
    }[kind]
    ours = {
        "max": lambda t: F.max_pool2d(t, **options),
        "avg": lambda t: F.avg_pool2d(t, **options),
        "avg_real": lambda t: F.avg_pool2d(t, **options, count_include_pad=False),
    }[kind]
    tx = torch.tensor(x, requires_grad=True)
    expected = theirs(tx)
    grad = np.random.default_rng(seed).standard_normal(tuple(expected.shape))
    expected.backward(torch.tensor(grad))
    X = leaf(x)
    out = ours(X)
    out.backward(grad)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 3, 4, 5)])
def test_batch_norm_layers_match_pytorch_in_train_and_eval(shape):
    torch = _torch()
    rng = np.random.default_rng(1)
    ours = (thalweg.nn.BatchNorm1d if len(shape) < 4 else thalweg.nn.BatchNorm2d)(
        3, dtype="float64"
    )
    theirs = (torch.nn.BatchNorm1d if len(shape) < 4 else torch.nn.BatchNorm2d)(3).double()
    ours.weight.data[:] = rng.standard_normal(3)
    ours.bias.data[:] = rng.standard_normal(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
        theirs.bias.copy_(torch.tensor(ours.bias.data))
    for mode in ("train", "train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x, grad = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
        X, tx = leaf(x), torch.tensor(x, requires_grad=True)
        out, expected = ours(X), theirs(tx)
        out.backward(grad)
        expected.backward(torch.tensor(grad))
        pairs = [
            (out.data, expected.detach()),
            (X.grad, tx.grad),
            (ours.weight.grad, theirs.weight.grad),
            (ours.bias.grad, theirs.bias.grad),
            (ours.running_mean, theirs.running_mean),
            (ours.running_var, theirs.running_var),
        ]
        for a, b in pairs:
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()
