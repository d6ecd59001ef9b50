"""Vision layers keep issue-9's promises: the version clock, reused buffers, generators.

* A convolution's ``Workspace`` lends its im2col columns again only when no graph node
  holds them: a graph kept with ``retain_graph`` survives later forward passes through
  the same layer and its backward stays right; a freed graph refuses a second backward.
* In-place writes are stamped: an optimizer step (packed or not) refuses a backward
  through a convolution that saved the old weights; batch norm's running statistics
  are stamped when the forward pass updates them, and its backward never reads them.
* A CNN with dropout and batch norm resumes bit for bit from a mid-epoch checkpoint,
  and ``partial_fit`` after ``load_model``, pickle or deepcopy continues exactly as the
  original does (the model file keeps each dropout layer's generator).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import signal

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

import thalweg
from thalweg import nn, optim
from thalweg.datasets import shapes
from thalweg.errors import FileFormatError, GraphError
from thalweg.files import read_container
from thalweg.models import CNNClassifier, load_model
from thalweg.train import Callback, Checkpoint, TrainingInterrupted

LAYERS = ("conv3", "bn", "pool", "dropout0.3", "dense6")


@pytest.fixture(scope="module")
def images():
    X, y, _ = shapes(n=48, size=8, noise=0.05, seed=0)
    return X, y


def _conv_loss(layer, x, weights):
    return (layer(x) * weights).sum()


# ------------------------------------------------------------------ the workspace
def test_a_retained_graph_keeps_its_columns_through_later_forward_passes():
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(2, 3, 3, padding=1, dtype="float64", rng=0)
    x1 = thalweg.tensor(rng.normal(size=(2, 2, 5, 5)), requires_grad=True)
    x2 = thalweg.tensor(rng.normal(size=(2, 2, 5, 5)), requires_grad=True)
    weights = thalweg.tensor(rng.normal(size=(2, 3, 5, 5)))
    reference = nn.Conv2d.from_arrays(layer.weight.data.copy(), layer.bias.data.copy(), padding=1)

    def expected(x):  # a layer of its own: nothing reused, one forward, one backward
        reference.zero_grad()
        leaf = thalweg.tensor(x.data.copy(), requires_grad=True)
        _conv_loss(reference, leaf, weights).backward()
        return reference.weight.grad.copy(), leaf.grad.copy()

    (w1, g1), (w2, g2) = expected(x1), expected(x2)

    first = _conv_loss(layer, x1, weights)
    first.backward(retain_graph=True)
    columns = first.grad_fn.parents[0].parents[0].saved[0]  # sum <- mul <- conv2d's columns
    kept = columns.copy()
    for _ in range(3):  # more passes through the layer, on other images, each freed
        layer.zero_grad()
        x2.grad = None
        _conv_loss(layer, x2, weights).backward()
        np.testing.assert_allclose(layer.weight.grad, w2, rtol=1e-12)
        np.testing.assert_allclose(x2.grad, g2, rtol=1e-12)
        np.testing.assert_array_equal(columns, kept)  # lent nowhere while the graph holds it
    layer.zero_grad()
    x1.grad = None
    first.backward()  # the retained graph: still the first images' columns
    np.testing.assert_allclose(layer.weight.grad, w1, rtol=1e-12)
    np.testing.assert_allclose(x1.grad, g1, rtol=1e-12)
    assert not np.allclose(w1, w2)

    # Freed now: its columns may be lent again, and a third backward is refused.
    _conv_loss(layer, x2, weights).backward()
    with pytest.raises(GraphError, match="freed"):
        first.backward()


def test_copies_of_a_layer_carry_no_scratch_arrays_and_compute_the_same():
    layer = nn.Conv2d(1, 2, 3, padding=1, dtype="float64", rng=0)
    x = thalweg.tensor(np.random.default_rng(0).normal(size=(2, 1, 6, 6)))
    expected = layer(x).data.copy()
    assert layer.workspace.nbytes > 0
    for copied in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        assert copied.workspace.nbytes == 0 and layer.workspace.nbytes > 0
        np.testing.assert_array_equal(copied(x).data, expected)  # padding border refilled
        np.testing.assert_array_equal(copied(x).data, expected)  # and kept when lent again


@pytest.mark.parametrize("packed", [False, True])
def test_an_optimizer_step_refuses_a_backward_through_a_convolution_that_saved_the_weights(
    packed,
):
    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0), nn.Flatten(), nn.Linear(18, 1, rng=1))
    opt = optim.Adam(net.parameters(), lr=0.1, packed=packed)
    x = thalweg.tensor(np.random.default_rng(0).normal(size=(2, 1, 5, 5)).astype(np.float32))
    loss = net(x).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(GraphError, match=r"changed in place \(by Adam\.step\(\)\)"):
        loss.backward()


def test_batch_norm_stamps_its_running_statistics_and_never_reads_them_in_backward():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm2d(2, dtype="float64")
    x = thalweg.tensor(rng.normal(size=(3, 2, 4, 4)), requires_grad=True)
    weights = thalweg.tensor(rng.normal(size=(3, 2, 4, 4)))
    loss = (layer(x) * weights).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    layer(thalweg.tensor(rng.normal(size=(3, 2, 4, 4)) + 5))  # moves the running statistics
    x.grad = None
    loss.backward()  # the batch's own statistics were saved: the same gradient
    np.testing.assert_array_equal(x.grad, first)

    # A graph that did save a running statistic sees the write.
    scale = thalweg.tensor(np.ones(2), requires_grad=True)
    uses_mean = (scale * thalweg.from_numpy(layer.running_mean)).sum()
    layer(x)
    with pytest.raises(GraphError, match="running statistics"):
        uses_mean.backward()


# ------------------------------------------------------------------ CNN training state
class PressCtrlC(Callback):
    def on_batch_end(self, state, loss):
        if state.epoch == 1 and state.batch_in_epoch == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_cnn_with_dropout_resumes_bit_for_bit_from_a_mid_epoch_checkpoint(images, tmp_path):
    X, y = images
    settings = {"layers": LAYERS, "batch_size": 16, "max_epochs": 3, "tol": None}
    whole = CNNClassifier(random_state=0, **settings).fit(X, y)
    path = tmp_path / "cnn.checkpoint"
    with pytest.raises(TrainingInterrupted):
        CNNClassifier(random_state=0, **settings).fit(
            X, y, callbacks=[PressCtrlC(), Checkpoint(path, every=100)]
        )
    thalweg.manual_seed(12345)  # the global generator elsewhere: dropout has its own
    resumed = CNNClassifier(random_state=0, **settings).fit(
        X, y, callbacks=[Checkpoint(path, every=100)], resume=path
    )
    for (name, a), (_, b) in zip(
        whole.module_.state_dict().items(), resumed.module_.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert whole.history_["loss"] == resumed.history_["loss"]


def _reloaded(model, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    if how == "deepcopy":
        return copy.deepcopy(model)
    model.save(tmp_path / f"{id(model)}.thalweg")
    return load_model(tmp_path / f"{id(model)}.thalweg")


@pytest.mark.parametrize("how", ["load_model", "pickle", "deepcopy"])
def test_partial_fit_after_a_copy_continues_exactly_like_the_original(images, how, tmp_path):
    X, y = images
    model = CNNClassifier(layers=LAYERS, batch_size=16, max_epochs=2, tol=None, random_state=0)
    model.fit(X, y)
    assert model.optimizer_.packed  # a small network: one flat update (make_optimizer's rule)
    copied = _reloaded(model, how, tmp_path)
    for start in (0, 24, 12):
        model.partial_fit(X[start : start + 24], y[start : start + 24])
        copied.partial_fit(X[start : start + 24], y[start : start + 24])
        np.testing.assert_array_equal(model.predict_proba(X), copied.predict_proba(X))
    for (name, a), (_, b) in zip(
        model.module_.state_dict().items(), copied.module_.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_a_model_file_keeps_dropout_generators_and_refuses_damaged_ones(images, tmp_path):
    X, y = images
    model = CNNClassifier(layers=LAYERS, batch_size=16, max_epochs=1, tol=None, random_state=0)
    model.fit(X, y)
    path = tmp_path / "cnn.thalweg"
    model.save(path)
    arrays, meta = read_container(path)
    generators = meta["state"]["module_"]["generators"]
    assert list(generators) == ["5.rng"]  # Normalize, Conv2d, BatchNorm2d, MaxPool2d, ReLU

    def even_increment(state):
        state["module_"]["generators"]["5.rng"]["state"]["inc"] += 1

    def no_such_layer(state):
        state["module_"]["generators"]["2.rng"] = state["module_"]["generators"]["5.rng"]

    for change, message in [(even_increment, "inc should be odd"), (no_such_layer, "2.rng")]:
        damaged = copy.deepcopy(meta)
        change(damaged["state"])
        text = json.dumps(damaged)
        (tmp_path / "damaged.thalweg").write_bytes(save_safetensors(arrays, {"thalweg": text}))
        with pytest.raises(FileFormatError, match=message):
            load_model(tmp_path / "damaged.thalweg")
