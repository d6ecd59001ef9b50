"""Ranking: ROC and precision-recall curves from scores, and the areas under them."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError
from thalweg.metrics.inputs import (
    _to_array,
    average_per_class,
    check_columns,
    check_lengths,
    check_option,
    checked_sample_weight,
    class_labels,
    column_classes,
    float_array,
    positive_mask,
)


def _counts_at_thresholds(metric, y_true, y_score, pos_label, sample_weight):
    """Weighted false and true positives when predicting "positive" for score >= t.

    One entry per distinct score t, thresholds decreasing. Sorting once and taking
    cumulative sums gives every threshold's counts in O(n log n).
    """
    y_true = class_labels(metric, "y_true", y_true)
    y_score = float_array(metric, "y_score", y_score)
    check_lengths(metric, y_true=y_true, y_score=y_score)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    is_positive = positive_mask(metric, y_true, pos_label)
    if weight is not None:
        # A zero-weight sample must not add a threshold of its own (sklearn drops it too).
        kept = weight != 0
        is_positive, y_score, weight = is_positive[kept], y_score[kept], weight[kept]

    order = np.argsort(-y_score, kind="stable")
    y_score, is_positive = y_score[order], is_positive[order]
    weight = 1.0 if weight is None else weight[order]
    # Equal scores cannot be split by any threshold, so each run of ties is one point:
    # take the running totals at the last sample of each run.
    last_of_tie = np.r_[np.flatnonzero(np.diff(y_score)), len(y_score) - 1]
    true_positives = np.cumsum(is_positive * weight)[last_of_tie]
    false_positives = np.cumsum(~is_positive * weight)[last_of_tie]
    return false_positives, true_positives, y_score[last_of_tie]


def _one_class_error(metric: str, has_positives: bool) -> DataError:
    present, missing = ("positive", "negative") if has_positives else ("negative", "positive")
    return DataError(
        f"{metric}: y_true holds only {present} samples, so the curve is undefined without "
        f"{missing} ones; evaluate on data that contains both classes (e.g. a stratified split)"
    )


def _roc_points(metric, y_true, y_score, pos_label, sample_weight, drop_intermediate):
    false_positives, true_positives, thresholds = _counts_at_thresholds(
        metric, y_true, y_score, pos_label, sample_weight
    )
    if false_positives[-1] == 0 or true_positives[-1] == 0:
        raise _one_class_error(metric, has_positives=true_positives[-1] > 0)
    if drop_intermediate and len(thresholds) > 2:
        # Where both steps around a point are equal (second difference 0 in fps and tps),
        # the point lies on the line joining its neighbours: no corner, so dropping it
        # changes neither the picture nor the area.
        corner = (np.diff(false_positives, 2) != 0) | (np.diff(true_positives, 2) != 0)
        kept = np.r_[True, corner, True]
        false_positives, true_positives = false_positives[kept], true_positives[kept]
        thresholds = thresholds[kept]
    # Start at (0, 0): the threshold +inf predicts nothing positive.
    false_positives = np.r_[0.0, false_positives]
    true_positives = np.r_[0.0, true_positives]
    thresholds = np.r_[np.inf, thresholds]
    return false_positives / false_positives[-1], true_positives / true_positives[-1], thresholds


def roc_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: int | float | bool | str | None = None,
    sample_weight: ArrayLike | None = None,
    drop_intermediate: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Receiver operating characteristic: false and true positive rate at each threshold.

    Point ``i`` is what you get by predicting positive when ``y_score >= thresholds[i]``.
    Equal scores form one threshold. The first threshold is ``inf`` (nothing predicted
    positive), so the curve starts at (0, 0), as in scikit-learn >= 1.3.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels.
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely positive (probabilities or decision values).
    pos_label : int, float, bool or str, optional
        The positive class. Default: 1, if the labels are {0, 1} or {-1, 1}.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample; zero-weight samples are dropped.
    drop_intermediate : bool, default=True
        Drop points in line with their neighbours; the curve and its area are unchanged.

    Returns
    -------
    fpr, tpr : ndarray of shape (n_thresholds,)
        Increasing false and true positive rates.
    thresholds : ndarray of shape (n_thresholds,)
        Decreasing thresholds, ``thresholds[0] == inf``.

    Raises
    ------
    DataError
        If y_true holds only one class (scikit-learn warns and returns NaN rates).

    Examples
    --------
    >>> fpr, tpr, thresholds = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr
    array([0. , 0. , 0.5, 0.5, 1. ])
    >>> tpr
    array([0. , 0.5, 0.5, 1. , 1. ])
    >>> thresholds
    array([ inf, 0.8 , 0.4 , 0.35, 0.1 ])
    """
    return _roc_points("roc_curve", y_true, y_score, pos_label, sample_weight, drop_intermediate)


def _area_under(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoid rule for a curve whose x never decreases."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def _binary_roc_auc(metric, is_positive, y_score, sample_weight) -> float:
    fpr, tpr, _ = _roc_points(metric, is_positive, y_score, 1, sample_weight, True)
    return _area_under(fpr, tpr)


def roc_auc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    average: Literal["micro", "macro", "weighted"] | None = "macro",
    sample_weight: ArrayLike | None = None,
    multi_class: Literal["raise", "ovr"] = "raise",
    labels: ArrayLike | None = None,
) -> float | np.ndarray:
    """Area under the ROC curve: the chance a random positive outranks a random negative.

    Binary: ``y_score`` has shape (n_samples,) and the greater of the two labels is the
    positive class (as in scikit-learn). Multi-class: ``y_score`` has shape
    (n_samples, n_classes) holding probabilities (rows sum to 1) and
    ``multi_class="ovr"`` averages one-vs-rest AUCs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores of the positive class, or class probabilities (columns in sorted label
        order, or in ``labels`` order).
    average : {"macro", "weighted", "micro"} or None, default="macro"
        Multi-class only: mean of per-class AUCs, mean weighted by class count, AUC of all
        one-vs-rest decisions pooled, or per-class AUCs (None). Ignored for binary.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    multi_class : {"raise", "ovr"}, default="raise"
        Multi-class input needs ``"ovr"`` (one-vs-rest); ``"ovo"`` is not offered.
    labels : array-like of shape (n_classes,), optional
        Multi-class only: the sorted classes indexing the columns of ``y_score``.

    Returns
    -------
    float, or ndarray of shape (n_classes,) for multi-class with ``average=None``

    Raises
    ------
    DataError
        If a class has no sample (the AUC is undefined; scikit-learn returns NaN).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    metric = "roc_auc"
    y_true_labels = class_labels(metric, "y_true", y_true)
    scores = _to_array(metric, "y_score", y_score)
    classes = np.unique(y_true_labels)
    if (scores.ndim == 2 and scores.shape[1] > 2) or classes.size > 2:
        return _roc_auc_one_vs_rest(
            y_true_labels, scores, average, sample_weight, multi_class, labels
        )
    check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    if scores.ndim == 2 and scores.shape[1] == 2:
        raise DataError(
            f"{metric}: y_score has shape {scores.shape} but y_true is binary; "
            "pass the positive-class column, y_score[:, 1]"
        )
    scores = float_array(metric, "y_score", scores)
    check_lengths(metric, y_true=y_true_labels, y_score=scores)
    if classes.size < 2:
        raise DataError(
            f"{metric}: y_true holds only the class {classes.tolist()}, so ROC AUC is "
            "undefined; evaluate on data that contains both classes (e.g. a stratified split)"
        )
    # As in scikit-learn, the greater label is the positive class.
    return _binary_roc_auc(metric, y_true_labels == classes[1], scores, sample_weight)


def _roc_auc_one_vs_rest(y_true, scores, average, sample_weight, multi_class, labels):
    metric = "roc_auc"
    if multi_class == "raise":
        raise DataError(
            f'{metric}: y_true has more than 2 classes; pass multi_class="ovr" to average '
            "one-vs-rest AUCs (with y_score of shape (n_samples, n_classes))"
        )
    check_option(metric, "multi_class", multi_class, ("raise", "ovr"))
    check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    scores = float_array(metric, "y_score", scores, ndims=(2,))
    check_lengths(metric, y_true=y_true, y_score=scores)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    if not np.allclose(scores.sum(axis=1), 1.0):
        raise DataError(
            f"{metric}: each row of y_score must be class probabilities summing to 1; "
            "apply softmax to raw scores first"
        )
    classes = column_classes(metric, y_true, labels)
    check_columns(metric, "y_score", scores, classes)
    is_class = y_true[:, None] == classes[None, :]  # one-hot, shape (n_samples, n_classes)
    absent = classes[~is_class.any(axis=0)]
    if absent.size:
        raise DataError(
            f"{metric}: class {absent[0]!r} has no sample in y_true, so its one-vs-rest AUC "
            "is undefined; evaluate on data that contains every class"
        )
    if average == "micro":
        # Every (sample, class) pair becomes one binary decision.
        pooled_weight = None if weight is None else np.repeat(weight, classes.size)
        return _binary_roc_auc(metric, is_class.ravel(), scores.ravel(), pooled_weight)
    # One binary problem per class (a loop over classes, not samples).
    per_class = np.array(
        [_binary_roc_auc(metric, is_class[:, c], scores[:, c], weight) for c in range(classes.size)]
    )
    support = is_class.sum(axis=0) if weight is None else weight @ is_class
    return average_per_class(per_class, average, support)


def _precision_recall_points(metric, y_true, y_score, pos_label, sample_weight, drop_intermediate):
    false_positives, true_positives, thresholds = _counts_at_thresholds(
        metric, y_true, y_score, pos_label, sample_weight
    )
    if true_positives[-1] == 0:
        raise DataError(
            f"{metric}: y_true has no positive sample, so recall is undefined; evaluate on "
            "data that contains the positive class (or check pos_label)"
        )
    if drop_intermediate and len(thresholds) > 2:
        # Thresholds sharing a true-positive count share a recall: they draw one vertical
        # segment, and only its two ends matter.
        changes = (np.diff(true_positives[:-1]) != 0) | (np.diff(true_positives[1:]) != 0)
        kept = np.r_[True, changes, True]
        false_positives, true_positives = false_positives[kept], true_positives[kept]
        thresholds = thresholds[kept]
    # Every threshold predicts at least one (positively weighted) sample, so no 0/0 here.
    precision_at = true_positives / (true_positives + false_positives)
    recall_at = true_positives / true_positives[-1]
    # scikit-learn's order: thresholds increasing, recall decreasing, and a final point
    # (recall 0, precision 1) with no threshold.
    return np.r_[precision_at[::-1], 1.0], np.r_[recall_at[::-1], 0.0], thresholds[::-1]


def precision_recall_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: int | float | bool | str | None = None,
    sample_weight: ArrayLike | None = None,
    drop_intermediate: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at each threshold on the scores.

    Point ``i`` predicts positive when ``y_score >= thresholds[i]``; equal scores form one
    threshold. Order is scikit-learn's: thresholds **increasing**, recall decreasing, and
    one last point (precision 1, recall 0) that has no threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels.
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely positive.
    pos_label : int, float, bool or str, optional
        The positive class. Default: 1, if the labels are {0, 1} or {-1, 1}.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample; zero-weight samples are dropped.
    drop_intermediate : bool, default=False
        Keep only the two ends of each run of thresholds with equal recall.

    Returns
    -------
    precision, recall : ndarray of shape (n_thresholds + 1,)
    thresholds : ndarray of shape (n_thresholds,)

    Raises
    ------
    DataError
        If y_true has no positive sample (scikit-learn warns and sets recall to 1).

    Examples
    --------
    >>> precision, recall, thresholds = precision_recall_curve(
    ...     [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> precision
    array([0.5       , 0.66666667, 0.5       , 1.        , 1.        ])
    >>> recall
    array([1. , 1. , 0.5, 0.5, 0. ])
    >>> thresholds
    array([0.1 , 0.35, 0.4 , 0.8 ])
    """
    return _precision_recall_points(
        "precision_recall_curve", y_true, y_score, pos_label, sample_weight, drop_intermediate
    )


def _binary_average_precision(metric, y_true, y_score, pos_label, sample_weight) -> float:
    precision_at, recall_at, _ = _precision_recall_points(
        metric, y_true, y_score, pos_label, sample_weight, False
    )
    # A step function, not a trapezoid: each threshold's precision times the recall it
    # adds. Recall decreases along the arrays, hence the minus; max() clears a -0.0.
    return max(0.0, float(-np.sum(np.diff(recall_at) * precision_at[:-1])))


def average_precision(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    average: Literal["micro", "macro", "weighted"] | None = "macro",
    pos_label: int | float | bool | str = 1,
    sample_weight: ArrayLike | None = None,
) -> float | np.ndarray:
    """Average precision: precision averaged over thresholds, weighted by recall gained.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` (no interpolation), as in scikit-learn.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores of the positive class, or, when y_true has more than 2 classes, one column
        of scores per class (sorted label order); classes are then scored one-vs-rest.
    average : {"macro", "weighted", "micro"} or None, default="macro"
        Multi-class only, as in :func:`roc_auc`. Ignored for binary.
    pos_label : int, float, bool or str, default=1
        The positive class (binary only).
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.

    Returns
    -------
    float, or ndarray of shape (n_classes,) for multi-class with ``average=None``

    Examples
    --------
    >>> average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8333333333333333
    """
    metric = "average_precision"
    check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    y_true_labels = class_labels(metric, "y_true", y_true)
    scores = _to_array(metric, "y_score", y_score)
    classes = np.unique(y_true_labels)
    if classes.size <= 2:
        if scores.ndim == 2 and scores.shape[1] > 1:
            raise DataError(
                f"{metric}: y_score has shape {scores.shape} but y_true is binary; pass "
                "the positive-class scores of shape (n_samples,), e.g. y_score[:, 1]"
            )
        return _binary_average_precision(metric, y_true_labels, scores, pos_label, sample_weight)

    if pos_label != 1:
        raise ValueError(f"{metric}: pos_label is fixed to 1 for multi-class y_true; leave it at 1")
    scores = float_array(metric, "y_score", scores, ndims=(1, 2))
    if scores.ndim == 1:
        raise DataError(
            f"{metric}: y_true has {classes.size} classes, so y_score must have shape "
            f"(n_samples, {classes.size}); got shape {scores.shape}"
        )
    check_lengths(metric, y_true=y_true_labels, y_score=scores)
    weight = checked_sample_weight(metric, sample_weight, len(y_true_labels))
    check_columns(metric, "y_score", scores, classes)
    is_class = y_true_labels[:, None] == classes[None, :]  # one-hot, (n_samples, n_classes)
    if average == "micro":
        pooled_weight = None if weight is None else np.repeat(weight, classes.size)
        return _binary_average_precision(metric, is_class.ravel(), scores.ravel(), 1, pooled_weight)
    per_class = np.array(
        [
            _binary_average_precision(metric, is_class[:, c], scores[:, c], 1, weight)
            for c in range(classes.size)
        ]
    )
    support = is_class.sum(axis=0) if weight is None else weight @ is_class
    return average_per_class(per_class, average, support)
