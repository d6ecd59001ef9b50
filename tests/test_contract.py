"""The estimator contract: scikit-learn's conventions and continuing a loaded model.

scikit-learn's own checks (tests/test_sklearn_checks.py) cover much of the contract;
these tests cover what they do not reach: partial_fit with a one-class first batch, a
loaded model that continues training, feature-name warnings, the deprecated ``seed``,
class weights, model files written before the contract, lazy submodules, and a new
estimator written against GradientEstimator.
"""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import thalweg
from thalweg.errors import ConvergenceWarning, DataError
from thalweg.files import write_container
from thalweg.models import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    load_model,
)


def blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "yes", "no")
    return X, y


@pytest.mark.parametrize("Model", [LogisticRegression, MLPClassifier])
def test_a_first_partial_fit_batch_may_hold_one_class_when_classes_are_given(Model):
    X, y = blobs()
    model = Model(hidden=(8,), random_state=0) if Model is MLPClassifier else Model(solver="gd")
    only_no = y == "no"
    model.partial_fit(X[only_no], y[only_no], classes=["no", "yes"])
    assert model.classes_.tolist() == ["no", "yes"]
    for _ in range(30):
        model.partial_fit(X, y)
    assert model.score(X, y) > 0.9
    with pytest.raises(DataError, match="not in the classes"):
        model.partial_fit(X[:2], ["no", "maybe"])


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearRegression(),
        lambda: LogisticRegression(),
        lambda: MLPClassifier(hidden=(8, 2), max_epochs=5, random_state=0),
        lambda: MLPRegressor(hidden=(8, 2), max_epochs=5, random_state=0),
    ],
)
def test_a_loaded_model_continues_training_with_partial_fit(tmp_path, make):
    X, y = blobs()
    model = make()
    target = y if isinstance(model, LogisticRegression | MLPClassifier) else X @ [1.0, 2.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, target)
    model.save(tmp_path / "m.thalweg")
    loaded = load_model(tmp_path / "m.thalweg")
    before, score = loaded.n_iter_, loaded.score(X, target)
    for _ in range(10):  # a fresh optimizer; the weights continue from the file's
        loaded.partial_fit(X, target)
    assert loaded.n_iter_ == before + 10
    if isinstance(model, MLPClassifier | MLPRegressor):  # 5 epochs: far from done
        assert loaded.score(X, target) > score + 0.05
    else:  # already optimal: continuing keeps it there
        assert loaded.score(X, target) > score - 0.01
    # The file itself is untouched by the continuation.
    again = load_model(tmp_path / "m.thalweg")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert again.n_iter_ == before


def test_fitting_on_a_dataframe_and_predicting_on_an_array_warns_and_the_reverse_too():
    X, y = blobs()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    named = LogisticRegression().fit(frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        named.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        named.predict(frame)  # the same names: no warning
    unnamed = LogisticRegression().fit(X, y)
    with pytest.warns(UserWarning, match="X has feature names"):
        unnamed.predict(frame)
    with pytest.raises(DataError, match="Feature names must be in the same order"):
        named.predict(frame[["c", "b", "a"]])


def test_seed_still_works_with_a_deprecation_warning_and_disagreeing_with_random_state_fails():
    X, y = blobs()
    with pytest.warns(FutureWarning, match="random_state"):
        old = MLPClassifier(max_epochs=3, tol=None, seed=4).fit(X, y)
    new = MLPClassifier(max_epochs=3, tol=None, random_state=4).fit(X, y)
    np.testing.assert_array_equal(old.predict_proba(X), new.predict_proba(X))
    with pytest.raises(ValueError, match="disagree"), pytest.warns(FutureWarning):
        MLPClassifier(seed=1, random_state=2).fit(X, y)


def test_class_weight_balanced_recovers_a_rare_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=400) > 1.6).astype(int)  # about 6% positives
    plain = LogisticRegression().fit(X, y)
    balanced = LogisticRegression(class_weight="balanced").fit(X, y)
    recall = lambda m: (m.predict(X)[y == 1] == 1).mean()  # noqa: E731
    assert recall(balanced) > recall(plain) + 0.2
    # A dict with the balanced weights is the same model.
    counts = np.bincount(y)
    as_dict = {0: 400 / (2 * counts[0]), 1: 400 / (2 * counts[1])}
    manual = LogisticRegression(class_weight=as_dict).fit(X, y)
    np.testing.assert_allclose(manual.coef_, balanced.coef_, rtol=1e-6)


def test_integer_sample_weights_equal_repeated_rows_for_every_solver():
    X, y = blobs(60)
    weight = np.random.default_rng(1).integers(0, 4, size=60)
    repeated = (X.repeat(weight, axis=0), y.repeat(weight))
    for make in (
        lambda: LogisticRegression(),
        lambda: LogisticRegression(solver="gd", max_epochs=50, tol=None),
        lambda: MLPClassifier(max_epochs=20, tol=None, random_state=0),
    ):
        weighted = make().fit(X, y, sample_weight=weight)
        copies = make().fit(*repeated)
        np.testing.assert_allclose(weighted.predict_proba(X), copies.predict_proba(X), rtol=1e-7)
    with pytest.raises(DataError, match="all zero"):
        LogisticRegression().fit(X, y, sample_weight=np.zeros(60))
    with pytest.raises(DataError, match="negative"):
        LogisticRegression().fit(X, y, sample_weight=-np.ones(60))


def test_a_model_file_from_before_the_contract_loads_predicts_and_continues(tmp_path):
    # LinearRegression as thalweg wrote it before: a `scaling_` object, a plain Linear layer.
    x_mean, x_scale = np.array([1.0, -2.0]), np.array([2.0, 0.5])
    weight = np.array([[0.4], [-0.3]], dtype=np.float32)
    coef = weight[:, 0] * 3.0 / x_scale
    intercept = 5.0 + 3.0 * 0.1 - x_mean @ coef
    state = {
        "coef_": {"type": "array"},
        "intercept_": {"type": "json", "value": float(intercept)},
        "n_features_in_": {"type": "json", "value": 2},
        "n_iter_": {"type": "json", "value": 7},
        "solver_": {"type": "json", "value": "gd"},
        "scaling_": {
            "type": "object",
            "class": "Scaling",
            "state": {"y_mean": 5.0, "y_scale": 3.0},
        },
        "module_": {
            "type": "module",
            "architecture": {
                "class": "Linear",
                "config": {"in_features": 2, "out_features": 1, "bias": True,
                           "weight_init": "zeros", "dtype": "float32"},
            },
        },
    }  # fmt: skip
    arrays = {
        "coef_": coef,
        "scaling_.x_mean": x_mean,
        "scaling_.x_scale": x_scale,
        "module_.weight": weight,
        "module_.bias": np.array([0.1], dtype=np.float32),
    }
    params = {"solver": "gd", "seed": 0, "max_epochs": 10}
    write_container(
        tmp_path / "old.thalweg",
        arrays,
        {"kind": "estimator", "class": "LinearRegression", "params": params, "state": state},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the file's seed=0
        model = load_model(tmp_path / "old.thalweg")
        X = np.array([[1.0, -2.0], [3.0, 0.0]])
        np.testing.assert_allclose(model.predict(X), X @ coef + intercept)
        # The layer in standardized units, fed raw rows, predicts the same as coef_.
        raw = model.module_(thalweg.tensor(X.astype(np.float32))).data[:, 0]
        np.testing.assert_allclose(
            raw * model.y_scale_ + model.y_mean_, model.predict(X), rtol=1e-5
        )
        model.partial_fit(X, X @ coef + intercept)
    assert model.n_iter_ == 8


def test_importing_thalweg_gives_submodules_lazily_and_stays_light():
    code = (
        "import sys, thalweg; heavy = [m for m in ('thalweg.models', 'thalweg.cli', "
        "'thalweg.data', 'thalweg.metrics', 'scipy', 'pyarrow', 'rich') if m in sys.modules]; "
        "print(heavy); print(thalweg.models.LogisticRegression.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, name = out.stdout.splitlines()
    assert loaded == "[]" and name == "LogisticRegression"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        thalweg.nope  # noqa: B018


def rare_positives(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=n) > 1.5).astype(int)  # about 7 % positives
    return X, y


def test_fit_batches_trains_on_the_factorys_batches_of_the_encoded_rows():
    from thalweg.data.balancing import BalancedBatches

    X, y = rare_positives()
    calls = []
    balanced = BalancedBatches(seed=0)

    def factory(inputs, targets, batch_size):
        calls.append((inputs.shape, targets.shape, batch_size))
        return balanced(inputs, targets, batch_size)

    settings = {"solver": "gd", "batch_size": 64, "max_epochs": 30, "tol": None, "random_state": 0}
    model = LogisticRegression(**settings).fit(X, y, batches=factory)
    plain = LogisticRegression(**settings).fit(X, y)
    assert calls == [((600, 2), (600, 1), 64)]  # once, encoded: one 0/1 column
    counts = balanced.class_counts()
    assert counts[1.0] / sum(counts.values()) == pytest.approx(0.5, abs=0.08)
    # Trained on a 50:50 mix, the model's probabilities follow that mix, not the data's.
    assert model.predict_proba(X)[:, 1].mean() > 2 * plain.predict_proba(X)[:, 1].mean()
    assert model.n_iter_ == 30 and not hasattr(model, "_fit_extras")


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda: LogisticRegression(solver="gd"), {"sample_weight": np.ones(600)}, "sample_weight"),
        (lambda: LogisticRegression(solver="gd", class_weight="balanced"), {}, "class_weight"),
        (lambda: LogisticRegression(), {}, "solver='gd'"),
        (lambda: LinearRegression(), {}, "solver='gd'"),
    ],
)
def test_fit_batches_is_refused_where_it_cannot_apply(make, extra, message):
    X, y = rare_positives()
    with pytest.raises(ValueError, match=message):
        make().fit(X, y, batches=lambda inputs, targets, batch_size: None, **extra)
