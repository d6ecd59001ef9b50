"""Evaluation metrics for classification, ranking, probabilities and regression.

Every function here works on plain NumPy arrays (lists and pandas Series are accepted
too) and never touches the autodiff engine: a metric is computed once, after the
model has spoken, so it needs no gradient.

The semantics follow scikit-learn's functions of the same meaning, so a number
computed here can be compared with one computed there:

==========================  =========================================
thalweg                     scikit-learn
==========================  =========================================
``accuracy``                ``accuracy_score``
``precision`` / ``recall``  ``precision_score`` / ``recall_score``
``f1``                      ``f1_score``
``confusion_matrix``        ``confusion_matrix``
``roc_curve``               ``roc_curve`` (first threshold is ``inf``)
``roc_auc``                 ``roc_auc_score``
``precision_recall_curve``  ``precision_recall_curve``
``average_precision``       ``average_precision_score``
``log_loss``                ``log_loss``
``mean_squared_error``      ``mean_squared_error``
``mean_absolute_error``     ``mean_absolute_error``
``r2``                      ``r2_score``
``calibration_curve``       ``sklearn.calibration.calibration_curve``
==========================  =========================================

Where scikit-learn warns and returns NaN because a metric is undefined (an ROC curve
with one class, R² of one sample), these functions raise :class:`~thalweg.errors.DataError`
whose message names the problem and the fix. Precision, recall and F1 return
``zero_division`` (0.0 by default, scikit-learn's value) without a warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError

__all__ = [
    "PredictionBias",
    "accuracy",
    "average_precision",
    "calibration_curve",
    "confusion_matrix",
    "f1",
    "log_loss",
    "mean_absolute_error",
    "mean_squared_error",
    "precision",
    "precision_recall_curve",
    "prediction_bias",
    "r2",
    "recall",
    "roc_auc",
    "roc_curve",
]

Average = Literal["binary", "micro", "macro", "weighted"] | None
MultiOutput = Literal["uniform_average", "raw_values"] | ArrayLike


# --------------------------------------------------------------------------------------
# Input checks. Each raises DataError with "<metric>: <problem>; <fix>".
# --------------------------------------------------------------------------------------


def _to_array(metric: str, name: str, values: ArrayLike) -> np.ndarray:
    """``np.asarray``, turning object arrays (pandas text columns) into real dtypes."""
    array = np.asarray(values)
    if array.dtype != object:
        return array
    # Python objects have no vectorized form: look at their types once, so that a stray
    # number or None is not silently turned into the string "1" or "None".
    is_text = np.array([isinstance(item, str) for item in array.ravel().tolist()], dtype=bool)
    if is_text.any() and not is_text.all():
        raise DataError(
            f"{metric}: {name} mixes strings with other values (numbers, None or NaN); "
            "make every entry a string, or drop the missing ones"
        )
    converted = np.asarray(array.tolist())
    if converted.dtype == object:
        raise DataError(
            f"{metric}: {name} holds missing values (None) or values of mixed types; "
            "drop or fill them first"
        )
    return converted


def _squeeze_column(array: np.ndarray) -> np.ndarray:
    """Turn a column vector of shape (n, 1) into shape (n,), as scikit-learn does."""
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    return array


def _is_string(array: np.ndarray) -> bool:
    return array.dtype.kind in "US"


def _class_labels(metric: str, name: str, values: ArrayLike) -> np.ndarray:
    """Validate class labels: 1-D integers, booleans or strings (integral floats pass too)."""
    labels = _squeeze_column(_to_array(metric, name, values))
    if labels.ndim != 1:
        raise DataError(
            f"{metric}: {name} must be 1-D class labels of shape (n_samples,); "
            f"got shape {labels.shape}; pass one label per sample"
        )
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)):
            raise DataError(
                f"{metric}: {name} contains NaN or Inf; drop or impute those samples first"
            )
        fractional = labels[labels != np.round(labels)]
        if fractional.size:
            raise DataError(
                f"{metric}: {name} looks continuous (e.g. {fractional[0]!r}) but a "
                "classification metric needs class labels; threshold scores first "
                "(e.g. y_prob >= 0.5) or use a regression metric"
            )
    elif labels.dtype.kind not in "biuUS":
        raise DataError(
            f"{metric}: {name} must hold class labels (integers, booleans or strings of "
            f"one type); got dtype {labels.dtype}; convert it to a single type"
        )
    return labels


def _float_array(
    metric: str,
    name: str,
    values: ArrayLike,
    *,
    ndims: tuple[int, ...] = (1,),
    keep_float32: bool = False,
) -> np.ndarray:
    """Validate scores, probabilities or targets: numeric, finite, of an allowed rank."""
    array = _to_array(metric, name, values)
    if array.dtype.kind not in "biuf":
        raise DataError(
            f"{metric}: {name} must be numeric; got dtype {array.dtype}; convert it to floats"
        )
    if ndims == (1,):
        array = _squeeze_column(array)
    if array.ndim not in ndims:
        expected = " or ".join({1: "(n_samples,)", 2: "(n_samples, n_columns)"}[d] for d in ndims)
        raise DataError(f"{metric}: {name} must have shape {expected}; got shape {array.shape}")
    # float32 probabilities keep their dtype so that log_loss clips with float32's eps.
    dtype = np.float32 if keep_float32 and array.dtype == np.float32 else np.float64
    array = array.astype(dtype, copy=False)
    if not np.all(np.isfinite(array)):
        raise DataError(f"{metric}: {name} contains NaN or Inf; drop or impute those samples first")
    return array


def _check_lengths(metric: str, **arrays: np.ndarray) -> None:
    """All arrays describe the same samples, and there is at least one."""
    (first_name, first), *others = arrays.items()
    for name, array in others:
        if len(array) != len(first):
            raise DataError(
                f"{metric}: {first_name} has {len(first)} samples but {name} has "
                f"{len(array)}; pass one entry per sample in each"
            )
    if len(first) == 0:
        raise DataError(f"{metric}: got 0 samples; pass at least one sample")


def _sample_weight(
    metric: str, sample_weight: ArrayLike | None, n_samples: int
) -> np.ndarray | None:
    """Validated weights of shape (n_samples,) as float64, or None for equal weights."""
    if sample_weight is None:
        return None
    weight = _float_array(metric, "sample_weight", sample_weight)
    if len(weight) != n_samples:
        raise DataError(
            f"{metric}: sample_weight has {len(weight)} entries but there are {n_samples} "
            "samples; pass one weight per sample"
        )
    if np.any(weight < 0):
        raise DataError(f"{metric}: sample_weight has negative entries; weights must be >= 0")
    if not np.any(weight > 0):
        raise DataError(f"{metric}: every sample_weight is 0; give some sample a positive weight")
    return weight


def _check_same_label_kind(metric: str, name_a: str, a: np.ndarray, name_b: str, b: np.ndarray):
    if _is_string(a) != _is_string(b):
        string_name, number_name = (name_a, name_b) if _is_string(a) else (name_b, name_a)
        raise DataError(
            f"{metric}: {string_name} holds strings but {number_name} holds numbers; "
            "encode both with the same labels"
        )


def _label_pair(metric: str, y_true: ArrayLike, y_pred: ArrayLike):
    """Validated (y_true, y_pred) class labels of equal, non-zero length."""
    y_true = _class_labels(metric, "y_true", y_true)
    y_pred = _class_labels(metric, "y_pred", y_pred)
    _check_lengths(metric, y_true=y_true, y_pred=y_pred)
    _check_same_label_kind(metric, "y_true", y_true, "y_pred", y_pred)
    return y_true, y_pred


def _labels_param(metric: str, labels: ArrayLike, y_true: np.ndarray) -> np.ndarray:
    """Validate a user's ``labels=``: non-empty, unique, same kind as y_true."""
    labels = _class_labels(metric, "labels", labels)
    if labels.size == 0:
        raise DataError(f"{metric}: labels is empty; pass at least one label, or labels=None")
    if np.unique(labels).size != labels.size:
        raise DataError(f"{metric}: labels has repeated entries; pass each label once")
    _check_same_label_kind(metric, "labels", labels, "y_true", y_true)
    return labels


def _check_option(metric: str, name: str, value, allowed: tuple) -> None:
    # A misspelt option is a bug in the calling code, not bad data: plain ValueError.
    if value not in allowed:
        raise ValueError(f"{metric}: {name}={value!r} is not supported; use one of {allowed}")


def _contains(classes: np.ndarray, value) -> bool:
    """``value in classes``, False (not an error) when a string meets numbers."""
    if value is None or isinstance(value, str | np.str_) != _is_string(classes):
        return False
    return bool(np.any(classes == value))


def _encode(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes`` (in any order), or -1 where it is absent."""
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    position = np.minimum(np.searchsorted(sorted_classes, values), len(classes) - 1)
    found = sorted_classes[position] == values
    return np.where(found, order[position], -1)


def _is_positive(metric: str, y_true: np.ndarray, pos_label) -> np.ndarray:
    """Boolean mask of positive samples, resolving ``pos_label`` like scikit-learn.

    With ``pos_label=None`` the labels must be {0, 1} or {-1, 1} (or a subset) and 1 is
    positive; any other labels make the positive class ambiguous.
    """
    classes = np.unique(y_true)
    if pos_label is None:
        values = set(classes.tolist())
        if _is_string(classes) or not (values <= {0, 1} or values <= {-1, 1}):
            raise DataError(
                f"{metric}: y_true takes values {classes.tolist()}, so the positive class is "
                f"ambiguous; pass pos_label= (one of {classes.tolist()})"
            )
        pos_label = 1
    if not _contains(classes, pos_label):
        if classes.size >= 2:
            raise DataError(
                f"{metric}: pos_label={pos_label!r} is not present in y_true (values "
                f"{classes.tolist()}); pass pos_label= one of them"
            )
        # One class only and it is not pos_label: every sample is a negative.
        return np.zeros(len(y_true), dtype=bool)
    return y_true == pos_label


# --------------------------------------------------------------------------------------
# Classification from hard labels
# --------------------------------------------------------------------------------------


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
    y_true, y_pred = _label_pair("accuracy", y_true, y_pred)
    weight = _sample_weight("accuracy", sample_weight, len(y_true))
    correct = y_true == y_pred
    if not normalize:
        return float(np.sum(correct) if weight is None else np.sum(correct * weight))
    return float(np.average(correct, weights=weight))


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
    _check_option(metric, "normalize", normalize, (None, "true", "pred", "all"))
    y_true, y_pred = _label_pair(metric, y_true, y_pred)
    weight = _sample_weight(metric, sample_weight, len(y_true))
    if labels is None:
        classes = np.union1d(y_true, y_pred)
    else:
        classes = _labels_param(metric, labels, y_true)
        if not np.any(_encode(y_true, classes) >= 0):
            raise DataError(
                f"{metric}: none of labels={classes.tolist()} occurs in y_true; "
                "pass labels that y_true uses"
            )
    n_classes = len(classes)
    true_index, pred_index = _encode(y_true, classes), _encode(y_pred, classes)
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
    _check_option(metric, "average", average, ("binary", "micro", "macro", "weighted", None))
    y_true, y_pred = _label_pair(metric, y_true, y_pred)
    weight = _sample_weight(metric, sample_weight, len(y_true))
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
        if not _contains(seen, pos_label):
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
        classes = _labels_param(metric, labels, y_true)

    n_classes = len(classes)
    true_index, pred_index = _encode(y_true, classes), _encode(y_pred, classes)
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


def _average_per_class(scores: np.ndarray, average: Average, support: np.ndarray):
    """Average per-class scores like scikit-learn: NaN entries are skipped."""
    if average is None:
        return scores
    defined = ~np.isnan(scores)
    if not np.any(defined):
        return float("nan")
    weights = support[defined] if average == "weighted" else None
    if weights is not None and weights.sum() == 0:
        weights = None  # no class has any true sample: fall back to the plain mean
    return float(np.average(scores[defined], weights=weights))


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
    return _average_per_class(scores, average, actual)


# --------------------------------------------------------------------------------------
# Ranking: ROC and precision-recall curves from scores
# --------------------------------------------------------------------------------------


def _counts_at_thresholds(metric, y_true, y_score, pos_label, sample_weight):
    """Weighted false and true positives when predicting "positive" for score >= t.

    One entry per distinct score t, thresholds decreasing. Sorting once and taking
    cumulative sums gives every threshold's counts in O(n log n).
    """
    y_true = _class_labels(metric, "y_true", y_true)
    y_score = _float_array(metric, "y_score", y_score)
    _check_lengths(metric, y_true=y_true, y_score=y_score)
    weight = _sample_weight(metric, sample_weight, len(y_true))
    is_positive = _is_positive(metric, y_true, pos_label)
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
    y_true_labels = _class_labels(metric, "y_true", y_true)
    scores = _to_array(metric, "y_score", y_score)
    classes = np.unique(y_true_labels)
    if (scores.ndim == 2 and scores.shape[1] > 2) or classes.size > 2:
        return _roc_auc_one_vs_rest(
            y_true_labels, scores, average, sample_weight, multi_class, labels
        )
    _check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    if scores.ndim == 2 and scores.shape[1] == 2:
        raise DataError(
            f"{metric}: y_score has shape {scores.shape} but y_true is binary; "
            "pass the positive-class column, y_score[:, 1]"
        )
    scores = _float_array(metric, "y_score", scores)
    _check_lengths(metric, y_true=y_true_labels, y_score=scores)
    if classes.size < 2:
        raise DataError(
            f"{metric}: y_true holds only the class {classes.tolist()}, so ROC AUC is "
            "undefined; evaluate on data that contains both classes (e.g. a stratified split)"
        )
    # As in scikit-learn, the greater label is the positive class.
    return _binary_roc_auc(metric, y_true_labels == classes[1], scores, sample_weight)


def _column_classes(metric: str, y_true: np.ndarray, labels: ArrayLike | None) -> np.ndarray:
    """Classes indexing the columns of a score matrix: sorted ``labels``, or y_true's."""
    if labels is None:
        return np.unique(y_true)
    classes = _labels_param(metric, labels, y_true)
    if not np.array_equal(classes, np.sort(classes)):
        # Columns follow sorted label order (as in scikit-learn); another order would
        # silently pair each column with the wrong class.
        raise DataError(
            f"{metric}: labels must be sorted, as the score columns follow sorted label "
            f"order; pass labels={np.sort(classes).tolist()}"
        )
    unknown = y_true[_encode(y_true, classes) < 0]
    if unknown.size:
        raise DataError(
            f"{metric}: y_true holds {unknown[0]!r}, which is not in labels; add it to labels"
        )
    return classes


def _check_columns(metric: str, name: str, scores: np.ndarray, classes: np.ndarray) -> None:
    if scores.shape[1] != classes.size:
        raise DataError(
            f"{metric}: {name} has {scores.shape[1]} columns but there are {classes.size} "
            f"classes {classes.tolist()}; pass one column per class (or labels=)"
        )


def _roc_auc_one_vs_rest(y_true, scores, average, sample_weight, multi_class, labels):
    metric = "roc_auc"
    if multi_class == "raise":
        raise DataError(
            f'{metric}: y_true has more than 2 classes; pass multi_class="ovr" to average '
            "one-vs-rest AUCs (with y_score of shape (n_samples, n_classes))"
        )
    _check_option(metric, "multi_class", multi_class, ("raise", "ovr"))
    _check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    scores = _float_array(metric, "y_score", scores, ndims=(2,))
    _check_lengths(metric, y_true=y_true, y_score=scores)
    weight = _sample_weight(metric, sample_weight, len(y_true))
    if not np.allclose(scores.sum(axis=1), 1.0):
        raise DataError(
            f"{metric}: each row of y_score must be class probabilities summing to 1; "
            "apply softmax to raw scores first"
        )
    classes = _column_classes(metric, y_true, labels)
    _check_columns(metric, "y_score", scores, classes)
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
    return _average_per_class(per_class, average, support)


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
    _check_option(metric, "average", average, ("micro", "macro", "weighted", None))
    y_true_labels = _class_labels(metric, "y_true", y_true)
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
    scores = _float_array(metric, "y_score", scores, ndims=(1, 2))
    if scores.ndim == 1:
        raise DataError(
            f"{metric}: y_true has {classes.size} classes, so y_score must have shape "
            f"(n_samples, {classes.size}); got shape {scores.shape}"
        )
    _check_lengths(metric, y_true=y_true_labels, y_score=scores)
    weight = _sample_weight(metric, sample_weight, len(y_true_labels))
    _check_columns(metric, "y_score", scores, classes)
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
    return _average_per_class(per_class, average, support)


# --------------------------------------------------------------------------------------
# Probabilities
# --------------------------------------------------------------------------------------


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
    y_true = _class_labels(metric, "y_true", y_true)
    probs = _float_array(metric, "y_prob", y_prob, ndims=(1, 2), keep_float32=True)
    _check_lengths(metric, y_true=y_true, y_prob=probs)
    weight = _sample_weight(metric, sample_weight, len(y_true))
    _check_probabilities(metric, probs)
    if probs.ndim == 1 or probs.shape[1] == 1:
        # Binary shorthand: a column of P(positive) stands for the pair [1 - p, p].
        positive = probs.reshape(-1)
        probs = np.stack([1 - positive, positive], axis=1)

    classes = _column_classes(metric, y_true, labels)
    if classes.size < 2:
        raise DataError(
            f"{metric}: found only the class {classes.tolist()}; pass labels= listing every "
            "class (at least 2) so the columns of y_prob can be matched"
        )
    _check_columns(metric, "y_prob", probs, classes)
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
    y_true = _class_labels(metric, "y_true", y_true)
    y_prob = _float_array(metric, "y_prob", y_prob)
    _check_lengths(metric, y_true=y_true, y_prob=y_prob)
    classes = np.unique(y_true)
    if classes.size > 2:
        raise DataError(
            f"{metric}: y_true holds {classes.size} classes {classes.tolist()} but only "
            "binary labels are supported; score one class at a time (y_true == k)"
        )
    is_positive = _is_positive(metric, y_true, pos_label)
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
    _check_option(metric, "strategy", strategy, ("uniform", "quantile"))
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


# --------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------


def _regression_targets(metric, y_true, y_pred, sample_weight, multioutput, extra_options=()):
    """Validated (y_true, y_pred) of shape (n_samples, n_outputs) and weights."""
    y_true = _float_array(metric, "y_true", y_true, ndims=(1, 2))
    y_pred = _float_array(metric, "y_pred", y_pred, ndims=(1, 2))
    _check_lengths(metric, y_true=y_true, y_pred=y_pred)
    # Work in 2-D throughout: a 1-D target is one output.
    y_true, y_pred = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    if y_true.shape != y_pred.shape:
        raise DataError(
            f"{metric}: y_true has {y_true.shape[1]} outputs but y_pred has "
            f"{y_pred.shape[1]}; pass one prediction per target"
        )
    weight = _sample_weight(metric, sample_weight, len(y_true))
    if isinstance(multioutput, str):
        _check_option(
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
