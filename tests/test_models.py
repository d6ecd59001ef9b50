"""Estimators: solvers agree, regularization behaves, errors are clear, files round-trip."""

import numpy as np
import pandas as pd
import pytest

import thalweg
from thalweg.data import FeatureCrosses, train_val_test_split
from thalweg.datasets import spiral, xor
from thalweg.models import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    load_model,
)


def regression_data(n=400, d=5, noise=0.1, seed=0, irrelevant=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d + irrelevant)) * np.linspace(0.5, 3, d + irrelevant) + 1.0
    w = np.concatenate([rng.uniform(-3, 3, size=d), np.zeros(irrelevant)])
    y = X @ w + 0.7 + noise * rng.normal(size=n)
    return X, y, w


# ----------------------------------------------------------------------------- linear


def test_ols_matches_numpy_lstsq():
    X, y, _ = regression_data()
    model = LinearRegression().fit(X, y)
    design = np.column_stack([X, np.ones(len(X))])
    expected, *_ = np.linalg.lstsq(design, y, rcond=None)
    np.testing.assert_allclose(model.coef_, expected[:-1], rtol=1e-10)
    assert model.intercept_ == pytest.approx(expected[-1], rel=1e-10)
    assert model.solver_ == "normal_equations"


def test_ols_stays_accurate_on_an_ill_conditioned_design():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2000, 1))
    X = np.hstack([base, base + 1e-9 * rng.normal(size=(2000, 1)), rng.normal(size=(2000, 2))])
    y = X @ np.array([1.0, 1.0, -2.0, 0.5]) + 0.01 * rng.normal(size=2000)
    model = LinearRegression().fit(X, y)
    design = np.column_stack([X, np.ones(len(X))])
    expected, *_ = np.linalg.lstsq(design, y, rcond=None)
    assert model.solver_ == "lstsq"  # detected and fell back
    np.testing.assert_allclose(model.predict(X), design @ expected, rtol=1e-8, atol=1e-8)


def test_full_batch_gradient_descent_reaches_the_ols_coefficients():
    X, y, _ = regression_data()
    ols = LinearRegression(solver="ols").fit(X, y)
    gd = LinearRegression(solver="gd", tol=1e-12, max_epochs=5000, random_state=0).fit(X, y)
    np.testing.assert_allclose(gd.coef_, ols.coef_, rtol=1e-4)
    assert gd.intercept_ == pytest.approx(ols.intercept_, rel=1e-4)
    assert gd.history_["loss"][-1] < gd.history_["loss"][0]


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_mini_batch_gradient_descent_gets_close_to_ols(optimizer):
    X, y, _ = regression_data()
    ols = LinearRegression().fit(X, y)
    model = LinearRegression(
        solver="gd", batch_size=32, optimizer=optimizer, max_epochs=200, random_state=0
    ).fit(X, y)
    assert np.max(np.abs(model.coef_ - ols.coef_)) < 0.05


def test_ridge_closed_form_equals_gradient_descent_with_the_same_l2():
    X, y, _ = regression_data()
    closed = LinearRegression(l2=0.1).fit(X, y)
    descent = LinearRegression(solver="gd", l2=0.1, tol=1e-12, max_epochs=5000, random_state=0).fit(
        X, y
    )
    np.testing.assert_allclose(descent.coef_, closed.coef_, rtol=1e-4)
    assert np.linalg.norm(closed.coef_) < np.linalg.norm(LinearRegression().fit(X, y).coef_)


def test_l1_drives_irrelevant_weights_to_exactly_zero_and_l2_does_not():
    X, y, _ = regression_data(irrelevant=5, noise=0.5)
    lasso = LinearRegression(l1=0.05, max_epochs=2000, tol=1e-9, random_state=0).fit(X, y)
    assert np.all(lasso.coef_[5:] == 0.0)
    assert np.all(lasso.coef_[:5] != 0.0)
    ridge = LinearRegression(l2=0.05).fit(X, y)
    assert np.all(ridge.coef_ != 0.0)


def test_l1_with_the_ols_solver_is_refused_with_the_fix():
    X, y, _ = regression_data()
    with pytest.raises(ValueError, match="solver='gd'"):
        LinearRegression(solver="ols", l1=0.1).fit(X, y)


def test_partial_fit_improves_over_calls_and_continues_a_fit():
    X, y, _ = regression_data(n=1000)
    model = LinearRegression(solver="gd", batch_size=50, learning_rate=0.002, random_state=0)
    errors = []
    for start in range(0, 1000, 200):
        model.partial_fit(X[start : start + 200], y[start : start + 200])
        errors.append(np.mean((model.predict(X) - y) ** 2))
    assert errors[-1] < errors[0]
    fitted = LinearRegression().fit(X, y)
    before = fitted.coef_.copy()
    fitted.partial_fit(X[:100], y[:100])
    assert np.max(np.abs(fitted.coef_ - before)) < 0.1  # continued from the solution


# ----------------------------------------------------------------------------- logistic


def test_logistic_regression_matches_scikit_learn_log_loss():
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=300) > 0).astype(int)
    ours = LogisticRegression(l2=1 / (2 * 300), standardize=False).fit(X, y)
    theirs = SkLogistic(C=1.0).fit(X, y)
    assert log_loss(y, ours.predict_proba(X)) == pytest.approx(
        log_loss(y, theirs.predict_proba(X)), abs=1e-5
    )


def test_default_penalty_keeps_weights_finite_on_separable_data_as_scikit_learn_does():
    from sklearn.linear_model import LogisticRegression as SkLogistic
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 3))
    X = X[np.abs(X[:, 0] + X[:, 1]) > 0.05][:120]
    y = (X[:, 0] + X[:, 1] > 0).astype(int)  # a plane separates the classes
    unpenalized = LogisticRegression(l2=0).fit(X, y)
    assert np.abs(unpenalized.coef_).max() > 50  # no finite optimum: runs off until it stops
    default = LogisticRegression().fit(X, y)
    assert default.l2_ == pytest.approx(1 / (2 * 120))
    assert np.abs(default.coef_).max() < 8
    # The same fit as scikit-learn's default C=1 on standardized features.
    theirs = make_pipeline(StandardScaler(), SkLogistic()).fit(X, y)
    np.testing.assert_allclose(default.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
    descent = LogisticRegression(solver="gd", random_state=0).fit(X, y)
    assert np.abs(descent.coef_).max() < 8
    # Row weights count as rows: a weight of 2 is one more row in 1 / (2·n).
    weighted = LogisticRegression().fit(X, y, sample_weight=np.full(120, 2.0))
    assert weighted.l2_ == pytest.approx(1 / (2 * 240))
    with pytest.raises(ValueError, match="l2 must be a number"):
        LogisticRegression(l2="big").fit(X, y)


def test_gd_and_lbfgs_solvers_agree():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = np.digitize(X @ [1.0, -1.0, 0.5], [-0.5, 0.5])  # three classes
    lbfgs = LogisticRegression(l2=0.01).fit(X, y)
    gd = LogisticRegression(solver="gd", l2=0.01, max_epochs=5000, tol=1e-10, random_state=0).fit(
        X, y
    )
    np.testing.assert_allclose(gd.predict_proba(X), lbfgs.predict_proba(X), atol=2e-3)


def test_multinomial_probabilities_have_one_column_per_class_and_sum_to_one():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = np.array(["cat", "dog", "eel"])[np.argmax(X @ rng.normal(size=(2, 3)), axis=1)]
    model = LogisticRegression().fit(X, y)
    proba = model.predict_proba(X)
    assert proba.shape == (200, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.coef_.shape == (3, 2)
    assert set(model.predict(X)) <= {"cat", "dog", "eel"}
    assert model.score(X, y) > 0.9


def test_threshold_moves_binary_decisions():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    strict = LogisticRegression(threshold=0.99).fit(X, y)
    assert strict.predict(X).sum() < model.predict(X).sum()
    assert model.decision_function(X).shape == (200,)


def test_l1_logistic_regression_zeroes_irrelevant_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 6))
    y = (X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression(solver="gd", l1=0.02, max_epochs=3000, random_state=0).fit(X, y)
    assert np.all(model.coef_[0, 2:] == 0.0)
    assert np.all(model.coef_[0, :2] != 0.0)
    with pytest.raises(ValueError, match="solver='gd'"):
        LogisticRegression(l1=0.1).fit(X, y)


# ----------------------------------------------------------------------------- MLP


def test_mlp_learns_xor_and_spiral_where_a_linear_model_cannot():
    for generator, threshold in ((xor, 0.95), (spiral, 0.9)):
        X, y, _ = generator(n=600, noise=0.0, seed=0)
        X_train, X_test, y_train, y_test = train_val_test_split(X, y, fractions=(0.7, 0.3), seed=0)
        mlp = MLPClassifier(
            hidden=(16, 16), activation="tanh", max_epochs=400, batch_size=32, random_state=0
        ).fit(X_train, y_train)
        assert mlp.score(X_test, y_test) > threshold, generator.__name__
        linear = LogisticRegression().fit(X_train, y_train)
        assert linear.score(X_test, y_test) < 0.7, generator.__name__


def test_feature_crosses_let_a_linear_model_learn_xor():
    X, y, _ = xor(n=600, noise=0.0, seed=0)
    crosses = FeatureCrosses().fit(X)
    model = LogisticRegression().fit(crosses.transform(X), y)
    assert model.score(crosses.transform(X), y) > 0.95


def test_mlp_regressor_fits_a_curve_and_reports_history():
    X = np.linspace(-2, 2, 300).reshape(-1, 1)
    y = np.sin(2 * X[:, 0]) * 10 + 100  # unstandardized target
    model = MLPRegressor(hidden=(32,), activation="tanh", max_epochs=300, random_state=0).fit(X, y)
    assert model.score(X, y) > 0.95
    assert model.n_iter_ == len(model.history_)
    assert [w.shape for w in model.coefs_] == [(1, 32), (32, 1)]


def test_mlp_same_seed_same_model():
    X, y, _ = xor(n=200, seed=0)
    a = MLPClassifier(max_epochs=20, random_state=5).fit(X, y)
    b = MLPClassifier(max_epochs=20, random_state=5).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_, strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_mlp_l1_sets_weights_of_noise_features_to_exact_zeros_and_l2_does_not():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (np.sin(2 * X[:, 0]) + X[:, 1] > 0).astype(int)  # features 2-4 are noise
    sparse = MLPClassifier(hidden=(8,), activation="tanh", l1=0.005, max_epochs=300, random_state=0)
    first_layer = sparse.fit(X, y).coefs_[0]
    assert np.mean(first_layer[2:] == 0.0) > 0.5
    assert np.mean(first_layer[2:] == 0.0) > np.mean(first_layer[:2] == 0.0)
    assert sparse.score(X, y) > 0.9
    shrunk = MLPClassifier(hidden=(8,), activation="tanh", l2=0.005, max_epochs=300, random_state=0)
    assert np.all(shrunk.fit(X, y).coefs_[0] != 0.0)


# ----------------------------------------------------------------------------- contract


@pytest.mark.parametrize(
    "make", [LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor]
)
def test_nan_and_wrong_width_inputs_get_clear_errors(make):
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(thalweg.DataError, match="NaN in column 1"):
        make().fit(bad, y)
    model = make(max_epochs=2) if make in (MLPClassifier, MLPRegressor) else make()
    model.fit(X, y)
    with pytest.raises(thalweg.ShapeError, match=r"X has 2 features, but .* expecting 3"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("make", [LogisticRegression, MLPClassifier])
def test_classifiers_refuse_one_class_and_continuous_targets(make):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(thalweg.DataError, match="only one class"):
        make().fit(X, np.zeros(20))
    with pytest.raises(thalweg.DataError, match="Unknown label type: continuous"):
        make().fit(X, np.linspace(0, 1, 20))


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(thalweg.NotFittedError, match="not fitted yet"):
        LinearRegression().predict(np.zeros((2, 2)))


def test_dataframes_lists_and_feature_names():
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0, 4.0], "age": [3.0, 1.0, 4.0, 1.0]})
    y = [2.0, 4.1, 6.0, 8.1]
    model = LinearRegression().fit(frame, y)
    assert list(model.feature_names_in_) == ["size", "age"]
    np.testing.assert_allclose(
        model.predict(frame), LinearRegression().fit(frame.values, y).predict(frame.values)
    )
    with pytest.raises(thalweg.DataError, match="feature names should match"):
        model.predict(frame[["age", "size"]])
    assert LinearRegression().fit([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0]).coef_[0] == pytest.approx(
        1.0
    )


def test_estimators_work_inside_scikit_learn_pipelines_and_grid_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    X, y, _ = regression_data(n=120, d=2)
    search = GridSearchCV(
        make_pipeline(PolynomialFeatures(2), LinearRegression()),
        {"linearregression__l2": [0.0, 1.0]},
        cv=3,
    )
    search.fit(X, y)
    assert search.best_params_["linearregression__l2"] == 0.0


def test_get_params_and_set_params_round_trip():
    model = MLPClassifier(hidden=(4, 4), l2=0.1)
    params = model.get_params()
    assert params["hidden"] == (4, 4) and params["l2"] == 0.1
    model.set_params(l2=0.2)
    assert model.l2 == 0.2
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(depth=3)
    assert repr(model) == "MLPClassifier(hidden=(4, 4), l2=0.2)"


@pytest.mark.parametrize(
    "make",
    [
        lambda: LinearRegression(),
        lambda: LinearRegression(solver="gd", l1=0.01, random_state=0),
        lambda: LogisticRegression(),
        lambda: MLPClassifier(max_epochs=5, random_state=0),
        lambda: MLPRegressor(max_epochs=5, random_state=0),
    ],
)
def test_saved_models_predict_identically_after_loading(tmp_path, make):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = np.where(X[:, 0] > 0, "up", "down")
    model = make()
    target = y if model._estimator_type == "classifier" else X @ [1.0, 2.0, 3.0]
    model.fit(X, target)
    path = tmp_path / "model.thalweg"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_load_model_refuses_other_thalweg_files(tmp_path):
    path = tmp_path / "net.thalweg"
    thalweg.save(thalweg.nn.Linear(2, 2, rng=0), path)
    with pytest.raises(thalweg.FileFormatError, match="not a trained model"):
        load_model(path)
