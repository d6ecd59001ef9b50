"""The backward pass: accumulation, freeing, aliasing, deep graphs, ``grad``, grad mode,
graph memory, anomaly detection, ``to_dot`` and the errors users see."""

from __future__ import annotations

import gc
import re
import warnings
import weakref

import numpy as np
import pytest

import thalweg
from thalweg import AnomalyError, DataError, GraphError, ShapeError


def leaf(values, dtype=np.float64):
    return thalweg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ accumulation and freeing
def test_gradients_accumulate_across_two_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])


def test_zero_grad_resets_accumulation():
    x = leaf([1.0])
    (x * 3.0).sum().backward()
    x.zero_grad()
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [5.0])


def test_retain_graph_allows_a_second_backward_through_the_same_graph():
    x = leaf([1.0, 2.0])
    loss = thalweg.tanh(x * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_second_backward_through_a_freed_graph_raises_graph_error_naming_the_fix():
    x = leaf([1.0, 2.0])
    loss = thalweg.tanh(x * x).sum()
    loss.backward()
    with pytest.raises(GraphError, match=r"freed.*retain_graph=True"):
        loss.backward()


def test_backward_from_another_output_through_a_freed_shared_part_raises_graph_error():
    x = leaf([1.0, 2.0])
    hidden = thalweg.exp(x)
    hidden.sum().backward()
    with pytest.raises(GraphError, match="exp"):
        (hidden * 2.0).sum().backward()


def test_backward_on_a_non_scalar_without_grad_raises_a_clear_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(GraphError, match=r"shape \(2,\), not a scalar.*grad="):
        (x * 2.0).backward()


def test_backward_with_explicit_grad_of_the_output_shape_weights_each_element():
    x = leaf([1.0, 2.0])
    (x * 3.0).backward(grad=np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 30.0])


def test_backward_with_a_grad_of_the_wrong_shape_raises_shape_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"grad has shape \(3,\).*output has shape \(2,\)"):
        (x * 3.0).backward(grad=np.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad_raises_graph_error():
    with pytest.raises(GraphError, match="requires_grad=True"):
        thalweg.tensor([1.0]).sum().backward()


def test_backward_on_a_scalar_leaf_gives_it_gradient_one():
    x = leaf(2.0)
    x.backward()
    assert x.grad == 1.0


def test_an_input_used_twice_by_one_op_gets_both_contributions():
    x = leaf([3.0])
    (x + x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


# ------------------------------------------------------------------ aliasing
def test_a_leaf_grad_never_aliases_another_leaf_grad():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad *= 100  # optimizers and clipping modify .grad in place
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_a_leaf_grad_never_aliases_another_leaf_grad_through_pass_through_ops():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([0.0, 0.0])
    ((a + b) * 1.0 + (c + 0.0)).backward(grad=np.array([2.0, 3.0]))
    grads = [a.grad, b.grad, c.grad]
    for i, first in enumerate(grads):
        for second in grads[i + 1 :]:
            assert not np.shares_memory(first, second)


def test_a_leaf_grad_never_aliases_the_callers_grad_array():
    a = leaf([1.0, 2.0])
    given = np.array([5.0, 6.0])
    (a + 0.0).backward(grad=given)
    given[:] = 0.0
    np.testing.assert_array_equal(a.grad, [5.0, 6.0])
    a.grad[:] = -1.0
    np.testing.assert_array_equal(given, [0.0, 0.0])
    b = leaf([1.0, 2.0])  # a leaf as the output: its grad is the given gradient, copied
    b.backward(grad=given)
    assert not np.shares_memory(b.grad, given)


def test_leaf_grads_are_writable_even_after_a_broadcasting_backward():
    x = leaf(np.zeros((2, 3)))
    x.sum().backward()  # sum's backward is a read-only broadcast view
    x.grad += 1.0
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_a_retained_grad_does_not_alias_a_leaf_grad():
    x = leaf([1.0, 2.0])
    hidden = (x + 0.0).retain_grad()
    (hidden * 3.0).sum().backward()
    x.grad[:] = 0.0
    np.testing.assert_array_equal(hidden.grad, [3.0, 3.0])


# ------------------------------------------------------------------ deep graphs
@pytest.mark.parametrize("step", ["mul", "add"])
def test_a_chain_of_100000_ops_runs_backward_and_is_garbage_collected(step):
    x = leaf([1.0])
    y = x
    for _ in range(100_000):
        y = y * 1.0000001 if step == "mul" else y + 0
    y.sum().backward()  # no RecursionError
    expected = 1.0000001**100_000 if step == "mul" else 1.0
    np.testing.assert_allclose(x.grad, [expected], rtol=1e-9)
    start = weakref.ref(x)  # after `del x`, only the far end of the chain holds x
    del x
    assert start() is not None
    del y
    gc.collect()  # freeing 100,000 nested nodes must not overflow the C stack
    assert start() is None


# ------------------------------------------------------------------ thalweg.grad
def test_grad_returns_backwards_values_and_leaves_every_grad_none():
    def make():
        torch_like_x, w = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([0.5, -1.0])
        return torch_like_x, w, thalweg.tanh(torch_like_x @ w).sum()

    x, w, loss = make()
    dx, dw = thalweg.grad(loss, [x, w])
    assert x.grad is None and w.grad is None

    x2, w2, loss2 = make()
    loss2.backward()
    np.testing.assert_allclose(dx, x2.grad)
    np.testing.assert_allclose(dw, w2.grad)


def test_grad_works_for_intermediate_inputs():
    x = leaf([1.0, 2.0])
    hidden = x * 3.0
    (d_hidden,) = thalweg.grad((hidden * hidden).sum(), [hidden])
    np.testing.assert_array_equal(d_hidden, [6.0, 12.0])
    assert hidden.grad is None and x.grad is None


def test_grad_returns_zeros_for_inputs_the_output_does_not_use():
    x, unused = leaf([1.0, 2.0]), leaf([[7.0, 8.0]])
    dx, d_unused = thalweg.grad((x * x).sum(), [x, unused])
    np.testing.assert_array_equal(dx, [2.0, 4.0])
    np.testing.assert_array_equal(d_unused, np.zeros((1, 2)))


def test_grad_accepts_a_single_tensor_and_an_explicit_grad_output():
    x = leaf([1.0, 2.0])
    (dx,) = thalweg.grad(x * 2.0, x, grad_output=np.array([1.0, 3.0]))
    np.testing.assert_array_equal(dx, [2.0, 6.0])


def test_grad_leaves_retained_grads_untouched():
    x = leaf([1.0, 2.0])
    hidden = (x * 2.0).retain_grad()
    thalweg.grad((hidden * hidden).sum(), [x])
    assert hidden.grad is None


def test_grad_results_are_independent_writable_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    da, db = thalweg.grad((a + b).sum(), [a, b])
    da += 10.0
    np.testing.assert_array_equal(db, [1.0, 1.0])


def test_grad_with_an_input_that_does_not_require_grad_raises_graph_error():
    x, constant = leaf([1.0]), thalweg.tensor([1.0])
    with pytest.raises(GraphError, match="does not require grad"):
        thalweg.grad((x * constant).sum(), [constant])


# ------------------------------------------------------------------ grad mode
def test_no_grad_context_records_no_graph_and_restores_grad_mode():
    x = leaf([1.0])
    with thalweg.no_grad():
        y = x * 2.0
        assert not thalweg.is_grad_enabled()
    assert thalweg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.data, [2.0])


def test_no_grad_as_a_decorator_records_no_graph_and_restores_grad_mode():
    @thalweg.no_grad()
    def predict(t):
        return t * 2.0

    y = predict(leaf([1.0]))
    assert not y.requires_grad
    assert thalweg.is_grad_enabled()
    assert predict.__name__ == "predict"


def test_grad_mode_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), thalweg.no_grad():
        raise RuntimeError("boom")
    assert thalweg.is_grad_enabled()


def test_enable_grad_inside_no_grad_records_again():
    x = leaf([1.0])
    with thalweg.no_grad():
        with thalweg.enable_grad():
            y = x * 2.0
        z = x * 2.0
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0])


def test_detach_shares_values_but_stops_the_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    cut = y.detach()
    assert not cut.requires_grad and cut.grad_fn is None and cut.is_leaf
    assert np.shares_memory(cut.data, y.data)
    (x * cut).sum().backward()  # cut is a constant here
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])


def test_retain_grad_keeps_an_intermediate_gradient_that_is_otherwise_dropped():
    x = leaf([1.0, 2.0])
    kept, dropped = x * 2.0, x * 5.0
    kept.retain_grad()
    (kept * kept + dropped).sum().backward()
    np.testing.assert_array_equal(kept.grad, [4.0, 8.0])  # d(k²)/dk = 2k
    assert dropped.grad is None


def test_requires_grad_cannot_be_turned_off_on_an_op_result():
    y = leaf([1.0]) * 2.0
    with pytest.raises(GraphError, match="detach"):
        y.requires_grad_(False)


def test_ops_on_tensors_that_need_no_grad_record_no_node():
    y = thalweg.tensor([1.0]) * thalweg.tensor([2.0])
    assert y.grad_fn is None and not y.requires_grad


# ------------------------------------------------------------------ graph memory
def _mlp_loss_with_weakref_to_activation():
    """Return (loss, weakref to the tanh output array); no other reference to it survives."""
    rng = np.random.default_rng(0)
    x = thalweg.tensor(rng.normal(size=(8, 4)))
    w1, b1 = leaf(rng.normal(size=(4, 16))), leaf(np.zeros(16))
    w2, b2 = leaf(rng.normal(size=(16, 1))), leaf(np.zeros(1))
    hidden = thalweg.tanh(x @ w1 + b1)
    activation = weakref.ref(hidden.data)
    loss = ((hidden @ w2 + b2) ** 2).mean()
    del hidden  # only the graph still holds the activation
    return loss, activation, (w1, b1, w2, b2)


def test_backward_frees_saved_activations():
    loss, activation, params = _mlp_loss_with_weakref_to_activation()
    gc.collect()
    assert activation() is not None  # backward needs it: the graph holds it until then
    loss.backward()
    gc.collect()
    assert activation() is None
    assert loss.data.shape == () and all(p.grad is not None for p in params)


def test_backward_with_retain_graph_keeps_saved_activations():
    loss, activation, _ = _mlp_loss_with_weakref_to_activation()
    loss.backward(retain_graph=True)
    gc.collect()
    assert activation() is not None


# ------------------------------------------------------------------ anomaly detection
def test_detect_anomaly_raises_at_the_first_op_producing_nan_naming_op_and_shapes():
    x = leaf(np.zeros((2, 3)))
    with thalweg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        y = thalweg.log(x)  # -inf: the first bad op
        y * 2.0  # never reached
    message = str(info.value)
    assert message.startswith("log: forward produced -inf")
    assert "(2, 3)" in message


def test_detect_anomaly_names_an_op_whose_forward_makes_nan():
    x = leaf([-1.0, 4.0])
    with np.errstate(invalid="ignore"), thalweg.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"^sqrt: forward produced nan"):
            thalweg.sqrt(x)


def test_detect_anomaly_catches_a_nan_born_in_backward_naming_the_op():
    x = leaf([0.0, 4.0])
    with thalweg.detect_anomaly():
        y = thalweg.sqrt(x).sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(AnomalyError) as info, np.errstate(divide="ignore"):
            y.backward()  # d sqrt/dx at 0 = 1/(2·0) = inf
    message = str(info.value)
    assert message.startswith("sqrt: backward produced inf in the gradient of input 0")
    assert "(2,)" in message


def test_without_detect_anomaly_nan_and_inf_pass_silently():
    x = leaf([0.0, 4.0])
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")  # and the engine itself warns about nothing
        y = thalweg.log(x)
        thalweg.sqrt(x).sum().backward()
    assert np.isneginf(y.data[0]) and np.isinf(x.grad[0])


def test_detect_anomaly_is_switched_off_after_the_block_even_after_an_error():
    with pytest.raises(AnomalyError), thalweg.detect_anomaly():
        thalweg.log(leaf([0.0]))
    with np.errstate(divide="ignore"):
        thalweg.log(leaf([0.0]))  # no error now


# ------------------------------------------------------------------ to_dot
def test_to_dot_is_valid_dot_with_op_names_shapes_and_leaf_gradients():
    w = thalweg.tensor([[0.1, 0.2]], requires_grad=True, name="w")
    x = thalweg.tensor([[0.3], [0.4]], requires_grad=True, name="x")
    loss = thalweg.tanh(w @ x).sum()
    loss.backward()
    dot = thalweg.to_dot(loss)
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    for op in ("matmul", "tanh", "sum"):
        assert op in dot
    assert "shape (1, 2)" in dot and "shape (2, 1)" in dot
    assert "out (1, 1)" in dot
    assert "grad [[0.0988], [0.1976]]" in dot  # dloss/dx = tanh'(0.11)·wᵀ
    assert "grad [[0.2964, 0.3952]]" in dot  # dloss/dw = tanh'(0.11)·xᵀ
    assert len(re.findall(r"->", dot)) == 5  # w, x -> matmul -> tanh -> sum -> loss


def test_to_dot_of_a_leaf_is_a_single_box():
    dot = thalweg.to_dot(thalweg.tensor([1.0], name="alone"))
    assert dot.startswith("digraph") and "alone" in dot and "->" not in dot


# ------------------------------------------------------------------ errors
def test_matmul_error_names_the_op_and_both_shapes():
    a, b = thalweg.zeros(32, 3), thalweg.zeros(4, 8)
    with pytest.raises(ShapeError) as info:
        a @ b
    assert str(info.value) == "matmul: shapes (32, 3) and (4, 8) are not aligned (3 != 4)"


def test_matmul_with_non_broadcasting_batch_axes_or_a_scalar_raises_shape_error():
    with pytest.raises(ShapeError, match=r"matmul: shapes \(2, 3, 4\) and \(5, 4, 1\)"):
        thalweg.zeros(2, 3, 4) @ thalweg.zeros(5, 4, 1)
    with pytest.raises(ShapeError, match="at least 1-D"):
        thalweg.matmul(thalweg.tensor(2.0), thalweg.zeros(3))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: thalweg.zeros(2, 3).reshape(4, 2), r"reshape: .*\(2, 3\).*\(4, 2\)"),
        (lambda: thalweg.zeros(2, 3).expand(4, 2), r"broadcast_to: .*\(2, 3\) to \(4, 2\)"),
        (lambda: thalweg.concat([thalweg.zeros(2, 3), thalweg.zeros(3, 2)]), r"concat: .*"),
        (lambda: thalweg.concat([]), r"concat: .*empty"),
        (lambda: thalweg.stack([thalweg.zeros(2), thalweg.zeros(3)]), r"stack: .*\(2,\), \(3,\)"),
        (lambda: thalweg.stack([]), r"stack: .*empty"),
        (lambda: thalweg.zeros(2, 3).squeeze(0), r"squeeze: .*\(2, 3\)"),
        (lambda: thalweg.zeros(2, 3).transpose(0, 0), r"transpose: .*\(2, 3\)"),
        (lambda: thalweg.zeros(2, 3).sum(axis=2), r"sum: axis 2 .*2 dims"),
        (lambda: thalweg.tensor(1.0).mean(axis=0), r"mean: axis 0 .*0 dims"),
        (lambda: thalweg.zeros(2, 0).max(), r"max: .*empty.*\(2, 0\)"),
        (lambda: thalweg.zeros(2, 3)[5], r"getitem: .*\(2, 3\)"),
        (lambda: thalweg.linear(thalweg.zeros(2, 3), thalweg.zeros(4, 8)), r"linear: .*not align"),
        (
            lambda: thalweg.linear(thalweg.zeros(2, 3), thalweg.zeros(3, 8), thalweg.zeros(4)),
            r"linear: bias of shape \(4,\)",
        ),
        (
            lambda: thalweg.cross_entropy(thalweg.zeros(2, 3), [0, 1, 2]),
            r"cross_entropy: labels have shape \(3,\).*\(2,\)",
        ),
        (
            lambda: thalweg.squared_error(thalweg.zeros(4, 1), np.zeros(4)),
            r"\(4, 1\) and target \(4,\)",
        ),
        (
            lambda: thalweg.binary_cross_entropy_with_logits(
                thalweg.zeros(4), np.zeros(4), weight=np.ones(3)
            ),
            r"weight has shape \(3,\).*\(4,\)",
        ),
    ],
)
def test_shape_mistakes_raise_shape_error_naming_op_and_shapes(make, pattern):
    with pytest.raises(ShapeError, match=pattern):
        make()


def test_bad_labels_and_reductions_raise_clear_errors():
    with pytest.raises(DataError, match=r"labels must lie in \[0, 2\]"):
        thalweg.cross_entropy(thalweg.zeros(2, 3), [0, 3])
    with pytest.raises(DataError, match="integer class indices"):
        thalweg.cross_entropy(thalweg.zeros(2, 3), [0.5, 1.0])
    with pytest.raises(ValueError, match="reduction must be one of"):
        thalweg.squared_error(thalweg.zeros(2), np.zeros(2), reduction="average")
    with pytest.raises(ValueError, match="clip: give min, max or both"):
        thalweg.zeros(2).clip()


# --------------------------------------------------------------- later engine fixes


def test_loss_targets_that_require_grad_receive_gradients():
    prediction = thalweg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    target = thalweg.tensor([0.5, 1.0], dtype="float64", requires_grad=True)
    assert thalweg.gradcheck(lambda p, t: thalweg.squared_error(p, t), prediction, target)
    assert thalweg.gradcheck(
        lambda p, t: thalweg.binary_cross_entropy_with_logits(p, t), prediction, target
    )


def test_nodes_that_no_gradient_reaches_are_freed_too():
    logits = thalweg.tensor([1.0, -2.0], requires_grad=True)
    weights = thalweg.tensor([0.5, 1.5], requires_grad=True).exp()  # loss weights get no grad
    saved = weakref.ref(weights.grad_fn.saved[0])
    loss = thalweg.binary_cross_entropy_with_logits(logits, [1.0, 0.0], weight=weights)
    del weights
    loss.backward()
    gc.collect()
    assert saved() is None  # the exp node was never reached, and still released its arrays


def test_backward_that_does_not_return_a_tuple_is_a_clear_error():
    class Broken(thalweg.Function):
        def forward(self, x):
            self.saved = ()
            return x * 2

        def backward(self, grad):
            return grad * 2  # forgot the tuple

    x = thalweg.tensor([[1.0]], requires_grad=True)
    with pytest.raises(thalweg.GraphError, match="must return a tuple"):
        Broken.apply(x).sum().backward()


def test_no_grad_works_as_a_bare_decorator():
    @thalweg.no_grad
    def double(t):
        return t * 2

    assert not double(thalweg.tensor([1.0], requires_grad=True)).requires_grad


def test_axis_errors_name_the_valid_range():
    x = thalweg.zeros(2, 3)
    for call in (lambda: x.unsqueeze(5), lambda: x.squeeze(4), lambda: thalweg.concat([x, x], 3)):
        with pytest.raises(thalweg.ShapeError, match="out of range"):
            call()
