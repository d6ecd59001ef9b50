"""Image layers: Conv2d, pooling, Flatten, BatchNorm; modes, buffers, files, PyTorch weights."""

from __future__ import annotations

import numpy as np
import pytest

import thalweg
from thalweg import nn
from thalweg.train import fit


def small_cnn(dtype="float32"):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0, dtype=dtype),
        nn.BatchNorm2d(4, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=1, padding="same", groups=2, rng=1, dtype=dtype),
        nn.ReLU(),
        nn.AvgPool2d(2, count_include_pad=False),
        nn.Flatten(),
        nn.Linear(6 * 2 * 2, 3, rng=2, dtype=dtype),
        nn.BatchNorm1d(3, dtype=dtype),
        nn.Dropout(0.5, rng=0),
    )


def test_conv2d_weight_has_pytorch_layout_and_he_fans():
    layer = nn.Conv2d(6, 64, (3, 5), groups=2, rng=0)
    assert layer.weight.shape == (64, 3, 3, 5)
    assert layer.bias.shape == (64,)
    fan_in = 3 * 3 * 5  # in_channels/groups · kH · kW
    bound = np.sqrt(6.0 / fan_in)  # he_uniform: U(-sqrt(6/fan_in), +)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound
    assert nn.Conv2d(1, 1, 3, bias=False).bias is None


def test_conv2d_padding_same_keeps_the_size_and_rejects_what_it_cannot_keep():
    x = thalweg.zeros(1, 2, 9, 7)
    assert nn.Conv2d(2, 3, 5, padding="same")(x).shape == (1, 3, 9, 7)
    assert nn.Conv2d(2, 3, 3, padding="same", dilation=2)(x).shape == (1, 3, 9, 7)
    assert nn.Conv2d(2, 3, 3, padding="valid")(x).shape == (1, 3, 7, 5)
    with pytest.raises(ValueError, match="odd effective kernel"):
        nn.Conv2d(2, 3, 4, padding="same")
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_batch_norm_uses_batch_statistics_in_training_and_running_ones_in_eval():
    layer = nn.BatchNorm1d(2, momentum=1.0)  # running statistics = the last batch's
    x = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], dtype=np.float32)
    trained = layer(thalweg.tensor(x)).data
    np.testing.assert_allclose(trained.mean(axis=0), 0, atol=1e-6)
    layer.eval()
    one = layer(thalweg.tensor(x[:1])).data  # a batch of one: fine in eval
    running_var = x.var(axis=0, ddof=1)  # the running variance is the unbiased one
    np.testing.assert_allclose(layer.running_var, running_var, rtol=1e-6)
    expected = (x[:1] - x.mean(axis=0)) / np.sqrt(running_var + layer.eps)
    np.testing.assert_allclose(one, expected, rtol=1e-5)


def test_eval_mode_makes_predictions_independent_of_the_rest_of_the_batch():
    net = small_cnn()
    x = np.random.default_rng(0).standard_normal((6, 1, 8, 8)).astype(np.float32)
    for _ in range(3):  # a few training-mode passes to move the running statistics
        net(thalweg.tensor(x))
    net.eval()
    whole = net(thalweg.tensor(x)).data
    alone = np.concatenate([net(thalweg.tensor(x[i : i + 1])).data for i in range(6)])
    np.testing.assert_allclose(whole, alone, rtol=1e-5, atol=1e-6)
    net.train()
    assert not np.allclose(net(thalweg.tensor(x)).data, whole)  # dropout and batch stats


def test_model_files_keep_the_architecture_and_the_running_statistics(tmp_path):
    net = small_cnn()
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    net(thalweg.tensor(x))  # training mode: running statistics move away from 0 and 1
    assert not np.allclose(net[1].running_mean, 0)
    thalweg.save(net, tmp_path / "cnn.thalweg")
    loaded = thalweg.load(tmp_path / "cnn.thalweg")
    np.testing.assert_array_equal(loaded[1].running_mean, net[1].running_mean)
    np.testing.assert_array_equal(loaded[9].running_var, net[9].running_var)
    assert loaded[4].groups == 2 and loaded[4].padding == (1, 1)
    net.eval()
    loaded.eval()
    np.testing.assert_array_equal(loaded(thalweg.tensor(x)).data, net(thalweg.tensor(x)).data)
    assert "1.running_mean" in net.state_dict()
    assert "1.running_mean" not in dict(net.named_parameters())  # never trained


def test_training_a_tiny_cnn_reduces_its_loss():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(np.int64)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 2, rng=1),
    )
    history = fit(
        net,
        thalweg.losses.cross_entropy,
        thalweg.optim.Adam(net.parameters(), lr=0.01),
        x,
        y,
        epochs=15,
        batch_size=8,
        seed=0,
        verbose=0,
    )
    assert history.last("loss") < 0.5 * history.rows[0]["loss"]


def test_weights_move_between_thalweg_and_pytorch_unchanged():
    torch = pytest.importorskip("torch", reason="PyTorch is a test-only reference")
    ours = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, rng=0, dtype="float64"),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=1),
        nn.Conv2d(4, 4, 3, dilation=2, padding=2, groups=4, rng=1, dtype="float64"),
        nn.AdaptiveAvgPool2d((2, 2)),
        nn.Flatten(),
        nn.Linear(16, 3, rng=2, dtype="float64"),
    ).eval()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, stride=2, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2, stride=1),
        torch.nn.Conv2d(4, 4, 3, dilation=2, padding=2, groups=4),
        torch.nn.AdaptiveAvgPool2d((2, 2)),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    ).double()
    state = {}
    for name, value in ours.state_dict().items():  # convolutions as they are; dense: .T
        state[name] = torch.tensor(value.T if name == "6.weight" else value)
    theirs.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((3, 2, 11, 10))
    np.testing.assert_allclose(
        ours(thalweg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10
    )


def test_max_pooling_and_relu_commute_in_values_and_gradients():
    """CNNClassifier puts a max pool before the ReLU that precedes it: same function."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 6, 6))
    grad = rng.standard_normal((3, 2, 3, 3))
    results = []
    for layers in ((nn.ReLU(), nn.MaxPool2d(2)), (nn.MaxPool2d(2), nn.ReLU())):
        leaf = thalweg.tensor(x, requires_grad=True)
        out = nn.Sequential(*layers)(leaf)
        out.backward(grad)
        results.append((out.data, leaf.grad))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
