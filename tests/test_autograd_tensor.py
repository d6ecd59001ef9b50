"""The Tensor API, the factories, and the dtype rules (float32 by default, scalars never
upcast, gradients in their input's dtype)."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg
from thalweg import DTypeError

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


# ------------------------------------------------------------------ dtype rules
def test_python_floats_make_float32_tensors_by_default():
    assert thalweg.tensor([1.0]).dtype == F32
    assert thalweg.tensor(2.5).dtype == F32
    assert thalweg.tensor([[1.0, 2.0]], requires_grad=True).dtype == F32


def test_float64_is_kept_when_given():
    assert thalweg.tensor(np.array([1.0])).dtype == F64
    assert thalweg.tensor([1.0], dtype="float64").dtype == F64
    assert thalweg.tensor([1.0], dtype=thalweg.float64).dtype == F64
    assert thalweg.from_numpy(np.zeros(2)).dtype == F64


def test_integers_stay_integers():
    assert thalweg.tensor([1, 2]).dtype.kind == "i"
    assert thalweg.arange(3).dtype.kind == "i"


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x * 2.0,
        lambda x: 2.0 * x,
        lambda x: x / 3,
        lambda x: 3 / x,
        lambda x: x + 1,
        lambda x: 1.5 - x,
        lambda x: 2.0**x,
        lambda x: x**2.0,
        lambda x: x * np.float64(2),
        lambda x: np.float64(2) * x,
        lambda x: x + np.float64(0.5),
        lambda x: x / np.float64(3),
        lambda x: np.float64(2.0) ** x,
        lambda x: thalweg.maximum(x, 0.5),
        lambda x: thalweg.where(x > 1, x, 0.0),
        lambda x: x.clip(np.float64(0.5), np.float64(1.5)),
        lambda x: thalweg.leaky_relu(x, np.float64(0.2)),
        lambda x: x.sum(axis=np.int64(0)),
    ],
)
def test_python_and_numpy_scalars_never_upcast_float32(op):
    x = thalweg.tensor([1.0, 2.0], requires_grad=True)
    y = op(x)
    assert y.dtype == F32
    y.sum().backward()
    assert x.grad.dtype == F32


def test_gradients_have_their_inputs_dtype_in_a_graph_mixing_float32_and_float64():
    x32 = thalweg.tensor([1.0, 2.0], requires_grad=True)
    w64 = thalweg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    y = x32 * w64
    assert y.dtype == F64  # NumPy's promotion between tensors
    (y * y).sum().backward()
    assert x32.grad.dtype == F32 and w64.grad.dtype == F64
    np.testing.assert_allclose(x32.grad, [18.0, 64.0])
    (dx,) = thalweg.grad((x32 * w64).sum(), [x32])
    assert dx.dtype == F32


def test_intermediate_gradients_of_a_float32_graph_stay_float32():
    x = thalweg.tensor([1.0, 2.0], requires_grad=True)
    hidden = (x * 1.0).retain_grad()
    (2.0**hidden).sum().backward()  # d/db a**b uses log(a) of a Python float
    assert hidden.grad.dtype == F32


def test_retained_intermediate_gradients_have_the_intermediates_dtype():
    x32 = thalweg.tensor([1.0, 2.0], requires_grad=True)
    w64 = thalweg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    hidden = (x32 * 1.0).retain_grad()
    (hidden * w64).sum().backward()  # the gradient reaching hidden is float64
    assert hidden.grad.dtype == F32
    np.testing.assert_array_equal(hidden.grad, [3.0, 4.0])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(DTypeError, match="only floating-point tensors can require gradients"):
        thalweg.tensor([1, 2], requires_grad=True)
    with pytest.raises(DTypeError, match="int64"):
        thalweg.tensor([1, 2]).requires_grad_()
    with pytest.raises(DTypeError):
        thalweg.arange(3, requires_grad=True)


def test_set_default_dtype_changes_what_python_floats_become():
    thalweg.set_default_dtype("float64")
    try:
        assert thalweg.tensor([1.0]).dtype == F64
        assert thalweg.zeros(2).dtype == F64
    finally:
        thalweg.set_default_dtype("float32")
    assert thalweg.tensor([1.0]).dtype == F32


# ------------------------------------------------------------------ attributes
def test_tensor_exposes_array_attributes():
    x = thalweg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert isinstance(x.data, np.ndarray)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.dtype == F32 and x.requires_grad and x.grad is None and x.is_leaf
    np.testing.assert_array_equal(x.T.data, x.data.T)
    assert x.numpy() is x.data
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert np.array(x, dtype=np.float64).dtype == F64
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_item_gives_a_python_number_and_rejects_many_elements():
    assert thalweg.tensor([[2.5]]).item() == 2.5
    assert isinstance(thalweg.tensor(3).item(), int)
    assert float(thalweg.tensor(1.5)) == 1.5
    with pytest.raises(ValueError, match="2 elements"):
        thalweg.tensor([1.0, 2.0]).item()


def test_iterating_a_tensor_yields_its_rows_and_stops():
    x = thalweg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    first, second = x  # unpacking iterates
    assert [row.tolist() for row in x] == [[1.0, 2.0], [3.0, 4.0]]
    (first * 2.0 + second).sum().backward()  # each row is a differentiable view
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0], [1.0, 1.0]])
    with pytest.raises(TypeError):
        iter(thalweg.tensor(1.0))


def test_len_of_a_0d_tensor_is_an_error():
    with pytest.raises(TypeError):
        len(thalweg.tensor(1.0))


def test_repr_shows_values_dtype_and_grad_fn_name():
    x = thalweg.tensor([1.5, -2.0], requires_grad=True, name="w")
    assert "1.5" in repr(x) and "-2." in repr(x)
    assert "dtype=float32" in repr(x)
    assert "requires_grad=True" in repr(x) and "name='w'" in repr(x)
    y = x * 2.0
    assert repr(y).startswith("tensor([ 3., -4.]")
    assert "grad_fn=<Mul>" in repr(y)
    assert "grad_fn" not in repr(thalweg.tensor([1.0]))


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (lambda a, b: a < b, [True, False, False]),
        (lambda a, b: a <= b, [True, True, False]),
        (lambda a, b: a > b, [False, False, True]),
        (lambda a, b: a >= b, [False, True, True]),
        (lambda a, b: a == b, [False, True, False]),
        (lambda a, b: a != b, [True, False, True]),
    ],
)
def test_comparisons_return_boolean_tensors_without_grad(op, expected):
    a = thalweg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for other in (thalweg.tensor([2.0, 2.0, 2.0]), 2.0, np.array([2.0, 2.0, 2.0])):
        result = op(a, other)
        assert isinstance(result, thalweg.Tensor)
        assert result.dtype == np.bool_ and not result.requires_grad and result.grad_fn is None
        assert result.tolist() == expected


def test_ndarray_on_the_left_of_an_operator_gives_a_tensor():
    x = thalweg.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, thalweg.Tensor) and y.requires_grad
    assert isinstance(np.array([0.0, 5.0]) < x, thalweg.Tensor)


def test_tensors_hash_by_identity_so_they_can_be_dict_keys():
    a, b = thalweg.tensor([1.0]), thalweg.tensor([1.0])
    assert len({a: 1, b: 2}) == 2


# ------------------------------------------------------------------ copying and sharing
def test_tensor_copies_its_source_array():
    source = np.array([1.0, 2.0])
    x = thalweg.tensor(source)
    source[0] = 100.0
    assert x.data[0] == 1.0
    assert not np.shares_memory(thalweg.tensor(x).data, x.data)


def test_from_numpy_shares_its_source_array():
    source = np.array([1.0, 2.0])
    x = thalweg.from_numpy(source)
    source[0] = 100.0
    assert x.data[0] == 100.0
    x.data[1] = -1.0
    assert source[1] == -1.0
    assert thalweg.from_numpy(source, requires_grad=True).requires_grad


# ------------------------------------------------------------------ factories
def test_constant_factories_make_the_asked_shape_value_and_dtype():
    assert thalweg.zeros(2, 3).shape == (2, 3) and thalweg.zeros((2, 3)).shape == (2, 3)
    assert thalweg.zeros(2).dtype == F32 and not thalweg.zeros(2).data.any()
    assert thalweg.ones(4, dtype="float64").dtype == F64 and thalweg.ones(4).data.all()
    full = thalweg.full((2, 2), 7.0)
    assert full.shape == (2, 2) and (full.data == 7.0).all() and full.dtype == F32
    assert thalweg.full(3, 1.0, requires_grad=True).requires_grad
    like = thalweg.zeros_like(thalweg.tensor(np.ones((2, 1))))
    assert like.shape == (2, 1) and like.dtype == F64
    assert thalweg.ones_like(thalweg.zeros(3)).tolist() == [1.0, 1.0, 1.0]


def test_arange_follows_numpy_and_floats_give_float32():
    assert thalweg.arange(4).tolist() == [0, 1, 2, 3]
    assert thalweg.arange(1, 7, 2).tolist() == [1, 3, 5]
    halves = thalweg.arange(0.0, 1.0, 0.5)
    assert halves.dtype == F32 and halves.tolist() == [0.0, 0.5]


@pytest.mark.parametrize("factory", [thalweg.randn, thalweg.rand])
def test_random_factories_are_reproducible_with_manual_seed(factory):
    thalweg.manual_seed(123)
    first = factory(3, 4)
    thalweg.manual_seed(123)
    second = factory((3, 4))
    third = factory(3, 4)
    assert first.shape == (3, 4) and first.dtype == F32
    np.testing.assert_array_equal(first.data, second.data)
    assert not np.array_equal(second.data, third.data)
    assert factory(2, dtype="float64").dtype == F64


def test_rand_lies_in_the_unit_interval_and_randn_is_centred():
    thalweg.manual_seed(0)
    uniform = thalweg.rand(10_000).data
    normal = thalweg.randn(10_000).data
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert abs(normal.mean()) < 0.05 and abs(normal.std() - 1.0) < 0.05


# ------------------------------------------------------------------ shape methods
def test_shape_methods_accept_tuple_or_varargs():
    x = thalweg.zeros(2, 3, 4)
    assert x.reshape(4, 6).shape == x.reshape((4, 6)).shape == (4, 6)
    assert x.permute(2, 0, 1).shape == x.transpose((2, 0, 1)).shape == (4, 2, 3)
    assert x.transpose().shape == x.T.shape == (4, 3, 2)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x[:1].squeeze(0).shape == (3, 4)
    assert x[:, :1, None].expand(2, 5, 1, 4).shape == (2, 5, 1, 4)
    assert x.flatten().shape == (24,)
    assert x.broadcast_to((3, 2, 3, 4)).shape == (3, 2, 3, 4)
