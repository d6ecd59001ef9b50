"""scikit-learn's own estimator checks, run on every thalweg estimator with its default
arguments (and on the other solvers), and scikit-learn's ensembles built on them.

No check is skipped or expected to fail: docs/models.md ("scikit-learn compatibility") says
what each convention means here.
"""

import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from thalweg.models import (
    Autoencoder,
    KMeans,
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
)

ESTIMATORS = [
    LinearRegression(),
    LinearRegression(solver="gd"),
    LogisticRegression(),
    LogisticRegression(solver="gd", max_epochs=200),
    MLPClassifier(),
    MLPRegressor(),
    KMeans(),  # default arguments: the checks set random_state themselves
    Autoencoder(),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def blobs():
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=200, n_features=6, n_informative=4, flip_y=0.2, random_state=0
    )


def test_adaboost_boosts_logistic_regression_through_sample_weight():
    from sklearn.ensemble import AdaBoostClassifier

    X, y = blobs()
    boosted = AdaBoostClassifier(LogisticRegression(), n_estimators=5, random_state=0).fit(X, y)
    # Each round reweights the rows; equal weights throughout would give equal models.
    coefs = [member.coef_ for member in boosted.estimators_]
    assert len(coefs) > 1 and not np.allclose(coefs[0], coefs[1])
    assert boosted.score(X, y) >= LogisticRegression().fit(X, y).score(X, y) - 0.05


def test_bagging_mlps_is_reproducible_with_a_random_state():
    from sklearn.ensemble import BaggingClassifier

    X, y = blobs()

    def bag():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a few epochs: ConvergenceWarning
            model = BaggingClassifier(MLPClassifier(max_epochs=20), n_estimators=3, random_state=0)
            return model.fit(X, y)

    first, second = bag(), bag()
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    # BaggingClassifier gave each member its own random_state: they differ.
    members = first.estimators_
    assert len({m.random_state for m in members}) == 3
    assert not np.allclose(members[0].coefs_[0], members[1].coefs_[0])


def test_a_convergence_warning_is_scikit_learns_when_scikit_learn_is_loaded():
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    from thalweg.errors import ConvergenceWarning

    X, y = blobs()
    with pytest.warns(ConvergenceWarning) as caught:
        MLPClassifier(max_epochs=3, random_state=0).fit(X, y)
    assert isinstance(caught[0].message, SklearnConvergenceWarning)
