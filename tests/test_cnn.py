"""CNNClassifier: the scikit-learn contract on images, model files, augmentation, layers=."""

from __future__ import annotations

import numpy as np
import pytest

from thalweg import nn
from thalweg.datasets import shapes
from thalweg.errors import ShapeError
from thalweg.models import CNNClassifier, load_model
from thalweg.models.cnn import build_layers

TINY = ("conv4", "pool", "dense8")


@pytest.fixture(scope="module")
def data():
    X, y, names = shapes(n=240, size=10, noise=0.05, seed=0)
    return X[:180], y[:180], X[180:], y[180:], names


@pytest.fixture(scope="module")
def fitted(data):
    X, y, *_ = data
    model = CNNClassifier(layers=TINY, learning_rate=0.01, max_epochs=12, tol=None, random_state=0)
    return model.fit(X, y)


def test_learns_shapes_well_above_chance(fitted, data):
    *_, X_test, y_test, _ = data
    assert fitted.score(X_test, y_test) > 0.8  # chance is 1/3
    assert fitted.history_.last("loss") < fitted.history_.rows[0]["loss"]
    probabilities = fitted.predict_proba(X_test)
    assert probabilities.shape == (60, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert set(fitted.predict(X_test)) <= {0, 1, 2}


def test_accepts_channel_axis_and_string_labels_and_checks_shapes(fitted, data):
    X, y, X_test, _, names = data
    with_channel = fitted.predict(X_test[:, None])
    np.testing.assert_array_equal(with_channel, fitted.predict(X_test))
    labelled = CNNClassifier(layers=TINY, max_epochs=1, tol=None, random_state=0)
    labelled.fit(X[:, None], np.asarray(names)[y])
    assert labelled.classes_.tolist() == sorted(names)
    assert labelled.image_shape_ == (1, 10, 10) and labelled.n_features_in_ == 100
    with pytest.raises(ShapeError, match=r"trained on images of shape \(1, 10, 10\)"):
        fitted.predict(np.zeros((2, 12, 12)))
    flat = X_test.reshape(len(X_test), -1)  # rows of C·H·W pixels work too
    np.testing.assert_array_equal(fitted.predict(flat), fitted.predict(X_test))
    with pytest.raises(ShapeError, match="reshaping"):
        fitted.predict(np.zeros((2, 64)))


def test_model_file_round_trip_predicts_the_same(fitted, data, tmp_path):
    *_, X_test, _, _ = data
    fitted.save(tmp_path / "cnn.thalweg")
    loaded = load_model(tmp_path / "cnn.thalweg")
    assert isinstance(loaded, CNNClassifier) and loaded.layers == TINY
    np.testing.assert_array_equal(
        loaded.decision_function(X_test), fitted.decision_function(X_test)
    )
    assert isinstance(loaded.module_[0], nn.Normalize)  # preprocessing travels with it


def test_the_same_random_state_gives_the_same_model_with_augmentation(data):
    X, y, *_ = data
    settings = dict(layers=TINY, augment="robust", max_epochs=2, tol=None, random_state=3)
    a = CNNClassifier(**settings).fit(X, y)
    b = CNNClassifier(**settings).fit(X, y)
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    plain = CNNClassifier(layers=TINY, max_epochs=2, tol=None, random_state=3).fit(X, y)
    assert not np.array_equal(plain.module_[1].weight.data, a.module_[1].weight.data)


def test_two_classes_use_one_logit_and_early_stopping_watches_held_out_images(data):
    X, y, *_ = data
    binary = y > 0
    for augment in (None, "default"):  # the base holds rows out; with augment, the CNN does
        model = CNNClassifier(
            layers=TINY, augment=augment, max_epochs=4, early_stopping=True,
            n_iter_no_change=2, tol=None, random_state=0,
        ).fit(X, binary)  # fmt: skip
        assert model.module_[-1].out_features == 1
        assert model.decision_function(X[:5]).shape == (5,)
        assert "val_loss" in model.history_.rows[-1]
    with pytest.raises(ValueError, match="leave out sample_weight"):
        CNNClassifier(augment="default").fit(X, binary, sample_weight=np.ones(len(X)))


def test_sample_weights_and_class_weights_reach_the_loss(data):
    X, y, *_ = data
    settings = dict(layers=TINY, max_epochs=2, tol=None, random_state=0)
    plain = CNNClassifier(**settings).fit(X, y)
    weighted = CNNClassifier(**settings).fit(X, y, sample_weight=np.where(y == 0, 5.0, 1.0))
    balanced = CNNClassifier(class_weight="balanced", **settings).fit(X, y)
    assert not np.allclose(plain.module_[1].weight.data, weighted.module_[1].weight.data)
    assert balanced.n_iter_ == 2


def test_layers_grammar_builds_the_network_and_rejects_unknown_layers():
    layers = build_layers(
        ["conv6x5", "bn", "pool", "avgpool2", "gap", "dropout0.5", "dense4", "bn"],
        (2, 12, 12),
        3,
        np.random.default_rng(0),
    )
    names = [type(layer).__name__ for layer in layers]
    assert names == [
        "Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
        "Dropout", "Flatten", "Linear", "ReLU", "BatchNorm1d", "Linear",
    ]  # fmt: skip
    assert layers[0].kernel_size == (5, 5) and layers[0].padding == (2, 2)
    with pytest.raises(ValueError, match="unknown layer 'lstm8'"):
        build_layers(["lstm8"], (1, 8, 8), 2, np.random.default_rng(0))


def test_scikit_learn_clone_and_cross_validation_work(data):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y, *_ = data
    model = CNNClassifier(layers=TINY, max_epochs=2, tol=None, random_state=0)
    assert clone(model).get_params() == model.get_params()
    scores = cross_val_score(model, X[:90], y[:90], cv=2)
    assert scores.shape == (2,)


def test_partial_fit_continues_a_loaded_model(data, tmp_path):
    X, y, *_ = data
    model = CNNClassifier(layers=TINY, random_state=0)
    model.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    model.save(tmp_path / "cnn.thalweg")
    loaded = load_model(tmp_path / "cnn.thalweg")
    before = loaded.module_[1].weight.data.copy()
    loaded.partial_fit(X[60:120], y[60:120])
    assert loaded.n_iter_ == 2 and not np.array_equal(before, loaded.module_[1].weight.data)


# ------------------------------------------------------------------ fit_stream


def test_fit_stream_of_one_full_batch_matches_full_batch_fit():
    # One batch per epoch: the same gradient as fit(batch_size=None), whatever the order.
    from thalweg.data import Pipeline

    X, y, _ = shapes(n=60, size=8, noise=0.05, seed=2)
    X = X.astype(np.float64)
    settings = {"layers": ("conv4", "pool", "dense8"), "random_state": 3, "tol": None}
    fitted = CNNClassifier(batch_size=None, max_epochs=3, **settings).fit(X, y)
    stream = Pipeline(list(zip(X, y, strict=True)), seed=0).batch(len(X))
    streamed = CNNClassifier(**settings).fit_stream(stream, epochs=3)
    assert streamed.image_shape_ == fitted.image_shape_ and streamed.n_iter_ == 3
    assert streamed.pixel_range_ == fitted.pixel_range_
    np.testing.assert_allclose(streamed.channel_mean_, fitted.channel_mean_, rtol=1e-10)
    np.testing.assert_allclose(streamed.channel_scale_, fitted.channel_scale_, rtol=1e-10)
    for a, b in zip(streamed.module_.parameters(), fitted.module_.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(streamed.history_["loss"], fitted.history_["loss"], rtol=1e-7)


def test_fit_stream_learns_from_an_image_folder_pipeline_with_augmentation(tmp_path):
    from thalweg.data import ImageFolder
    from thalweg.data.images import write_image

    X, y, names = shapes(n=90, size=10, noise=0.05, seed=0)
    for i, (image, label) in enumerate(zip(X, y, strict=True)):
        write_image(tmp_path / names[label] / f"{i}.png", image)
    folder = ImageFolder(tmp_path)
    model = CNNClassifier(
        layers=("conv8", "pool", "dense16"), learning_rate=0.01, augment=["noise"], random_state=0
    )
    model.fit_stream(folder.pipeline(16, seed=0), epochs=12)
    assert model.image_shape_ == (1, 10, 10) and list(model.classes_) == [0, 1, 2]
    images, labels = folder.load()
    assert model.score(images, labels) > 0.8
    assert len(model.history_) == 12


def test_fit_stream_refuses_rows_and_mixed_shapes():
    from thalweg.data import Pipeline

    rows = Pipeline([(np.zeros(16), 0), (np.ones(16), 1)]).batch(2)
    with pytest.raises(ShapeError, match="expected images"):
        CNNClassifier().fit_stream(rows)
    mixed = Pipeline([(np.zeros((4, 4)), 0), (np.ones((5, 5)), 1)], shuffle=False).batch(1)
    with pytest.raises(ShapeError, match=r"one shape .*\(1, 4, 4\) then \(1, 5, 5\)"):
        CNNClassifier().fit_stream(mixed)
