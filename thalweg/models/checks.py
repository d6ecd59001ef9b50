"""Input checks shared by every estimator: one clear error per mistake.

(Checks of the *inputs* of ``fit`` and ``predict``; held-out data, ``validation=`` in
``fit``, is something else.)

Accepts NumPy arrays, nested lists and pandas DataFrames/Series (without importing
pandas: a DataFrame is recognised by its ``columns`` and ``iloc``).
"""

from __future__ import annotations

import warnings

import numpy as np

from thalweg.errors import DataError, DTypeError, ShapeError
from thalweg.models.compat import DataConversionWarning, sklearn_compatible


def feature_names(X) -> list[str] | None:
    """Column names of a DataFrame with all-string columns, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    names = list(columns)
    return [str(c) for c in names] if all(isinstance(c, str) for c in names) else None


def _nullable_frame_as_float(X) -> np.ndarray | None:
    """A DataFrame with pandas' nullable numbers (``Int64``, ``Float64``, ``boolean``)
    as float64 with NaN for ``NA`` (NumPy alone would make an object array of ``NA``);
    None for anything else."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "to_numpy") or not hasattr(dtypes, "__iter__"):
        return None
    nullable = [type(getattr(d, "na_value", None)).__name__ == "NAType" for d in dtypes]
    numeric = [getattr(d, "kind", "O") in "iufb" for d in dtypes]
    if not any(nullable) or not all(numeric):
        return None
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def check_feature_names(
    who: str, fitted: np.ndarray | None, names: list[str] | None, *, unnamed_ok: bool = False
) -> None:
    """Compare the column names of ``X`` with those seen in ``fit``, as scikit-learn does:
    a warning when only one of the two has names, an error when they differ.

    ``unnamed_ok``: the model trained on unnamed arrays whose columns are ``fitted`` (a
    stream of a named file), so an array without names is what it expects: no warning.
    """
    if names is None and (fitted is None or unnamed_ok):
        return
    if fitted is None:
        warnings.warn(
            f"X has feature names, but {who} was fitted without feature names", stacklevel=4
        )
        return
    if names is None:
        warnings.warn(
            f"X does not have valid feature names, but {who} was fitted with feature names",
            stacklevel=4,
        )
        return
    fitted = [str(name) for name in fitted]
    if fitted == names:
        return
    message = "The feature names should match those that were passed during fit.\n"
    unseen = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))
    if unseen:
        message += "Feature names unseen at fit time:\n" + _listed(unseen)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _listed(missing)
    if not (unseen or missing):
        message += "Feature names must be in the same order as they were in fit.\n"
    raise DataError(message + f"Select and order the columns of X as in {who}.fit.")


def _listed(names: list[str], most: int = 5) -> str:
    shown = "".join(f"- {name}\n" for name in names[:most])
    return shown + ("- ...\n" if len(names) > most else "")


def check_X(X, who: str, dtype=None, finite: bool = True) -> np.ndarray:
    """``X`` as a finite 2-D float array ``(n_samples, n_features)``.

    float32 and float64 arrays are kept as they are (no copy: converting a big float32
    array to float64 would double its memory); anything else becomes ``dtype`` (float64
    by default).
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse
        raise TypeError(f"{who}: sparse input is not supported; convert it with X.toarray() first")
    try:
        array = _nullable_frame_as_float(X)
        if array is None:
            array = np.asarray(X)
    except (ValueError, TypeError) as error:
        raise DataError(f"{who}: X could not be read as an array ({error})") from None
    if array.dtype.kind == "c":
        raise DataError(f"{who}: Complex data not supported; pass real numbers")
    if array.dtype.kind in "OUS":
        try:
            array = array.astype(np.float64)
        except (ValueError, TypeError) as error:
            kind = DTypeError if isinstance(error, TypeError) else DataError
            raise kind(
                f"{who}: X contains non-numeric values ({error}); encode categorical "
                "columns first (e.g. thalweg.data.OneHotEncoder)"
            ) from None
    if array.ndim == 1 or array.ndim == 0:
        raise ShapeError(
            f"{who}: expected a 2-D array (n_samples, n_features), got shape {array.shape}; "
            "Reshape your data with X.reshape(-1, 1) for a single feature or "
            "X.reshape(1, -1) for a single sample"
        )
    if array.ndim > 2:
        raise ShapeError(f"{who}: expected a 2-D array, got {array.ndim} dims {array.shape}")
    if array.shape[0] == 0:
        raise DataError(
            f"{who}: Found array with 0 sample(s) (shape={array.shape}) while a minimum of 1 "
            "is required."
        )
    if array.shape[1] == 0:
        raise DataError(
            f"{who}: Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 "
            "is required."
        )
    if dtype is None:
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    array = array.astype(dtype, copy=False)
    if finite:
        check_finite(array, who, "X")
    return array


# Values at least this large overflow float64 when squared (√(largest float64) ≈ 1.34e154),
# so every variance, Gram matrix or squared error over them would be infinite.
HUGE = 1e154


def check_finite(array: np.ndarray, who: str, what: str) -> None:
    """Raise if ``array`` holds NaN, infinity, or a value whose square overflows
    (magnitude at least :data:`HUGE`), naming the first bad column (and row)."""
    if array.dtype.kind != "f" or array.size == 0:
        return
    # The largest and smallest values are NaN when any value is, infinite when any is,
    # and beyond ±HUGE when any is: two passes, no temporary arrays.
    high, low = float(np.max(array)), float(np.min(array))
    if -HUGE < low and high < HUGE:
        return
    if np.isfinite(array).all():
        _raise_huge(array, who, what)
    bad = ~np.isfinite(array)
    if array.ndim == 2:
        column = int(np.argmax(bad.any(axis=0)))
        kind = "NaN" if np.isnan(array[:, column]).any() else "infinity"
        raise DataError(
            f"{who}: {what} contains {kind} in column {column} ({int(bad[:, column].sum())} "
            "values); drop or impute missing values first (input contains NaN or infinity)"
        )
    kind = "NaN" if np.isnan(array).any() else "infinity"
    raise DataError(
        f"{who}: {what} contains {kind} ({int(bad.sum())} values); drop or impute them first"
    )


def _raise_huge(array: np.ndarray, who: str, what: str):
    position = tuple(int(i) for i in np.argwhere(np.abs(array) >= HUGE)[0])
    where = (
        f"row {position[0]}, column {position[1]}" if len(position) == 2 else f"index {position[0]}"
    )
    raise DataError(
        f"{who}: {what} holds {float(array[position]):g} at {where} (counting from 0); values "
        "this large (magnitude 1e154 or more) overflow when squared: rescale that column "
        "(divide it by a power of ten, or take its logarithm)"
    )


def _column_or_1d(y, who: str) -> np.ndarray:
    if y is None:
        raise DataError(f"{who} requires y to be passed, but the target y is None")
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it was flattened "
            f"with y.ravel() (in {who})",
            sklearn_compatible(DataConversionWarning, "DataConversionWarning"),
            stacklevel=4,
        )
        array = array.ravel()
    return array


def _y_of_length(y, n_samples: int, who: str) -> np.ndarray:
    """``y`` as a 1-D array of ``n_samples`` values (a column vector is flattened)."""
    array = _column_or_1d(y, who)
    if array.ndim != 1:
        raise ShapeError(f"{who}: y must be 1-D (n_samples,), got shape {array.shape}")
    if len(array) != n_samples:
        raise ShapeError(
            f"{who}: X has {n_samples} samples but y has {len(array)}; they must match"
        )
    return array


def check_y_regression(y, n_samples: int, who: str) -> np.ndarray:
    """A finite 1-D float64 target of length ``n_samples``."""
    array = _y_of_length(y, n_samples, who)
    try:
        array = array.astype(np.float64)
    except (ValueError, TypeError):
        raise DataError(f"{who}: y must be numeric for regression") from None
    check_finite(array, who, "y")
    return array


def target_type(y: np.ndarray) -> str:
    """``"continuous"``, ``"binary"`` or ``"multiclass"`` (scikit-learn's names)."""
    if _has_fractions(y):
        return "continuous"
    return "binary" if len(unique_labels(y)) <= 2 else "multiclass"


def _has_fractions(y: np.ndarray) -> bool:
    """Whether ``y`` holds a finite non-integer value (then it is a regression target)."""
    if y.dtype.kind != "f":
        return False
    finite = y[np.isfinite(y)]
    return bool(finite.size and np.any(finite != np.round(finite)))


def unique_labels(y: np.ndarray) -> np.ndarray:
    """The sorted distinct labels of ``y``.

    Small non-negative integer labels (the usual 0, 1, ..., k-1) are counted with
    ``np.bincount`` in one pass instead of sorted; anything else uses ``np.unique``.
    """
    if y.dtype.kind in "iu" and y.size and 0 <= y.min() and y.max() < 65536:
        return np.flatnonzero(np.bincount(y)).astype(y.dtype)
    return np.unique(y)


def check_y_classification(y, n_samples: int, who: str, min_classes: int = 2) -> np.ndarray:
    """A 1-D label array of length ``n_samples`` with at least ``min_classes`` classes."""
    return checked_labels(y, n_samples, who, min_classes)[0]


def checked_labels(
    y, n_samples: int, who: str, min_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`check_y_classification`'s labels and their sorted distinct values (the
    classes), found in the same passes."""
    array = _y_of_length(y, n_samples, who)
    if array.dtype.kind == "f":
        check_finite(array, who, "y")
    if array.dtype.kind == "O":
        array = _object_labels(array, who)
    if _has_fractions(array):
        raise DataError(
            f"{who}: Unknown label type: continuous. y has non-integer values, which is a "
            "regression target; use a regressor, or convert y to class labels"
        )
    classes = unique_labels(array)
    if len(classes) < min_classes:
        raise DataError(
            f"{who}: y has only one class ({classes[0]!r}); a classifier needs at "
            "least 2 classes in the training data (a first partial_fit may pass them all "
            "in classes=)"
        )
    return array, classes


def check_classes(classes, who: str) -> np.ndarray:
    """The ``classes=`` of a first ``partial_fit``: sorted, distinct, at least two."""
    values = np.asarray(classes)
    if values.dtype.kind == "O":
        values = _object_labels(values, who)
    values = np.unique(values)
    if values.ndim != 1 or len(values) < 2:
        raise DataError(
            f"{who}: classes= must list every class label (at least 2); got {classes!r}"
        )
    return values


def label_codes(y: np.ndarray, classes: np.ndarray, who: str) -> np.ndarray:
    """The index of each label of ``y`` in the sorted ``classes``; a label that is not
    among them raises a DataError naming it.

    >>> label_codes(np.array([7, 3, 7]), np.array([3, 7]), "m").tolist()
    [1, 0, 1]
    """
    k = len(classes)
    if (
        y.dtype.kind in "iu"
        and classes.dtype.kind in "iu"
        and y.size
        and k
        and classes[0] == 0
        and classes[-1] == k - 1  # sorted distinct integers from 0 to k-1: 0, 1, ..., k-1
        and 0 <= y.min()
        and y.max() < k
    ):
        return y.astype(np.intp)  # each label is its own code: no search
    codes = np.searchsorted(classes, y)
    if not codes.size:
        return codes
    if codes.max() < len(classes) and (classes[codes] == y).all():
        return codes
    unknown = classes[np.minimum(codes, len(classes) - 1)] != y
    if unknown.any():
        raise DataError(
            f"{who}: y contains labels not in the classes learned first "
            f"({sorted(set(np.asarray(y)[unknown].tolist()))[:5]}); pass every class in "
            "classes= on the first partial_fit"
        )
    return codes


def check_known_labels(y: np.ndarray, classes: np.ndarray, who: str) -> None:
    """Raise when ``y`` holds labels outside ``classes``."""
    label_codes(y, classes, who)


def class_weights(class_weight, classes: np.ndarray, codes: np.ndarray, sample_weight, who: str):
    """One weight per class from ``class_weight``: ``"balanced"`` gives
    ``n_samples / (n_classes · count)`` (counts weighted by ``sample_weight``), a dict
    ``{label: weight}`` its values (1 for labels it does not name).

    >>> class_weights("balanced", np.array([0, 1]), np.array([0, 0, 0, 1]), None, "m").tolist()
    [0.6666666666666666, 2.0]
    """
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"{who}: class_weight must be None, 'balanced' or a dict, got {class_weight!r}"
            )
        counts = np.bincount(codes, weights=sample_weight, minlength=len(classes))
        present = counts > 0
        weights = np.ones(len(classes))
        weights[present] = counts.sum() / (present.sum() * counts[present])
        return weights
    if isinstance(class_weight, dict):
        weights = np.ones(len(classes))
        known = classes.tolist()
        for label, weight in class_weight.items():
            if label not in known:
                raise DataError(
                    f"{who}: class_weight names the label {label!r}, which is not among the "
                    f"classes {known}"
                )
            weights[known.index(label)] = float(weight)
        return weights
    raise ValueError(
        f"{who}: class_weight must be None, 'balanced' or a dict, got {class_weight!r}"
    )


def _object_labels(array: np.ndarray, who: str) -> np.ndarray:
    values = list(array)
    if all(isinstance(v, str) for v in values):
        return array.astype(str)
    if all(isinstance(v, int | np.integer) for v in values):
        return array.astype(np.int64)
    raise DataError(f"{who}: labels must be all strings or all integers, got a mix")


def check_n_features(who: str, X: np.ndarray, expected: int) -> None:
    if X.shape[1] != expected:
        raise ShapeError(
            f"X has {X.shape[1]} features, but {who} is expecting {expected} features as input"
        )
