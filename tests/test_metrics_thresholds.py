"""Threshold tables, the majority-class baseline and per-class prediction bias.

scikit-learn is the oracle: at every threshold the counts must equal its confusion
matrix of ``y_score >= t``, the rates its precision/recall/F1; the baseline must equal
``DummyClassifier(strategy="most_frequent")``; the decision rule must equal
``FixedThresholdClassifier``'s.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import UndefinedMetricWarning

import thalweg.metrics as tm
from thalweg.errors import DataError

PROPERTY = settings(max_examples=40, deadline=None)
SCORES = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])  # ties, and scores equal to thresholds


@st.composite
def binary_problem(draw):
    """(y_true in {0, 1} with both classes, y_score, weights or None, thresholds)."""
    n = draw(st.integers(2, 30))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y_true[0], y_true[1] = 1, 0
    scores = draw(st.sampled_from([SCORES, st.floats(0, 1)]))
    y_score = np.array(draw(st.lists(scores, min_size=n, max_size=n)))
    weight = draw(st.none() | st.lists(st.sampled_from([0.5, 1.0, 2.0]), min_size=n, max_size=n))
    thresholds = draw(
        st.lists(st.sampled_from([0.0, 0.25, 0.3, 0.5, 0.75, 1.0, 1.5]), min_size=1, max_size=3)
    )
    order = np.array(draw(st.permutations(range(n))))
    weight = None if weight is None else np.array(weight)[order]
    return np.array(y_true)[order], y_score[order], weight, thresholds


@PROPERTY
@given(problem=binary_problem())
def test_threshold_table_matches_sklearn_confusion_and_rates_at_every_threshold(problem):
    y_true, y_score, weight, thresholds = problem
    table = tm.threshold_table(y_true, y_score, thresholds=thresholds, sample_weight=weight)
    for i, t in enumerate(thresholds):
        y_pred = (y_score >= t).astype(int)
        tn, fp, fn, tp = skm.confusion_matrix(
            y_true, y_pred, labels=[0, 1], sample_weight=weight
        ).ravel()
        np.testing.assert_allclose(
            [table.true_negatives[i], table.false_positives[i]], [tn, fp], atol=1e-12
        )
        np.testing.assert_allclose(
            [table.false_negatives[i], table.true_positives[i]], [fn, tp], atol=1e-12
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            expected = [
                skm.precision_score(y_true, y_pred, sample_weight=weight, zero_division=0),
                skm.recall_score(y_true, y_pred, sample_weight=weight),
                skm.f1_score(y_true, y_pred, sample_weight=weight),
            ]
        got = [table.precision[i], table.recall[i], table.f1[i]]
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
        assert table.false_positive_rate[i] == pytest.approx(fp / (fp + tn))
        assert table.flagged[i] == pytest.approx((tp + fp) / (tp + fp + tn + fn))


def test_threshold_table_of_a_hand_made_example_with_ties_on_the_threshold():
    # Two samples score exactly 0.5: at t=0.5 both are flagged (score >= t), at 0.51 neither.
    table = tm.threshold_table(
        [1, 0, 1, 0, 0], [0.5, 0.5, 0.9, 0.1, 0.7], thresholds=[0.5, 0.51, 0.95]
    )
    assert table.true_positives.tolist() == [2, 1, 0]
    assert table.false_positives.tolist() == [2, 1, 0]
    assert table.precision.tolist() == [0.5, 0.5, 0.0]  # nothing flagged: zero_division
    assert table.recall.tolist() == [1.0, 0.5, 0.0]
    assert table.false_positive_rate.tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    nan_table = tm.threshold_table([1, 0], [0.4, 0.2], thresholds=[0.9], zero_division=np.nan)
    assert np.isnan(nan_table.precision[0])
    assert nan_table.rows()[0]["recall"] == 0.0


def test_threshold_table_uses_pos_label_and_the_default_thresholds():
    table = tm.threshold_table(["no", "yes", "yes"], [0.2, 0.65, 0.95], pos_label="yes")
    assert table.thresholds.tolist() == list(tm.DEFAULT_THRESHOLDS)
    assert table.recall.tolist() == [1.0] * 6 + [0.5] * 3
    with pytest.raises(ValueError, match="read-only"):
        table.recall[0] = 0.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tm.threshold_table([1, 1], [0.2, 0.9]), "only positive samples"),
        (lambda: tm.threshold_table([0, 0], [0.2, 0.9]), "only negative samples"),
        (lambda: tm.threshold_table([], []), "0 samples"),
        (lambda: tm.threshold_table([0, 1, 2], [0.1, 0.5, 0.9]), "3 classes"),
        (lambda: tm.threshold_table([0, 1], [0.1, 0.9], thresholds=[]), "non-empty"),
        (lambda: tm.threshold_table([0, 1], [0.1, 0.9], thresholds=["a"]), "numbers"),
        (lambda: tm.threshold_table([0, 1], [0.1, np.nan]), "NaN"),
        (lambda: tm.apply_threshold([0.1], 0.5, classes=[0, 1, 2]), "two classes"),
        (lambda: tm.apply_threshold([0.1], float("nan")), "finite"),
        (lambda: tm.majority_baseline([]), "0 samples"),
        (lambda: tm.majority_baseline(["a"], y_train=[1]), "strings"),
        (lambda: tm.class_prediction_bias([0, 1], [[0.5, 0.5], [1.2, -0.2]]), "outside"),
    ],
)
def test_bad_input_raises_one_data_error_naming_the_problem(call, message):
    with pytest.raises(DataError, match=message):
        call()


def test_apply_threshold_is_fixed_threshold_classifiers_rule():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=200) > 0, "yes", "no")
    base = LogisticRegression().fit(X, y)
    proba = base.predict_proba(X)[:, 1]
    for threshold in (0.2, 0.5, 0.8):
        fixed = FixedThresholdClassifier(base, threshold=threshold).fit(X, y)
        ours = tm.apply_threshold(proba, threshold, classes=base.classes_)
        assert ours.tolist() == fixed.predict(X).tolist()


@PROPERTY
@given(
    y_true=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=20),
    y_train=st.none() | st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=20),
    weighted=st.booleans(),
)
def test_majority_baseline_matches_dummy_classifier_including_ties(y_true, y_train, weighted):
    weight = np.linspace(0.5, 2.0, len(y_true)) if weighted else None
    baseline = tm.majority_baseline(y_true, y_train=y_train, sample_weight=weight)
    fit_labels = y_true if y_train is None else y_train
    fit_weight = weight if y_train is None else None
    X_fit = np.zeros((len(fit_labels), 1))
    dummy = DummyClassifier(strategy="most_frequent").fit(
        X_fit, fit_labels, sample_weight=fit_weight
    )
    assert baseline.label == dummy.predict(np.zeros((1, 1)))[0]
    expected = dummy.score(np.zeros((len(y_true), 1)), y_true, sample_weight=weight)
    assert baseline.accuracy == pytest.approx(expected)


def test_class_prediction_bias_is_column_means_minus_class_shares_and_sums_to_zero():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, size=50)
    y[:3] = [0, 1, 2]
    raw = rng.random((50, 3))
    probs = raw / raw.sum(axis=1, keepdims=True)
    bias = tm.class_prediction_bias(y, probs)
    expected = probs.mean(axis=0) - np.bincount(y, minlength=3) / len(y)
    np.testing.assert_allclose(bias, expected)
    assert bias.sum() == pytest.approx(0.0, abs=1e-12)
    # Binary: the positive column's entry is prediction_bias; the other is its negative.
    binary = rng.integers(0, 2, size=40)
    p = rng.random(40)
    pair = tm.class_prediction_bias(binary, np.column_stack([1 - p, p]))
    assert pair[1] == pytest.approx(tm.prediction_bias(binary, p))
    assert pair[0] == pytest.approx(-pair[1])
    # A class missing from y_true needs labels=; its share is 0.
    missing = tm.class_prediction_bias([0, 0], [[0.7, 0.2, 0.1]] * 2, labels=[0, 1, 2])
    np.testing.assert_allclose(missing, [-0.3, 0.2, 0.1])
