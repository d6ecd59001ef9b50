"""Forward values match NumPy, and a few gradients match values worked out by hand.

gradcheck proves backward agrees with forward; these tests prove forward is the right
function in the first place, and show the teaching examples with their numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, log_softmax, logsumexp, softmax

import thalweg

RNG = np.random.default_rng(12345)
X = RNG.uniform(-2, 2, (3, 4))
Y = RNG.uniform(-2, 2, (4,))
POSITIVE = RNG.uniform(0.5, 2, (3, 4))


def t(array, requires_grad=False):
    return thalweg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


UNARY_VALUES = {
    "neg": (lambda x: -x, np.negative, X),
    "exp": (thalweg.exp, np.exp, X),
    "log": (thalweg.log, np.log, POSITIVE),
    "log1p": (thalweg.log1p, np.log1p, POSITIVE),
    "sqrt": (thalweg.sqrt, np.sqrt, POSITIVE),
    "abs": (thalweg.abs, np.abs, X),
    "sin": (thalweg.sin, np.sin, X),
    "cos": (thalweg.cos, np.cos, X),
    "tanh": (thalweg.tanh, np.tanh, X),
    "sigmoid": (thalweg.sigmoid, expit, X),
    "relu": (thalweg.relu, lambda x: np.maximum(x, 0), X),
    "leaky_relu": (
        lambda x: thalweg.leaky_relu(x, 0.1),
        lambda x: np.where(x > 0, x, 0.1 * x),
        X,
    ),
    "softplus": (thalweg.softplus, lambda x: np.log1p(np.exp(x)), X),
    "clip": (lambda x: thalweg.clip(x, -0.5, 1.0), lambda x: np.clip(x, -0.5, 1.0), X),
    "sum": (lambda x: x.sum(axis=-1, keepdims=True), lambda x: x.sum(-1, keepdims=True), X),
    "mean": (lambda x: thalweg.mean(x, axis=0), lambda x: x.mean(0), X),
    "max": (lambda x: x.max(axis=(0, 1)), np.max, X),
    "min": (lambda x: thalweg.min(x, axis=1), lambda x: x.min(1), X),
    "logsumexp": (lambda x: x.logsumexp(axis=1), lambda x: logsumexp(x, axis=1), X),
    "softmax": (lambda x: x.softmax(axis=0), lambda x: softmax(x, axis=0), X),
    "log_softmax": (thalweg.log_softmax, lambda x: log_softmax(x, axis=-1), X),
    "reshape": (lambda x: x.reshape(2, 6), lambda x: x.reshape(2, 6), X),
    "transpose": (lambda x: x.T, lambda x: x.T, X),
    "unsqueeze": (lambda x: x.unsqueeze(1), lambda x: x[:, None], X),
    "squeeze": (lambda x: x[:, None].squeeze(1), lambda x: x, X),
    "expand": (lambda x: x[:1].expand(5, 4), lambda x: np.broadcast_to(x[:1], (5, 4)), X),
    "getitem": (lambda x: x[[2, 0, 2], 1:3], lambda x: x[[2, 0, 2], 1:3], X),
    "mask": (lambda x: x[x > 0], lambda x: x[x > 0], X),
}


@pytest.mark.parametrize("name", sorted(UNARY_VALUES))
def test_forward_value_matches_numpy(name):
    ours, numpys, data = UNARY_VALUES[name]
    np.testing.assert_allclose(ours(t(data)).data, numpys(data), rtol=1e-12, atol=1e-12)


BINARY_VALUES = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: abs(a) ** b, lambda a, b: np.abs(a) ** b),
    "maximum": (thalweg.maximum, np.maximum),
    "minimum": (thalweg.minimum, np.minimum),
    "where": (lambda a, b: thalweg.where(a > b, a, b), lambda a, b: np.where(a > b, a, b)),
    "matmul_2d_1d": (lambda a, b: a @ b, np.matmul),
    "linear": (lambda a, b: thalweg.linear(a, b.reshape(4, 1)), lambda a, b: a @ b[:, None]),
}


@pytest.mark.parametrize("name", sorted(BINARY_VALUES))
def test_binary_forward_value_matches_numpy_with_broadcasting(name):
    ours, numpys = BINARY_VALUES[name]
    np.testing.assert_allclose(ours(t(X), t(Y)).data, numpys(X, Y), rtol=1e-12)


def test_matmul_forward_matches_numpy_in_every_case():
    a3, b3 = RNG.normal(size=(2, 1, 3, 4)), RNG.normal(size=(5, 4, 2))
    v4, v3 = RNG.normal(size=4), RNG.normal(size=3)
    for a, b in [(v4, v4), (v4, b3[0]), (a3[0, 0], v4), (a3, b3), (v4, b3), (a3, v4), (v3, a3)]:
        np.testing.assert_allclose((t(a) @ t(b)).data, a @ b, rtol=1e-12)


def test_concat_and_stack_forward_match_numpy():
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    np.testing.assert_array_equal(thalweg.concat([t(a), t(b)], axis=-1).data, np.hstack([a, b]))
    np.testing.assert_array_equal(thalweg.stack([t(a), t(b)], axis=-1).data, np.dstack([a, b]))


def test_fused_losses_match_their_textbook_formulas():
    logits = RNG.normal(size=(5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    weight = np.array([1.0, 2.0, 0.5, 1.0, 3.0])
    per_sample = -log_softmax(logits, axis=1)[np.arange(5), labels]
    ce = lambda **kw: thalweg.cross_entropy(t(logits), labels, **kw).data  # noqa: E731
    np.testing.assert_allclose(ce(), per_sample.mean())
    np.testing.assert_allclose(ce(reduction="sum"), per_sample.sum())
    np.testing.assert_allclose(ce(reduction="none"), per_sample)
    np.testing.assert_allclose(ce(weight=weight), (weight * per_sample).sum() / weight.sum())

    z, y = RNG.normal(size=(5, 2)) * 4, (RNG.random((5, 2)) < 0.5).astype(float)
    p = expit(z)
    bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    got = thalweg.binary_cross_entropy_with_logits(t(z), y, weight=weight, reduction="none")
    np.testing.assert_allclose(got.data, bce * weight[:, None])
    np.testing.assert_allclose(
        thalweg.binary_cross_entropy_with_logits(t(z), y, weight=weight).data,
        (bce * weight[:, None]).sum() / (weight.sum() * 2),
    )
    # Unweighted mean and sum take a shorter path (no per-element loss array).
    np.testing.assert_allclose(thalweg.binary_cross_entropy_with_logits(t(z), y).data, bce.mean())
    np.testing.assert_allclose(
        thalweg.binary_cross_entropy_with_logits(t(z), y, reduction="sum").data, bce.sum()
    )

    target = RNG.normal(size=(5, 2))
    np.testing.assert_allclose(thalweg.squared_error(t(z), target).data, ((z - target) ** 2).mean())
    np.testing.assert_allclose(
        thalweg.squared_error(t(z), target, reduction="sum").data, ((z - target) ** 2).sum()
    )


def test_stable_primitives_do_not_overflow_at_extreme_inputs():
    big = t([-1000.0, 0.0, 1000.0])
    np.testing.assert_array_equal(thalweg.sigmoid(big).data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(thalweg.softplus(big).data, [0.0, np.log(2), 1000.0])
    np.testing.assert_allclose(thalweg.logsumexp(big).data, 1000.0)
    np.testing.assert_allclose(thalweg.log_softmax(big).data, [-2000.0, -1000.0, 0.0])
    loss = thalweg.binary_cross_entropy_with_logits(big, [1.0, 1.0, 0.0], reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, np.log(2), 1000.0])
    assert np.isfinite(thalweg.cross_entropy(t([[1000.0, -1000.0]]), [1]).data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_of_confident_logits_keeps_its_tiny_total(dtype):
    # A separable fit: logits of ±(10..20) with the right signs, so every loss is about
    # exp(-|z|) ≈ 10⁻⁶. Summing max(z, 0) and z·y separately cancels two sums of ~4·10⁵ to
    # a total wrong in its first digit (float32), even negative; per element it is not.
    rng = np.random.default_rng(0)
    y = (rng.random(50_000) < 0.5).astype(dtype)
    z = (np.where(y == 1, 1, -1) * rng.uniform(10, 20, y.size)).astype(dtype)
    z64 = z.astype(np.float64)
    reference = np.logaddexp(0, -np.where(y == 1, z64, -z64))  # -log σ(±z), in float64
    for reduction, expected in (("mean", reference.mean()), ("sum", reference.sum())):
        got = thalweg.binary_cross_entropy_with_logits(thalweg.tensor(z), y, reduction=reduction)
        got = got.data
        assert got.dtype == dtype
        assert got > 0
        np.testing.assert_allclose(got, expected, rtol=1e-4 if dtype == np.float32 else 1e-10)


# ------------------------------------------------------------------ hand-computed gradients
def test_gradient_of_x_squared_is_two_x():
    x = t([-1.5, 0.0, 3.0], requires_grad=True)
    (x**2).sum().backward()
    np.testing.assert_array_equal(x.grad, [-3.0, 0.0, 6.0])


def test_gradient_of_x_times_x_is_two_x_because_both_uses_add_up():
    x = t([2.0, -4.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, -8.0])


def test_broadcast_bias_gradient_is_the_sum_over_the_batch():
    x = t(np.ones((4, 2)))  # a batch of 4 samples
    w = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    b = t([0.0, 0.0, 0.0], requires_grad=True)
    (x @ w + b).sum().backward()
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])  # used by all 4 rows
    np.testing.assert_array_equal(w.grad, np.full((2, 3), 4.0))


def test_mean_gives_every_element_one_over_n():
    x = t(np.zeros((2, 5)), requires_grad=True)
    x.mean().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 5), 0.1))


def test_sigmoid_slope_at_zero_is_a_quarter():
    x = t([0.0], requires_grad=True)
    thalweg.sigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad, [0.25])


def test_relu_and_abs_use_zero_subgradient_at_zero():
    x = t([-1.0, 0.0, 2.0], requires_grad=True)
    (thalweg.relu(x) + thalweg.abs(x)).sum().backward()
    np.testing.assert_array_equal(x.grad, [-1.0, 0.0, 2.0])


def test_max_sends_the_gradient_to_the_winner_and_maximum_splits_ties():
    x = t([1.0, 5.0, 3.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])
    a, b = t([1.0, 2.0], requires_grad=True), t([1.0, 0.0], requires_grad=True)
    thalweg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0])


def test_repeated_index_gradient_counts_each_pick():
    x = t([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    logits = t([[0.0, 0.0], [0.0, np.log(3.0)]], requires_grad=True)
    thalweg.cross_entropy(logits, [0, 1]).backward()
    np.testing.assert_allclose(logits.grad, [[-0.25, 0.25], [0.125, -0.125]])


def test_squared_error_gradient_is_two_residuals_over_n():
    p = t([1.0, 3.0], requires_grad=True)
    thalweg.squared_error(p, [0.0, 0.0]).backward()
    np.testing.assert_array_equal(p.grad, [1.0, 3.0])


def test_gradient_of_a_to_the_x_is_a_to_the_x_log_a():
    x = t([0.0, 1.0], requires_grad=True)
    (2.0**x).sum().backward()
    np.testing.assert_allclose(x.grad, [np.log(2.0), 2 * np.log(2.0)])
