"""Decision thresholds: what a binary classifier's scores give at each cut-off.

A classifier that outputs a probability still has to *decide*: predict the positive
class when the score reaches a threshold. 0.5 is only a default. Raising it trades
recall for precision (fewer alarms, more missed positives); lowering it does the
opposite. :func:`threshold_table` computes the confusion counts and the rates a reader
weighs at a range of thresholds, all in one sort; :func:`apply_threshold` turns scores
into labels at the threshold chosen.

The rule is scikit-learn's (``precision_recall_curve``, ``FixedThresholdClassifier``):
a sample is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError
from thalweg.metrics.inputs import (
    check_lengths,
    checked_sample_weight,
    class_labels,
    float_array,
    positive_mask,
)

__all__ = ["DEFAULT_THRESHOLDS", "ThresholdTable", "apply_threshold", "threshold_table"]

# The thresholds a report shows when none are given: 0.1, 0.2, ..., 0.9.
DEFAULT_THRESHOLDS = tuple(round(0.1 * k, 1) for k in range(1, 10))


@dataclass(frozen=True, eq=False)
class ThresholdTable:
    """Confusion counts and rates of a binary classifier at several thresholds.

    Entry ``i`` of every array describes predicting positive when
    ``score >= thresholds[i]``. Counts are weighted when sample weights were given.
    The arrays are read-only.

    Attributes
    ----------
    thresholds : ndarray of shape (n_thresholds,)
        In the order given.
    true_positives, false_positives, false_negatives, true_negatives : ndarray
    precision : ndarray
        ``tp / (tp + fp)``; ``zero_division`` where nothing is predicted positive.
    recall : ndarray
        ``tp / (tp + fn)``, the true positive rate.
    f1 : ndarray
        ``2 tp / (2 tp + fp + fn)``.
    false_positive_rate : ndarray
        ``fp / (fp + tn)``: the share of negatives wrongly flagged.
    flagged : ndarray
        ``(tp + fp) / n``: the share of all samples predicted positive.
    """

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    false_negatives: np.ndarray
    true_negatives: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    false_positive_rate: np.ndarray
    flagged: np.ndarray

    def __len__(self) -> int:
        return len(self.thresholds)

    def rows(self) -> list[dict]:
        """One dict per threshold (plain floats), e.g. for JSON or a printed table."""
        names = ("threshold", "precision", "recall", "f1", "false_positive_rate", "flagged")
        columns = (
            self.thresholds,
            self.precision,
            self.recall,
            self.f1,
            self.false_positive_rate,
            self.flagged,
        )
        return [
            {name: float(column[i]) for name, column in zip(names, columns, strict=True)}
            for i in range(len(self))
        ]


def _check_thresholds(metric: str, thresholds) -> np.ndarray:
    values = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, dtype=object)
    try:
        values = values.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{metric}: thresholds must be numbers, e.g. [0.3, 0.5, 0.7]") from None
    values = np.atleast_1d(values)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise DataError(
            f"{metric}: thresholds must be a non-empty list of finite numbers, e.g. [0.3, 0.5, 0.7]"
        )
    return values


def threshold_table(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    thresholds: ArrayLike | None = None,
    pos_label: int | float | bool | str | None = None,
    sample_weight: ArrayLike | None = None,
    zero_division: float = 0.0,
) -> ThresholdTable:
    """Precision, recall, F1 and false positive rate at each threshold on the scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels.
    y_score : array-like of shape (n_samples,)
        Scores of the positive class, higher meaning more likely positive (usually the
        predicted probability).
    thresholds : array-like of shape (n_thresholds,), optional
        Where to cut; default :data:`DEFAULT_THRESHOLDS` (0.1, 0.2, ..., 0.9), which
        suits probabilities. Kept in the order given.
    pos_label : int, float, bool or str, optional
        The positive class. Default: 1, if the labels are {0, 1} or {-1, 1}.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample; counts become sums of weights.
    zero_division : float, default=0.0
        Precision where no sample is predicted positive (scikit-learn's default value;
        pass ``np.nan`` to mark it undefined). F1 is ``zero_division`` only when there
        is no true positive, no false positive and no false negative, which cannot
        happen here because y_true holds positives.

    Returns
    -------
    ThresholdTable

    Raises
    ------
    DataError
        If y_true holds only one class: recall needs positives and the false positive
        rate needs negatives.

    Examples
    --------
    >>> table = threshold_table([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8], thresholds=[0.3, 0.5, 0.7])
    >>> table.precision.tolist(), table.recall.tolist()
    ([0.6666666666666666, 0.5, 1.0], [1.0, 0.5, 0.5])
    >>> table.false_positive_rate.tolist()
    [0.5, 0.5, 0.0]
    """
    metric = "threshold_table"
    y_true = class_labels(metric, "y_true", y_true)
    y_score = float_array(metric, "y_score", y_score)
    check_lengths(metric, y_true=y_true, y_score=y_score)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    cuts = _check_thresholds(metric, thresholds)
    classes = np.unique(y_true)
    if classes.size > 2:
        raise DataError(
            f"{metric}: y_true holds {classes.size} classes {classes.tolist()}; a threshold "
            "decides between two: score one class against the rest (y_true == k)"
        )
    is_positive = positive_mask(metric, y_true, pos_label)
    weight = np.ones(len(y_true)) if weight is None else weight
    positives = float(np.sum(weight[is_positive]))
    negatives = float(np.sum(weight[~is_positive]))
    if positives == 0 or negatives == 0:
        present, missing = ("negative", "positive") if positives == 0 else ("positive", "negative")
        raise DataError(
            f"{metric}: y_true holds only {present} samples, so "
            f"{'recall' if positives == 0 else 'the false positive rate'} is undefined "
            f"without {missing} ones; evaluate on data that contains both classes"
        )

    # Sort once; the samples at or above a threshold are a suffix of the sorted scores,
    # so cumulative sums give every threshold's counts (ties fall on one side together).
    order = np.argsort(y_score, kind="stable")
    sorted_scores = y_score[order]
    positive_weight = np.where(is_positive, weight, 0.0)[order]
    negative_weight = np.where(is_positive, 0.0, weight)[order]
    below_positive = np.r_[0.0, np.cumsum(positive_weight)]  # weight strictly below index i
    below_negative = np.r_[0.0, np.cumsum(negative_weight)]
    first_flagged = np.searchsorted(sorted_scores, cuts, side="left")
    true_negatives = below_negative[first_flagged]
    false_negatives = below_positive[first_flagged]
    true_positives = positives - false_negatives
    false_positives = negatives - true_negatives

    predicted = true_positives + false_positives
    safe = np.where(predicted == 0, 1.0, predicted)
    precision = np.where(predicted == 0, zero_division, true_positives / safe)
    recall = true_positives / positives
    f1 = 2 * true_positives / (2 * true_positives + false_positives + false_negatives)
    arrays = [
        cuts,
        true_positives,
        false_positives,
        false_negatives,
        true_negatives,
        precision,
        recall,
        f1,
        false_positives / negatives,
        predicted / (positives + negatives),
    ]
    for array in arrays:
        array.setflags(write=False)
    return ThresholdTable(*arrays)


def apply_threshold(y_score: ArrayLike, threshold: float, *, classes=(0, 1)) -> np.ndarray:
    """Labels from positive-class scores: ``classes[1]`` where ``score >= threshold``.

    Parameters
    ----------
    y_score : array-like of shape (n_samples,)
        Scores (probabilities) of the positive class ``classes[1]``.
    threshold : float
        The cut-off; any finite number (probabilities need one in [0, 1]).
    classes : sequence of two labels, default (0, 1)
        The negative and the positive class, in that order (a classifier's ``classes_``).

    Returns
    -------
    ndarray of shape (n_samples,)
        Labels of the dtype of ``classes``.

    Examples
    --------
    >>> apply_threshold([0.2, 0.5, 0.9], 0.5, classes=["no", "yes"]).tolist()
    ['no', 'yes', 'yes']
    """
    metric = "apply_threshold"
    scores = float_array(metric, "y_score", y_score)
    labels = np.asarray(classes)
    if labels.ndim != 1 or labels.size != 2:
        raise DataError(
            f"{metric}: a threshold decides between two classes, but classes has "
            f"{labels.size}; pass (negative, positive)"
        )
    if not isinstance(threshold, int | float | np.integer | np.floating) or not np.isfinite(
        threshold
    ):
        raise DataError(f"{metric}: threshold must be a finite number; got {threshold!r}")
    return labels[(scores >= threshold).astype(np.intp)]
