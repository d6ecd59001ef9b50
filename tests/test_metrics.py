"""Tests for thalweg.metrics.

scikit-learn is the oracle: hypothesis draws inputs full of ties, one-class predictions,
sample weights and multi-class averages, and each metric must agree with its sklearn
counterpart. Hand-computed textbook cases and every user error follow.
"""

from __future__ import annotations

import ast
import doctest
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve as sk_calibration_curve
from sklearn.exceptions import UndefinedMetricWarning

import thalweg.metrics as tm
from thalweg.errors import DataError

PROPERTY = settings(max_examples=40, deadline=None)

WEIGHTS = st.sampled_from([0.5, 1.0, 2.0, 3.25])
WEIGHTS_OR_ZERO = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25])
TINY_SCORES = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])  # ties almost surely
WIDE_SCORES = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
ANIMALS = np.array(["cat", "dog", "emu", "fox"])


def oracle(function, *args, **kwargs):
    """Call scikit-learn without its undefined-metric and single-label warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.filterwarnings("ignore", message="A single label was found")
        return function(*args, **kwargs)


def assert_close(ours, theirs, rtol=1e-9):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-12)


def area_under(x, y):
    """Trapezoid rule (np.trapezoid needs NumPy >= 2)."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def permuted(draw, n, *arrays):
    """Shuffle several per-sample arrays the same way (anchored entries move too)."""
    order = np.array(draw(st.permutations(range(n))))
    return [None if a is None else np.asarray(a)[order] for a in arrays]


# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------


@st.composite
def label_pairs(draw, min_classes=2, max_classes=4, strings=False):
    """(y_true, y_pred, sample_weight or None, n_classes); y_pred is sometimes one class."""
    n_classes = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(1, 30))
    label = st.integers(0, n_classes - 1)
    y_true = np.array(draw(st.lists(label, min_size=n, max_size=n)))
    y_pred = np.array(
        draw(st.one_of(st.lists(label, min_size=n, max_size=n), label.map(lambda v: [v] * n)))
    )
    weight = draw(st.none() | st.lists(WEIGHTS, min_size=n, max_size=n).map(np.array))
    if strings:
        y_true, y_pred = ANIMALS[y_true], ANIMALS[y_pred]
    return y_true, y_pred, weight, n_classes


@st.composite
def binary_scores(draw, need_negative=True, weighted=True):
    """(y_true in {0, 1}, y_score, sample_weight or None), always with a positive."""
    n = draw(st.integers(2, 30))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y_true[0] = 1
    if need_negative:
        y_true[1] = 0
    y_score = draw(
        st.lists(draw(st.sampled_from([TINY_SCORES, WIDE_SCORES])), min_size=n, max_size=n)
    )
    weight = None
    if weighted and draw(st.booleans()):
        # Zero weights test the dropping of zero-weight samples; the anchors stay weighted
        # so both classes survive it.
        weight = draw(st.lists(WEIGHTS_OR_ZERO, min_size=n, max_size=n))
        weight[0] = weight[1] = 1.0
    return permuted(draw, n, y_true, y_score, weight)


@st.composite
def multiclass_probabilities(draw, weighted=True):
    """(y_true with every class present, probabilities (n, k), sample_weight or None)."""
    n_classes = draw(st.integers(3, 4))
    n = draw(st.integers(n_classes, 25))
    y_true = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    y_true[:n_classes] = range(n_classes)
    entry = draw(st.sampled_from([st.sampled_from([1.0, 2.0, 3.0]), st.floats(0.01, 1.0)]))
    raw = np.array(
        draw(
            st.lists(
                st.lists(entry, min_size=n_classes, max_size=n_classes), min_size=n, max_size=n
            )
        )
    )
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    weight = None
    if weighted and draw(st.booleans()):
        weight = draw(st.lists(WEIGHTS, min_size=n, max_size=n))
    y_true, probabilities, weight = permuted(draw, n, y_true, probabilities, weight)
    return y_true, probabilities, weight


@st.composite
def regression_targets(draw, min_size=1):
    """(y_true, y_pred, sample_weight or None) of shape (n,) or (n, n_outputs)."""
    n = draw(st.integers(min_size, 25))
    n_outputs = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (n,) if n_outputs is None else (n, n_outputs)
    # Eighths are exact in binary, so both libraries round identically; the tiny set
    # makes constant targets (R²'s special case) common.
    value = st.one_of(
        st.sampled_from([-1.0, 0.0, 2.5]), st.integers(-800, 800).map(lambda v: v / 8)
    )
    size = int(np.prod(shape))
    y_true = np.array(draw(st.lists(value, min_size=size, max_size=size))).reshape(shape)
    y_pred = np.array(draw(st.lists(value, min_size=size, max_size=size))).reshape(shape)
    weight = draw(st.none() | st.lists(WEIGHTS, min_size=n, max_size=n).map(np.array))
    return y_true, y_pred, weight


# --------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------


@PROPERTY
@given(data=label_pairs(strings=False) | label_pairs(strings=True), normalize=st.booleans())
def test_accuracy_matches_sklearn_with_and_without_weights(data, normalize):
    y_true, y_pred, weight, _ = data
    ours = tm.accuracy(y_true, y_pred, normalize=normalize, sample_weight=weight)
    theirs = skm.accuracy_score(y_true, y_pred, normalize=normalize, sample_weight=weight)
    assert_close(ours, theirs)


@PROPERTY
@given(
    data=label_pairs(),
    labels=st.none() | st.lists(st.integers(0, 4), min_size=1, max_size=5, unique=True),
    normalize=st.sampled_from([None, "true", "pred", "all"]),
)
def test_confusion_matrix_matches_sklearn_for_labels_weights_and_normalize(data, labels, normalize):
    y_true, y_pred, weight, _ = data
    if labels is not None and y_true[0] not in labels:
        labels.append(int(y_true[0]))  # sklearn needs one listed label to occur in y_true
    ours = tm.confusion_matrix(
        y_true, y_pred, labels=labels, sample_weight=weight, normalize=normalize
    )
    theirs = oracle(
        skm.confusion_matrix,
        y_true,
        y_pred,
        labels=labels,
        sample_weight=weight,
        normalize=normalize,
    )
    assert ours.shape == theirs.shape
    assert_close(ours, theirs)


PRF = [(tm.precision, skm.precision_score), (tm.recall, skm.recall_score), (tm.f1, skm.f1_score)]


@PROPERTY
@given(
    data=label_pairs(min_classes=2) | label_pairs(strings=True),
    average=st.sampled_from(["micro", "macro", "weighted", None]),
    zero_division=st.sampled_from([0.0, 1.0, np.nan]),
    use_labels=st.booleans(),
)
def test_precision_recall_f1_match_sklearn_for_every_multiclass_average(
    data, average, zero_division, use_labels
):
    y_true, y_pred, weight, n_classes = data
    # A label list in a new order, with one class that never occurs (when there is room).
    labels = None
    if use_labels:
        pool = ANIMALS if y_true.dtype.kind == "U" else np.arange(len(ANIMALS) + 1)
        labels = list(pool[: n_classes + 1][::-1])
    for ours_fn, sklearn_fn in PRF:
        kwargs = dict(
            labels=labels, average=average, sample_weight=weight, zero_division=zero_division
        )
        ours = ours_fn(y_true, y_pred, **kwargs)
        theirs = oracle(sklearn_fn, y_true, y_pred, **kwargs)
        assert_close(ours, theirs)


@PROPERTY
@given(data=label_pairs(max_classes=2), pos_label=st.sampled_from([0, 1]), strings=st.booleans())
def test_binary_precision_recall_f1_match_sklearn_for_each_pos_label(data, pos_label, strings):
    y_true, y_pred, weight, _ = data
    if strings:
        y_true, y_pred, pos_label = ANIMALS[y_true], ANIMALS[y_pred], ANIMALS[pos_label]
    for ours_fn, sklearn_fn in PRF:
        ours = ours_fn(y_true, y_pred, pos_label=pos_label, sample_weight=weight)
        theirs = oracle(sklearn_fn, y_true, y_pred, pos_label=pos_label, sample_weight=weight)
        assert_close(ours, theirs)


@PROPERTY
@given(data=binary_scores(), drop_intermediate=st.booleans(), strings=st.booleans())
def test_roc_curve_matches_sklearn_with_ties_weights_and_pos_label(
    data, drop_intermediate, strings
):
    y_true, y_score, weight = data
    pos_label = None
    if strings:
        y_true, pos_label = np.array(["no", "yes"])[y_true], "yes"
    kwargs = dict(pos_label=pos_label, sample_weight=weight, drop_intermediate=drop_intermediate)
    for ours, theirs in zip(
        tm.roc_curve(y_true, y_score, **kwargs),
        skm.roc_curve(y_true, y_score, **kwargs),
        strict=True,
    ):
        assert_close(ours, theirs)


@PROPERTY
@given(data=binary_scores(), strings=st.booleans())
def test_binary_roc_auc_matches_sklearn_with_ties_and_weights(data, strings):
    y_true, y_score, weight = data
    if strings:
        y_true = np.array(["ham", "spam"])[y_true]  # the greater label is positive
    ours = tm.roc_auc(y_true, y_score, sample_weight=weight)
    assert_close(ours, skm.roc_auc_score(y_true, y_score, sample_weight=weight))


@PROPERTY
@given(
    data=multiclass_probabilities(), average=st.sampled_from(["macro", "weighted", "micro", None])
)
def test_one_vs_rest_roc_auc_matches_sklearn_for_every_average(data, average):
    y_true, probabilities, weight = data
    kwargs = dict(average=average, sample_weight=weight, multi_class="ovr")
    ours = tm.roc_auc(y_true, probabilities, **kwargs)
    assert_close(ours, skm.roc_auc_score(y_true, probabilities, **kwargs))


@PROPERTY
@given(data=binary_scores(need_negative=False), drop_intermediate=st.booleans())
def test_precision_recall_curve_matches_sklearn_with_ties_and_weights(data, drop_intermediate):
    y_true, y_score, weight = data
    kwargs = dict(sample_weight=weight, drop_intermediate=drop_intermediate)
    ours = tm.precision_recall_curve(y_true, y_score, **kwargs)
    theirs = skm.precision_recall_curve(y_true, y_score, **kwargs)
    for ours_part, theirs_part in zip(ours, theirs, strict=True):
        assert_close(ours_part, theirs_part)


@PROPERTY
@given(data=binary_scores(need_negative=False), pos_label=st.sampled_from([1, "yes"]))
def test_binary_average_precision_matches_sklearn_even_with_only_positives(data, pos_label):
    y_true, y_score, weight = data
    if pos_label == "yes":
        y_true = np.array(["no", "yes"])[y_true]
    ours = tm.average_precision(y_true, y_score, pos_label=pos_label, sample_weight=weight)
    theirs = skm.average_precision_score(y_true, y_score, pos_label=pos_label, sample_weight=weight)
    assert_close(ours, theirs)


@PROPERTY
@given(
    data=multiclass_probabilities(), average=st.sampled_from(["macro", "weighted", "micro", None])
)
def test_multiclass_average_precision_matches_sklearn_for_every_average(data, average):
    y_true, probabilities, weight = data
    ours = tm.average_precision(y_true, probabilities, average=average, sample_weight=weight)
    theirs = skm.average_precision_score(
        y_true, probabilities, average=average, sample_weight=weight
    )
    assert_close(ours, theirs)


@PROPERTY
@given(data=binary_scores(weighted=True), float32=st.booleans(), normalize=st.booleans())
def test_binary_log_loss_matches_sklearn_including_clipped_zeros_and_ones(data, float32, normalize):
    y_true, y_score, weight = data
    y_prob = np.clip(y_score, 0.0, 1.0).astype(np.float32 if float32 else np.float64)
    ours = tm.log_loss(y_true, y_prob, sample_weight=weight, normalize=normalize)
    theirs = skm.log_loss(y_true, y_prob, sample_weight=weight, normalize=normalize)
    assert_close(ours, theirs, rtol=1e-5 if float32 else 1e-9)


@PROPERTY
@given(data=multiclass_probabilities(), with_unseen_class=st.booleans())
def test_multiclass_log_loss_matches_sklearn_with_and_without_labels(data, with_unseen_class):
    y_true, probabilities, weight = data
    labels = None
    if with_unseen_class:
        # A class that y_true never shows, given a column and named through labels=.
        labels = list(range(probabilities.shape[1] + 1))
        probabilities = np.hstack([probabilities * 0.9, np.full((len(y_true), 1), 0.1)])
    ours = tm.log_loss(y_true, probabilities, labels=labels, sample_weight=weight)
    theirs = skm.log_loss(y_true, probabilities, labels=labels, sample_weight=weight)
    assert_close(ours, theirs)


MULTIOUTPUT = st.sampled_from(["uniform_average", "raw_values", "weights"])


def _multioutput_for(choice, y_true):
    n_outputs = 1 if y_true.ndim == 1 else y_true.shape[1]
    if choice == "weights":
        # sklearn refuses output weights for a single output; we accept them, untested here.
        return np.arange(1.0, n_outputs + 1) if n_outputs > 1 else "uniform_average"
    return choice


@PROPERTY
@given(data=regression_targets(), multioutput=MULTIOUTPUT)
def test_mean_squared_and_absolute_error_match_sklearn(data, multioutput):
    y_true, y_pred, weight = data
    multioutput = _multioutput_for(multioutput, y_true)
    kwargs = dict(sample_weight=weight, multioutput=multioutput)
    assert_close(
        tm.mean_squared_error(y_true, y_pred, **kwargs),
        skm.mean_squared_error(y_true, y_pred, **kwargs),
    )
    assert_close(
        tm.mean_absolute_error(y_true, y_pred, **kwargs),
        skm.mean_absolute_error(y_true, y_pred, **kwargs),
    )


@PROPERTY
@given(
    data=regression_targets(min_size=2),
    multioutput=MULTIOUTPUT | st.just("variance_weighted"),
    force_finite=st.booleans(),
)
def test_r2_matches_sklearn_including_constant_targets(data, multioutput, force_finite):
    y_true, y_pred, weight = data
    multioutput = _multioutput_for(multioutput, y_true)
    kwargs = dict(sample_weight=weight, multioutput=multioutput, force_finite=force_finite)
    with np.errstate(divide="ignore", invalid="ignore"):
        theirs = skm.r2_score(y_true, y_pred, **kwargs)
    assert_close(tm.r2(y_true, y_pred, **kwargs), theirs)


@PROPERTY
@given(
    data=binary_scores(need_negative=False, weighted=False),
    n_bins=st.integers(1, 7),
    strategy=st.sampled_from(["uniform", "quantile"]),
)
def test_calibration_curve_matches_sklearn_for_both_strategies(data, n_bins, strategy):
    y_true, y_score, _ = data
    y_prob = np.clip(y_score, 0.0, 1.0)
    ours = tm.calibration_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    theirs = sk_calibration_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    for ours_part, theirs_part in zip(ours, theirs, strict=True):
        assert_close(ours_part, theirs_part)


@PROPERTY
@given(data=binary_scores(need_negative=False, weighted=False), n_buckets=st.integers(1, 7))
def test_prediction_bias_buckets_agree_with_overall_bias_and_calibration_curve(data, n_buckets):
    y_true, y_score, _ = data
    y_prob = np.clip(y_score, 0.0, 1.0)
    result = tm.prediction_bias(y_true, y_prob, n_buckets=n_buckets)

    assert result.overall == pytest.approx(y_prob.mean() - y_true.mean())
    assert result.overall == pytest.approx(tm.prediction_bias(y_true, y_prob))
    assert result.bucket_count.sum() == len(y_true)
    filled = result.bucket_count > 0
    # The count-weighted mean of per-bucket biases is the overall bias.
    assert np.average(
        result.bucket_bias[filled], weights=result.bucket_count[filled]
    ) == pytest.approx(result.overall)
    prob_true, prob_pred = sk_calibration_curve(y_true, y_prob, n_bins=n_buckets)
    assert_close(result.bucket_mean_label[filled], prob_true)
    assert_close(result.bucket_mean_prediction[filled], prob_pred)
    assert np.all(np.isnan(result.bucket_bias[~filled]))


# --------------------------------------------------------------------------------------
# Textbook cases, computed by hand
# --------------------------------------------------------------------------------------


def test_confusion_matrix_counts_a_hand_made_binary_example():
    y_true = [1, 0, 1, 1, 0, 0, 1]
    y_pred = [1, 1, 0, 1, 0, 0, 1]
    # tn: samples 4, 5; fp: sample 1; fn: sample 2; tp: samples 0, 3, 6.
    matrix = tm.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(matrix, [[2, 1], [1, 3]])
    assert matrix.dtype.kind == "i"


def test_confusion_matrix_sums_weights_and_keeps_integer_weights_integer():
    y_true, y_pred = [0, 1, 1], [0, 1, 0]
    integer = tm.confusion_matrix(y_true, y_pred, sample_weight=[2, 3, 4])
    np.testing.assert_array_equal(integer, [[2, 0], [4, 3]])
    assert integer.dtype.kind == "i"
    fractional = tm.confusion_matrix(y_true, y_pred, sample_weight=[0.5, 1.0, 1.5])
    np.testing.assert_array_equal(fractional, [[0.5, 0.0], [1.5, 1.0]])


def test_confusion_matrix_labels_order_rows_and_drop_unlisted_samples():
    matrix = tm.confusion_matrix(["b", "a", "c", "a"], ["b", "b", "a", "a"], labels=["b", "a"])
    # Sample 2 (true "c") is not listed and is left out.
    np.testing.assert_array_equal(matrix, [[1, 0], [1, 1]])


def test_confusion_matrix_normalized_by_true_gives_zero_row_for_an_absent_class():
    matrix = tm.confusion_matrix([0, 0, 1], [0, 1, 1], labels=[0, 1, 2], normalize="true")
    np.testing.assert_allclose(matrix, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_precision_recall_f1_of_a_hand_made_example():
    # tp = 2 (samples 0, 1), fp = 1 (sample 4), fn = 1 (sample 2).
    y_true = [1, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 1]
    assert tm.precision(y_true, y_pred) == pytest.approx(2 / 3)
    assert tm.recall(y_true, y_pred) == pytest.approx(2 / 3)
    assert tm.f1(y_true, y_pred) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))


def test_precision_of_a_never_predicted_class_is_zero_division():
    assert tm.precision([0, 1], [0, 0]) == 0.0
    assert tm.precision([0, 1], [0, 0], zero_division=1.0) == 1.0
    assert np.isnan(tm.precision([0, 1], [0, 0], zero_division=np.nan))


def test_macro_average_skips_nan_classes_when_zero_division_is_nan():
    # Class 2 is never predicted: its precision is NaN and left out of the mean.
    per_class = tm.precision([0, 1, 2], [0, 1, 1], average=None, zero_division=np.nan)
    np.testing.assert_allclose(per_class, [1.0, 0.5, np.nan])
    assert tm.precision([0, 1, 2], [0, 1, 1], average="macro", zero_division=np.nan) == 0.75


def test_roc_auc_of_a_perfect_ranking_is_one():
    assert tm.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0


def test_roc_auc_of_a_reversed_ranking_is_zero():
    assert tm.roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0


def test_roc_auc_with_every_score_tied_is_one_half():
    assert tm.roc_auc([0, 1, 1, 0, 1], [0.3] * 5) == 0.5


def test_roc_curve_with_every_score_tied_is_the_diagonal():
    fpr, tpr, thresholds = tm.roc_curve([0, 1, 1, 0], [0.3] * 4)
    np.testing.assert_array_equal(fpr, [0.0, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 1.0])
    np.testing.assert_array_equal(thresholds, [np.inf, 0.3])


def test_roc_curve_makes_one_threshold_per_distinct_score_in_decreasing_order():
    fpr, tpr, thresholds = tm.roc_curve(
        [0, 1, 0, 1, 1], [0.5, 0.5, 0.2, 0.9, 0.2], drop_intermediate=False
    )
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.5, 0.2])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])


def test_roc_curve_drops_collinear_points_but_keeps_the_area():
    y_true = [1, 1, 1, 0, 0, 0]
    y_score = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1]
    kept = tm.roc_curve(y_true, y_score)
    full = tm.roc_curve(y_true, y_score, drop_intermediate=False)
    assert len(kept[0]) < len(full[0])
    assert area_under(kept[0], kept[1]) == area_under(full[0], full[1]) == 1.0


def test_roc_curve_ignores_zero_weight_samples():
    with_zero = tm.roc_curve([0, 1, 1, 0], [0.1, 0.9, 0.4, 0.7], sample_weight=[1, 1, 0, 1])
    without = tm.roc_curve([0, 1, 0], [0.1, 0.9, 0.7])
    for a, b in zip(with_zero, without, strict=True):
        np.testing.assert_array_equal(a, b)


def test_precision_recall_curve_ends_at_recall_zero_with_increasing_thresholds():
    precision, recall, thresholds = tm.precision_recall_curve([0, 1, 1, 0], [0.2, 0.8, 0.6, 0.6])
    np.testing.assert_array_equal(thresholds, [0.2, 0.6, 0.8])
    np.testing.assert_allclose(recall, [1.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(precision, [0.5, 2 / 3, 1.0, 1.0])


def test_average_precision_of_a_perfect_ranking_and_of_only_positives_is_one():
    assert tm.average_precision([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert tm.average_precision([1, 1, 1], [0.1, 0.5, 0.9]) == 1.0


def test_log_loss_of_a_hand_made_example():
    y_true = ["spam", "ham", "ham", "spam"]
    y_prob = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]  # columns: ham, spam
    expected = -np.mean(np.log([0.9, 0.9, 0.8, 0.65]))
    assert tm.log_loss(y_true, y_prob) == pytest.approx(expected)


def test_log_loss_clips_a_certain_mistake_to_minus_log_eps_of_the_dtype():
    assert tm.log_loss([1, 0], [0.0, 0.0]) == pytest.approx(-np.log(np.finfo(np.float64).eps) / 2)
    float32 = np.array([0.0, 0.0], dtype=np.float32)
    assert tm.log_loss([1, 0], float32) == pytest.approx(
        -np.log(np.finfo(np.float32).eps) / 2, rel=1e-5
    )


def test_log_loss_warns_when_rows_do_not_sum_to_one():
    with pytest.warns(UserWarning, match="do not sum to 1"):
        tm.log_loss([0, 1, 2], [[0.5, 0.5, 0.5], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]])


def test_regression_errors_of_a_hand_made_example():
    y_true, y_pred = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    assert tm.mean_squared_error(y_true, y_pred) == (0.25 + 0.25 + 0 + 1) / 4
    assert tm.mean_absolute_error(y_true, y_pred) == (0.5 + 0.5 + 0 + 1) / 4
    # Total sum of squares around the mean 2.875: 29.1875.
    assert tm.r2(y_true, y_pred) == pytest.approx(1 - 1.5 / 29.1875)


def test_r2_of_a_constant_target_is_one_if_perfect_else_zero_unless_forced_finite_is_off():
    assert tm.r2([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0
    assert tm.r2([2.0, 2.0, 2.0], [2.0, 2.0, 3.0]) == 0.0
    assert np.isnan(tm.r2([2.0, 2.0], [2.0, 2.0], force_finite=False))
    assert tm.r2([2.0, 2.0], [2.0, 3.0], force_finite=False) == -np.inf


def test_r2_raw_values_gives_one_score_per_output():
    scores = tm.r2(
        [[1.0, 0.0], [2.0, 1.0], [3.0, 2.0]],
        [[1.0, 0.0], [2.0, 1.0], [3.0, 1.0]],
        multioutput="raw_values",
    )
    np.testing.assert_allclose(scores, [1.0, 0.5])


def test_calibration_curve_drops_empty_bins():
    prob_true, prob_pred = tm.calibration_curve([0, 1, 1], [0.1, 0.93, 0.97], n_bins=10)
    np.testing.assert_allclose(prob_true, [0.0, 1.0])
    np.testing.assert_allclose(prob_pred, [0.1, 0.95])


def test_prediction_bias_of_a_hand_made_example_with_an_empty_bucket():
    result = tm.prediction_bias([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2], n_buckets=3)
    assert result.overall == pytest.approx(0.0)
    np.testing.assert_allclose(result.bucket_edges, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(result.bucket_count, [2, 0, 2])
    np.testing.assert_allclose(result.bucket_mean_prediction, [0.15, np.nan, 0.85])
    np.testing.assert_allclose(result.bucket_mean_label, [0.0, np.nan, 1.0])
    np.testing.assert_allclose(result.bucket_bias, [0.15, np.nan, -0.15])


def test_prediction_bias_without_buckets_is_a_float_and_with_buckets_is_frozen():
    assert isinstance(tm.prediction_bias([0, 1], [0.4, 0.8]), float)
    result = tm.prediction_bias([0, 1], [0.4, 0.8], n_buckets=2)
    with pytest.raises(AttributeError):
        result.overall = 0.0
    with pytest.raises(ValueError, match="read-only"):
        result.bucket_bias[0] = 0.0


def test_metrics_accept_lists_arrays_and_pandas_series_alike():
    y_true, y_pred = ["cat", "dog", "dog", "cat"], ["cat", "dog", "cat", "cat"]
    from_list = tm.f1(y_true, y_pred, pos_label="dog")
    from_array = tm.f1(np.array(y_true), np.array(y_pred), pos_label="dog")
    from_series = tm.f1(pd.Series(y_true), pd.Series(y_pred), pos_label="dog")
    assert from_list == from_array == from_series == pytest.approx(2 / 3)
    assert tm.roc_auc(pd.Series([0, 1, 1]), pd.Series([0.2, 0.7, 0.6])) == 1.0
    assert tm.r2(pd.Series([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == 1.0


def test_string_class_labels_match_sklearn_in_multiclass_auc_and_log_loss():
    y_true = np.array(["owl", "cat", "dog", "cat", "owl", "dog"])
    probabilities = np.array(  # columns in sorted order: cat, dog, owl
        [
            [0.1, 0.2, 0.7],
            [0.6, 0.3, 0.1],
            [0.2, 0.5, 0.3],
            [0.3, 0.3, 0.4],
            [0.5, 0.1, 0.4],
            [0.3, 0.4, 0.3],
        ]
    )
    for average in ["macro", "weighted"]:
        ours = tm.roc_auc(y_true, probabilities, multi_class="ovr", average=average)
        theirs = skm.roc_auc_score(y_true, probabilities, multi_class="ovr", average=average)
        assert_close(ours, theirs)
    assert_close(tm.log_loss(y_true, probabilities), skm.log_loss(y_true, probabilities))
    assert_close(
        tm.average_precision(y_true, probabilities),
        skm.average_precision_score(y_true, probabilities),
    )


METRICS_MODULES = [tm, tm.classification, tm.ranking, tm.probability, tm.regression]


def test_docstring_examples_run_and_print_what_they_show():
    results = [
        doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        for module in METRICS_MODULES
    ]
    assert sum(attempted for _, attempted in results) > 15
    assert sum(failures for failures, _ in results) == 0


def test_metrics_package_imports_only_numpy_and_the_errors_module():
    imported = set()
    for path in Path(tm.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
    third_party = {
        name
        for name in imported
        if name.split(".")[0] not in {"__future__", "warnings", "dataclasses", "typing", "math"}
        and not name.startswith("thalweg.metrics.")  # the package's own modules
    }
    assert third_party == {"numpy", "numpy.typing", "thalweg.errors"}


# --------------------------------------------------------------------------------------
# User errors: each raises DataError naming the problem and the fix
# --------------------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        lambda: tm.accuracy([], []), "got 0 samples; pass at least one sample", id="empty"
    ),
    pytest.param(lambda: tm.roc_curve([], []), "got 0 samples", id="empty-roc"),
    pytest.param(
        lambda: tm.accuracy([0, 1, 1], [0, 1]),
        "y_true has 3 samples but y_pred has 2",
        id="lengths",
    ),
    pytest.param(
        lambda: tm.mean_squared_error([1.0], [1.0, 2.0]),
        "y_true has 1 samples but y_pred has 2",
        id="lengths-regression",
    ),
    pytest.param(
        lambda: tm.accuracy([0, 1], [0, 1], sample_weight=[1.0]),
        "sample_weight has 1 entries",
        id="weight-length",
    ),
    pytest.param(
        lambda: tm.accuracy([0, 1], [0, 1], sample_weight=[1.0, -1.0]),
        "negative",
        id="weight-negative",
    ),
    pytest.param(
        lambda: tm.roc_curve([0, 1], [0.1, np.nan]), "y_score contains NaN or Inf", id="nan-score"
    ),
    pytest.param(
        lambda: tm.roc_auc([0, 1], [0.1, np.inf]), "y_score contains NaN or Inf", id="inf-score"
    ),
    pytest.param(
        lambda: tm.log_loss([0, 1], [0.1, np.nan]), "y_prob contains NaN or Inf", id="nan-prob"
    ),
    pytest.param(
        lambda: tm.mean_absolute_error([1.0, np.nan], [1.0, 2.0]),
        "y_true contains NaN",
        id="nan-target",
    ),
    pytest.param(
        lambda: tm.roc_curve([1, 1], [0.2, 0.3]), "only positive samples", id="roc-one-class"
    ),
    pytest.param(
        lambda: tm.roc_curve([0, 0], [0.2, 0.3]), "only negative samples", id="roc-no-positive"
    ),
    pytest.param(
        lambda: tm.roc_auc([1, 1], [0.2, 0.3]), "holds only the class [1]", id="auc-one-class"
    ),
    pytest.param(
        lambda: tm.precision_recall_curve([0, 0], [0.2, 0.3]),
        "no positive sample",
        id="pr-no-positive",
    ),
    pytest.param(
        lambda: tm.average_precision([0, 0], [0.2, 0.3]), "no positive sample", id="ap-no-positive"
    ),
    pytest.param(lambda: tm.log_loss([0, 1], [0.2, 1.3]), "outside [0, 1]", id="prob-above-one"),
    pytest.param(
        lambda: tm.calibration_curve([0, 1], [-0.1, 0.3]), "outside [0, 1]", id="prob-below-zero"
    ),
    pytest.param(lambda: tm.prediction_bias([0, 1], [0.5, 2.0]), "outside [0, 1]", id="bias-prob"),
    pytest.param(
        lambda: tm.accuracy([0, 1], [0.2, 0.7]), "y_pred looks continuous", id="continuous-pred"
    ),
    pytest.param(
        lambda: tm.roc_auc([0.1, 0.9], [0.2, 0.7]), "y_true looks continuous", id="continuous-true"
    ),
    pytest.param(
        lambda: tm.precision([0, 1], [0, 1], pos_label=2),
        "pos_label=2 is not one of",
        id="pos-label",
    ),
    pytest.param(
        lambda: tm.roc_curve([0, 1], [0.2, 0.7], pos_label=2),
        "pos_label=2 is not present",
        id="pos-label-roc",
    ),
    pytest.param(
        lambda: tm.roc_curve(["a", "b"], [0.2, 0.7]), "pass pos_label=", id="pos-label-ambiguous"
    ),
    pytest.param(
        lambda: tm.f1([0, 1, 2], [0, 1, 2]), 'pass average="macro"', id="multiclass-binary-average"
    ),
    pytest.param(
        lambda: tm.roc_auc([0, 1, 2], [[0.8, 0.1, 0.1]] * 3),
        'multi_class="ovr"',
        id="auc-multiclass",
    ),
    pytest.param(
        lambda: tm.roc_auc([0, 1, 2], [[0.8, 0.5, 0.1]] * 3, multi_class="ovr"),
        "summing to 1",
        id="auc-not-probabilities",
    ),
    pytest.param(
        lambda: tm.roc_auc([0, 1, 2], [[0.5, 0.5]] * 3, multi_class="ovr"),
        "2 columns but there are 3 classes",
        id="auc-columns",
    ),
    pytest.param(
        lambda: tm.roc_auc([0, 1], [[0.5, 0.5]] * 2), "y_score[:, 1]", id="auc-binary-two-columns"
    ),
    pytest.param(
        lambda: tm.accuracy(["a", "b"], [0, 1]),
        "y_true holds strings but y_pred holds numbers",
        id="mixed-types",
    ),
    pytest.param(lambda: tm.log_loss([1, 1], [0.2, 0.7]), "pass labels=", id="log-loss-one-class"),
    pytest.param(
        lambda: tm.log_loss([0, 1], [[0.5, 0.5]] * 2, labels=[1, 0]),
        "labels must be sorted",
        id="log-loss-labels-order",
    ),
    pytest.param(
        lambda: tm.log_loss([0, 2], [0.5, 0.5], labels=[0, 1]),
        "not in labels",
        id="log-loss-unknown-label",
    ),
    pytest.param(
        lambda: tm.confusion_matrix([0, 1], [0, 1], labels=[5]),
        "none of labels",
        id="cm-labels-unused",
    ),
    pytest.param(
        lambda: tm.confusion_matrix([0, 1], [0, 1], labels=[0, 0]),
        "repeated",
        id="cm-labels-repeated",
    ),
    pytest.param(lambda: tm.r2([1.0], [1.0]), "at least 2 samples", id="r2-one-sample"),
    pytest.param(
        lambda: tm.accuracy(pd.Series(["a", None]), ["a", "b"]),
        "mixes strings with other values",
        id="missing-string",
    ),
    pytest.param(
        lambda: tm.accuracy(pd.Series([1, None], dtype=object), [1, 0]),
        "missing values (None)",
        id="missing-number",
    ),
    pytest.param(
        lambda: tm.mean_squared_error([[1.0, 2.0]], [[1.0]]),
        "2 outputs but y_pred has 1",
        id="outputs",
    ),
    pytest.param(
        lambda: tm.calibration_curve([0, 1, 2], [0.1, 0.2, 0.3]),
        "only binary labels",
        id="calibration-multiclass",
    ),
    pytest.param(
        lambda: tm.accuracy([[0, 1], [1, 0]], [[0, 1], [1, 0]]),
        "must be 1-D class labels",
        id="two-d-labels",
    ),
]


@pytest.mark.parametrize(("call", "message"), ERROR_CASES)
def test_user_error_raises_data_error_naming_problem_and_fix(call, message):
    with pytest.raises(DataError) as raised:
        call()
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)  # code written for sklearn keeps working


OPTION_CASES = [
    pytest.param(lambda: tm.precision([0, 1], [0, 1], average="mean"), id="average"),
    pytest.param(lambda: tm.confusion_matrix([0, 1], [0, 1], normalize="rows"), id="normalize"),
    pytest.param(lambda: tm.roc_auc([0, 1, 2], [[0.8, 0.1, 0.1]] * 3, multi_class="ovo"), id="ovo"),
    pytest.param(
        lambda: tm.calibration_curve([0, 1], [0.1, 0.9], strategy="kmeans"), id="strategy"
    ),
    pytest.param(lambda: tm.precision([0, 1], [0, 1], zero_division="warn"), id="zero-division"),
    pytest.param(lambda: tm.prediction_bias([0, 1], [0.1, 0.9], n_buckets=0), id="n-buckets"),
]


@pytest.mark.parametrize("call", OPTION_CASES)
def test_an_unsupported_option_raises_value_error_naming_the_choices(call):
    with pytest.raises(ValueError, match=r"not supported|must be"):
        call()
