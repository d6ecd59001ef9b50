"""Classification from hard labels: accuracy, confusion matrix, precision, recall, F1,
and the majority-class baseline that accuracy must beat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError
from thalweg.metrics.inputs import (
    Average,
    average_per_class,
    check_lengths,
    check_option,
    check_same_label_kind,
    checked_labels,
    checked_sample_weight,
    class_labels,
    contains_label,
    encode_labels,
    label_pair,
)


def accuracy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    normalize: bool = True,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Fraction of samples whose predicted label equals the true label.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    normalize : bool, default=True
        If False, return the (weighted) number of correct samples instead of the fraction.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.

    Returns
    -------
    float

    Examples
    --------
    >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    """
    y_true, y_pred = label_pair("accuracy", y_true, y_pred)
    weight = checked_sample_weight("accuracy", sample_weight, len(y_true))
    correct = y_true == y_pred
    if not normalize:
        return float(np.sum(correct) if weight is None else np.sum(correct * weight))
    return float(np.average(correct, weights=weight))


@dataclass(frozen=True)
class MajorityBaseline:
    """The accuracy of always predicting one class: the bar any classifier must clear.

    Attributes
    ----------
    label : object
        The class always predicted (the most frequent one).
    accuracy : float
        Its accuracy on ``y_true``: the share of that class there.
    """

    label: object
    accuracy: float


def majority_baseline(
    y_true: ArrayLike,
    *,
    y_train: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> MajorityBaseline:
    """Accuracy of the constant classifier that always predicts the most frequent class.

    On imbalanced data accuracy flatters: with 95 % negatives, predicting "negative"
    every time scores 0.95 (the *accuracy paradox*). Compare a model's accuracy with
    this number, not with 0.5. Same as scikit-learn's
    ``DummyClassifier(strategy="most_frequent").fit(X, y_train).score(X, y_true)``,
    ties going to the smallest label.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels of the rows being evaluated.
    y_train : array-like, optional
        Labels to find the majority class in (the training labels); default ``y_true``.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each row of ``y_true`` (used to find the majority when ``y_train`` is
        None, and in the accuracy).

    Returns
    -------
    MajorityBaseline

    Examples
    --------
    >>> majority_baseline(["ok", "ok", "ok", "fraud"])
    MajorityBaseline(label='ok', accuracy=0.75)
    """
    metric = "majority_baseline"
    y_true = class_labels(metric, "y_true", y_true)
    check_lengths(metric, y_true=y_true)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    if y_train is None:
        reference, reference_weight = y_true, weight
    else:
        reference = class_labels(metric, "y_train", y_train)
        check_lengths(metric, y_train=reference)
        check_same_label_kind(metric, "y_true", y_true, "y_train", reference)
        reference_weight = None
    classes, codes = np.unique(reference, return_inverse=True)
    totals = np.bincount(codes, weights=reference_weight, minlength=len(classes))
    label = classes[int(np.argmax(totals))]  # argmax: the first, smallest, label on a tie
    accuracy = float(np.average(y_true == label, weights=weight))
    return MajorityBaseline(label.item(), accuracy)


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    normalize: Literal["true", "pred", "all"] | None = None,
) -> np.ndarray:
    """Count of samples per (true class, predicted class) pair.

    Entry ``[i, j]`` counts samples of true class ``labels[i]`` predicted as ``labels[j]``;
    for binary {0, 1} that is ``[[tn, fp], [fn, tp]]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels : array-like of shape (n_classes,), optional
        Classes indexing the rows and columns, in this order. Samples whose true or
        predicted label is not listed are left out. Default: every label seen, sorted.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample; the matrix then sums weights instead of counting.
    normalize : {"true", "pred", "all"}, optional
        Divide by row sums ("true": each row is a distribution over predictions), column
        sums ("pred") or the total ("all"). Rows or columns that sum to 0 stay 0.

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Integers, unless weighted by non-integer weights or normalized.

    Examples
    --------
    >>> confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0])
    array([[1, 1],
           [1, 2]])
    """
    metric = "confusion_matrix"
    check_option(metric, "normalize", normalize, (None, "true", "pred", "all"))
    y_true, y_pred = label_pair(metric, y_true, y_pred)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    if labels is None:
        classes = np.union1d(y_true, y_pred)
    else:
        classes = checked_labels(metric, labels, y_true)
        if not np.any(encode_labels(y_true, classes) >= 0):
            raise DataError(
                f"{metric}: none of labels={classes.tolist()} occurs in y_true; "
                "pass labels that y_true uses"
            )
    n_classes = len(classes)
    true_index, pred_index = encode_labels(y_true, classes), encode_labels(y_pred, classes)
    listed = (true_index >= 0) & (pred_index >= 0)
    # Each (true, predicted) pair gets one flat cell number; bincount counts them all at once.
    cell = true_index[listed] * n_classes + pred_index[listed]
    cell_weight = None if weight is None else weight[listed]
    matrix = np.bincount(cell, weights=cell_weight, minlength=n_classes**2)
    matrix = matrix.reshape(n_classes, n_classes)
    if weight is not None and np.asarray(sample_weight).dtype.kind in "biu":
        matrix = matrix.astype(np.int64)  # integer weights give integer counts, as in sklearn

    if normalize is None:
        return matrix
    total = {
        "true": matrix.sum(axis=1, keepdims=True),
        "pred": matrix.sum(axis=0, keepdims=True),
        "all": matrix.sum(),
    }[normalize]
    # An empty row (a class never seen) has nothing to divide: report 0, not NaN.
    return np.divide(matrix, total, out=np.zeros(matrix.shape), where=total != 0)


def _class_counts(
    metric: str,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    labels: ArrayLike | None,
    pos_label,
    average: Average,
    sample_weight: ArrayLike | None,
):
    """Weighted true positives, predicted positives and actual positives, per class.

    Returns three float arrays with one entry per class scored: ``[pos_label]`` for
    ``average="binary"``, the summed classes for ``"micro"``, else ``labels`` (default:
    every label seen, sorted).
    """
    check_option(metric, "average", average, ("binary", "micro", "macro", "weighted", None))
    y_true, y_pred = label_pair(metric, y_true, y_pred)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    if weight is None:
        weight = np.ones(len(y_true))
    seen = np.union1d(y_true, y_pred)

    if average == "binary":
        if seen.size > 2:
            raise DataError(
                f"{metric}: y_true and y_pred hold {seen.size} classes {seen.tolist()} but "
                'average="binary" needs at most 2; pass average="macro" '
                '(or "micro", "weighted", None)'
            )
        if not contains_label(seen, pos_label):
            if seen.size == 2:
                raise DataError(
                    f"{metric}: pos_label={pos_label!r} is not one of the labels "
                    f"{seen.tolist()}; pass pos_label= one of them"
                )
            return np.zeros(1), np.zeros(1), np.zeros(1)  # no positive anywhere
        classes = np.asarray([pos_label])
    elif labels is None:
        classes = seen
    else:
        classes = checked_labels(metric, labels, y_true)

    n_classes = len(classes)
    true_index, pred_index = encode_labels(y_true, classes), encode_labels(y_pred, classes)
    is_listed_true, is_listed_pred = true_index >= 0, pred_index >= 0
    hit = is_listed_true & (true_index == pred_index)
    true_positive = np.bincount(true_index[hit], weights=weight[hit], minlength=n_classes)
    predicted = np.bincount(
        pred_index[is_listed_pred], weights=weight[is_listed_pred], minlength=n_classes
    )
    actual = np.bincount(
        true_index[is_listed_true], weights=weight[is_listed_true], minlength=n_classes
    )
    counts = (true_positive, predicted, actual)
    if average == "micro":
        # Micro-averaging pools every decision before dividing: one "class".
        counts = tuple(count.sum(keepdims=True) for count in counts)
    return counts


def _divide_or(numerator: np.ndarray, denominator: np.ndarray, zero_division: float):
    """``numerator / denominator``, with ``zero_division`` where the denominator is 0."""
    safe_denominator = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, zero_division, numerator / safe_denominator)


def _check_zero_division(metric: str, zero_division: float) -> None:
    is_number = isinstance(zero_division, int | float)
    if not (is_number and (zero_division in (0, 1) or np.isnan(zero_division))):
        raise ValueError(f"{metric}: zero_division must be 0.0, 1.0 or np.nan; got {zero_division}")


def precision(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    pos_label: int | float | bool | str = 1,
    average: Average = "binary",
    sample_weight: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """Precision: of the samples predicted as a class, the fraction that truly are.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels : array-like, optional
        Classes to score when ``average != "binary"``, in this order; may include classes
        that never occur. Default: every label seen, sorted.
    pos_label : int, float, bool or str, default=1
        The positive class when ``average="binary"``; ignored otherwise.
    average : {"binary", "micro", "macro", "weighted"} or None, default="binary"
        "binary": the score of ``pos_label`` (needs at most 2 classes). "micro": pool all
        decisions. "macro": unweighted mean over classes. "weighted": mean weighted by each
        class's true count. None: one score per class.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Value for a class that was never predicted (0/0). scikit-learn's default gives
        0.0 with a warning; this returns 0.0 silently. NaN entries are left out of averages.

    Returns
    -------
    float, or ndarray of shape (n_classes,) when ``average=None``

    Examples
    --------
    >>> precision([0, 1, 1, 0], [1, 1, 1, 0])
    0.6666666666666666
    """
    return _precision_recall_f1(
        "precision", y_true, y_pred, labels, pos_label, average, sample_weight, zero_division
    )


def recall(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    pos_label: int | float | bool | str = 1,
    average: Average = "binary",
    sample_weight: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """Recall: of the samples truly in a class, the fraction predicted as that class.

    ``zero_division`` is used for a class with no true sample.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels, pos_label, average, sample_weight, zero_division
        As in :func:`precision`.

    Returns
    -------
    float, or ndarray of shape (n_classes,) when ``average=None``

    Examples
    --------
    >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _precision_recall_f1(
        "recall", y_true, y_pred, labels, pos_label, average, sample_weight, zero_division
    )


def f1(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    pos_label: int | float | bool | str = 1,
    average: Average = "binary",
    sample_weight: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> float | np.ndarray:
    """F1 score: the harmonic mean of precision and recall, ``2 tp / (2 tp + fp + fn)``.

    ``zero_division`` is used for a class that is neither present nor predicted.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels, pos_label, average, sample_weight, zero_division
        As in :func:`precision`.

    Returns
    -------
    float, or ndarray of shape (n_classes,) when ``average=None``

    Examples
    --------
    >>> f1([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _precision_recall_f1(
        "f1", y_true, y_pred, labels, pos_label, average, sample_weight, zero_division
    )


def _precision_recall_f1(
    metric, y_true, y_pred, labels, pos_label, average, sample_weight, zero_division
):
    _check_zero_division(metric, zero_division)
    true_positive, predicted, actual = _class_counts(
        metric, y_true, y_pred, labels, pos_label, average, sample_weight
    )
    if metric == "precision":
        scores = _divide_or(true_positive, predicted, zero_division)
    elif metric == "recall":
        scores = _divide_or(true_positive, actual, zero_division)
    else:
        # 2 tp / (2 tp + fp + fn), written with the counts we have; equal to 2PR / (P + R).
        scores = _divide_or(2 * true_positive, predicted + actual, zero_division)
    return average_per_class(scores, average, actual)
