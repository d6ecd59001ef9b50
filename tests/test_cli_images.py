"""The command line on images: train DIR/, evaluate, predict, profile-model, export, datasets."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json

import numpy as np
import pytest
from conftest import assert_one_line_error

from thalweg.cli import main
from thalweg.data import write_image_folder
from thalweg.datasets import shapes
from thalweg.models import load_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images") / "shapes"
    X, y, names = shapes(n=90, size=10, noise=0.05, seed=0)
    write_image_folder(root, X, y, names)
    return root


@pytest.fixture(scope="module")
def trained(folder):
    """One training run shared by the tests of this module (it is the slow part)."""
    out, report = folder.parent / "shapes.thalweg", folder.parent / "shapes.html"
    args = [
        "train", folder, "--layers", "conv4,pool,dense8", "--epochs", "2", "--augment",
        "robust", "-o", out, "--report", report, "--json", "--cache", folder.parent / "cache",
    ]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in args])
    assert code == 0
    return out, report, json.loads(printed.getvalue())


def test_train_on_a_folder_writes_a_cnn_a_report_and_test_metrics(trained):
    out, report, summary = trained
    assert summary["model"] == "CNNClassifier" and summary["classes"] == [
        "circle", "square", "triangle",
    ]  # fmt: skip
    assert summary["splits"] == {"train": 63, "validation": 9, "test": 18}
    assert 0 <= summary["metrics"]["test"]["accuracy"] <= 1
    assert (out.parent / "cache" / "manifest.json").exists()  # decoded images kept
    model = load_model(out)
    assert model.augment == "robust" and tuple(model.image_shape_) == (1, 10, 10)
    page = report.read_text()
    assert 'id="misclassified"' in page or "Mistakes" in page
    assert "Content-Security-Policy" in page


def test_predict_and_evaluate_a_folder(cli, trained, folder, tmp_path):
    out, _, _ = trained
    result = cli("predict", out, folder / "square")
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert len(rows) == 30 and rows[0]["path"].endswith(".png")
    assert {"prediction", "probability_circle", "probability_triangle"} <= set(rows[0])
    np.testing.assert_allclose(sum(float(rows[0][f"probability_{c}"]) for c in
                                   ("circle", "square", "triangle")), 1, atol=1e-5)  # fmt: skip
    evaluated = cli("evaluate", out, folder, "--json")
    assert evaluated.code == 0, evaluated.err
    assert evaluated.json["images"] == 90 and "accuracy" in evaluated.json["metrics"]


def test_inspect_shows_an_image_model(cli, trained):
    out, _, _ = trained
    result = cli("inspect", out, "--json")
    assert result.code == 0, result.err
    info = result.json
    assert info["class"] == "CNNClassifier" and info["image_shape"] == [1, 10, 10]
    assert info["layers"][0].startswith("Normalize") and info["parameters"] > 0


def test_image_mistakes_are_one_line_errors(cli, folder, tmp_path, trained):
    assert_one_line_error(cli("train", folder, "--layers", "conv8,lstm4"), "lstm4")
    assert_one_line_error(cli("train", folder, "--augment", "sepia"), "sepia")
    assert_one_line_error(
        cli("train", folder, "--balance", "--hidden", "8"), "--hidden, --balance", "tables only"
    )
    assert_one_line_error(
        cli("train", folder, "--keep", "name", "--min-frequency", "2"),
        "--keep, --min-frequency",
        "tables only",
    )
    assert_one_line_error(
        cli("train", folder, "--early-stopping", "--split", "0.8,0.2"), "--split three fractions"
    )
    (tmp_path / "lonely" / "only").mkdir(parents=True)
    assert_one_line_error(cli("train", tmp_path / "lonely"), "two class sub-folders")
    out, _, _ = trained
    (tmp_path / "other" / "star").mkdir(parents=True)
    (tmp_path / "other" / "circle").mkdir(parents=True)
    write_image_folder(tmp_path / "other", np.zeros((2, 10, 10)), [0, 1], ["circle", "star"])
    assert_one_line_error(cli("evaluate", out, tmp_path / "other"), "star")


def test_image_training_stops_early_by_default_and_keeps_the_models_own_l2(trained):
    from thalweg.cli.images import ImageTrainOptions

    out, _, _ = trained
    model = load_model(out)
    assert model.early_stopping is True and model.l2 == 0.0  # the defaults of thalweg train
    default = ImageTrainOptions().estimator_params(verbose=0)
    assert default["early_stopping"] is True and "l2" not in default
    assert ImageTrainOptions(split=(0.8, 0.2)).estimator_params(0)["early_stopping"] is False
    off = ImageTrainOptions(early_stopping=False, l2=0.0).estimator_params(verbose=0)
    assert off["early_stopping"] is False and off["tol"] is None  # every epoch runs
    assert off["l2"] == 0.0  # given: passed on, even when 0


def test_datasets_export_writes_an_image_folder(cli, tmp_path):
    result = cli("datasets", "export", "shapes", tmp_path / "exported", "--n", "12")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == [
        "circle", "square", "triangle",
    ]  # fmt: skip
    assert len(list((tmp_path / "exported").rglob("*.png"))) == 12


def test_profile_model_reports_every_layer_with_sparsity_trained_and_at_init(cli, trained, folder):
    out, _, _ = trained
    result = cli("profile-model", out, "--data", folder, "--repeats", "5", "--json")
    assert result.code == 0, result.err
    profile = result.json
    names = [layer["name"] for layer in profile["layers"]]
    assert names[:4] == ["Normalize", "Conv2d", "MaxPool2d", "ReLU"]
    conv = profile["layers"][1]
    assert conv["parameters"] == 4 * 9 + 4 and conv["flops"] == 4 * 10 * 10 * 19
    relu = profile["layers"][3]
    assert 0 <= relu["zero_fraction"] <= 1 and relu["zero_fraction_at_init"] is not None
    assert profile["throughput"] > 0 and profile["latency_p99"] >= profile["latency_p50"] > 0
    assert "images from" in profile["inputs"]


@pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason="onnx and onnxruntime are test-only dependencies",
)
def test_export_runs_in_onnxruntime_and_matches_thalweg(cli, trained, folder, tmp_path):
    import onnxruntime

    from thalweg.data import ImageFolder

    out, _, _ = trained
    result = cli("export", out, tmp_path / "model.onnx")
    assert result.code == 0, result.err
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    # The command names the graph's one output, as the graph does.
    (graph_output,) = [o.name for o in session.get_outputs()]
    assert f"output '{graph_output}': (n, " in result.out
    X, _ = ImageFolder(folder).load()
    got = session.run(None, {"images": X})[0]
    np.testing.assert_allclose(got, load_model(out).predict_proba(X), atol=1e-5)
