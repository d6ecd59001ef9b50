"""Every differentiable op passes ``thalweg.gradcheck`` in float64 on hypothesis shapes.

Hypothesis draws the shapes (0-d, size-1 axes, broadcasting pairs, batched matmul, fancy
indices); a drawn seed fills them with values that keep finite differences honest: away
from 0 for abs/relu, away from the clip bounds, distinct for max/min, positive for
log/sqrt. The last tests check ``gradcheck`` itself, on a correct and a wrong op.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra.numpy import BroadcastableShapes

import thalweg
from thalweg import GradcheckError

PROPERTY = settings(max_examples=30, deadline=None)
FEW = settings(max_examples=15, deadline=None)

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONEMPTY_AXES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
PAIRS = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
SEEDS = st.integers(0, 2**32 - 1)


def values(shape, seed, kind="any"):
    """float64 values of ``shape``, chosen so that the op is differentiable there."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    if kind == "any":
        data = rng.uniform(-2, 2, size)
    elif kind == "positive":
        data = rng.uniform(0.5, 2, size)
    elif kind == "away_from_zero":
        data = rng.choice([-1.0, 1.0], size) * rng.uniform(0.1, 2, size)
    elif kind == "distinct":  # every pair differs by >= 0.08, far above gradcheck's eps
        data = (rng.permutation(size) - size / 2) * 0.1 + rng.uniform(-0.01, 0.01, size)
    else:
        raise ValueError(kind)
    return data.reshape(shape)


def leaf(array):
    return thalweg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *arrays):
    """gradcheck ``fn`` with respect to every array (all become float64 leaves)."""
    assert thalweg.gradcheck(fn, *[leaf(a) for a in arrays])


# ------------------------------------------------------------------ elementwise, unary
UNARY = {
    "neg": (lambda x: -x, "any"),
    "exp": (thalweg.exp, "any"),
    "log": (thalweg.log, "positive"),
    "log1p": (thalweg.log1p, "positive"),
    "sqrt": (thalweg.sqrt, "positive"),
    "abs": (thalweg.abs, "away_from_zero"),
    "abs_builtin": (lambda x: abs(x), "away_from_zero"),
    "sin": (thalweg.sin, "any"),
    "cos": (thalweg.cos, "any"),
    "tanh": (thalweg.tanh, "any"),
    "sigmoid": (thalweg.sigmoid, "any"),
    "relu": (thalweg.relu, "away_from_zero"),
    "leaky_relu": (lambda x: thalweg.leaky_relu(x, 0.2), "away_from_zero"),
    "softplus": (thalweg.softplus, "any"),
    # values are at least 0.1 away from 0, so +-0.05 bounds stay 0.05 away
    "clip_both": (lambda x: thalweg.clip(x, -0.05, 0.05) + x.clip(-1.0, 1.0), "away_from_zero"),
    "clip_min_only": (lambda x: x.clip(min=0.05), "away_from_zero"),
    "clip_max_only": (lambda x: x.clip(max=-0.05), "away_from_zero"),
    "square": (lambda x: x**2, "any"),
    "cube": (lambda x: x**3, "any"),
    "fractional_power": (lambda x: x**1.5, "positive"),
    "negative_power": (lambda x: x**-1, "positive"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@PROPERTY
@given(shape=SHAPES, seed=SEEDS)
@example(shape=(), seed=0)  # 0-d
@example(shape=(1, 3, 1), seed=1)  # size-1 axes
def test_unary_op_passes_gradcheck(name, shape, seed):
    fn, kind = UNARY[name]
    check(fn, values(shape, seed, kind))


# ------------------------------------------------------------------ elementwise, binary
BINARY = {
    "add": (lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, "any", "away_from_zero"),
    "pow_tensor_tensor": (lambda a, b: a**b, "positive", "any"),
    "add_fn": (thalweg.add, "any", "any"),
    "sub_fn": (thalweg.sub, "any", "any"),
    "mul_fn": (thalweg.mul, "any", "any"),
    "div_fn": (thalweg.div, "any", "away_from_zero"),
    "pow_fn": (thalweg.pow, "positive", "any"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@PROPERTY
@given(shapes=PAIRS, seed=SEEDS)
@example(shapes=BroadcastableShapes(((), (2, 1)), (2, 1)), seed=0)  # 0-d with a matrix
@example(shapes=BroadcastableShapes(((3, 1), (1, 4)), (3, 4)), seed=0)  # both stretched
def test_binary_op_with_broadcasting_passes_gradcheck(name, shapes, seed):
    fn, kind_a, kind_b = BINARY[name]
    shape_a, shape_b = shapes.input_shapes
    check(fn, values(shape_a, seed, kind_a), values(shape_b, seed + 1, kind_b))


@pytest.mark.parametrize("name", ["maximum", "minimum"])
@PROPERTY
@given(shapes=PAIRS, seed=SEEDS)
def test_maximum_and_minimum_with_broadcasting_pass_gradcheck(name, shapes, seed):
    shape_a, shape_b = shapes.input_shapes
    size_a = int(np.prod(shape_a))
    pool = values((size_a + int(np.prod(shape_b)),), seed, "distinct")  # no ties anywhere
    fn = getattr(thalweg, name)
    check(fn, pool[:size_a].reshape(shape_a), pool[size_a:].reshape(shape_b))


@PROPERTY
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=SEEDS)
def test_where_with_broadcast_condition_passes_gradcheck(shapes, seed):
    shape_c, shape_a, shape_b = shapes.input_shapes
    condition = np.random.default_rng(seed).random(shape_c) < 0.5
    check(
        lambda a, b: thalweg.where(condition, a, b),
        values(shape_a, seed, "any"),
        values(shape_b, seed + 1, "any"),
    )
    # the condition may also be a boolean tensor, e.g. the result of a comparison
    check(lambda a, b: thalweg.where(a > 0, a, b), values(shape_a, seed, "away_from_zero"), 1.0)


SCALAR_OPS = {
    "add": (lambda x, s: x + s, lambda x, s: s + x, "any"),
    "sub": (lambda x, s: x - s, lambda x, s: s - x, "any"),
    "mul": (lambda x, s: x * s, lambda x, s: s * x, "any"),
    "div": (lambda x, s: x / s, lambda x, s: s / x, "away_from_zero"),
    "pow": (lambda x, s: x**s, lambda x, s: s**x, "positive"),
}


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@PROPERTY
@given(shape=SHAPES, seed=SEEDS, scalar=st.sampled_from([0.5, 2, 3.0, 1.7]))
def test_python_scalar_on_either_side_passes_gradcheck(name, shape, seed, scalar):
    tensor_first, scalar_first, kind = SCALAR_OPS[name]
    x = values(shape, seed, kind)
    check(lambda t: tensor_first(t, scalar), x)
    check(lambda t: scalar_first(t, scalar), x)


# ------------------------------------------------------------------ reductions
@st.composite
def shape_and_axis(draw, min_dims=0):
    """A shape and an ``axis`` for it: None, an int (maybe negative) or a tuple of ints."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    choices = [st.none()]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        choices.append(
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(
                lambda axes: tuple(a - ndim if i % 2 else a for i, a in enumerate(axes))
            )
        )
    return shape, draw(st.one_of(*choices))


REDUCTIONS = {
    "sum": (thalweg.sum, "any"),
    "mean": (thalweg.mean, "any"),
    "max": (thalweg.max, "distinct"),
    "min": (thalweg.min, "distinct"),
    "logsumexp": (thalweg.logsumexp, "any"),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@PROPERTY
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=SEEDS)
@example(case=((), None), keepdims=False, seed=0)  # 0-d
@example(case=((), ()), keepdims=True, seed=0)
@example(case=((2, 1, 3), (-1, 0)), keepdims=True, seed=0)
@example(case=((2, 1, 3), -2), keepdims=False, seed=0)
def test_reduction_over_any_axes_with_keepdims_passes_gradcheck(name, case, keepdims, seed):
    shape, axis = case
    fn, kind = REDUCTIONS[name]
    check(lambda x: fn(x, axis=axis, keepdims=keepdims), values(shape, seed, kind))
    # the method spelling goes through the same op
    check(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), values(shape, seed, kind))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@PROPERTY
@given(shape=NONEMPTY_AXES, seed=SEEDS, data=st.data())
def test_softmax_family_along_any_axis_passes_gradcheck(name, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    fn = getattr(thalweg, name)
    check(lambda x: fn(x, axis=axis), values(shape, seed, "any"))


def test_max_with_ties_shares_the_gradient_and_passes_gradcheck_on_distinct_values():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])


# ------------------------------------------------------------------ matmul and linear
@st.composite
def matmul_shapes(draw):
    """Operand shapes covering every case of numpy.matmul."""
    n, k, m = (draw(st.integers(1, 4), label=name) for name in "nkm")
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3)
    ).input_shapes
    case = draw(
        st.sampled_from(["1d@1d", "1d@2d", "2d@1d", "2d@2d", "1d@nd", "nd@1d", "nd@nd"]),
        label="case",
    )
    return {
        "1d@1d": ((k,), (k,)),
        "1d@2d": ((k,), (k, m)),
        "2d@1d": ((n, k), (k,)),
        "2d@2d": ((n, k), (k, m)),
        "1d@nd": ((k,), (*batch_b, k, m)),
        "nd@1d": ((*batch_a, n, k), (k,)),
        "nd@nd": ((*batch_a, n, k), (*batch_b, k, m)),
    }[case]


@PROPERTY
@given(shapes=matmul_shapes(), seed=SEEDS)
def test_matmul_in_every_numpy_case_passes_gradcheck(shapes, seed):
    shape_a, shape_b = shapes
    a, b = values(shape_a, seed), values(shape_b, seed + 1)
    check(lambda x, y: x @ y, a, b)
    check(thalweg.matmul, a, b)
    # an ndarray on the left goes through Tensor.__rmatmul__
    check(lambda y: a @ y, b)


@PROPERTY
@given(
    batch=hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3),
    sizes=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    with_bias=st.booleans(),
    seed=SEEDS,
)
def test_linear_with_and_without_bias_and_nd_input_passes_gradcheck(batch, sizes, with_bias, seed):
    n_in, n_out = sizes
    x, w = values((*batch, n_in), seed), values((n_in, n_out), seed + 1)
    if with_bias:
        check(thalweg.linear, x, w, values((n_out,), seed + 2))
    else:
        check(thalweg.linear, x, w)


# ------------------------------------------------------------------ shape ops
@PROPERTY
@given(shape=SHAPES, seed=SEEDS, data=st.data())
def test_reshape_passes_gradcheck(shape, seed, data):
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(-1,), (size, 1), (1, size), (1, -1, 1), ()]))
    if target == () and size != 1:
        target = (size,)
    check(lambda x: x.reshape(target) * np.arange(size).reshape(target), values(shape, seed))
    check(lambda x: thalweg.reshape(x, -1), values(shape, seed))
    check(lambda x: x.flatten(), values(shape, seed))


@PROPERTY
@given(shape=SHAPES, seed=SEEDS, data=st.data())
def test_transpose_permute_and_T_pass_gradcheck(shape, seed, data):
    axes = data.draw(st.permutations(range(len(shape))), label="axes")
    negative_axes = [a - len(shape) for a in axes]
    x = values(shape, seed)
    weights = values(np.transpose(x, axes).shape, seed + 1)  # so position matters
    check(lambda t: t.transpose(axes) * weights, x)
    check(lambda t: t.permute(*negative_axes) * weights, x)
    check(lambda t: thalweg.permute(t, axes) * weights, x)
    check(lambda t: thalweg.transpose(t) * values(x.T.shape, seed + 2), x)
    check(lambda t: t.T * values(x.T.shape, seed + 2), x)


@PROPERTY
@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3), seed=SEEDS)
def test_squeeze_and_unsqueeze_pass_gradcheck(shape, seed):
    x = values(shape, seed)
    check(lambda t: t.squeeze() * values(np.squeeze(x).shape, seed + 1), x)
    for axis in [i for i, n in enumerate(shape) if n == 1]:
        check(lambda t, axis=axis: thalweg.squeeze(t, axis - len(shape)), x)
    for axis in range(-len(shape) - 1, len(shape) + 1):
        check(lambda t, axis=axis: t.unsqueeze(axis), x)
        check(lambda t, axis=axis: thalweg.unsqueeze(t, axis), x)


@PROPERTY
@given(shapes=PAIRS, seed=SEEDS)
def test_expand_and_broadcast_to_sum_the_gradient_back(shapes, seed):
    shape_x, other = shapes.input_shapes
    target = np.broadcast_shapes(shape_x, other)
    weights = values(target, seed + 1)
    check(lambda t: t.expand(target) * weights, values(shape_x, seed))
    check(lambda t: t.expand(*target) * weights, values(shape_x, seed))
    check(lambda t: thalweg.broadcast_to(t, target) * weights, values(shape_x, seed))
    check(lambda t: thalweg.expand(t, target) * weights, values(shape_x, seed))


@PROPERTY
@given(shape=NONEMPTY_AXES, seed=SEEDS, data=st.data())
def test_getitem_with_basic_indices_passes_gradcheck(shape, seed, data):
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True), label="index")
    check(lambda t: t[index] * 1.5, values(shape, seed))


@PROPERTY
@given(shape=NONEMPTY_AXES, seed=SEEDS, data=st.data())
def test_getitem_with_repeated_integer_indices_accumulates_like_add_at(shape, seed, data):
    index = data.draw(hnp.integer_array_indices(shape, result_shape=SHAPES), label="index")
    x = values(shape, seed)
    check(lambda t: t[index] * values(x[index].shape, seed + 1), x)
    # the gradient of a plain sum counts how often each element was picked
    t = leaf(x)
    t[index].sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, index, 1.0)
    np.testing.assert_array_equal(t.grad, expected)


@PROPERTY
@given(shape=NONEMPTY_AXES, seed=SEEDS, data=st.data())
def test_getitem_with_boolean_mask_passes_gradcheck(shape, seed, data):
    mask = data.draw(hnp.arrays(bool, shape), label="mask")
    x = values(shape, seed)
    check(lambda t: t[mask] * 2.0, x)
    check(lambda t: t[thalweg.tensor(mask)] * 2.0, x)  # a boolean tensor works the same
    row_mask = mask.reshape(-1)[: shape[0]]
    check(lambda t: t[row_mask] * 2.0, x)  # a mask over the first axis only


def test_getitem_with_lists_mixed_with_slices_passes_gradcheck():
    x = values((4, 3), 7)
    check(lambda t: t[[0, 0, 3], 1:], x)
    check(lambda t: t[[2, 2], [1, 1]], x)
    check(lambda t: t[..., [0, 2, 0]], x)
    check(lambda t: t[:, thalweg.tensor([1, 1])], x)


@st.composite
def joinable_shapes(draw, same_shape):
    """Two or three shapes that differ only along ``axis`` (or not at all) and the axis."""
    base = draw(NONEMPTY_AXES)
    axis = draw(st.integers(-len(base), len(base) - 1))
    count = draw(st.integers(1, 3))
    shapes = []
    for _ in range(count):
        shape = list(base)
        if not same_shape:
            shape[axis] = draw(st.integers(1, 3))
        shapes.append(tuple(shape))
    return shapes, axis


@PROPERTY
@given(case=joinable_shapes(same_shape=False), seed=SEEDS)
def test_concat_with_negative_and_positive_axes_passes_gradcheck(case, seed):
    shapes, axis = case
    arrays = [values(s, seed + i) for i, s in enumerate(shapes)]
    out_shape = np.concatenate(arrays, axis=axis).shape
    weights = values(out_shape, seed + 9)
    check(lambda *ts: thalweg.concat(ts, axis=axis) * weights, *arrays)


@PROPERTY
@given(case=joinable_shapes(same_shape=True), seed=SEEDS, data=st.data())
def test_stack_with_negative_and_positive_axes_passes_gradcheck(case, seed, data):
    shapes, _ = case
    ndim = len(shapes[0]) + 1
    axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
    arrays = [values(s, seed + i) for i, s in enumerate(shapes)]
    weights = values(np.stack(arrays, axis=axis).shape, seed + 9)
    check(lambda *ts: thalweg.stack(ts, axis=axis) * weights, *arrays)


def test_concat_of_a_tensor_and_a_constant_gives_only_the_tensor_a_gradient():
    x = leaf([1.0, 2.0])
    thalweg.concat([x, np.array([5.0])]).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


# ------------------------------------------------------------------ fused losses
WEIGHTED = st.booleans()
REDUCTION = st.sampled_from(["mean", "sum", "none"])


@PROPERTY
@given(
    n=st.integers(1, 5),
    n_classes=st.integers(1, 4),
    reduction=REDUCTION,
    weighted=WEIGHTED,
    seed=SEEDS,
)
def test_cross_entropy_with_every_reduction_and_weight_passes_gradcheck(
    n, n_classes, reduction, weighted, seed
):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    weight = rng.uniform(0.2, 2.0, n) if weighted else None
    check(
        lambda z: thalweg.cross_entropy(z, labels, weight=weight, reduction=reduction),
        values((n, n_classes), seed),
    )


@PROPERTY
@given(
    shape=NONEMPTY_AXES,
    reduction=REDUCTION,
    weighted=WEIGHTED,
    soft_targets=st.booleans(),
    seed=SEEDS,
)
def test_binary_cross_entropy_with_logits_with_every_reduction_and_weight_passes_gradcheck(
    shape, reduction, weighted, soft_targets, seed
):
    rng = np.random.default_rng(seed)
    targets = rng.random(shape) if soft_targets else (rng.random(shape) < 0.5).astype(float)
    weight = rng.uniform(0.2, 2.0, shape[0]) if weighted else None
    check(
        lambda z: thalweg.binary_cross_entropy_with_logits(
            z, targets, weight=weight, reduction=reduction
        ),
        values(shape, seed) * 3,
    )


@PROPERTY
@given(shape=NONEMPTY_AXES, reduction=REDUCTION, weighted=WEIGHTED, seed=SEEDS)
def test_squared_error_with_every_reduction_and_weight_passes_gradcheck(
    shape, reduction, weighted, seed
):
    rng = np.random.default_rng(seed)
    target = rng.normal(size=shape)
    weight = rng.uniform(0.2, 2.0, shape[0]) if weighted else None
    check(
        lambda p: thalweg.squared_error(p, target, weight=weight, reduction=reduction),
        values(shape, seed),
    )


# ------------------------------------------------------------------ composites
@FEW
@given(batch=st.integers(1, 4), seed=SEEDS)
def test_small_mlp_with_softmax_cross_entropy_passes_gradcheck(batch, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, batch)

    def loss(x, w1, b1, w2, b2):
        hidden = thalweg.tanh(thalweg.linear(x, w1, b1))
        return thalweg.cross_entropy(hidden @ w2 + b2, labels)

    check(
        loss,
        values((batch, 4), seed),
        values((4, 5), seed + 1),
        values((5,), seed + 2),
        values((5, 3), seed + 3),
        values((3,), seed + 4),
    )


def test_a_tensor_used_on_several_paths_passes_gradcheck():
    check(lambda x: (x * x).sum() + thalweg.exp(x).mean() * x.sum(), values((3, 2), 1))


# ------------------------------------------------------------------ gradcheck itself
class WrongSquare(thalweg.Function):
    """x² with a deliberately wrong derivative (3x instead of 2x)."""

    def forward(self, x):
        self.saved = (x,)
        return x * x

    def backward(self, grad):
        (x,) = self.saved
        return (grad * 3 * x,)


def test_gradcheck_returns_true_for_a_correct_op():
    assert thalweg.gradcheck(lambda a, b: a * b + thalweg.sin(a), leaf([1.0, 2.0]), leaf(3.0))


def test_gradcheck_raises_naming_the_input_index_and_worst_element_for_a_wrong_op():
    good = leaf([1.0, 2.0])
    bad = leaf([[0.5, 1.0], [4.0, 0.1]])  # the error 1·x·g is largest at x = 4, element (1, 0)
    with pytest.raises(GradcheckError) as info:
        thalweg.gradcheck(lambda a, b: a.sum() + WrongSquare.apply(b).sum(), good, bad)
    message = str(info.value)
    assert "input 1" in message
    assert "element (1, 0)" in message  # np.int64 repr aside, the index is named
    assert isinstance(info.value, AssertionError)  # so a bare assert-style test fails loudly


def test_gradcheck_returns_false_instead_of_raising_when_asked():
    assert not thalweg.gradcheck(lambda x: WrongSquare.apply(x), leaf([2.0]), raise_exception=False)


def test_gradcheck_checks_only_inputs_that_require_grad_and_needs_at_least_one():
    constant = thalweg.tensor([2.0, 3.0], dtype="float64")
    assert thalweg.gradcheck(lambda a, c: WrongSquare.apply(c) + a, leaf([1.0, 1.0]), constant)
    with pytest.raises(ValueError, match="no input has requires_grad"):
        thalweg.gradcheck(lambda c: c * 2, constant)


def test_gradcheck_checks_in_float64_even_for_float32_inputs():
    x = thalweg.tensor([0.3, 1.7], requires_grad=True)  # float32
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return thalweg.tanh(t)

    assert thalweg.gradcheck(fn, x)
    assert set(seen) == {np.dtype(np.float64)}
    assert x.dtype == np.float32 and x.grad is None  # the caller's tensor is untouched


def test_standardized_linear_gradients_match_finite_differences():
    from thalweg.autograd.ops.linalg import StandardizedLinear

    rng = np.random.default_rng(0)
    x = thalweg.tensor(rng.normal(size=(5, 3)) * 4 + 2, requires_grad=True)
    weight = thalweg.tensor(rng.normal(size=(3, 2)), requires_grad=True)
    bias = thalweg.tensor(rng.normal(size=2), requires_grad=True)
    mean, scale = rng.normal(size=3), rng.uniform(0.5, 3, size=3)
    assert thalweg.gradcheck(
        lambda a, w, b: StandardizedLinear.apply(a, w, b, mean, scale), x, weight, bias
    )
    expected = ((x.data - mean) / scale) @ weight.data + bias.data
    got = StandardizedLinear.apply(x, weight, bias, mean, scale).data
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_losses_accept_a_single_0d_logit(reduction):
    z = thalweg.tensor(0.3, dtype="float64", requires_grad=True)
    for loss in (thalweg.binary_cross_entropy_with_logits, thalweg.squared_error):
        assert thalweg.gradcheck(lambda a, f=loss: f(a, np.array(1.0), reduction=reduction), z)
