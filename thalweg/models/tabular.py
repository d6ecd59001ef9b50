"""Models for tables: an estimator plus the column handling that feeds it, saved together.

:class:`TabularModel` turns a table (a dict of named 1-D columns, or a pandas
DataFrame) into the numeric matrix its estimator learns from, and keeps every step of
that inside the fitted model, so what serves is exactly what trained:

* **numeric** columns go in as numbers; the estimator standardizes them itself (its
  ``standardize=True`` default, with the mean and scale saved in it), so nothing here
  scales them a second time. ``crosses=True`` adds squares and pairwise products of the
  numeric columns (:class:`~thalweg.data.FeatureCrosses`) before that.
* **categorical** columns are one-hot encoded (:class:`~thalweg.data.OneHotEncoder`).
  A category not seen in training goes to the column's ``=__other__`` indicator
  (``unknown="other"``, the default) or raises a DataError (``unknown="error"``).
* **missing** values (NaN, None, empty cells) raise a DataError listing the columns and
  counts (``missing="error"``, the default), drop their rows while fitting
  (``"drop"``), or are filled (``"mean"``) with the training mean of a numeric column or
  the most frequent training value of a categorical one. A missing target always drops
  its row under ``"drop"`` and ``"mean"`` (a target cannot be filled in).

Column types
------------
A column of numbers is numeric; true/false columns and text columns are categorical,
except a text column whose values are **mostly numbers**: when more than half of its
non-missing values read as numbers, it is taken to be a numeric column with bad values
in it, and the first bad value is reported by row and column (a typo such as ``"12,5"``
or ``"?"`` should be fixed, not silently turn a quantity into categories). A text
column whose values are *all* numbers is numeric. ``categorical=[...]`` declares a
column categorical whatever it holds (numbers become category labels: ``1`` and
``1.0`` are the same label ``"1"``). Rows are counted from 1 (in a CSV file, row 1 is
the line after the header).

>>> import numpy as np
>>> from thalweg.models import LogisticRegression
>>> colors = np.array(["red", "blue", "red", "blue"], dtype=object)
>>> table = {"size": np.array([1.0, 2.0, 3.0, 4.0]), "color": colors}
>>> model = TabularModel(LogisticRegression()).fit(table, np.array([0, 0, 1, 1]))
>>> model.feature_names_out_
['size', 'color=blue', 'color=red', 'color=__other__']
>>> model.predict({"size": np.array([4.0]), "color": np.array(["green"], dtype=object)}).tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from thalweg.data import FeatureCrosses, OneHotEncoder
from thalweg.errors import DataError, FileFormatError
from thalweg.files import read_container
from thalweg.monitoring.profile import prediction_profile, table_profile

__all__ = [
    "CATEGORICAL",
    "MAX_CLASSES",
    "MISSING_POLICIES",
    "NUMERIC",
    "UNKNOWN_POLICIES",
    "TabularModel",
    "as_table",
    "column_kinds",
    "infer_task",
    "missing_counts",
    "missing_mask",
    "typed_column",
]

NUMERIC, CATEGORICAL = "numeric", "categorical"
MISSING_POLICIES = ("error", "drop", "mean")
UNKNOWN_POLICIES = ("other", "error")
# Whole-number targets with at most this many distinct values are class labels.
MAX_CLASSES = 20
# A text column is "numbers with typos" when more than this share of its values are numbers.
NUMERIC_MAJORITY = 0.5


# --------------------------------------------------------------------------- tables


def as_table(X: Any) -> dict[str, np.ndarray]:
    """``X`` (a mapping of names to 1-D columns, or a DataFrame) as a dict of 1-D arrays.

    >>> as_table({"a": [1, 2]})["a"].tolist()
    [1, 2]
    """
    if not hasattr(X, "keys"):
        raise DataError(
            f"a table is a dict of named columns (or a DataFrame); got {type(X).__name__}"
        )
    table = {}
    for name in X.keys():
        values = np.asarray(X[name])
        if values.ndim != 1:
            raise DataError(f"column {name!r} has shape {values.shape}; each column must be 1-D")
        table[str(name)] = values
    lengths = {len(v) for v in table.values()}
    if len(lengths) > 1:
        raise DataError(f"the columns have different lengths {sorted(lengths)}; they must match")
    if not table or not lengths.pop():
        raise DataError("the table is empty; it needs at least one column and one row")
    return table


def missing_mask(values: np.ndarray) -> np.ndarray:
    """True where a value is missing: NaN in a float column, None or NaN in an object one."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.fromiter(
            (v is None or (isinstance(v, float) and v != v) for v in values.tolist()),
            dtype=bool,
            count=len(values),
        )
    return np.zeros(len(values), dtype=bool)


def missing_counts(table: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Number of missing values per column, for the columns that have any."""
    counts = {name: int(missing_mask(values).sum()) for name, values in table.items()}
    return {name: count for name, count in counts.items() if count}


def _parse_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.number):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _numbers_in_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value read as a float, and where that worked (missing values count as not)."""
    cache: dict[Any, float | None] = {}
    parsed = np.full(len(values), np.nan)
    ok = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and value != value):
            continue
        key = (type(value), value)
        if key not in cache:
            cache[key] = _parse_number(value)
        number = cache[key]
        if number is not None:
            parsed[i], ok[i] = number, True
    return parsed, ok


def _bad_value_error(name: str, row: int, value: Any) -> DataError:
    return DataError(
        f"column {name!r} holds numbers, but row {row} holds {value!r}, which is not a number; "
        f"fix it or empty the cell (a missing value), or declare the column categorical "
        f"(--categorical {name})"
    )


def _kind_of(name: str, values: np.ndarray) -> str:
    kind = values.dtype.kind
    if kind in "iuf":
        return NUMERIC
    if kind == "b":
        return CATEGORICAL
    if kind not in "OUS":
        raise DataError(
            f"column {name!r} has values of type {values.dtype} that thalweg cannot use; "
            "convert it to numbers or text"
        )
    missing = missing_mask(values)
    present = int((~missing).sum())
    if present == 0:
        return NUMERIC  # all missing: reported as an empty column by whoever uses it
    if any(isinstance(v, bool | np.bool_) for v in values[~missing][:1].tolist()):
        return CATEGORICAL
    _, ok = _numbers_in_text(values)
    numbers = int(ok.sum())
    if numbers == present:
        return NUMERIC
    if numbers > NUMERIC_MAJORITY * present:
        row = int(np.flatnonzero(~ok & ~missing)[0])
        raise _bad_value_error(name, row + 1, values[row])
    return CATEGORICAL


def column_kinds(
    table: Mapping[str, np.ndarray], categorical: Iterable[str] = ()
) -> dict[str, str]:
    """``"numeric"`` or ``"categorical"`` for every column, by the rule in the module
    docstring; a mostly-numeric text column with a stray value raises a DataError naming
    its row and column.

    >>> column_kinds({"a": np.array([1.0]), "b": np.array(["x"], dtype=object)})
    {'a': 'numeric', 'b': 'categorical'}
    """
    forced = set(categorical)
    unknown = forced - set(table)
    if unknown:
        raise DataError(
            f"categorical column(s) {sorted(unknown)} are not in the data; its columns are "
            f"{', '.join(table)}"
        )
    return {
        name: CATEGORICAL if name in forced else _kind_of(name, np.asarray(values))
        for name, values in table.items()
    }


def _category_label(value: Any) -> str | None:
    """One spelling per category: ``1``, ``1.0`` and ``"1"`` are all ``"1"``."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def typed_column(name: str, values: np.ndarray, kind: str) -> np.ndarray:
    """A column converted for ``kind``: float64 (NaN missing) for numeric, an object
    array of ``str`` (None missing) for categorical.

    A numeric column given as text is parsed; a value that is not a number, or an
    infinite one, raises a DataError naming its row.
    """
    values = np.asarray(values)
    if kind == CATEGORICAL:
        return np.asarray([_category_label(v) for v in values.tolist()], dtype=object)
    if values.dtype.kind in "iuf":
        numbers = values.astype(np.float64)
    else:
        missing = missing_mask(values)
        numbers, ok = _numbers_in_text(values)
        bad = ~ok & ~missing
        if bad.any():
            if ok.sum() <= NUMERIC_MAJORITY * max(int((~missing).sum()), 1):
                example = int(np.flatnonzero(bad)[0])
                raise DataError(
                    f"column {name!r} should hold numbers (as it did in training) but holds "
                    f"text, e.g. {values[example]!r} in row {example + 1}; pass the numeric "
                    "column the model was trained on"
                )
            row = int(np.flatnonzero(bad)[0])
            raise _bad_value_error(name, row + 1, values[row])
    infinite = np.isinf(numbers)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataError(
            f"column {name!r}, row {row + 1} is infinite ({numbers[row]}); replace it with a "
            "finite number or empty the cell (a missing value)"
        )
    return numbers


# --------------------------------------------------------------------------- targets


def _one_class_error(name: str, value: Any, rows: int) -> DataError:
    return DataError(
        f"target {name!r} has a single value ({value!r}) in all {rows} rows with a target; "
        "a model needs at least two classes (or varying numbers) to learn: check the target "
        "column and the data"
    )


def infer_task(name: str, values: np.ndarray) -> tuple[str, str]:
    """``("classification" | "regression", why)`` for a target column.

    Text and true/false targets are classes; numbers with fractions are a quantity;
    whole numbers are classes when there are at most ``MAX_CLASSES`` distinct values.

    >>> infer_task("y", np.array([0, 1, 2, 1]))
    ('classification', 'its values are 3 distinct whole numbers (0, 1, 2)')
    >>> infer_task("y", np.array([0.5, 1.25]))[0]
    'regression'
    """
    values = np.asarray(values)
    missing = missing_mask(values)
    if missing.all():
        raise DataError(
            f"target {name!r} is empty: all {len(values)} values are missing; pick another "
            "--target column"
        )
    kind = _kind_of(name, values)
    if kind == CATEGORICAL:
        labels = typed_column(name, values, CATEGORICAL)[~missing]
        distinct = sorted(set(labels.tolist()))
        if len(distinct) < 2:
            raise _one_class_error(name, distinct[0], len(labels))
        if set(distinct) <= {"true", "false"} and values.dtype.kind in "bO":
            return "classification", "its values are true/false"
        return "classification", f"its values are text ({_list_classes(distinct)})"
    numbers = typed_column(name, values, NUMERIC)[~missing]
    distinct = np.unique(numbers)
    if len(distinct) < 2:
        raise _one_class_error(name, _category_label(distinct[0]), len(numbers))
    fractional = distinct[distinct != np.round(distinct)]
    if len(fractional):
        return "regression", f"its values are numbers with fractions (e.g. {fractional[0]:g})"
    if len(distinct) <= MAX_CLASSES:
        shown = ", ".join(_category_label(v) for v in distinct[:6]) + (
            ", ..." if len(distinct) > 6 else ""
        )
        return "classification", f"its values are {len(distinct)} distinct whole numbers ({shown})"
    return "regression", (
        f"its values are {len(distinct)} distinct whole numbers (more than {MAX_CLASSES}, so "
        "a quantity rather than classes)"
    )


def _list_classes(classes: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in classes[:5])
    more = f" and {len(classes) - 5} more" if len(classes) > 5 else ""
    return f"{len(classes)} classes: {shown}{more}"


def target_values(name: str, values: np.ndarray, classification: bool) -> np.ndarray:
    """The target as the estimator wants it: labels (``str`` or ``int64``) for
    classification, float64 for regression; missing entries come back as NaN / None
    and are found with :func:`missing_mask`."""
    values = np.asarray(values)
    missing = missing_mask(values)
    if not classification:
        if _kind_of(name, values) == CATEGORICAL:
            example = values[~missing][0]
            raise DataError(
                f"target {name!r} holds text (e.g. {example!r}) but regression needs numbers; "
                "use a classifier (--model logistic or mlp) or fix the column"
            )
        return typed_column(name, values, NUMERIC)
    if _kind_of(name, values) == CATEGORICAL:
        return typed_column(name, values, CATEGORICAL)
    numbers = typed_column(name, values, NUMERIC)
    present = numbers[~missing]
    fractional = present[present != np.round(present)]
    if len(fractional):
        raise DataError(
            f"target {name!r} holds numbers with fractions (e.g. {fractional[0]:g}), which are "
            "not class labels; use regression (--task regression) or whole-number labels"
        )
    if missing.any():
        return np.asarray(
            [None if m else int(v) for v, m in zip(numbers, missing, strict=True)], dtype=object
        )
    return numbers.astype(np.int64)


def _labels_array(labels: np.ndarray) -> np.ndarray:
    """Present (non-missing) labels as a plain NumPy array: ``str`` or ``int64``."""
    values = labels.tolist()
    if values and all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    if values and all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return np.asarray(labels)


# ----------------------------------------------------------------------------- model


class TabularModel:
    """An estimator wrapped with the column handling of a table (see the module docstring).

    Parameters
    ----------
    estimator : thalweg estimator
        ``LinearRegression``, ``LogisticRegression``, ``MLPClassifier`` or
        ``MLPRegressor`` (cloned at ``fit``; the one given stays unfitted).
    categorical : sequence of str
        Columns to treat as categorical whatever they hold.
    missing : "error", "drop" or "mean"
    unknown : "other" or "error"
        What a category unseen in training becomes at predict time.
    crosses : bool
        Add squares and pairwise products of the numeric columns.

    Attributes
    ----------
    estimator_ : the fitted estimator (its input is :meth:`transform`'s output)
    columns_ : list of {"name", "kind"}
        The input columns the model uses, in order.
    fill_values_ : dict
        Training means (numeric) and most frequent values (categorical), ``"mean"`` only.
    encoder_ : OneHotEncoder or None
    crosses_ : FeatureCrosses or None
    feature_names_out_ : list of str
        Names of the estimator's input features.
    target_ : str or None
        Name of the target column, when ``fit`` was given one.
    n_dropped_ : int
        Rows ``fit`` dropped for missing values.
    feature_statistics_ : dict of name -> profile
        Each input column's training distribution (quantiles, histogram, mean, std,
        missing rate, category counts; see :mod:`thalweg.monitoring.profile`), saved in
        the model file, for ``thalweg skew``. None for a model file that predates it.
    prediction_statistics_ : dict
        The distribution of the model's predictions on its validation rows (or its
        training rows, without validation).
    metadata_ : dict
        Extra metadata saved with the model (empty until saved or loaded).
    """

    def __init__(
        self,
        estimator,
        categorical: Sequence[str] = (),
        missing: str = "error",
        unknown: str = "other",
        crosses: bool = False,
    ):
        self.estimator = estimator
        self.categorical = categorical
        self.missing = missing
        self.unknown = unknown
        self.crosses = crosses

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, as given."""
        return {
            "estimator": self.estimator,
            "categorical": self.categorical,
            "missing": self.missing,
            "unknown": self.unknown,
            "crosses": self.crosses,
        }

    def set_params(self, **params) -> TabularModel:
        """Change constructor arguments (takes effect at the next ``fit``)."""
        for name, value in params.items():
            if name not in self.get_params():
                raise ValueError(f"TabularModel has no parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return (
            f"TabularModel({self.estimator!r}, missing={self.missing!r}, "
            f"unknown={self.unknown!r}, crosses={self.crosses!r})"
        )

    @property
    def is_classifier(self) -> bool:
        """Whether the wrapped estimator is a classifier."""
        return getattr(self.estimator, "_estimator_type", "") == "classifier"

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of a fitted classifier."""
        return self.estimator_.classes_

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        validation: tuple[Any, Any] | None = None,
        callbacks: Sequence = (),
        resume=None,
        batches=None,
    ) -> TabularModel:
        """Learn the column handling and the estimator from a table.

        Parameters
        ----------
        X : dict of name -> 1-D array, or DataFrame
            The input columns (a column named like the target is left out).
        y : str or array (n_rows,)
            The target values, or the name of the column of ``X`` that holds them.
        validation : (X_val, y_val), optional
            Held-out rows (same columns) whose loss is computed every epoch, for the
            training curves and ``early_stopping``.
        callbacks : sequence of thalweg.train.Callback
            Extra callbacks for the training loop (a ``Checkpoint``, say).
        resume : path, optional
            Continue from a checkpoint of this same fit.
        batches : callable, optional
            ``(X, y, batch_size) -> batch source`` replacing the shuffled mini-batches of
            the encoded rows (gradient descent only), e.g. class-balanced batches.
        """
        self._check_options()
        table = as_table(X)
        target = None
        if isinstance(y, str):
            if y not in table:
                raise DataError(
                    f"target column {y!r} is not in the data; its columns are {', '.join(table)}"
                )
            target, y = y, table.pop(y)
        if not table:
            raise DataError("the data has no feature columns besides the target; add some")
        y = np.asarray(y)
        if len(y) != len(next(iter(table.values()))):
            raise DataError(f"the table has {len(next(iter(table.values())))} rows but y {len(y)}")

        kinds = column_kinds(table, self.categorical)
        typed = {name: typed_column(name, table[name], kind) for name, kind in kinds.items()}
        for name, values in typed.items():
            if missing_mask(values).all():
                raise DataError(
                    f"column {name!r} is empty: all {len(values)} values are missing; remove "
                    f"it from the data (--ignore {name})"
                )
        labels = target_values(target or "target", y, self.is_classifier)
        keep = ~missing_mask(labels)
        if self.missing == "error":
            _raise_if_missing(
                {**typed, target or "target": labels},
                "fill them in, or choose --missing drop or --missing mean",
            )
        elif self.missing == "drop":
            for values in typed.values():
                keep &= ~missing_mask(values)
        if not keep.any():
            raise DataError(
                "no rows are left after dropping those with missing values; fill them in, "
                "or use --missing mean"
            )
        # What the model learned from, kept for skew checks at serving time.
        statistics = table_profile({k: v[~missing_mask(labels)] for k, v in typed.items()}, kinds)
        typed = {name: values[keep] for name, values in typed.items()}
        labels = labels[keep]
        labels = _labels_array(labels) if self.is_classifier else labels.astype(np.float64)
        if self.is_classifier and len(np.unique(labels)) < 2:
            raise _one_class_error(target or "target", labels[0].item(), len(labels))

        self.target_ = target
        self.n_dropped_ = int((~keep).sum())
        self.columns_ = [{"name": name, "kind": kind} for name, kind in kinds.items()]
        self.fill_values_ = _fill_values(typed) if self.missing == "mean" else {}
        typed = self._fill(typed)
        numeric, categorical = self._numeric_names(), self._categorical_names()
        self.crosses_ = (
            FeatureCrosses().fit(_stack(typed, numeric, np.float64))
            if self.crosses and numeric
            else None
        )
        self.encoder_ = (
            OneHotEncoder(handle_unknown=self.unknown).fit(_stack(typed, categorical, object))
            if categorical
            else None
        )
        self.feature_names_out_ = self._output_names()
        features = self._matrix(typed)

        estimator = type(self.estimator)(**self.estimator.get_params())
        extras: dict[str, Any] = {
            "callbacks": list(callbacks),
            "resume": resume,
            "batches": batches,
        }
        X_val = None
        if validation is not None:
            X_val, y_val = self._validation_rows(*validation)
            extras["validation"] = lambda fitted: _validation_arrays(fitted, X_val, y_val)
        # The training loop reads these through thalweg.models.gradient_descent; they are
        # not constructor parameters, so they never reach get_params or the model file.
        estimator._fit_extras = extras
        try:
            estimator.fit(features, labels)
        finally:
            del estimator._fit_extras
        self.estimator_ = estimator
        self.metadata_ = {}
        self.feature_statistics_ = statistics
        source, rows = ("validation", X_val) if X_val is not None else ("training", features)
        self.prediction_statistics_ = prediction_profile(
            estimator.predict(rows), self.is_classifier, source
        )
        return self

    def _check_options(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise DataError(f"missing must be one of {MISSING_POLICIES}; got {self.missing!r}")
        if self.unknown not in UNKNOWN_POLICIES:
            raise DataError(f"unknown must be one of {UNKNOWN_POLICIES}; got {self.unknown!r}")
        if isinstance(self.categorical, str):
            raise DataError("categorical is a list of column names, e.g. ['city']")

    def _validation_rows(self, X_val: Any, y_val: Any) -> tuple[np.ndarray, np.ndarray]:
        table = as_table(X_val)
        if isinstance(y_val, str):
            y_val = table.pop(y_val)
        labels = target_values(self.target_ or "target", np.asarray(y_val), self.is_classifier)
        keep = ~missing_mask(labels)
        if self.missing == "drop":
            keep &= self.complete_rows(table)
        table = {name: values[keep] for name, values in table.items()}
        labels = labels[keep]
        labels = _labels_array(labels) if self.is_classifier else labels.astype(np.float64)
        return self.transform(table), labels

    # ------------------------------------------------------------------ columns
    def _numeric_names(self) -> list[str]:
        return [c["name"] for c in self.columns_ if c["kind"] == NUMERIC]

    def _categorical_names(self) -> list[str]:
        return [c["name"] for c in self.columns_ if c["kind"] == CATEGORICAL]

    def _output_names(self) -> list[str]:
        numeric, categorical = self._numeric_names(), self._categorical_names()
        names = list(numeric)
        if self.crosses_ is not None:
            names = self.crosses_.get_feature_names_out(numeric)
        if self.encoder_ is not None:
            names += self.encoder_.get_feature_names_out(categorical)
        return names

    def _fill(self, typed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.fill_values_:
            return typed
        filled = {}
        for name, values in typed.items():
            holes = missing_mask(values)
            if holes.any():
                values = values.copy()
                values[holes] = self.fill_values_[name]
            filled[name] = values
        return filled

    def _matrix(self, typed: dict[str, np.ndarray]) -> np.ndarray:
        blocks = []
        numeric, categorical = self._numeric_names(), self._categorical_names()
        if numeric:
            block = _stack(typed, numeric, np.float64)
            blocks.append(block if self.crosses_ is None else self.crosses_.transform(block))
        if categorical:
            blocks.append(self.encoder_.transform(_stack(typed, categorical, object)))
        return np.hstack([b.astype(np.float64) for b in blocks])

    def _typed_input(self, X: Any) -> dict[str, np.ndarray]:
        """The model's columns from ``X``, checked and typed (extra columns ignored)."""
        self._check_fitted("columns_")
        table = X if isinstance(X, dict) else as_table(X)
        absent = [c["name"] for c in self.columns_ if c["name"] not in table]
        if absent:
            needed = ", ".join(c["name"] for c in self.columns_)
            if len(absent) == len(self.columns_):
                raise DataError(
                    f"the data has none of the columns the model was trained on ({needed}); "
                    f"its columns are {', '.join(table)}: is it the right file?"
                )
            raise DataError(
                f"the data lacks column(s) {', '.join(repr(a) for a in absent)} that the model "
                f"was trained on; add them (the model uses: {needed})"
            )
        return {
            c["name"]: typed_column(c["name"], np.asarray(table[c["name"]]), c["kind"])
            for c in self.columns_
        }

    def typed_columns(self, X: Any) -> dict[str, np.ndarray]:
        """The model's input columns of ``X``, typed as the model reads them: float64
        (NaN missing) for numeric columns, text labels (None missing) for categorical
        ones. Raises DataError for a missing column or text in a numeric one."""
        return self._typed_input(X)

    def complete_rows(self, X: Any) -> np.ndarray:
        """True for rows with no missing value in the columns the model uses."""
        typed = self._typed_input(X)
        keep = np.ones(len(next(iter(typed.values()))), dtype=bool)
        for values in typed.values():
            keep &= ~missing_mask(values)
        return keep

    # ------------------------------------------------------------------ predicting
    def transform(self, X: Any) -> np.ndarray:
        """The estimator's input for a table: ``(n_rows, len(feature_names_out_))``.

        Columns are matched by name (extra ones are ignored); a missing column, a
        numeric column holding text, or a missing value the model's policy cannot fill
        raises a DataError.
        """
        return self.typed_transform(X)[1]

    def typed_transform(self, X: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(typed_columns(X), transform(X))`` in one pass: the inputs as the model read
        them and the features it computed (what a server logs for each request)."""
        typed = self._typed_input(X)
        if self.missing != "mean":
            _raise_if_missing(
                typed,
                f"the model was trained with --missing {self.missing}, which cannot predict "
                "such rows: fill them in (or train with --missing mean)",
            )
        return typed, self._matrix(self._fill(typed))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels or values, one per row of ``X``."""
        return self.estimator_.predict(self.transform(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_rows, n_classes)`` (classifiers only)."""
        if not self.is_classifier:
            raise DataError("predict_proba needs a classifier; this model is a regressor")
        return self.estimator_.predict_proba(self.transform(X))

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classifiers) or R² (regressors) on a table and its targets."""
        if isinstance(y, str):
            y = as_table(X)[y]
        labels = target_values(self.target_ or "target", np.asarray(y), self.is_classifier)
        labels = _labels_array(labels) if self.is_classifier else labels.astype(np.float64)
        return self.estimator_.score(self.transform(X), labels)

    def _check_fitted(self, attribute: str = "estimator_") -> None:
        if not hasattr(self, attribute):
            from thalweg.errors import NotFittedError

            raise NotFittedError("this TabularModel is not fitted yet; call fit(table, y) first")

    # ------------------------------------------------------------------ files
    def to_config(self) -> dict:
        """The column handling as JSON-able data (the ``tabular`` entry of the model file)."""
        self._check_fitted()
        return {
            "target": self.target_,
            "task": "classification" if self.is_classifier else "regression",
            "columns": self.columns_,
            "categorical": list(self.categorical),
            "missing": self.missing,
            "unknown": self.unknown,
            "fill_values": {k: _json_value(v) for k, v in self.fill_values_.items()},
            "crosses": self.crosses_.to_config() if self.crosses_ is not None else None,
            "encoder": self.encoder_.to_config() if self.encoder_ is not None else None,
            "feature_names_out": self.feature_names_out_,
            "statistics": {
                "features": getattr(self, "feature_statistics_", None),
                "predictions": getattr(self, "prediction_statistics_", None),
            },
        }

    def save(self, path, metadata: dict | None = None) -> None:
        """Write the model to ``path``: one file, safetensors + JSON, written atomically.

        ``metadata`` (JSON-able) is stored beside it and comes back as ``metadata_``.
        """
        from thalweg.models.persistence import save_model

        save_model(self.estimator_, path, {"tabular": self.to_config(), **(metadata or {})})
        self.metadata_ = dict(metadata or {})

    @classmethod
    def load(cls, path) -> TabularModel:
        """Read a model written by :meth:`save`; nothing in the file is executed."""
        from thalweg.data import preprocessor_from_config
        from thalweg.models import load_model

        _, meta = read_container(path)
        if meta.get("kind") != "estimator" or "tabular" not in meta:
            kind = meta.get("kind")
            what = "a model without column information" if kind == "estimator" else repr(kind)
            raise FileFormatError(
                f"{path} is a thalweg file but holds {what}, not a model trained on a table; "
                "pass a model file written by `thalweg train`"
            )
        estimator = load_model(path)
        try:
            config = meta["tabular"]
            model = cls(
                type(estimator)(**estimator.get_params()),
                categorical=config["categorical"],
                missing=config["missing"],
                unknown=config["unknown"],
                crosses=config["crosses"] is not None,
            )
            model.estimator_ = estimator
            model.target_ = config["target"]
            model.columns_ = [dict(c) for c in config["columns"]]
            model.fill_values_ = dict(config["fill_values"])
            model.crosses_ = (
                preprocessor_from_config(config["crosses"]) if config["crosses"] else None
            )
            model.encoder_ = (
                preprocessor_from_config(config["encoder"]) if config["encoder"] else None
            )
            model.feature_names_out_ = list(config["feature_names_out"])
            model.n_dropped_ = 0
            statistics = config.get("statistics") or {}  # absent in older model files
            model.feature_statistics_ = statistics.get("features")
            model.prediction_statistics_ = statistics.get("predictions")
        except (KeyError, TypeError, ValueError) as error:
            raise FileFormatError(f"{path}: the model file is damaged ({error!r})") from None
        skip = {"format", "format_version", "kind", "class", "params", "state", "tabular"}
        model.metadata_ = {k: v for k, v in meta.items() if k not in skip}
        return model


def _stack(typed: dict[str, np.ndarray], names: list[str], dtype) -> np.ndarray:
    return np.column_stack([typed[name] for name in names]).astype(dtype)


def _raise_if_missing(typed: dict[str, np.ndarray], fix: str) -> None:
    counts = missing_counts(typed)
    if counts:
        listed = ", ".join(f"{name} ({count})" for name, count in counts.items())
        rows = int(np.any([missing_mask(v) for v in typed.values()], axis=0).sum())
        raise DataError(f"{rows} row(s) have missing values, in column(s) {listed}; {fix}")


def _fill_values(typed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Training mean of each numeric column, most frequent value of each categorical one."""
    fills: dict[str, Any] = {}
    for name, values in typed.items():
        present = values[~missing_mask(values)]
        if values.dtype.kind == "f":
            fills[name] = float(present.mean())
        else:
            labels, counts = np.unique(present.astype(str), return_counts=True)
            fills[name] = str(labels[np.argmax(counts)])
    return fills


def _json_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _validation_arrays(estimator, X_val: np.ndarray, y_val: np.ndarray):
    """Validation rows transformed exactly as the estimator transforms its training rows.

    Called by the training loop once the estimator has fitted its scaling and labels,
    so the validation loss is in the same units as the training loss.
    """
    from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor

    if isinstance(estimator, LinearRegression):
        scaling = estimator.scaling_
        return scaling.features(X_val), scaling.target(y_val)[:, None]
    if isinstance(estimator, MLPRegressor):
        return estimator._features(X_val), estimator._target(y_val)
    codes = estimator._encode_labels(y_val, len(y_val), reset=False)
    if isinstance(estimator, LogisticRegression):
        target = codes.astype(np.float32) if estimator._n_outputs() == 1 else codes
        return estimator.scaling_.features(X_val), target
    if isinstance(estimator, MLPClassifier):
        return estimator._features(X_val), estimator._target(codes)
    raise TypeError(f"no validation transform for {type(estimator).__name__}")
