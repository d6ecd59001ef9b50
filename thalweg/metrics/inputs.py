"""Input checks and the per-class averaging that several metric families share.

Each check raises DataError with "<metric>: <problem>; <fix>".
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError

Average = Literal["binary", "micro", "macro", "weighted"] | None


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


def class_labels(metric: str, name: str, values: ArrayLike) -> np.ndarray:
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


def float_array(
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


def check_lengths(metric: str, **arrays: np.ndarray) -> None:
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


def checked_sample_weight(
    metric: str, sample_weight: ArrayLike | None, n_samples: int
) -> np.ndarray | None:
    """Validated weights of shape (n_samples,) as float64, or None for equal weights."""
    if sample_weight is None:
        return None
    weight = float_array(metric, "sample_weight", sample_weight)
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


def check_same_label_kind(metric: str, name_a: str, a: np.ndarray, name_b: str, b: np.ndarray):
    """Both label arrays hold strings, or both hold numbers."""
    if _is_string(a) != _is_string(b):
        string_name, number_name = (name_a, name_b) if _is_string(a) else (name_b, name_a)
        raise DataError(
            f"{metric}: {string_name} holds strings but {number_name} holds numbers; "
            "encode both with the same labels"
        )


def label_pair(metric: str, y_true: ArrayLike, y_pred: ArrayLike):
    """Validated (y_true, y_pred) class labels of equal, non-zero length."""
    y_true = class_labels(metric, "y_true", y_true)
    y_pred = class_labels(metric, "y_pred", y_pred)
    check_lengths(metric, y_true=y_true, y_pred=y_pred)
    check_same_label_kind(metric, "y_true", y_true, "y_pred", y_pred)
    return y_true, y_pred


def checked_labels(metric: str, labels: ArrayLike, y_true: np.ndarray) -> np.ndarray:
    """Validate a user's ``labels=``: non-empty, unique, same kind as y_true."""
    labels = class_labels(metric, "labels", labels)
    if labels.size == 0:
        raise DataError(f"{metric}: labels is empty; pass at least one label, or labels=None")
    if np.unique(labels).size != labels.size:
        raise DataError(f"{metric}: labels has repeated entries; pass each label once")
    check_same_label_kind(metric, "labels", labels, "y_true", y_true)
    return labels


def check_option(metric: str, name: str, value, allowed: tuple) -> None:
    # A misspelt option is a bug in the calling code, not bad data: plain ValueError.
    if value not in allowed:
        raise ValueError(f"{metric}: {name}={value!r} is not supported; use one of {allowed}")


def contains_label(classes: np.ndarray, value) -> bool:
    """``value in classes``, False (not an error) when a string meets numbers."""
    if value is None or isinstance(value, str | np.str_) != _is_string(classes):
        return False
    return bool(np.any(classes == value))


def encode_labels(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes`` (in any order), or -1 where it is absent."""
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    position = np.minimum(np.searchsorted(sorted_classes, values), len(classes) - 1)
    found = sorted_classes[position] == values
    return np.where(found, order[position], -1)


def positive_mask(metric: str, y_true: np.ndarray, pos_label) -> np.ndarray:
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
    if not contains_label(classes, pos_label):
        if classes.size >= 2:
            raise DataError(
                f"{metric}: pos_label={pos_label!r} is not present in y_true (values "
                f"{classes.tolist()}); pass pos_label= one of them"
            )
        # One class only and it is not pos_label: every sample is a negative.
        return np.zeros(len(y_true), dtype=bool)
    return y_true == pos_label


def column_classes(metric: str, y_true: np.ndarray, labels: ArrayLike | None) -> np.ndarray:
    """Classes indexing the columns of a score matrix: sorted ``labels``, or y_true's."""
    if labels is None:
        return np.unique(y_true)
    classes = checked_labels(metric, labels, y_true)
    if not np.array_equal(classes, np.sort(classes)):
        # Columns follow sorted label order (as in scikit-learn); another order would
        # silently pair each column with the wrong class.
        raise DataError(
            f"{metric}: labels must be sorted, as the score columns follow sorted label "
            f"order; pass labels={np.sort(classes).tolist()}"
        )
    unknown = y_true[encode_labels(y_true, classes) < 0]
    if unknown.size:
        raise DataError(
            f"{metric}: y_true holds {unknown[0]!r}, which is not in labels; add it to labels"
        )
    return classes


def check_columns(metric: str, name: str, scores: np.ndarray, classes: np.ndarray) -> None:
    if scores.shape[1] != classes.size:
        raise DataError(
            f"{metric}: {name} has {scores.shape[1]} columns but there are {classes.size} "
            f"classes {classes.tolist()}; pass one column per class (or labels=)"
        )


def average_per_class(scores: np.ndarray, average: Average, support: np.ndarray):
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
