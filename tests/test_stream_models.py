"""Estimators trained on streams (fit_stream) match the same estimators trained in memory."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thalweg.data import Pipeline, Standardizer, stream
from thalweg.models import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    load_model,
)


def tabular(n=3000, seed=0):
    """Features on very different scales; a linear target and a label from it."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)) * [1.0, 50.0, 0.01, 5.0] + [3.0, -100.0, 0.5, 0.0]
    signal = (X - [3.0, -100.0, 0.5, 0.0]) / [1.0, 50.0, 0.01, 5.0] @ [1.5, -2.0, 0.5, 1.0]
    y_reg = 4.0 + 3.0 * signal + 0.3 * rng.standard_normal(n)
    labels = np.where(signal + 0.3 * rng.standard_normal(n) > 0, "yes", "no")
    return X.astype(np.float32), y_reg, labels


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streams")
    X, y_reg, labels = tabular()
    columns = {f"x{j}": X[:, j] for j in range(4)}
    pq.write_table(
        pa.table(columns | {"y": y_reg, "label": labels}), folder / "d.parquet", row_group_size=500
    )
    return folder / "d.parquet", X.astype(np.float64), y_reg, labels


def held_out():
    X, y_reg, labels = tabular(n=2000, seed=1)
    return X.astype(np.float64), y_reg, labels


def test_the_first_pass_learns_the_same_standardization_as_a_full_fit(files):
    path, X, _, _ = files
    data = stream(path, target="y", columns=["x0", "x1", "x2", "x3"], batch_size=100)
    model = LinearRegression(random_state=0).fit_stream(data)
    reference = Standardizer().fit(X.astype(np.float32))
    np.testing.assert_allclose(model.scaler_.mean_, reference.mean_, rtol=1e-9)
    np.testing.assert_allclose(model.scaler_.scale_, reference.scale_, rtol=1e-9)
    assert model.n_features_in_ == 4
    assert list(model.feature_names_in_) == ["x0", "x1", "x2", "x3"]


def test_linear_regression_on_a_stream_matches_least_squares(files):
    path, X, y, _ = files
    data = stream(path, target="y", columns=["x0", "x1", "x2", "x3"], batch_size=64, seed=0)
    model = LinearRegression(tol=None, random_state=0).fit_stream(data, epochs=15)
    exact = LinearRegression().fit(X, y)
    assert model.solver_ == "gd" and model.n_iter_ == 15
    np.testing.assert_allclose(model.coef_, exact.coef_, rtol=0.03)
    X_test, y_test, _ = held_out()
    assert model.score(X_test, y_test) > exact.score(X_test, y_test) - 0.005


def test_logistic_regression_on_a_stream_matches_in_memory_training(files, tmp_path):
    path, X, _, labels = files
    data = stream(path, target="label", columns=["x0", "x1", "x2", "x3"], batch_size=64, seed=0)
    model = LogisticRegression(random_state=0).fit_stream(data, epochs=10)
    exact = LogisticRegression().fit(X, labels)
    assert model.classes_.tolist() == ["no", "yes"]
    X_test, _, labels_test = held_out()
    assert model.score(X_test, labels_test) > exact.score(X_test, labels_test) - 0.01
    # The fitted model carries its preprocessing and predicts from raw DataFrames.
    frame = pd.DataFrame(X_test, columns=["x0", "x1", "x2", "x3"])
    assert (model.predict(frame) == model.predict(X_test)).all()
    model.save(tmp_path / "m.thalweg")
    np.testing.assert_allclose(
        load_model(tmp_path / "m.thalweg").predict_proba(X_test), model.predict_proba(X_test)
    )


@pytest.mark.parametrize("Model", [MLPClassifier, MLPRegressor])
def test_mlps_on_a_stream_reach_the_quality_of_in_memory_training(files, Model):
    path, X, y_reg, labels = files
    target = "label" if Model is MLPClassifier else "y"
    y = labels if Model is MLPClassifier else y_reg
    settings = dict(hidden=(16,), batch_size=64, max_epochs=8, tol=None, random_state=0)
    data = stream(
        path, target=target, columns=["x0", "x1", "x2", "x3"], batch_size=64, seed=0, epochs=8
    )
    streamed = Model(**settings).fit_stream(data)
    in_memory = Model(**settings).fit(X, y)
    X_test, y_test, labels_test = held_out()
    truth = labels_test if Model is MLPClassifier else y_test
    assert streamed.n_iter_ == 8
    assert streamed.score(X_test, truth) > in_memory.score(X_test, truth) - 0.02


def test_a_model_fitted_on_a_named_stream_takes_arrays_quietly_and_checks_dataframes(
    files, tmp_path
):
    """The stream's batches are arrays in the file's column order: predicting on arrays is
    what the model trained on (no names warning), while a DataFrame is still checked."""
    import warnings

    from thalweg.models import KMeans

    path, X, _, labels = files
    columns = ["x0", "x1", "x2", "x3"]
    data = stream(path, target="label", columns=columns, batch_size=500, seed=0)
    model = LogisticRegression(random_state=0).fit_stream(data, epochs=1)
    clusters = KMeans(n_clusters=2, random_state=0).fit_stream(
        stream(path, target=None, columns=columns, batch_size=500, seed=0)
    )
    model.save(tmp_path / "m.thalweg")
    loaded = load_model(tmp_path / "m.thalweg")
    batch = next(iter(data))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fitted in (model, loaded, clusters):
            fitted.predict(X[:5])
            fitted.predict(batch)
            fitted.predict(pd.DataFrame(X[:5], columns=columns))
    assert loaded.fitted_on_arrays_ is True
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(pd.DataFrame(X[:5], columns=["x1", "x0", "x2", "x3"]))
    # A later in-memory fit on a DataFrame forgets it: arrays warn again, as in scikit-learn.
    model.fit(pd.DataFrame(X, columns=columns), labels)
    assert not hasattr(model, "fitted_on_arrays_")
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(X[:5])


def test_fit_stream_takes_any_batch_source_and_validation_for_early_stopping(files):
    path = files[0]
    source = Pipeline(stream(path, target="y", columns=["x0", "x1", "x2", "x3"], batch_size=64))
    with pytest.raises(ValueError, match="validation="):
        LinearRegression(early_stopping=True).fit_stream(source)
    X_val, y_val, _ = held_out()
    model = LinearRegression(
        optimizer="adam", early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit_stream(source, epochs=30, validation=(X_val, y_val))
    assert "val_loss" in model.history_.keys()
    assert model.score(X_val, y_val) > 0.98
    assert not hasattr(model, "feature_names_in_")  # a generic source has no column names


def test_a_big_stream_is_read_in_another_process_with_the_same_result(files, monkeypatch):
    path = files[0]
    columns = ["x0", "x1", "x2", "x3"]
    in_thread = LogisticRegression(random_state=0).fit_stream(
        stream(path, target="label", columns=columns, batch_size=64, seed=0), epochs=3
    )
    monkeypatch.setattr("thalweg.models.gradient.PROCESS_READER_ROWS", 0)
    in_process = LogisticRegression(random_state=0).fit_stream(
        stream(path, target="label", columns=columns, batch_size=64, seed=0), epochs=3
    )
    assert in_process.history_["examples"] == [3000] * 3
    X_test, _, labels_test = held_out()
    assert abs(in_process.score(X_test, labels_test) - in_thread.score(X_test, labels_test)) < 0.01
