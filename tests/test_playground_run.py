"""The playground's library side: config, uploads, features, runs, diagnosis, frames, exports.

No server here: these test the pieces the server is made of, against independent
references (a hand-written NumPy version of the TensorFlow Playground's training rule,
NumPy formulas for the losses, ``thalweg predict`` on an exported model, the exported
script run in a fresh interpreter).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalweg.data import FeatureCrosses, PlaygroundFeatures, preprocessor_from_config
from thalweg.errors import DataError
from thalweg.models.tabular import TabularModel
from thalweg.playground.config import FEATURES, ConfigError, normalize_config
from thalweg.playground.data import build_run_data, n_train_points
from thalweg.playground.diagnosis import Diagnosis
from thalweg.playground.export import model_file_bytes, python_script
from thalweg.playground.frames import decode_frame, dequantize, encode_frame, quantize
from thalweg.playground.run import PlaygroundRun, grid_points
from thalweg.playground.uploads import UploadError, read_upload


def make_run(**config) -> PlaygroundRun:
    return PlaygroundRun(normalize_config({"seed": 0, **config}))


# ------------------------------------------------------------------ config


def test_normalize_config_fills_defaults_and_follows_the_dataset_problem():
    config = normalize_config({"dataset": "plane", "seed": 3})
    assert (config.problem, config.loss, config.hidden, config.features) == (
        "regression",
        "squared",
        (4, 2),
        ("x1", "x2"),
    )
    assert normalize_config({"problem": "regression"}).dataset == "plane"
    assert normalize_config({}).seed != normalize_config({}).seed or True  # random, echoed
    with pytest.raises(ConfigError) as caught:
        normalize_config({"dataset": "upload-1234"})
    assert caught.value.field == "dataset"
    uploaded = normalize_config(
        {"dataset": "upload-1234", "noise": 30}, upload_problem=lambda name: "regression"
    )
    assert uploaded.problem == "regression" and uploaded.noise == 0


def test_n_train_points_is_the_playgrounds_floor_without_float_surprises():
    assert n_train_points(500, 0.7) == 350  # 500 * 0.7 is 349.99999999999994 in floats
    assert n_train_points(500, 0.5) == 250
    assert n_train_points(10, 0.1) == 1 and n_train_points(10, 0.9) == 9


# ------------------------------------------------------------------ features


def test_playground_features_compute_each_feature_and_name_it_like_feature_crosses():
    X = np.array([[2.0, -3.0], [0.5, 1.0]])
    features = PlaygroundFeatures().fit(X)
    a, b = X[:, 0], X[:, 1]
    expected = np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], axis=1)
    np.testing.assert_allclose(features.transform(X), expected)
    crosses = FeatureCrosses(sines=True).fit(X)
    assert features.get_feature_names_out(["u", "v"]) == crosses.get_feature_names_out(["u", "v"])
    np.testing.assert_allclose(features.transform(X), crosses.transform(X))


def test_playground_features_rescale_first_and_survive_a_json_round_trip():
    features = PlaygroundFeatures(["x1sq", "sinx2"], offset=[10, -1], scale=[2, 4]).fit(
        np.zeros((1, 2))
    )
    out = features.transform(np.array([[14.0, 3.0]]))
    np.testing.assert_allclose(out, [[4.0, np.sin(1.0)]])
    again = preprocessor_from_config(features.to_config())
    np.testing.assert_allclose(again.transform(np.array([[14.0, 3.0]])), out)
    with pytest.raises(DataError, match="two columns"):
        PlaygroundFeatures().fit(np.zeros((3, 3)))
    with pytest.raises(DataError, match="distinct names"):
        PlaygroundFeatures(["x3"]).fit(np.zeros((1, 2)))
    with pytest.raises(DataError, match="positive"):
        PlaygroundFeatures(scale=[0, 1]).fit(np.zeros((1, 2)))


# ------------------------------------------------------------------ uploads


def test_uploads_read_semicolons_quotes_a_byte_order_mark_and_numeric_labels():
    rows = "".join(f'{i};"{i % 7}.5";{i % 2}\n' for i in range(20))
    data = read_upload(("\ufeffa;b;y\n" + rows).encode(), "data.csv")
    assert (data.x1, data.x2, data.label) == ("a", "b", "y")
    assert data.problem == "classification" and data.classes == [0, 1]
    np.testing.assert_allclose(data.x[:3], [[0, 0.5], [1, 1.5], [2, 2.5]])
    # each column lands on [-5, 5]
    plane = (data.x - data.offset) / data.scale
    np.testing.assert_allclose([plane.min(axis=0), plane.max(axis=0)], [[-5, -5], [5, 5]])


def test_a_numeric_label_with_many_values_is_regression_scaled_onto_minus_one_one():
    rows = "".join(f"{i},{i * i % 13},{3 * i + 100}\n" for i in range(30))
    data = read_upload(("p,q,price\n" + rows).encode())
    assert data.problem == "regression" and data.classes is None
    scaled = (data.y - data.target_offset) / data.target_scale
    assert scaled.min() == -1 and scaled.max() == 1
    with pytest.raises(UploadError, match="holds text"):
        read_upload(b"a,b,c\n" + b"1,2,x\n3,4,y\n" * 6, problem="regression")
    with pytest.raises(UploadError, match="different columns"):
        read_upload(b"a,b,c\n" + b"1,2,0\n3,4,1\n" * 6, x1="a", x2="a")


def test_uploaded_classes_keep_their_names_and_order():
    upload = read_upload(b"a,b,c\n" + b"1,2,yes\n3,5,no\n" * 6)
    data = build_run_data(normalize_config({"seed": 0}), 0, upload)
    assert data.classes == ("no", "yes")
    both = np.concatenate([data.train_y, data.test_y])
    x = np.concatenate([data.train_x, data.test_x])
    assert set(both.tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(both == 1, x[:, 0] == 1)  # "yes" rows have a = 1


# ------------------------------------------------------------------ runs


def test_a_run_is_the_same_for_the_same_seed_and_different_for_another():
    config = {"dataset": "spiral", "hidden": [6, 4], "noise": 10}
    a, b, c = make_run(**config), make_run(**config), make_run(**config, seed=1)
    for run in (a, b, c):
        run.train(5)
    assert list(a.history["train_loss"]) == list(b.history["train_loss"])
    np.testing.assert_array_equal(a.data.train_x, b.data.train_x)
    assert a.train_loss != c.train_loss
    assert not np.array_equal(a.data.train_x, c.data.train_x)


def test_the_playgrounds_sizes_split_and_initial_weights():
    run = make_run(dataset="multigauss", train_fraction=0.3, hidden=[5])
    assert len(run.data.train_x) == 360 and len(run.data.test_x) == 840  # 1,200 points
    for layer in run.linear_layers:
        assert np.all(np.abs(layer.weight.data) <= 0.5)
        np.testing.assert_allclose(layer.bias.data, 0.1)
    assert len(run.batches) == 36 and run.batches[0][0].shape == (10, 2)


def playground_reference_epoch(weights, biases, x, t, lr, batch, l2=0.0):
    """The TensorFlow Playground's own rule (nn.ts), one example at a time: tanh hidden
    layers, tanh output, error ½(o - t)²; derivatives accumulated over a batch and
    averaged; L2 subtracts lr·rate·w (the weight before the update)."""
    weights = [w.astype(np.float64).copy() for w in weights]
    biases = [b.astype(np.float64).copy() for b in biases]
    acc_w = [np.zeros_like(w) for w in weights]
    acc_b = [np.zeros_like(b) for b in biases]
    count = 0
    for i in range(len(x)):
        outputs = [x[i].astype(np.float64)]
        for w, b in zip(weights, biases, strict=True):
            outputs.append(np.tanh(outputs[-1] @ w + b))
        output_der = outputs[-1] - t[i]
        for layer in reversed(range(len(weights))):
            input_der = output_der * (1 - outputs[layer + 1] ** 2)
            acc_w[layer] += np.outer(outputs[layer], input_der)
            acc_b[layer] += input_der
            output_der = weights[layer] @ input_der
        count += 1
        if count == batch or i == len(x) - 1:
            for layer in range(len(weights)):
                before = weights[layer].copy()
                weights[layer] -= lr * acc_w[layer] / count
                weights[layer] -= lr * l2 * before
                biases[layer] -= lr * acc_b[layer] / count
                acc_w[layer][...] = 0
                acc_b[layer][...] = 0
            count = 0
    return weights, biases


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_squared_loss_training_matches_the_playgrounds_own_update_rule(l2):
    run = make_run(
        dataset="circle",
        loss="squared",
        hidden=[3],
        batch_size=7,
        learning_rate=0.1,
        regularization="l2" if l2 else "none",
        regularization_rate=l2,
    )
    weights = [layer.weight.data.copy() for layer in run.linear_layers]
    biases = [layer.bias.data.copy() for layer in run.linear_layers]
    x = run.train_inputs.data
    t = run.train_targets[:, 0]
    assert set(np.unique(t).tolist()) == {-1.0, 1.0}
    run.train(2)
    for _ in range(2):
        weights, biases = playground_reference_epoch(weights, biases, x, t, 0.1, 7, l2)
    for layer, w, b in zip(run.linear_layers, weights, biases, strict=True):
        np.testing.assert_allclose(layer.weight.data, w, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(layer.bias.data, b, rtol=2e-4, atol=2e-5)
    # and the loss shown is the Playground's: ½·mean((o - t)²)
    o = np.tanh(np.tanh(x @ weights[0] + biases[0]) @ weights[1] + biases[1])[:, 0]
    assert run.train_loss == pytest.approx(0.5 * np.mean((o - t) ** 2), rel=1e-4)


def test_a_new_learning_rate_carries_the_run_on_as_the_playground_does():
    # The Playground's learning-rate menu only sets state.learningRate: the next update
    # uses it, on the same weights, and the epoch count goes on (no reset()).
    run = make_run(dataset="circle", loss="squared", hidden=[3], batch_size=7, learning_rate=0.1)
    run.train(2)
    weights = [layer.weight.data.copy() for layer in run.linear_layers]
    biases = [layer.bias.data.copy() for layer in run.linear_layers]
    run.set_learning_rate(0.3)
    assert run.epoch == 2 and len(run.history["train_loss"]) == 3
    assert run.config.learning_rate == 0.3 and run.optimizer.learning_rate == 0.3
    run.train(1)
    x, t = run.train_inputs.data, run.train_targets[:, 0]
    weights, biases = playground_reference_epoch(weights, biases, x, t, 0.3, 7)
    for layer, w, b in zip(run.linear_layers, weights, biases, strict=True):
        np.testing.assert_allclose(layer.weight.data, w, rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(layer.bias.data, b, rtol=2e-4, atol=2e-5)
    assert run.epoch == 3 and run.learning_rate_changes == [(2, 0.3)]
    assert [run.learning_rate_at(e) for e in range(4)] == [0.1, 0.1, 0.3, 0.3]
    run.set_learning_rate(0.1)  # changed twice before an epoch: only the last one counts
    run.set_learning_rate(0.01)
    assert run.learning_rate_changes == [(2, 0.3), (3, 0.01)]
    run.set_learning_rate(0.3)  # back to the rate already in use: nothing to record
    assert run.learning_rate_changes == [(2, 0.3)]


def test_regenerate_trains_the_same_network_on_new_points_as_the_playground_does():
    # The Playground's Regenerate calls generateData() and no reset(): new points, the
    # same network, its optimizer state and the epoch count carry on.
    run = make_run(dataset="xor", hidden=[3], optimizer="momentum", seed=3)
    run.train(3)
    parameters = run.flat_parameters().copy()
    optimizer_state = run.optimizer.state_dict()
    run.regenerate(9)
    np.testing.assert_array_equal(run.flat_parameters(), parameters)
    assert run.epoch == 3 and len(run.history["train_loss"]) == 4
    assert run.config.data_seed == 9 and run.config.seed == 3 and run.data_changes == [(3, 9)]
    seed_9 = make_run(dataset="xor", seed=9)  # the points are those seed 9 gives
    np.testing.assert_array_equal(run.data.train_x, seed_9.data.train_x)
    np.testing.assert_array_equal(run.data.test_y, seed_9.data.test_y)
    # the current epoch's losses are those of the same network on the new points
    same = make_run(dataset="xor", hidden=[3], optimizer="momentum", seed=3, data_seed=9)
    for target, source in zip(same.linear_layers, run.linear_layers, strict=True):
        target.weight.data[...] = source.weight.data
        target.bias.data[...] = source.bias.data
    same.optimizer.load_state_dict(optimizer_state)
    same._evaluate()
    assert run.train_loss == same.train_loss and run.test_loss == same.test_loss
    run.train(1)  # trains on the new points with the momentum it had
    same.train(1)
    assert run.epoch == 4 and run.train_loss == same.train_loss
    run.regenerate(10)
    run.regenerate(11)  # twice before training on: the last counts
    assert run.data_changes == [(3, 9), (4, 11)]
    fresh = make_run(dataset="xor", seed=3)
    fresh.regenerate(5)  # before any training: the run simply starts on these points
    assert fresh.initial_data_seed == 5 and fresh.data_changes == []


def test_l1_follows_a_new_learning_rate():
    run = make_run(dataset="gauss", hidden=[], regularization="l1", regularization_rate=0.1)
    run.set_learning_rate(0.3)
    assert run.l1_threshold == pytest.approx(0.3 * 0.1)


def test_cross_entropy_loss_and_accuracy_match_numpy():
    run = make_run(dataset="xor", hidden=[4])
    run.train(3)
    with np.errstate(all="ignore"):
        h = np.tanh(run.test_inputs.data @ run.weights[0].data + run.linear_layers[0].bias.data)
        z = (h @ run.weights[1].data + run.linear_layers[1].bias.data)[:, 0].astype(np.float64)
    y = run.data.test_y
    loss = np.mean(np.logaddexp(0, z) - y * z)
    assert run.test_loss == pytest.approx(loss, rel=1e-5)
    assert run.history["test_accuracy"][-1] == pytest.approx(np.mean((z >= 0) == (y == 1)))
    # the output drawn is tanh(z/2) = 2·σ(z) - 1
    drawn = run.node_values(run.test_inputs)[-1][:, 0]
    np.testing.assert_allclose(drawn, 2 / (1 + np.exp(-z)) - 1, atol=1e-5)


def test_l1_sets_useless_weights_to_exactly_zero():
    run = make_run(
        dataset="gauss",
        features=list(FEATURES),
        hidden=[],
        learning_rate=0.1,
        regularization="l1",
        regularization_rate=0.1,
    )
    run.train(60)
    weights = run.weights[0].data[:, 0]
    assert np.count_nonzero(weights == 0) >= 3  # the squares, the sines, the product...
    assert weights[0] > 0 and weights[1] > 0  # ...while x1 and x2 separate the clusters
    assert run.history["test_accuracy"][-1] > 0.95


def test_xor_is_solved_by_the_cross_feature_alone_and_the_spiral_by_two_layers():
    xor = make_run(dataset="xor", features=["x1x2"], hidden=[], learning_rate=0.1)
    xor.train(20)
    assert xor.history["test_accuracy"][-1] > 0.97
    spiral = make_run(dataset="spiral", hidden=[8, 8], features=["x1", "x2", "sinx1", "sinx2"])
    spiral.train(150)
    assert spiral.history["test_accuracy"][-1] > 0.9


def test_heat_maps_cover_the_grid_and_nodes_in_order():
    run = make_run(hidden=[3, 2])
    values = run.grid_values()
    assert [v.shape for v in values] == [(10_000, 3), (10_000, 2), (10_000, 1)]
    assert run.feature_grid.shape == (10_000, 7)
    np.testing.assert_allclose(run.feature_grid[:, 0], grid_points(100)[:, 0], rtol=1e-6)
    assert grid_points(100)[0].tolist() == pytest.approx([-5.94, 5.94])  # top left
    thumbnails = run.thumbnail_values()
    assert [v.shape for v in thumbnails] == [(400, 3), (400, 2), (400, 1)]


# ------------------------------------------------------------------ the diagnosis


def test_diagnosis_names_divergence_dead_relus_and_overfitting():
    watch = Diagnosis()
    assert watch.update(0, 0.7, 0.7) is None
    assert watch.update(1, 0.3, 0.3) is None
    assert watch.update(2, 2.9, 3.0) is None  # 9.7×: not yet
    assert watch.update(3, 3.1, 3.0)["kind"] == "diverging"
    assert watch.update(4, float("nan"), 1.0)["kind"] == "diverged"
    assert (
        Diagnosis()
        .update(0, 0.5, 0.5, dead_layers=(2,))["message"]
        .startswith("All ReLUs of hidden layer 2")
    )
    watch = Diagnosis()
    for epoch in range(200):
        train = 0.5 / (1 + epoch / 10)  # keeps falling
        test = 0.3 + 0.0001 * (epoch - 50) ** 2  # lowest at epoch 50, then rises
        found = watch.update(epoch, train, test)
    assert found["kind"] == "overfitting" and "epoch 50" in found["message"]


def test_a_too_high_learning_rate_is_diagnosed_as_diverging():
    run = make_run(dataset="plane", hidden=[8, 8], learning_rate=3)
    run.train(30)
    assert run.diagnosis.current["kind"] in ("diverging", "diverged")
    assert "learning rate" in run.diagnosis.current["message"]


def test_relus_pushed_below_zero_everywhere_are_diagnosed_dead():
    run = make_run(activation="relu", hidden=[4, 3])
    run.linear_layers[1].bias.data[...] = -1000  # the second layer can never fire
    run.train(1)
    assert run.dead_layers == (2,)
    assert run.diagnosis.current["kind"] == "dead_relus"


# ------------------------------------------------------------------ frames


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=1, max_size=50))
def test_quantize_keeps_the_sign_and_is_close_inside_minus_one_one(values):
    values = np.asarray(values, dtype=np.float32)
    cells = quantize(values)
    np.testing.assert_array_equal(cells >= 128, values >= 0)
    clipped = np.clip(values, -1, 1)
    assert np.all(np.abs(dequantize(cells) - clipped) <= 0.5 / 127 + 1e-6)


def test_frames_round_trip_and_nan_becomes_null_and_grey():
    header = {"epoch": 3, "train_loss": float("nan"), "grid": 2, "thumbnail": 1}
    heat = quantize(np.array([np.nan, -1.0, 0.25, 1.0]))
    frame = encode_frame(
        header,
        np.arange(5, dtype=np.float32),
        np.ones((3, 2), np.float32),
        heat,
        np.zeros((2, 1), np.uint8),
    )
    decoded = decode_frame(frame)
    assert decoded["train_loss"] is None and decoded["epoch"] == 3
    assert decoded["heatmap"].tolist() == [[128, 0], [160, 255]]
    np.testing.assert_array_equal(decoded["parameters"], np.arange(5))
    assert decoded["history"].shape == (3, 2) and decoded["maps"].shape == (2, 1, 1)


# ------------------------------------------------------------------ exports


def write_points(path, x: np.ndarray, names=("x1", "x2")) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        writer.writerows(x.tolist())


def read_csv(text: str) -> dict:
    rows = list(csv.DictReader(io.StringIO(text)))
    return {key: [row[key] for row in rows] for key in rows[0]}


@pytest.mark.parametrize(
    "config",
    [
        {"dataset": "circle", "hidden": [4], "features": ["x1", "x2", "x1sq", "sinx2"]},
        {"dataset": "xor", "loss": "squared", "features": ["x1x2"], "hidden": []},
        {"dataset": "plane", "hidden": [3], "activation": "relu", "optimizer": "adam"},
    ],
    ids=["cross-entropy", "squared", "regression"],
)
def test_the_exported_model_predicts_what_the_heat_map_shows(cli, tmp_path, config):
    run = make_run(**config)
    run.train(15)
    (tmp_path / "model.thalweg").write_bytes(model_file_bytes(run))
    points = np.random.default_rng(1).uniform(-6, 6, (40, 2))
    write_points(tmp_path / "points.csv", points)
    result = cli("predict", "model.thalweg", "points.csv")
    assert result.code == 0, result.err
    predicted = read_csv(result.out)
    drawn = run.node_values(
        __import__("thalweg").tensor(run.input_features(points.astype(np.float32)))
    )[-1][:, 0]
    if run.config.is_classification:
        np.testing.assert_allclose(
            np.asarray(predicted["probability_1"], dtype=float), (drawn + 1) / 2, atol=2e-5
        )
        assert (
            np.asarray(predicted["prediction"], dtype=int).tolist()
            == (drawn >= 0).astype(int).tolist()
            or np.abs(drawn).min() < 1e-4
        )
    else:
        np.testing.assert_allclose(
            np.asarray(predicted["prediction"], dtype=float), drawn, atol=1e-5
        )
    model = TabularModel.load(tmp_path / "model.thalweg")
    assert model.metadata_["playground"]["epoch"] == 15
    assert [c["name"] for c in model.columns_] == ["x1", "x2"]


def test_an_uploaded_runs_model_takes_the_files_own_columns_and_units(cli, tmp_path):
    rng = np.random.default_rng(0)
    area = rng.uniform(50, 250, 80)
    age = rng.uniform(0, 40, 80)
    price = 3000 * area - 2000 * age + 100_000
    text = "area,age,price\n" + "".join(
        f"{a:.2f},{b:.2f},{p:.2f}\n" for a, b, p in zip(area, age, price, strict=True)
    )
    upload = read_upload(text.encode(), "houses.csv")
    run = PlaygroundRun(
        normalize_config(
            {"dataset": "u", "seed": 0, "hidden": [], "learning_rate": 0.01}, lambda n: "regression"
        ),
        upload,
    )
    run.train(200)
    (tmp_path / "model.thalweg").write_bytes(model_file_bytes(run))
    write_points(tmp_path / "new.csv", np.array([[100.0, 10.0], [200.0, 30.0]]), ("area", "age"))
    result = cli("predict", "model.thalweg", "new.csv")
    assert result.code == 0, result.err
    predicted = np.asarray(read_csv(result.out)["prediction"], dtype=float)
    np.testing.assert_allclose(predicted, [380_000, 640_000], rtol=0.05)  # in dollars


def run_script(path) -> str:
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "config",
    [
        {"dataset": "spiral", "hidden": [5, 3], "noise": 20, "batch_size": 7},
        {
            "dataset": "multigauss",
            "features": ["x1", "x2", "x1x2", "sinx1"],
            "activation": "relu",
            "regularization": "l1",
            "regularization_rate": 0.003,
            "optimizer": "momentum",
        },
    ],
    ids=["classification", "regression-l1"],
)
@pytest.mark.parametrize("changed", [None, "rate", "data"], ids=["", "rate-changed", "regenerated"])
def test_the_exported_script_retrains_to_the_same_loss(tmp_path, config, changed):
    run = make_run(**config)
    if changed == "rate":  # the learning rate was changed twice during the run: replayed
        run.train(4)
        run.set_learning_rate(0.3)
        run.train(5)
        run.set_learning_rate(0.01)
        run.train(3)
    elif changed == "data":  # Regenerate before training, twice during it, with a new rate
        run.regenerate(7)
        run.train(4)
        run.regenerate(11)
        run.train(5)
        run.set_learning_rate(0.3)
        run.regenerate(12)
        run.train(3)
    else:
        run.train(12)
    script = tmp_path / "retrain.py"
    script.write_text(python_script(run))
    out = run_script(script)
    assert f"epoch 12: train loss {run.train_loss:.6f}, test loss {run.test_loss:.6f}" in out


def test_the_exported_script_of_an_upload_reads_the_file_beside_it(tmp_path):
    text = "a,b,kind\n" + "".join(
        f"{x:.3f},{y:.3f},{'in' if x * x + y * y < 2 else 'out'}\n"
        for x, y in np.random.default_rng(3).uniform(-2, 2, (80, 2))
    )
    upload = read_upload(text.encode(), "rings.csv")
    config = normalize_config(
        {"dataset": "u", "seed": 4, "loss": "squared", "hidden": [4]}, lambda n: "classification"
    )
    run = PlaygroundRun(config, upload)
    run.train(5)
    run.regenerate(6)  # a new shuffle and split of the file's rows, the same network
    run.train(3)
    (tmp_path / "rings.csv").write_text(text)
    script = tmp_path / "rings.py"
    script.write_text(python_script(run))
    out = run_script(script)
    assert f"train loss {run.train_loss:.6f}, test loss {run.test_loss:.6f}" in out


def test_every_exercise_link_in_the_docs_is_a_valid_run():
    import re
    from pathlib import Path
    from urllib.parse import unquote

    page = Path(__file__).resolve().parent.parent / "docs" / "playground.md"
    links = re.findall(r"http://127\.0\.0\.1:8765/#([^)\s]+)", page.read_text())
    assert len(links) >= 12
    numbers = {"noise", "train_fraction", "batch_size", "learning_rate", "regularization_rate"}
    for link in links:
        raw = {}
        for part in link.split("&"):  # as the page's parseHash reads it
            key, value = (unquote(s) for s in part.split("=", 1))
            if key in ("discretize", "show_test"):
                continue
            if key == "features":
                raw[key] = value.split(",")
            elif key == "hidden":
                raw[key] = [int(v) for v in value.split(",")] if value else []
            elif key == "seed":
                raw[key] = int(value)
            else:
                raw[key] = float(value) if key in numbers else value
        config = normalize_config(raw)
        assert config.seed == raw["seed"], link
