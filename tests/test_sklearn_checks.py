"""scikit-learn's own estimator checks, run on every thalweg estimator.

Checks we skip are listed in ``EXPECTED_FAILED`` with the reason; docs/sklearn-compatibility.md
repeats the list.
"""

import warnings

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
    LinearRegression(solver="gd", seed=0),
    LogisticRegression(),
    LogisticRegression(solver="gd", seed=0, max_epochs=200),
    MLPClassifier(seed=0, max_epochs=50),
    MLPRegressor(seed=0, max_epochs=50),
    KMeans(),  # default arguments: the checks set random_state themselves
    Autoencoder(),
]

EXPECTED_FAILED: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)
