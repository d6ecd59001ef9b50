"""Columns of a table: what each holds, typed for a model, missing values, the target.

A *table* is a dict of named 1-D columns (or a pandas DataFrame, read as one). Before a
model can learn from it, every column is given a kind and converted:

Column types
------------
A column of numbers is **numeric** (however few distinct values it has: ``1, 2, 3``
stays a quantity unless declared categorical); true/false columns and text columns are
**categorical**, except a text column whose values are *mostly numbers*: when more than
half of its non-missing values read as numbers, it is taken to be a numeric column with
bad values in it, and the first bad value is reported by row and column (a typo such as
``"12,5"`` or ``"?"`` should be fixed, not silently turn a quantity into categories). A
text column whose values are *all* numbers is numeric. A text column of ISO dates or
date-times (``2012-01-31``, ``2012-01-31T08:30:00``, ``2012-01-31 08:30``) is a
**date** column (as is a NumPy ``datetime64`` one), typed as days since 1970-01-01
(:func:`date_days`) for :class:`~thalweg.data.calendar.CalendarFeatures` to turn into
year, month, day of week and day of year; mostly dates with a stray value is reported
like mostly numbers. ``categorical=[...]`` declares a column categorical whatever it
holds (numbers become category labels: ``1`` and ``1.0`` are the same label ``"1"``).
Rows are counted from 1 (in a CSV file, row 1 is the line after the header).

A text column with a different value in (nearly) every row is most likely an
identifier (a name, an id, a free-text note): :func:`identifier_reason` says so, and
:class:`~thalweg.models.tabular.TabularModel` leaves it out unless told to keep it.

Missing values are NaN, None, pandas' ``NA`` or empty cells (:func:`missing_mask`); a
pandas nullable numeric column (``Int64``, ``Float64``) is numbers with NaN. A value of
magnitude 1e154 or more is refused by row and column: its square overflows, so every
variance and squared error over it would be infinite. A target column
decides the task (:func:`infer_task`): text and true/false are classes, numbers with
fractions a quantity, whole numbers classes when there are at most ``MAX_CLASSES``
distinct values.

Errors name the problem and the fix in terms of parameters (``categorical=['city']``);
the command line turns those into its flags (``--categorical city``).

>>> import numpy as np
>>> table = {"size": np.array([1.0, None, 3.0], dtype=object),
...          "color": np.array(["red", "blue", "red"], dtype=object)}
>>> column_kinds(table)
{'size': 'numeric', 'color': 'categorical'}
>>> typed_column("size", table["size"], NUMERIC).tolist()
[1.0, nan, 3.0]
>>> column_kinds({"day": np.array(["2012-01-01", "2012-01-02"], dtype=object)})
{'day': 'date'}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from thalweg.errors import DataError

# Values at least this large overflow float64 when squared (√(largest float64) ≈ 1.34e154).
HUGE = 1e154

__all__ = [
    "CATEGORICAL",
    "DATE",
    "IDENTIFIER_SHARE",
    "MAX_CLASSES",
    "NUMERIC",
    "as_table",
    "column_kinds",
    "column_summary",
    "complete_rows",
    "date_days",
    "fill_values",
    "identifier_reason",
    "infer_task",
    "is_missing_value",
    "label_array",
    "missing_counts",
    "missing_mask",
    "raise_if_missing",
    "target_values",
    "typed_column",
    "typed_table",
]

NUMERIC, CATEGORICAL, DATE = "numeric", "categorical", "date"
# Whole-number targets with at most this many distinct values are class labels.
MAX_CLASSES = 20
# A text column is "numbers with typos" when more than this share of its values are numbers
# (and "dates with typos" likewise).
NUMERIC_MAJORITY = 0.5
# A text column is an identifier when at least this share of its rows hold a value no
# other row holds, out of at least IDENTIFIER_ROWS rows (fewer say too little).
IDENTIFIER_SHARE = 0.9
IDENTIFIER_ROWS = 20
# ISO 8601 dates and date-times: 2012-01-31, 2012-01-31T08:30, 2012-01-31 08:30:15.25+01:00
_ISO_DATE = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?\s*"
)
_EPOCH = dt.datetime(1970, 1, 1)


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
        values = _column_array(X[name])
        if values.ndim != 1:
            raise DataError(f"column {name!r} has shape {values.shape}; each column must be 1-D")
        table[str(name)] = values
    lengths = {len(v) for v in table.values()}
    if len(lengths) > 1:
        raise DataError(f"the columns have different lengths {sorted(lengths)}; they must match")
    if not table or not lengths.pop():
        raise DataError("the table is empty; it needs at least one column and one row")
    return table


def _column_array(column: Any) -> np.ndarray:
    """A column as a NumPy array; a pandas nullable numeric column (``Int64``,
    ``Float64``) becomes float64 with NaN where it holds ``NA``."""
    dtype = getattr(column, "dtype", None)
    if hasattr(column, "to_numpy") and getattr(dtype, "kind", "O") in "iuf":
        na_value = getattr(dtype, "na_value", None)
        if na_value is not None and type(na_value).__name__ == "NAType":
            return column.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(column)


def is_missing_value(value: Any) -> bool:
    """None, NaN, or pandas' ``NA``/``NaT`` (recognised without importing pandas)."""
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or type(value).__name__ in ("NAType", "NaTType")
    )


def missing_mask(values: np.ndarray) -> np.ndarray:
    """True where a value is missing: NaN in a float column; None, NaN or pandas' NA in
    an object one."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        if set(map(type, values.tolist())) == {str}:  # text only, the common case: fast
            return np.zeros(len(values), dtype=bool)
        return np.fromiter(
            (is_missing_value(v) for v in values.tolist()), dtype=bool, count=len(values)
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
        if is_missing_value(value):
            continue
        key = (type(value), value)
        if key not in cache:
            cache[key] = _parse_number(value)
        number = cache[key]
        if number is not None:
            parsed[i], ok[i] = number, True
    return parsed, ok


def _parse_date(value: Any) -> float | None:
    """An ISO date or date-time as days since 1970-01-01 (the wall-clock time as written:
    a time-zone suffix is read and ignored); None when it is not one."""
    if not isinstance(value, str):
        return None
    match = _ISO_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:  # 2012-02-30, 25:00
        return None
    days = (moment - _EPOCH) / dt.timedelta(days=1)
    return days + float(f"0.{fraction}") / 86400 if fraction else days


def _dates_in_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value read as days since 1970-01-01, and where that worked."""
    cache: dict[Any, float | None] = {}
    parsed = np.full(len(values), np.nan)
    ok = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values.tolist()):
        if value not in cache:
            cache[value] = _parse_date(value)
        days = cache[value]
        if days is not None:
            parsed[i], ok[i] = days, True
    return parsed, ok


def date_days(values: np.ndarray) -> np.ndarray:
    """Dates as float64 days since 1970-01-01 (NaN where missing): ISO text
    (``"2012-01-31"``, ``"2012-01-31T08:30"``) or NumPy ``datetime64``. Raises a
    DataError naming the first value that is not a date.

    >>> date_days(np.array(["1970-01-02", "1970-01-01T12:00", None], dtype=object)).tolist()
    [1.0, 0.5, nan]
    """
    values = np.asarray(values)
    if values.dtype.kind in "iufb":
        raise DataError("dates must be ISO text (e.g. 2012-01-31) or datetime64, not numbers")
    days, bad_row = _days_and_first_bad_row(values)
    if bad_row is not None:
        raise DataError(f"row {bad_row + 1} holds {values[bad_row]!r}, which is not a date")
    return days


def _days_and_first_bad_row(values: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Days since 1970-01-01 (NaN missing), and the index of the first present value
    that is not a date (None when all are)."""
    if values.dtype.kind == "M":
        seconds = values.astype("datetime64[s]")
        days = seconds.astype(np.int64) / 86400.0
        days[np.isnat(seconds)] = np.nan
        return days, None
    days, ok = _dates_in_text(values)
    bad = ~ok & ~missing_mask(values)
    return days, int(np.flatnonzero(bad)[0]) if bad.any() else None


def _bad_value_error(name: str, row: int, value: Any) -> DataError:
    return DataError(
        f"column {name!r} holds numbers, but row {row} holds {value!r}, which is not a number; "
        "fix it or empty the cell (a missing value), or declare the column categorical "
        f"(categorical=[{name!r}])"
    )


def _bad_date_error(name: str, row: int, value: Any) -> DataError:
    return DataError(
        f"column {name!r} holds dates, but row {row} holds {value!r}, which is not an ISO "
        "date (like 2012-01-31 or 2012-01-31T08:30); fix it or empty the cell (a missing "
        f"value), or declare the column categorical (categorical=[{name!r}])"
    )


class _MixedColumn(Exception):
    """A text column of mostly numbers with a stray value (which the caller words)."""

    def __init__(self, row: int, value: Any):
        value = value.item() if isinstance(value, np.generic) else value
        super().__init__(row, value)
        self.row, self.value = row, value


def _target_error(name: str, mixed: _MixedColumn, hint: str = "") -> DataError:
    return DataError(
        f"target {name!r} holds numbers, but row {mixed.row} holds {mixed.value!r}, which is "
        "not a number; fix it or empty the cell (a row without a target is left out with "
        f"missing='drop'){hint}"
    )


def _kind_of(name: str, values: np.ndarray, dates: bool = True) -> str:
    """NUMERIC, CATEGORICAL or (``dates``) DATE, by the rule of the module docstring;
    raises _MixedColumn for mostly numbers with a stray text value, and a DataError for
    mostly dates with a stray value."""
    kind = values.dtype.kind
    if kind in "iuf":
        return NUMERIC
    if kind == "b":
        return CATEGORICAL
    if kind == "M" and dates:
        return DATE
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
        raise _MixedColumn(row + 1, values[row])
    if dates and any(_parse_date(v) is not None for v in values[~missing][:10].tolist()):
        _, ok = _dates_in_text(values)
        if ok.sum() == present:
            return DATE
        if ok.sum() > NUMERIC_MAJORITY * present:
            row = int(np.flatnonzero(~ok & ~missing)[0])
            raise _bad_date_error(name, row + 1, values[row])
    return CATEGORICAL


def _feature_kind(name: str, values: np.ndarray) -> str:
    try:
        return _kind_of(name, values)
    except _MixedColumn as mixed:
        raise _bad_value_error(name, mixed.row, mixed.value) from None


def column_kinds(
    table: Mapping[str, np.ndarray], categorical: Iterable[str] = ()
) -> dict[str, str]:
    """``"numeric"``, ``"categorical"`` or ``"date"`` for every column, by the rule in
    the module docstring; a mostly-numeric (or mostly-date) text column with a stray value
    raises a DataError naming its row and column.

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
        name: CATEGORICAL if name in forced else _feature_kind(name, np.asarray(values))
        for name, values in table.items()
    }


def _category_label(value: Any) -> str | None:
    """One spelling per category: ``1``, ``1.0`` and ``"1"`` are all ``"1"``."""
    if is_missing_value(value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def typed_column(name: str, values: np.ndarray, kind: str, trained: bool = False) -> np.ndarray:
    """A column converted for ``kind``: float64 (NaN missing) for numeric, an object
    array of ``str`` (None missing) for categorical, float64 days since 1970-01-01 (NaN
    missing) for a date.

    A numeric column given as text is parsed; a value that is not a number, an infinite
    one, or one whose square overflows (magnitude :data:`HUGE` or more) raises a
    DataError naming its row; so does a value that is not a date in a date column.
    ``trained``: the column's kind was fixed by a trained model (the error then says so,
    instead of suggesting to declare it categorical).
    """
    values = np.asarray(values)
    if kind == DATE:
        if values.dtype.kind in "iufb":
            raise DataError(
                f"column {name!r} should hold dates (as it did in training) but holds "
                "numbers; pass the dates as ISO text, like 2012-01-31"
            )
        days, bad_row = _days_and_first_bad_row(values)
        if bad_row is not None and trained:
            raise DataError(
                f"column {name!r} held dates in training, but row {bad_row + 1} holds "
                f"{values[bad_row]!r}, which is not an ISO date (like 2012-01-31 or "
                "2012-01-31T08:30); fix it or empty the cell (a missing value)"
            )
        if bad_row is not None:
            raise _bad_date_error(name, bad_row + 1, values[bad_row])
        return days
    if kind == CATEGORICAL:
        items = values.tolist()
        if set(map(type, items)) == {str}:  # labels already as text, the common case: fast
            return np.asarray(items, dtype=object)
        return np.asarray([_category_label(v) for v in items], dtype=object)
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
            if trained:
                raise DataError(
                    f"column {name!r} held numbers in training, but row {row + 1} holds "
                    f"{values[row]!r}, which is not a number; fix it or empty the cell (a "
                    "missing value)"
                )
            raise _bad_value_error(name, row + 1, values[row])
    infinite = np.isinf(numbers)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataError(
            f"column {name!r}, row {row + 1} is infinite ({numbers[row]}); replace it with a "
            "finite number or empty the cell (a missing value)"
        )
    with np.errstate(invalid="ignore"):
        huge = np.abs(numbers) >= HUGE
    if huge.any():
        row = int(np.flatnonzero(huge)[0])
        raise DataError(
            f"column {name!r}, row {row + 1} holds {numbers[row]:g}; values this large "
            "(magnitude 1e154 or more) overflow when squared: rescale the column (divide it "
            "by a power of ten, or take its logarithm)"
        )
    return numbers


def identifier_reason(values: np.ndarray) -> str | None:
    """Why a categorical column looks like an identifier (a name, an id, free text),
    or None: at least ``IDENTIFIER_SHARE`` of its (at least ``IDENTIFIER_ROWS``)
    non-missing rows hold a value that no other row holds. One-hot encoding such a
    column makes an input per row, which lets a model memorize rows and nothing more.

    >>> identifier_reason(np.array([f"car {i}" for i in range(40)], dtype=object))
    'a different value in 40 of 40 rows, like an identifier'
    >>> identifier_reason(np.array(["red", "blue"] * 20, dtype=object)) is None
    True
    """
    present = [v for v in np.asarray(values).tolist() if not is_missing_value(v)]
    if len(present) < IDENTIFIER_ROWS:
        return None
    _, counts = np.unique(np.asarray(present, dtype=str), return_counts=True)
    unique_rows = int((counts == 1).sum())
    if unique_rows < IDENTIFIER_SHARE * len(present):
        return None
    return f"a different value in {unique_rows} of {len(present)} rows, like an identifier"


# --------------------------------------------------------------------------- targets


def one_class_error(name: str, value: Any, rows: int) -> DataError:
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
            "target column"
        )
    try:
        kind = _kind_of(name, values, dates=False)
    except _MixedColumn as mixed:
        hint = "; or pass task='classification' to read every value as a class label"
        raise _target_error(name, mixed, hint) from None
    if kind == CATEGORICAL:
        labels = typed_column(name, values, CATEGORICAL)[~missing]
        distinct = sorted(set(labels.tolist()))
        if len(distinct) < 2:
            raise one_class_error(name, distinct[0], len(labels))
        if set(distinct) <= {"true", "false"} and values.dtype.kind in "bO":
            return "classification", "its values are true/false"
        return "classification", f"its values are text ({_list_classes(distinct)})"
    numbers = typed_column(name, values, NUMERIC)[~missing]
    distinct = np.unique(numbers)
    if len(distinct) < 2:
        raise one_class_error(name, _category_label(distinct[0]), len(numbers))
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


def target_values(
    name: str, values: np.ndarray, classification: bool, labels_from_text: bool = True
) -> np.ndarray:
    """The target as the estimator wants it: labels (``str`` or ``int64``) for
    classification, float64 for regression; missing entries come back as NaN / None
    and are found with :func:`missing_mask`.

    ``labels_from_text``: for classification, a column of numbers with stray text values
    (``1, 2, "x"``) is read as text labels (``"1", "2", "x"``): a classifier's labels
    are labels. False refuses it, naming the row (when the task was inferred, a stray
    word is more likely a typo).
    """
    values = np.asarray(values)
    missing = missing_mask(values)
    try:
        kind = _kind_of(name, values, dates=False)
    except _MixedColumn as mixed:
        if not (classification and labels_from_text):
            raise _target_error(name, mixed) from None
        kind = CATEGORICAL
    if not classification:
        if kind == CATEGORICAL:
            example = values[~missing][0]
            raise DataError(
                f"target {name!r} holds text (e.g. {example!r}) but regression needs numbers; "
                "use a classifier (model='logistic' or model='mlp') or fix the column"
            )
        return typed_column(name, values, NUMERIC)
    if kind == CATEGORICAL:
        return typed_column(name, values, CATEGORICAL)
    numbers = typed_column(name, values, NUMERIC)
    present = numbers[~missing]
    fractional = present[present != np.round(present)]
    if len(fractional):
        raise DataError(
            f"target {name!r} holds numbers with fractions (e.g. {fractional[0]:g}), which are "
            "not class labels; use regression (task='regression') or whole-number labels"
        )
    if missing.any():
        return np.asarray(
            [None if m else int(v) for v, m in zip(numbers, missing, strict=True)], dtype=object
        )
    return numbers.astype(np.int64)


def label_array(labels: np.ndarray) -> np.ndarray:
    """Present (non-missing) labels as a plain NumPy array: ``str`` or ``int64``."""
    values = labels.tolist()
    if values and all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    if values and all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return np.asarray(labels)


# --------------------------------------------------------------------------- whole tables


def typed_table(
    table: Mapping[str, np.ndarray], categorical: Iterable[str] = ()
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every column typed by its kind (:func:`column_kinds`, :func:`typed_column`), and
    the kinds; a column with no value at all is an error.

    >>> typed, kinds = typed_table({"a": np.array(["1", "2"], dtype=object)})
    >>> typed["a"].tolist(), kinds
    ([1.0, 2.0], {'a': 'numeric'})
    """
    kinds = column_kinds(table, categorical)
    typed = {name: typed_column(name, table[name], kind) for name, kind in kinds.items()}
    for name, values in typed.items():
        if missing_mask(values).all():
            raise DataError(
                f"column {name!r} is empty: all {len(values)} values are missing; remove it "
                f"from the data (ignore=[{name!r}])"
            )
    return typed, kinds


def complete_rows(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """True for rows with no missing value in any of ``columns``."""
    columns = list(columns.values())
    keep = np.ones(len(columns[0]), dtype=bool)
    for values in columns:
        keep &= ~missing_mask(values)
    return keep


def raise_if_missing(columns: Mapping[str, np.ndarray], fix: str) -> None:
    """A DataError listing the columns with missing values and their counts, ending in
    ``fix``; nothing when no value is missing."""
    counts = missing_counts(columns)
    if counts:
        listed = ", ".join(f"{name} ({count})" for name, count in counts.items())
        rows = int((~complete_rows(columns)).sum())
        raise DataError(f"{rows} row(s) have missing values, in column(s) {listed}; {fix}")


def fill_values(typed: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The mean of each numeric column and the most frequent value of each categorical
    one (what ``missing="mean"`` fills in)."""
    fills: dict[str, Any] = {}
    for name, values in typed.items():
        present = values[~missing_mask(values)]
        if values.dtype.kind == "f":
            fills[name] = float(present.mean())
        else:
            labels, counts = np.unique(present.astype(str), return_counts=True)
            fills[name] = str(labels[np.argmax(counts)])
    return fills


def column_summary(columns: Mapping[str, np.ndarray], kinds: Mapping[str, str]) -> list[dict]:
    """``[{"name", "type", "missing"}, ...]``: each column's kind and missing-value count
    (what a report's data section shows).

    >>> column_summary({"a": np.array([1.0, np.nan])}, {"a": NUMERIC})
    [{'name': 'a', 'type': 'numeric', 'missing': 1}]
    """
    return [
        {"name": name, "type": kinds[name], "missing": int(missing_mask(values).sum())}
        for name, values in columns.items()
    ]
