"""Probabilities: log loss, calibration curve and prediction bias."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError
from thalweg.metrics.inputs import (
    check_columns,
    check_lengths,
    check_option,
    checked_sample_weight,
    class_labels,
    column_classes,
    float_array,
    positive_mask,
)


def _check_probabilities(metric: str, y_prob: np.ndarray) -> None:
    if y_prob.min() < 0 or y_prob.max() > 1:
        raise DataError(
            f"{metric}: y_prob has values outside [0, 1] (min {y_prob.min():g}, max "
            f"{y_prob.max():g}); pass probabilities, e.g. sigmoid or softmax of the scores"
        )


def log_loss(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
    normalize: bool = True,
) -> float:
    """Cross-entropy: mean of ``-log(probability given to the true class)``.

    Probabilities are clipped to ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of
    their dtype (float32 stays float32), so a confident mistake costs a lot but not inf.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Probability of the positive class (the greater label) for binary problems, or
        one column per class in sorted label order. Rows should sum to 1 (a warning is
        given otherwise, as in scikit-learn; they are not renormalized).
    labels : array-like of shape (n_classes,), optional
        All classes, sorted; needed when y_true misses some class.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    normalize : bool, default=True
        If False, return the (weighted) sum instead of the mean.

    Returns
    -------
    float

    Examples
    --------
    >>> round(log_loss([0, 1, 1], [0.1, 0.8, 0.6]), 4)
    0.2798
    """
    metric = "log_loss"
    y_true = class_labels(metric, "y_true", y_true)
    probs = float_array(metric, "y_prob", y_prob, ndims=(1, 2), keep_float32=True)
    check_lengths(metric, y_true=y_true, y_prob=probs)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    _check_probabilities(metric, probs)
    if probs.ndim == 1 or probs.shape[1] == 1:
        # Binary shorthand: a column of P(positive) stands for the pair [1 - p, p].
        positive = probs.reshape(-1)
        probs = np.stack([1 - positive, positive], axis=1)

    classes = column_classes(metric, y_true, labels)
    if classes.size < 2:
        raise DataError(
            f"{metric}: found only the class {classes.tolist()}; pass labels= listing every "
            "class (at least 2) so the columns of y_prob can be matched"
        )
    check_columns(metric, "y_prob", probs, classes)
    is_class = y_true[:, None] == classes[None, :]  # one-hot, shape (n_samples, n_classes)
    eps = np.finfo(probs.dtype).eps
    row_sums = probs.sum(axis=1)
    if not np.all(np.isclose(row_sums, 1, rtol=np.sqrt(eps))):
        warnings.warn(
            "log_loss: the rows of y_prob do not sum to 1; make sure to pass probabilities",
            UserWarning,
            stacklevel=2,
        )
    clipped = np.clip(probs, eps, 1 - eps)
    # Only the probability of the true class enters the loss.
    loss = -np.log(clipped[is_class])
    if not normalize:
        return float(np.sum(loss) if weight is None else np.sum(loss * weight))
    return float(np.average(loss, weights=weight))


def _binary_probabilities(metric, y_true, y_prob, pos_label):
    """Validated (is_positive as 0/1 floats, probabilities) for a binary classifier."""
    y_true = class_labels(metric, "y_true", y_true)
    y_prob = float_array(metric, "y_prob", y_prob)
    check_lengths(metric, y_true=y_true, y_prob=y_prob)
    classes = np.unique(y_true)
    if classes.size > 2:
        raise DataError(
            f"{metric}: y_true holds {classes.size} classes {classes.tolist()} but only "
            "binary labels are supported; score one class at a time (y_true == k)"
        )
    is_positive = positive_mask(metric, y_true, pos_label)
    _check_probabilities(metric, y_prob)
    return is_positive.astype(np.float64), y_prob


def _bucket_of(y_prob: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bucket index of each probability: bucket i holds edges[i] < p <= edges[i + 1].

    The first bucket also holds p == edges[0]; this is scikit-learn's calibration_curve
    binning (a value on an inner edge goes to the lower bucket).
    """
    return np.searchsorted(edges[1:-1], y_prob)


def calibration_curve(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    pos_label: int | float | bool | str | None = None,
    n_bins: int = 5,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of positives against mean predicted probability, per probability bin.

    A calibrated classifier has ``prob_true ≈ prob_pred`` in every bin. Empty bins are
    dropped, so the arrays can be shorter than ``n_bins``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels.
    y_prob : array-like of shape (n_samples,)
        Predicted probability of the positive class, in [0, 1].
    pos_label : int, float, bool or str, optional
        The positive class. Default: 1, if the labels are {0, 1} or {-1, 1}.
    n_bins : int, default=5
        Number of bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or bins holding equal numbers of samples.

    Returns
    -------
    prob_true, prob_pred : ndarray of shape (n_nonempty_bins,)
        Fraction of positives and mean predicted probability in each non-empty bin.

    Examples
    --------
    >>> prob_true, prob_pred = calibration_curve(
    ...     [0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.4, 0.8, 0.9], n_bins=2)
    >>> prob_true
    array([0.33333333, 0.66666667])
    >>> prob_pred
    array([0.23333333, 0.76666667])
    """
    metric = "calibration_curve"
    check_option(metric, "strategy", strategy, ("uniform", "quantile"))
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"{metric}: n_bins must be an integer >= 1; got {n_bins!r}")
    is_positive, y_prob = _binary_probabilities(metric, y_true, y_prob, pos_label)
    if strategy == "quantile":
        edges = np.percentile(y_prob, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bucket = _bucket_of(y_prob, edges)
    count = np.bincount(bucket, minlength=n_bins)
    positives = np.bincount(bucket, weights=is_positive, minlength=n_bins)
    prob_sum = np.bincount(bucket, weights=y_prob, minlength=n_bins)
    nonempty = count != 0
    return positives[nonempty] / count[nonempty], prob_sum[nonempty] / count[nonempty]


@dataclass(frozen=True, eq=False)
class PredictionBias:
    """Prediction bias overall and per bucket of predicted probability.

    Bias is mean prediction minus mean label: positive means the model predicts the
    positive class more often than it happens. Buckets are equal-width on [0, 1]; bucket
    ``i`` holds ``bucket_edges[i] < p <= bucket_edges[i + 1]`` (the first also holds
    ``p == 0``). Empty buckets are kept, with count 0 and NaN means, so every per-bucket
    array lines up with the edges. The arrays are read-only.

    Attributes
    ----------
    overall : float
        ``mean(y_prob) - mean(y_true)`` over all samples.
    bucket_edges : ndarray of shape (n_buckets + 1,)
    bucket_mean_prediction : ndarray of shape (n_buckets,)
    bucket_mean_label : ndarray of shape (n_buckets,)
        Fraction of positives in each bucket.
    bucket_bias : ndarray of shape (n_buckets,)
        ``bucket_mean_prediction - bucket_mean_label``.
    bucket_count : ndarray of shape (n_buckets,)
        Number of samples in each bucket (integers).
    """

    overall: float
    bucket_edges: np.ndarray
    bucket_mean_prediction: np.ndarray
    bucket_mean_label: np.ndarray
    bucket_bias: np.ndarray
    bucket_count: np.ndarray


@overload
def prediction_bias(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_buckets: None = None,
    pos_label: int | float | bool | str | None = None,
) -> float: ...


@overload
def prediction_bias(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_buckets: int,
    pos_label: int | float | bool | str | None = None,
) -> PredictionBias: ...


def prediction_bias(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_buckets: int | None = None,
    pos_label: int | float | bool | str | None = None,
) -> float | PredictionBias:
    """Mean predicted probability minus the fraction of positives; 0 for an unbiased model.

    A quick check of a probabilistic classifier: a bias far from 0 means its
    probabilities are off on average (a bad intercept, a shifted label rate).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True binary labels.
    y_prob : array-like of shape (n_samples,)
        Predicted probability of the positive class, in [0, 1].
    n_buckets : int, optional
        If given, also compute the bias within ``n_buckets`` equal-width buckets of
        predicted probability and return a :class:`PredictionBias`.
    pos_label : int, float, bool or str, optional
        The positive class. Default: 1, if the labels are {0, 1} or {-1, 1}.

    Returns
    -------
    float
        When ``n_buckets`` is None: the overall bias.
    PredictionBias
        When ``n_buckets`` is given: overall and per-bucket results.

    Examples
    --------
    >>> round(prediction_bias([0, 1, 1, 0], [0.2, 0.9, 0.7, 0.4]), 6)
    0.05
    >>> result = prediction_bias([0, 1, 1, 0], [0.2, 0.9, 0.7, 0.4], n_buckets=2)
    >>> result.bucket_count
    array([2, 2])
    >>> result.bucket_bias
    array([ 0.3, -0.2])
    """
    metric = "prediction_bias"
    if n_buckets is not None and (not isinstance(n_buckets, int | np.integer) or n_buckets < 1):
        raise ValueError(f"{metric}: n_buckets must be an integer >= 1 or None; got {n_buckets!r}")
    is_positive, y_prob = _binary_probabilities(metric, y_true, y_prob, pos_label)
    overall = float(np.mean(y_prob) - np.mean(is_positive))
    if n_buckets is None:
        return overall

    edges = np.linspace(0.0, 1.0, n_buckets + 1)
    bucket = _bucket_of(y_prob, edges)
    count = np.bincount(bucket, minlength=n_buckets)
    # Empty buckets divide by 1 and are then marked NaN: no warning, nothing made up.
    safe_count = np.maximum(count, 1)
    mean_prediction = np.bincount(bucket, weights=y_prob, minlength=n_buckets) / safe_count
    mean_label = np.bincount(bucket, weights=is_positive, minlength=n_buckets) / safe_count
    mean_prediction[count == 0] = np.nan
    mean_label[count == 0] = np.nan
    arrays = [edges, mean_prediction, mean_label, mean_prediction - mean_label, count]
    for array in arrays:
        array.setflags(write=False)  # frozen means frozen, down to the arrays
    return PredictionBias(overall, *arrays)


def class_prediction_bias(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    """Per class: mean predicted probability of the class minus its share of the rows.

    The multi-class form of :func:`prediction_bias`: entry ``k`` is positive when the
    model gives class ``k`` more probability on average than it occurs. The entries sum
    to 0 (both the probabilities of a row and the class shares sum to 1), so a model
    that over-predicts one class under-predicts another.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Class probabilities, columns in sorted label order (or ``labels`` order).
    labels : array-like of shape (n_classes,), optional
        All classes, sorted; needed when y_true misses some class.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample (weighted means).

    Returns
    -------
    ndarray of shape (n_classes,)

    Examples
    --------
    >>> class_prediction_bias([0, 1, 2, 2], [[0.5, 0.3, 0.2], [0.2, 0.6, 0.2],
    ...                                      [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]]).round(3)
    array([ 0.  ,  0.05, -0.05])
    """
    metric = "class_prediction_bias"
    y_true = class_labels(metric, "y_true", y_true)
    probs = float_array(metric, "y_prob", y_prob, ndims=(2,))
    check_lengths(metric, y_true=y_true, y_prob=probs)
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    _check_probabilities(metric, probs)
    classes = column_classes(metric, y_true, labels)
    check_columns(metric, "y_prob", probs, classes)
    is_class = (y_true[:, None] == classes[None, :]).astype(np.float64)
    return np.average(probs, axis=0, weights=weight) - np.average(is_class, axis=0, weights=weight)
