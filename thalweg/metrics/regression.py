"""Regression: mean squared error, mean absolute error and R²."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError
from thalweg.metrics.inputs import check_lengths, check_option, checked_sample_weight, float_array

MultiOutput = Literal["uniform_average", "raw_values"] | ArrayLike


def _regression_targets(metric, y_true, y_pred, sample_weight, multioutput, extra_options=()):
    """Validated (y_true, y_pred) of shape (n_samples, n_outputs) and weights."""
    y_true = float_array(metric, "y_true", y_true, ndims=(1, 2))
    y_pred = float_array(metric, "y_pred", y_pred, ndims=(1, 2))
    check_lengths(metric, y_true=y_true, y_pred=y_pred)
    # Work in 2-D throughout: a 1-D target is one output.
    y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"{metric}: y_true has {y_true.shape[1]} outputs but y_pred has "
            f"{y_pred.shape[1]}; pass one prediction per target"
        )
    weight = checked_sample_weight(metric, sample_weight, len(y_true))
    if isinstance(multioutput, str):
        check_option(
            metric, "multioutput", multioutput, ("uniform_average", "raw_values", *extra_options)
        )
    elif np.shape(multioutput) != (y_true.shape[1],):
        raise DataError(
            f"{metric}: multioutput weights have shape {np.shape(multioutput)} but there are "
            f"{y_true.shape[1]} outputs; pass one weight per output"
        )
    return y_true, y_pred, weight


def _combine_outputs(per_output: np.ndarray, multioutput, variances=None):
    """Reduce per-output scores as scikit-learn's ``multioutput`` asks."""
    if isinstance(multioutput, str):
        if multioutput == "raw_values":
            return per_output
        if multioutput == "variance_weighted" and np.any(variances != 0):
            return float(np.average(per_output, weights=variances))
        return float(np.mean(per_output))  # uniform_average, or all variances 0
    return float(np.average(per_output, weights=multioutput))


def mean_squared_error(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    multioutput: MultiOutput = "uniform_average",
) -> float | np.ndarray:
    """Mean of the squared differences between targets and predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets and predictions.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape (n_outputs,)
        How to combine outputs: their mean, one value per output, or a weighted mean.

    Returns
    -------
    float, or ndarray of shape (n_outputs,) for ``"raw_values"``

    Examples
    --------
    >>> mean_squared_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.375
    """
    y_true, y_pred, weight = _regression_targets(
        "mean_squared_error", y_true, y_pred, sample_weight, multioutput
    )
    per_output = np.average((y_true - y_pred) ** 2, axis=0, weights=weight)
    return _combine_outputs(per_output, multioutput)


def mean_absolute_error(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    multioutput: MultiOutput = "uniform_average",
) -> float | np.ndarray:
    """Mean of the absolute differences between targets and predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets and predictions.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    multioutput : {"uniform_average", "raw_values"} or array-like of shape (n_outputs,)
        How to combine outputs: their mean, one value per output, or a weighted mean.

    Returns
    -------
    float, or ndarray of shape (n_outputs,) for ``"raw_values"``

    Examples
    --------
    >>> mean_absolute_error([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.5
    """
    y_true, y_pred, weight = _regression_targets(
        "mean_absolute_error", y_true, y_pred, sample_weight, multioutput
    )
    per_output = np.average(np.abs(y_true - y_pred), axis=0, weights=weight)
    return _combine_outputs(per_output, multioutput)


def r2(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    multioutput: Literal["uniform_average", "raw_values", "variance_weighted"]
    | ArrayLike = "uniform_average",
    force_finite: bool = True,
) -> float | np.ndarray:
    """Coefficient of determination R²: 1 - residual sum of squares / total sum of squares.

    1 is perfect, 0 is no better than predicting the mean, and it can be negative.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets and predictions; at least 2 samples.
    sample_weight : array-like of shape (n_samples,), optional
        Weight of each sample.
    multioutput : {"uniform_average", "raw_values", "variance_weighted"} or array-like
        How to combine outputs; "variance_weighted" weights each by its target variance.
    force_finite : bool, default=True
        For a constant ``y_true`` (total sum of squares 0), return 1.0 if the predictions
        are perfect and 0.0 otherwise, as scikit-learn does, instead of NaN or -inf.

    Returns
    -------
    float, or ndarray of shape (n_outputs,) for ``"raw_values"``

    Raises
    ------
    DataError
        With fewer than 2 samples (scikit-learn warns and returns NaN).

    Examples
    --------
    >>> r2([3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0])
    0.9486081370449679
    """
    metric = "r2"
    y_true, y_pred, weight = _regression_targets(
        metric, y_true, y_pred, sample_weight, multioutput, ("variance_weighted",)
    )
    if len(y_true) < 2:
        raise DataError(f"{metric}: R² needs at least 2 samples; got 1; pass more samples")
    row_weight = 1.0 if weight is None else weight[:, None]
    residual = np.sum(row_weight * (y_true - y_pred) ** 2, axis=0)
    spread = np.sum(row_weight * (y_true - np.average(y_true, axis=0, weights=weight)) ** 2, axis=0)
    if force_finite:
        # 0/0 (constant target, perfect fit) -> 1; x/0 (constant target, any miss) -> 0.
        scores = np.ones_like(residual)
        defined = (residual != 0) & (spread != 0)
        scores[defined] = 1 - residual[defined] / spread[defined]
        scores[(residual != 0) & (spread == 0)] = 0.0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = 1 - residual / spread
    return _combine_outputs(scores, multioutput, variances=spread)
