"""ONNX export: MLPs and CNNs with their preprocessing match thalweg in onnxruntime to 1e-5;
what the exporter cannot express is refused with one line naming it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from thalweg import nn
from thalweg.datasets import load, shapes
from thalweg.export import ExportError, to_onnx
from thalweg.models import CNNClassifier, LinearRegression, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="onnx and onnxruntime are test-only dependencies",
)


def run(model, **inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    return session.run(None, {k: v.astype(np.float32) for k, v in inputs.items()})[0]


def test_cnn_with_every_exportable_layer_matches_predict_proba_on_raw_pixels():
    X, y, _ = shapes(n=120, size=12, seed=0)
    pixels = X * 255  # raw 0-255 pixels: the pixel range is folded into the graph
    layers = ("conv4", "bn", "pool", "conv6x5", "avgpool", "gap", "dense8", "dropout0.2")
    model = CNNClassifier(layers=layers, max_epochs=2, random_state=0).fit(pixels, y)
    got = run(model, images=pixels[:40, None])
    np.testing.assert_allclose(got, model.predict_proba(pixels[:40]), atol=1e-5)


def test_binary_cnn_and_mlps_match_thalweg():
    X, y, _ = shapes(n=60, size=10, seed=1)
    binary = CNNClassifier(
        layers=("conv4", "pool", "dense8"), max_epochs=1, tol=None, random_state=0
    )
    binary.fit(X, y == 0)
    np.testing.assert_allclose(run(binary, images=X[:, None]), binary.predict_proba(X), atol=1e-5)
    Xw, yw, _ = load("wine")
    mlp = MLPClassifier(hidden=(8,), activation="tanh", max_epochs=20, tol=None, random_state=0)
    mlp.fit(Xw, yw)
    np.testing.assert_allclose(run(mlp, features=Xw), mlp.predict_proba(Xw), atol=1e-5)
    Xd, yd, _ = load("diabetes")
    regressor = MLPRegressor(hidden=(8,), max_epochs=20, tol=None, random_state=0).fit(Xd, yd)
    expected = regressor.predict(Xd)
    np.testing.assert_allclose(run(regressor, features=Xd), expected, rtol=1e-5, atol=1e-3)


def test_parts_onnx_cannot_express_are_refused_by_name():
    X, y, _ = shapes(n=30, size=8, seed=0)
    model = CNNClassifier(layers=("conv4", "dense8"), max_epochs=1, random_state=0).fit(X, y)
    model.module_ = nn.Sequential(*model.module_.layers[:3], nn.AdaptiveAvgPool2d(2),
                                  *model.module_.layers[3:])  # fmt: skip
    with pytest.raises(ExportError, match=r"layer 2 AdaptiveAvgPool2d\(2, 2\)"):
        to_onnx(model)
    linear = LinearRegression().fit(X.reshape(30, -1), y)
    with pytest.raises(ExportError, match="LinearRegression cannot be exported"):
        to_onnx(linear)


def test_cli_export_of_a_table_model_with_categories_is_a_one_line_error(cli, tmp_path):
    from conftest import assert_one_line_error

    (tmp_path / "t.csv").write_text(
        "colour,size,label\n" + "".join(f"{c},{i},{i % 2}\n" for i, c in enumerate("rgbrgbrgbrgb"))
    )
    result = cli("train", "t.csv", "--target", "label", "--model", "mlp", "--epochs", "2", "-q")
    assert result.code == 0, result.err
    assert_one_line_error(cli("export", "model.thalweg", "m.onnx"), "one-hot", "categorical")
