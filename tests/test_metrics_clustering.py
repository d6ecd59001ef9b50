"""Clustering metrics against scikit-learn's."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from thalweg.errors import DataError
from thalweg.metrics import adjusted_rand_score, silhouette_samples, silhouette_score


@settings(max_examples=80, deadline=None)
@given(labels=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=60))
def test_adjusted_rand_score_matches_sklearn(labels):
    true, pred = np.array(labels).T
    assert adjusted_rand_score(true, pred) == pytest.approx(
        sk.adjusted_rand_score(true, pred), abs=1e-12
    )


def test_adjusted_rand_score_ignores_label_names():
    assert adjusted_rand_score(["a", "a", "b"], [7, 7, 3]) == 1.0


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 40), k=st.integers(2, 5), seed=st.integers(0, 1000))
def test_silhouette_matches_sklearn(n, k, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    labels = rng.integers(0, k, n)
    if not 2 <= len(np.unique(labels)) <= n - 1:
        return
    np.testing.assert_allclose(
        silhouette_samples(X, labels), sk.silhouette_samples(X, labels), atol=1e-7
    )
    # The mean of per-sample values in [-1, 1] that may cancel to ~0 (n=29, k=2, seed=430
    # gives 5e-5): compare it as the samples are compared, not relative to its own size.
    assert silhouette_score(X, labels) == pytest.approx(sk.silhouette_score(X, labels), abs=1e-7)


def test_silhouette_on_a_sample_and_its_errors():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(10, 1, (200, 2))])
    labels = np.repeat([0, 1], 200)
    full = silhouette_score(X, labels)
    assert silhouette_score(X, labels, sample_size=100, random_state=0) == pytest.approx(
        full, abs=0.05
    )
    with pytest.raises(DataError, match="number of clusters is 1"):
        silhouette_score(X, np.zeros(400))
