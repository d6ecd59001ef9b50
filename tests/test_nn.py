"""Modules, layers, initialisation and losses."""

import numpy as np
import pytest

import thalweg
from thalweg import losses, nn


def test_linear_computes_x_at_weight_plus_bias():
    layer = nn.Linear(3, 2, rng=0)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = x @ layer.weight.data + layer.bias.data
    np.testing.assert_allclose(layer(thalweg.tensor(x)).data, expected, rtol=1e-6)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)


def test_linear_is_one_fused_graph_node():
    layer = nn.Linear(3, 2, rng=0)
    out = layer(thalweg.zeros(4, 3))
    assert type(out.grad_fn).__name__ == "Linear"


def test_linear_without_bias_has_only_a_weight():
    layer = nn.Linear(3, 2, bias=False, rng=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_sequential_names_parameters_by_dotted_path_in_order():
    net = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert net.num_parameters() == 2 * 4 + 4 + 4 * 1 + 1
    assert len(net) == 3 and isinstance(net[1], nn.ReLU)


def test_custom_module_finds_nested_parameters_and_shared_ones_once():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Linear(2, 3, rng=0)
            self.decoder = nn.Linear(3, 2, rng=1)
            self.tied = self.encoder.weight

        def forward(self, x):
            return self.decoder(self.encoder(x).tanh())

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # A module's own parameters come first (as in PyTorch); the tied weight once.
    assert names == ["tied", "encoder.bias", "decoder.weight", "decoder.bias"]
    assert len(net.parameters()) == 4


def test_module_repr_is_a_readable_tree():
    net = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Tanh(), nn.Dropout(0.1))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=8, bias=True)\n"
        "  (1): Tanh()\n"
        "  (2): Dropout(p=0.1)\n"
        ")"
    )


def test_state_dict_round_trip_and_load_is_in_place():
    a = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1))
    b = nn.Sequential(nn.Linear(2, 3, rng=5), nn.Tanh(), nn.Linear(3, 1, rng=6))
    weight_array = b[0].weight.data
    b.load_state_dict(a.state_dict())
    assert b[0].weight.data is weight_array
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_state_dict_is_a_copy():
    layer = nn.Linear(2, 2, rng=0)
    state = layer.state_dict()
    state["weight"][...] = 99
    assert not np.any(layer.weight.data == 99)


def test_load_state_dict_names_missing_unexpected_and_misshapen_keys():
    net = nn.Sequential(nn.Linear(2, 3, rng=0))
    with pytest.raises(thalweg.ShapeError, match=r"missing keys \['0.bias'\]"):
        net.load_state_dict({"0.weight": np.zeros((2, 3))})
    with pytest.raises(thalweg.ShapeError, match=r"0.weight has shape \(3, 3\)"):
        net.load_state_dict({"0.weight": np.zeros((3, 3)), "0.bias": np.zeros(3)})


def test_dropout_zeroes_in_training_keeps_expectation_and_is_identity_in_eval():
    layer = nn.Dropout(0.5, rng=0)
    x = thalweg.ones(10000)
    out = layer(x).data
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 1.0) < 0.05
    layer.eval()
    assert layer(x) is x


def test_dropout_gradient_uses_the_same_mask():
    layer = nn.Dropout(0.5, rng=1)
    x = thalweg.ones(100, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)


def test_train_and_eval_propagate_to_every_submodule():
    net = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.2))
    net.eval()
    assert all(not m.training for _, m in net.named_modules())
    net.train()
    assert all(m.training for _, m in net.named_modules())


def test_module_zero_grad_clears_every_gradient():
    net = nn.Sequential(nn.Linear(2, 2, rng=0))
    net(thalweg.ones(1, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize(
    ("name", "expected_std"),
    [
        ("glorot_uniform", np.sqrt(2 / (300 + 200))),
        ("glorot_normal", np.sqrt(2 / (300 + 200))),
        ("he_uniform", np.sqrt(2 / 300)),
        ("he_normal", np.sqrt(2 / 300)),
    ],
)
def test_initialisers_have_their_textbook_variance(name, expected_std):
    w = nn.Parameter(np.empty((300, 200), dtype=np.float64))
    nn.init.get_initializer(name)(w, rng=0)
    assert w.data.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(w.data.mean()) < 0.01


def test_initialisers_are_reproducible_with_manual_seed():
    thalweg.manual_seed(3)
    a = nn.Linear(4, 4).weight.data.copy()
    thalweg.manual_seed(3)
    b = nn.Linear(4, 4).weight.data
    np.testing.assert_array_equal(a, b)


def test_unknown_initialiser_lists_the_known_ones():
    with pytest.raises(ValueError, match="he_normal"):
        nn.Linear(2, 2, weight_init="magic")


# ---------------------------------------------------------------------------- losses


def test_mse_mae_huber_match_their_definitions():
    p = np.array([0.0, 1.0, 3.0, -2.0])
    t = np.array([0.5, 1.0, 0.0, 0.0])
    pred = thalweg.tensor(p)
    e = p - t
    assert losses.mse(pred, t).item() == pytest.approx(np.mean(e**2))
    assert losses.mae(pred, t).item() == pytest.approx(np.mean(np.abs(e)))
    huber = np.where(np.abs(e) <= 1, 0.5 * e**2, np.abs(e) - 0.5)
    assert losses.huber(pred, t, delta=1.0).item() == pytest.approx(np.mean(huber))


def test_cross_entropy_equals_negative_log_softmax_of_the_label():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    labels = np.array([0, 2])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_probs[[0, 1], labels]
    out = losses.cross_entropy(thalweg.tensor(logits), labels, reduction="none")
    np.testing.assert_allclose(out.data, expected)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = thalweg.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = losses.cross_entropy(logits, [0, 0])
    loss.backward()
    assert loss.item() == pytest.approx(1000.0)
    assert np.all(np.isfinite(logits.grad))


def test_bce_with_logits_matches_bce_on_probabilities_and_is_stable():
    z = np.array([-3.0, -0.5, 0.0, 2.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = 1 / (1 + np.exp(-z))
    expected = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    got = losses.binary_cross_entropy_with_logits(thalweg.tensor(z), y, reduction="none")
    np.testing.assert_allclose(got.data, expected, rtol=1e-6)
    on_probs = losses.binary_cross_entropy(thalweg.tensor(p), y, reduction="none")
    np.testing.assert_allclose(on_probs.data, expected, rtol=1e-6)
    # Far in the tails the naive formula gives log(0); the fused one stays exact.
    extreme = losses.binary_cross_entropy_with_logits(
        thalweg.tensor([-500.0, 40.0]), [1.0, 1.0], reduction="none"
    )
    np.testing.assert_allclose(extreme.data, [500.0, np.exp(-40.0)], rtol=1e-6)


@pytest.mark.parametrize("loss_name", ["mse", "mae", "huber", "binary_cross_entropy_with_logits"])
def test_sample_weights_give_a_weighted_mean(loss_name):
    fn = getattr(losses, loss_name)
    pred = thalweg.tensor([0.2, -1.0, 3.0], dtype="float64")
    target = np.array([1.0, 0.0, 1.0])
    weight = np.array([1.0, 0.0, 3.0])
    per_sample = fn(pred, target, reduction="none").data
    weighted = fn(pred, target, weight=weight).item()
    assert weighted == pytest.approx(np.sum(per_sample * weight) / weight.sum())
    assert fn(pred, target, reduction="sum").item() == pytest.approx(per_sample.sum())


def test_weighted_cross_entropy_and_its_gradient():
    logits = thalweg.tensor(np.random.default_rng(0).normal(size=(4, 3)), requires_grad=True)
    labels = np.array([0, 1, 2, 1])
    weight = np.array([1.0, 2.0, 0.5, 0.0])
    assert thalweg.gradcheck(lambda z: losses.cross_entropy(z, labels, weight=weight), logits)


def test_losses_refuse_mismatched_shapes_with_a_fix():
    pred = thalweg.zeros(4, 1)
    with pytest.raises(thalweg.ShapeError, match="reshape"):
        losses.mse(pred, np.zeros(4))
    with pytest.raises(thalweg.ShapeError, match="reshape"):
        losses.binary_cross_entropy_with_logits(pred, np.zeros(4))
    with pytest.raises(thalweg.ShapeError, match="reshape"):
        losses.mae(pred, np.zeros(4))


def test_cross_entropy_rejects_labels_out_of_range():
    with pytest.raises(thalweg.DataError, match=r"\[0, 2\]"):
        losses.cross_entropy(thalweg.zeros(2, 3), [0, 3])


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        losses.mse(thalweg.zeros(2), [0.0, 0.0], reduction="avg")


def test_penalties_are_sum_of_abs_and_sum_of_squares():
    a = thalweg.tensor([1.0, -2.0], requires_grad=True)
    b = thalweg.tensor([[3.0]], requires_grad=True)
    assert losses.l1_penalty([a, b]).item() == pytest.approx(6.0)
    l2 = losses.l2_penalty([a, b])
    assert l2.item() == pytest.approx(14.0)
    l2.backward()
    np.testing.assert_allclose(a.grad, [2.0, -4.0])
