"""Calendar features: what a model can learn from a date.

A date as one number (days since 1970) only lets a model draw a trend; one-hot encoded,
every day is its own category, seen once, and nothing carries over to a new day. What
repeats is the calendar: the season, the month, the day of the week. So each date
column becomes:

* ``year``: the year with its fraction (1 July 2012 is about 2012.5): the trend;
* ``month``, ``weekday`` (Monday first) and ``yearday`` (day of the year), each as a
  sine and a cosine of its angle around its cycle, so that December sits next to
  January and Sunday next to Monday;
* ``hour`` (time of day, sine and cosine) too when the training dates had times.

That is 7 inputs per date column (9 with times). Missing dates (NaN) give NaN inputs;
:class:`~thalweg.models.tabular.TabularModel` fills or refuses them first, by its
``missing`` policy.

>>> import numpy as np
>>> calendar = CalendarFeatures().fit(np.array([["2012-01-01"], ["2012-07-01"]], dtype=object))
>>> calendar.get_feature_names_out(["day"])[:3]
['day:year', 'day:month_sin', 'day:month_cos']
>>> features = calendar.transform(np.array([["2012-12-31"], ["2013-01-01"]], dtype=object))
>>> features.shape, bool(abs(features[0, 2] - features[1, 2]) < 0.2)  # Dec. beside Jan.
((2, 7), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from thalweg.data.columns import date_days
from thalweg.data.preprocessing import MAX_COLUMNS, PREPROCESSOR_SCHEMAS, _Transformer
from thalweg.errors import DataError
from thalweg.schema import Boolean, Integer, ListOf, Optional, Record, Text

__all__ = ["CalendarFeatures", "calendar_parts"]

CYCLES = ("month", "weekday", "yearday")
DAY_SECONDS = 86400.0


def calendar_parts(days: np.ndarray) -> dict[str, np.ndarray]:
    """The calendar of dates given as days since 1970-01-01 (float; the fraction is the
    time of day): ``year`` (with its fraction), and the position in each cycle as a
    fraction of a turn, from 0 to 1: ``month``, ``weekday`` (Monday = 0), ``yearday``,
    ``hour`` (time of day). NaN days give NaN everywhere.

    >>> parts = calendar_parts(np.array([0.0, 0.5]))  # 1970-01-01, a Thursday; then noon
    >>> parts["weekday"].tolist(), parts["hour"].tolist()
    ([0.42857142857142855, 0.42857142857142855], [0.0, 0.5])
    """
    days = np.asarray(days, dtype=np.float64)
    missing = np.isnan(days)
    whole = np.floor(np.where(missing, 0.0, days))
    dates = whole.astype(np.int64).astype("datetime64[D]")
    year_start = dates.astype("datetime64[Y]")
    year_length = (year_start + 1).astype("datetime64[D]") - year_start.astype("datetime64[D]")
    yearday = (dates - year_start.astype("datetime64[D]")).astype(np.float64)
    length = year_length.astype(np.float64)
    parts = {
        "year": year_start.astype(np.int64) + 1970 + (yearday + days - whole) / length,
        "month": (dates.astype("datetime64[M]").astype(np.int64) % 12) / 12.0,
        "weekday": ((whole + 3) % 7) / 7.0,  # 1970-01-01 was a Thursday (Monday = 0)
        "yearday": yearday / length,
        "hour": days - whole,
    }
    for values in parts.values():
        values[missing] = np.nan
    return parts


class CalendarFeatures(_Transformer):
    """Turn each date column into calendar inputs (see the module docstring).

    Input ``X`` (n_samples, n_dates): ISO dates or date-times as text, NumPy
    ``datetime64``, or days since 1970-01-01 as floats. Output (n_samples, 7 or 9 per
    column): ``year``, then sine and cosine of ``month``, ``weekday``, ``yearday`` and,
    for a column whose training dates had times of day, ``hour``.

    Attributes
    ----------
    with_time_ : list of bool
        Per column: whether its training dates had times (so ``hour`` is an input).
    n_features_in_ : int
    feature_names_in_ : list of str or None
    """

    _param_names = ()

    def fit(self, X: Any, y: Any = None) -> Self:
        """Learn which columns carry times of day."""
        days = self._days(X)
        self._remember_names(X, days.shape[1])
        self.with_time_ = [
            bool(np.any(np.nan_to_num(column - np.floor(column)) > 0)) for column in days.T
        ]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The calendar inputs, ``(n_samples, n_output_columns)`` float64."""
        self._check_fitted()
        days = self._days(X)
        self._check_n_features(days, X)
        blocks = []
        for j, with_time in enumerate(self.with_time_):
            parts = calendar_parts(days[:, j])
            block = [parts["year"]]
            for cycle in (*CYCLES, "hour") if with_time else CYCLES:
                angle = 2 * np.pi * parts[cycle]
                block += [np.sin(angle), np.cos(angle)]
            blocks.append(np.column_stack(block))
        return np.hstack(blocks)

    def get_feature_names_out(self, input_names: Sequence[str] | None = None) -> list[str]:
        """``<name>:year``, ``<name>:month_sin``, ``<name>:month_cos``, ... per column."""
        names = self._input_names(input_names)
        out = []
        for name, with_time in zip(names, self.with_time_, strict=True):
            out.append(f"{name}:year")
            for cycle in (*CYCLES, "hour") if with_time else CYCLES:
                out += [f"{name}:{cycle}_sin", f"{name}:{cycle}_cos"]
        return out

    @staticmethod
    def _days(X: Any) -> np.ndarray:
        array = np.asarray(X)
        if array.ndim == 1:
            raise DataError(
                "CalendarFeatures takes a 2-D array (n_samples, n_dates); reshape a single "
                "column with .reshape(-1, 1)"
            )
        if array.ndim != 2:
            raise DataError(f"CalendarFeatures takes a 2-D array; got shape {array.shape}")
        if array.dtype.kind in "fiu":
            return array.astype(np.float64)
        return np.column_stack([date_days(column) for column in array.T]).reshape(array.shape)

    def _state(self) -> dict[str, Any]:
        return super()._state() | {"with_time_": list(self.with_time_)}

    def _set_state(self, state: dict[str, Any]) -> None:
        super()._set_state(state)
        self.with_time_ = [bool(v) for v in state["with_time_"]]


# What to_config writes, checked when a model file is read (see thalweg.schema).
PREPROCESSOR_SCHEMAS["CalendarFeatures"] = Record(
    required={
        "class": Text(),
        "params": Record(),
        "state": Optional(
            Record(
                required={
                    "n_features_in_": Integer(minimum=1, maximum=MAX_COLUMNS),
                    "with_time_": ListOf(Boolean()),
                },
                optional={"feature_names_in_": Optional(ListOf(Text()))},
            )
        ),
    }
)
