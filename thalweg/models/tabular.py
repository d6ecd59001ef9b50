"""Models for tables: an estimator plus the column handling that feeds it, saved together.

:class:`TabularModel` turns a table (a dict of named 1-D columns, or a pandas
DataFrame) into the numeric matrix its estimator learns from, and keeps every step of
that inside the fitted model, so what serves is exactly what trained:

* **numeric** columns go in as numbers; the estimator standardizes them itself (its
  ``standardize=True`` default, with the mean and scale saved in it), so nothing here
  scales them a second time. ``crosses=True`` adds squares and pairwise products of the
  numeric columns (:class:`~thalweg.data.FeatureCrosses`) before that.
* **categorical** columns are one-hot encoded (:class:`~thalweg.data.OneHotEncoder`).
  Categories seen in fewer than ``min_frequency`` training rows (5 by default) share the
  column's ``=__other__`` input (one row's category teaches nothing that carries to
  another row); so does a category not seen in training (``unknown="other"``, the
  default), unless ``unknown="error"``, which raises a DataError for it.
* **date** columns (ISO dates or date-times) become calendar inputs
  (:class:`~thalweg.data.calendar.CalendarFeatures`): the year, and the month, day of
  the week and day of the year as sines and cosines.
* **identifiers**: a categorical column with a different value in (nearly) every row (a
  name, an id) is left out, with a warning, unless listed in ``keep``: one-hot encoded,
  it would only let the model memorize rows. ``column_report_`` says what became of every
  column.
* **missing** values (NaN, None, empty cells) raise a DataError listing the columns and
  counts (``missing="error"``, the default), drop their rows while fitting
  (``"drop"``), or are filled (``"mean"``) with the training mean of a numeric column or
  the most frequent training value of a categorical one. A missing target always drops
  its row under ``"drop"`` and ``"mean"`` (a target cannot be filled in).

How a column is typed (numeric or categorical, and what a stray value means) is
:mod:`thalweg.data.columns`'s job.

**Without a target.** An unsupervised estimator (``KMeans``, ``Autoencoder``) learns
from the columns alone: ``fit(table)`` with no ``y``, and :meth:`TabularModel.
prediction_table` gives each row's ``cluster``, or its ``code_0 …`` and
``reconstruction_error``. ``scale=True`` standardizes the estimator's input (numeric and
one-hot columns alike) for estimators that measure distances and do not standardize
themselves, such as ``KMeans``: every column then counts alike whatever its unit.

>>> import numpy as np
>>> from thalweg.models import LogisticRegression
>>> colors = np.array(["red", "blue", "red", "blue"], dtype=object)
>>> table = {"size": np.array([1.0, 2.0, 3.0, 4.0]), "color": colors}
>>> model = TabularModel(LogisticRegression(), min_frequency=1).fit(table, np.array([0, 0, 1, 1]))
>>> model.feature_names_out_
['size', 'color=blue', 'color=red', 'color=__other__']
>>> model.predict({"size": np.array([4.0]), "color": np.array(["green"], dtype=object)}).tolist()
[1]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from thalweg.data import CalendarFeatures, FeatureCrosses, OneHotEncoder, Standardizer
from thalweg.data.columns import (
    CATEGORICAL,
    DATE,
    NUMERIC,
    as_table,
    complete_rows,
    fill_values,
    identifier_reason,
    label_array,
    missing_mask,
    one_class_error,
    raise_if_missing,
    target_values,
    typed_column,
    typed_table,
)
from thalweg.data.preprocessing import PREPROCESSOR_CONFIG
from thalweg.errors import DataError, FileFormatError, NotFittedError, OptionError
from thalweg.files import open_container
from thalweg.metrics import apply_threshold
from thalweg.metrics.summary import Evaluation, evaluate_predictions
from thalweg.models.base import ClassifierMixin
from thalweg.monitoring.profile import (
    COLUMN_PROFILE,
    PREDICTION_PROFILE,
    check_profile_shapes,
    prediction_profile,
    table_profile,
)
from thalweg.schema import Integer, ListOf, MapOf, Number, OneOf, Optional, Record, Text, check

__all__ = [
    "MIN_FREQUENCY",
    "MISSING_POLICIES",
    "UNKNOWN_POLICIES",
    "IdentifierWarning",
    "TabularModel",
]

MISSING_POLICIES = ("error", "drop", "mean")
UNKNOWN_POLICIES = ("other", "error")
MIN_FREQUENCY = 5  # categories seen in fewer training rows share the "other" input
# A numeric column with at most this many distinct whole values gets a hint that it could
# be declared categorical (it stays numeric: a count or a rating is a quantity).
FEW_VALUES = 10


class IdentifierWarning(UserWarning):
    """A column that looks like an identifier was left out of a table model."""


# What a table model does: learn a target (the first two) or learn from the columns alone.
TASKS = ("classification", "regression", "clustering", "embedding")

#: The ``tabular`` section of a model file (written by :meth:`TabularModel.to_config`).
TABULAR_CONFIG = Record(
    required={
        "target": Optional(Text()),
        "task": Text(choices=TASKS),
        "columns": ListOf(
            Record(required={"name": Text(), "kind": Text(choices=(NUMERIC, CATEGORICAL, DATE))}),
            min_items=1,
        ),
        "categorical": ListOf(Text()),
        "missing": Text(choices=MISSING_POLICIES),
        "unknown": Text(choices=UNKNOWN_POLICIES),
        "fill_values": MapOf(OneOf(Number(finite=True), Text())),
        "crosses": Optional(PREPROCESSOR_CONFIG),
        "encoder": Optional(PREPROCESSOR_CONFIG),
        "feature_names_out": ListOf(Text()),
    },
    optional={
        # scale=True: the standardization of the estimator's input; absent in older files
        "scaler": Optional(PREPROCESSOR_CONFIG),
        # rare categories, identifiers and dates (issue 16); absent in older files
        "min_frequency": OneOf(Integer(minimum=1), Number(finite=True, minimum=1e-300, below=1)),
        "keep": ListOf(Text()),
        "calendar": Optional(PREPROCESSOR_CONFIG),
        "left_out": ListOf(
            Record(required={"name": Text(), "reason": Text()}, name="a left-out column")
        ),
        "column_report": ListOf(
            Record(
                required={"name": Text(), "became": Text(), "inputs": Integer(minimum=0)},
                name="a column's report",
            )
        ),
        # training-time profiles (thalweg.monitoring); absent in older model files
        "statistics": Optional(
            Record(
                optional={
                    "features": Optional(MapOf(COLUMN_PROFILE)),
                    "predictions": Optional(PREDICTION_PROFILE),
                },
                name="training statistics",
            )
        ),
    },
    name="column handling",
)


class TabularModel:
    """An estimator wrapped with the column handling of a table (see the module docstring).

    Parameters
    ----------
    estimator : thalweg estimator
        ``LinearRegression``, ``LogisticRegression``, ``MLPClassifier``,
        ``MLPRegressor`` or any :class:`~thalweg.models.GradientEstimator` (cloned at
        ``fit``; the one given stays unfitted).
    categorical : sequence of str
        Columns to treat as categorical whatever they hold.
    missing : "error", "drop" or "mean"
    unknown : "other" or "error"
        What a category unseen in training becomes at predict time.
    crosses : bool
        Add squares and pairwise products of the numeric columns.
    min_frequency : int or float
        Categories seen in fewer training rows than this (an int), or in less than this
        share of them (a float below 1), share one ``=__other__`` input (scikit-learn's
        ``OneHotEncoder(min_frequency=...)``). 1 gives every category its own input.
    keep : sequence of str
        Columns to use even when they look like identifiers.
    scale : bool
        Standardize the estimator's input columns (``scaler_``), for estimators that do
        not standardize themselves (``KMeans``).

    Attributes
    ----------
    estimator_ : the fitted estimator (its input is :meth:`transform`'s output)
    columns_ : list of {"name", "kind"}
        The input columns the model uses, in order; ``kind`` is ``"numeric"``,
        ``"categorical"`` or ``"date"``.
    left_out_ : list of {"name", "reason"}
        Columns left out as identifiers.
    column_report_ : list of {"name", "became", "inputs"}
        What became of each column of the table (left-out ones included), in words, and
        how many of the estimator's inputs it makes.
    fill_values_ : dict
        Training means (numeric; dates: the mean date, in days since 1970) and most
        frequent values (categorical), ``"mean"`` only.
    encoder_ : OneHotEncoder or None
    calendar_ : CalendarFeatures or None
    crosses_ : FeatureCrosses or None
    scaler_ : Standardizer or None
        The standardization of the estimator's input, with ``scale=True``.
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
        min_frequency: int | float = MIN_FREQUENCY,
        keep: Sequence[str] = (),
        scale: bool = False,
    ):
        self.estimator = estimator
        self.categorical = categorical
        self.missing = missing
        self.unknown = unknown
        self.crosses = crosses
        self.min_frequency = min_frequency
        self.keep = keep
        self.scale = scale

    def get_params(self, deep: bool = True) -> dict:
        """The constructor arguments, as given."""
        return {
            "estimator": self.estimator,
            "categorical": self.categorical,
            "missing": self.missing,
            "unknown": self.unknown,
            "crosses": self.crosses,
            "min_frequency": self.min_frequency,
            "keep": self.keep,
            "scale": self.scale,
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
        return isinstance(self.estimator, ClassifierMixin)

    @property
    def is_supervised(self) -> bool:
        """Whether the wrapped estimator learns a target (a classifier or a regressor)."""
        return getattr(self.estimator, "_estimator_type", "") in ("classifier", "regressor")

    @property
    def task(self) -> str:
        """``"classification"``, ``"regression"``, ``"clustering"`` or ``"embedding"``."""
        kind = getattr(self.estimator, "_estimator_type", "")
        if self.is_supervised:
            return "classification" if self.is_classifier else "regression"
        return "clustering" if kind == "clusterer" else "embedding"

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of a fitted classifier."""
        return self.estimator_.classes_

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        sample_weight=None,
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
            The target values, or the name of the column of ``X`` that holds them; left
            out for an unsupervised estimator.
        sample_weight : array (n_rows,), optional
            How much each row counts (passed to the estimator's ``fit``).
        validation : (X_val, y_val), optional
            Held-out rows (same columns) whose loss is computed every epoch, for the
            training curves and ``early_stopping``.
        callbacks : sequence of thalweg.train.Callback
            Extra callbacks for the training loop (a ``Checkpoint``, say).
        resume : path, optional
            Continue from a checkpoint of this same fit.
        batches : callable, optional
            ``(X, y, batch_size) -> batch source`` replacing the shuffled mini-batches of
            the encoded rows (gradient descent only), e.g. class-balanced batches
            (:class:`thalweg.data.balancing.BalancedBatches`); passed to the estimator's
            ``fit`` (:meth:`thalweg.models.GradientEstimator.fit`).
        """
        self._check_options()
        if not self.is_supervised:
            return self._fit_without_target(X, y, sample_weight, validation, callbacks, resume)
        table, target, y = self._split_target(X, y)
        self._check_names(table)
        typed, kinds = typed_table(table, self.categorical)
        labels = target_values(target or "target", y, self.is_classifier)
        self.left_out_ = self._leave_out_identifiers(typed, kinds, ~missing_mask(labels))
        keep = ~missing_mask(labels)
        if self.missing == "error":
            raise_if_missing(
                {**typed, target or "target": labels},
                "fill them in, or choose missing='drop' or missing='mean'",
            )
        elif self.missing == "drop":
            keep &= complete_rows(typed)
        if not keep.any():
            raise DataError(
                "no rows are left after dropping those with missing values; fill them in, "
                "or use missing='mean'"
            )
        # What the model learned from, kept for skew checks at serving time.
        labelled = ~missing_mask(labels)
        statistics = table_profile(
            {k: v[labelled] for k, v in typed.items()}, _profiled_kinds(kinds)
        )
        typed = {name: values[keep] for name, values in typed.items()}
        labels = self._label_array(labels[keep])
        if self.is_classifier and len(np.unique(labels)) < 2:
            raise one_class_error(target or "target", labels[0].item(), len(labels))

        self.target_ = target
        self.n_dropped_ = int((~keep).sum())
        self.columns_ = [{"name": name, "kind": kind} for name, kind in kinds.items()]
        self.fill_values_ = fill_values(typed) if self.missing == "mean" else {}
        typed = self._fill(typed)
        self._learn_columns(typed, order=list(table))
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)[keep]
        if validation is not None:
            validation = self._validation_rows(*validation)
        features = self._estimator_input(typed)
        estimator = type(self.estimator)(**self.estimator.get_params())
        estimator.fit(
            features,
            labels,
            sample_weight=sample_weight,
            callbacks=callbacks,
            validation=validation,
            resume=resume,
            batches=batches,
        )
        self.estimator_ = estimator
        self.metadata_ = {}
        self.feature_statistics_ = statistics
        source, rows = ("validation", validation[0]) if validation else ("training", features)
        self.prediction_statistics_ = prediction_profile(
            self._estimator_call("predict", rows), self.is_classifier, source
        )
        return self

    def _learn_columns(self, typed: dict[str, np.ndarray], order: Sequence[str]) -> None:
        """Learn the crosses, the calendar, the one-hot encoding (rare categories
        grouped), (``scale``) the standardization, and the report of what became of each
        column (``order``: the table's columns)."""
        numeric, categorical = self._names(NUMERIC), self._names(CATEGORICAL)
        dates = self._names(DATE)
        self.crosses_ = (
            FeatureCrosses().fit(_stack(typed, numeric, np.float64))
            if self.crosses and numeric
            else None
        )
        self.calendar_ = CalendarFeatures().fit(_stack(typed, dates, np.float64)) if dates else None
        self.encoder_ = (
            OneHotEncoder(handle_unknown=self.unknown, min_frequency=self.min_frequency).fit(
                _stack(typed, categorical, object)
            )
            if categorical
            else None
        )
        self.feature_names_out_ = self._output_names()
        self.scaler_ = Standardizer().fit(self._matrix(typed)) if self.scale else None
        self.column_report_ = self._column_report(typed, order=order)

    def _fit_without_target(self, X, y, sample_weight, validation, callbacks, resume):
        """``fit`` for an estimator that learns from the columns alone."""
        if y is not None:
            raise DataError(
                f"{type(self.estimator).__name__} learns without a target, so fit takes no y; "
                "leave it out (and the target column out of the table, ignore=[...])"
            )
        table = as_table(X)
        self._check_names(table)
        typed, kinds = typed_table(table, self.categorical)
        keep = np.ones(len(next(iter(typed.values()))), dtype=bool)
        self.left_out_ = self._leave_out_identifiers(typed, kinds, keep)
        # What it learned from, for skew checks (dates as the days the model reads).
        statistics = table_profile(typed, _profiled_kinds(kinds))
        if self.missing == "error":
            raise_if_missing(typed, "fill them in, or choose missing='drop' or missing='mean'")
        elif self.missing == "drop":
            keep = complete_rows(typed)
        if not keep.any():
            raise DataError(
                "no rows are left after dropping those with missing values; fill them in, "
                "or use missing='mean'"
            )
        typed = {name: values[keep] for name, values in typed.items()}
        self.target_ = None
        self.n_dropped_ = int((~keep).sum())
        self.columns_ = [{"name": name, "kind": kind} for name, kind in kinds.items()]
        self.fill_values_ = fill_values(typed) if self.missing == "mean" else {}
        typed = self._fill(typed)
        self._learn_columns(typed, order=list(table))
        # KMeans takes none of the training loop's extras; pass only those given.
        extras = {
            "sample_weight": None
            if sample_weight is None
            else np.asarray(sample_weight, dtype=np.float64)[keep],
            "callbacks": callbacks or None,
            "validation": None if validation is None else (self.transform(validation), None),
            "resume": resume,
        }
        features = self._estimator_input(typed)
        estimator = type(self.estimator)(**self.estimator.get_params())
        estimator.fit(features, **{k: v for k, v in extras.items() if v is not None})
        self.estimator_ = estimator
        self.metadata_ = {}
        self.feature_statistics_ = statistics
        # Clusters are labels, profiled like a classifier's; an autoencoder predicts nothing.
        self.prediction_statistics_ = (
            prediction_profile(self._estimator_call("predict", features), True, "training")
            if self.task == "clustering"
            else None
        )
        return self

    def _estimator_input(self, typed: dict[str, np.ndarray]) -> np.ndarray:
        matrix = self._matrix(typed)
        return matrix if getattr(self, "scaler_", None) is None else self.scaler_.transform(matrix)

    @classmethod
    def from_fitted(cls, estimator, columns: Sequence[str], target: str | None = None):
        """A table model around an estimator already fitted on the numeric ``columns``
        (in that order): by :meth:`~thalweg.models.GradientEstimator.fit_stream` or
        ``thalweg.distributed.fit``, say. It predicts, scores, saves and loads like any
        other.

        >>> import numpy as np
        >>> from thalweg.models import LinearRegression
        >>> fitted = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
        >>> model = TabularModel.from_fitted(fitted, ["x"], target="y")
        >>> model.predict({"x": np.array([2.0])}).tolist()
        [5.0]
        """
        names = getattr(estimator, "feature_names_in_", None)
        if names is not None and [str(n) for n in names] != [str(c) for c in columns]:
            raise DataError(
                f"the estimator was fitted on columns {list(names)}, not {list(columns)}; "
                "give the columns in the order it was fitted on"
            )
        model = cls(type(estimator)(**estimator.get_params()))
        model.estimator_ = estimator
        model.target_ = target
        model.columns_ = [{"name": str(name), "kind": NUMERIC} for name in columns]
        model.fill_values_, model.crosses_, model.encoder_, model.scaler_ = {}, None, None, None
        model.calendar_, model.left_out_ = None, []
        model.feature_names_out_ = [str(name) for name in columns]
        model.column_report_ = model._column_report()
        model.n_dropped_ = 0
        model.metadata_ = {}
        model.feature_statistics_ = model.prediction_statistics_ = None  # not profiled
        return model

    def _check_options(self) -> None:
        if self.missing not in MISSING_POLICIES:
            raise DataError(f"missing must be one of {MISSING_POLICIES}; got {self.missing!r}")
        if self.unknown not in UNKNOWN_POLICIES:
            raise DataError(f"unknown must be one of {UNKNOWN_POLICIES}; got {self.unknown!r}")
        for name, example in (("categorical", "city"), ("keep", "name")):
            if isinstance(getattr(self, name), str):
                raise DataError(f"{name} is a list of column names, e.g. [{example!r}]")
        OneHotEncoder(min_frequency=self.min_frequency).rows_needed(1)  # refuses a bad value

    def _check_names(self, table: dict) -> None:
        unknown = [name for name in self.keep if name not in table]
        if unknown:
            raise DataError(
                f"keep={unknown!r} names column(s) not in the data; its columns are "
                f"{', '.join(table)}"
            )

    def _leave_out_identifiers(self, typed: dict, kinds: dict, labelled: np.ndarray) -> list:
        """Drop (from ``typed`` and ``kinds``) the categorical columns that look like
        identifiers, unless listed in ``keep``; say so in a warning each."""
        left_out = []
        for name, kind in list(kinds.items()):
            if kind != CATEGORICAL or name in self.keep:
                continue
            reason = identifier_reason(typed[name][labelled])
            if reason is None:
                continue
            left_out.append({"name": name, "reason": reason})
            del typed[name], kinds[name]
            warnings.warn(
                f"column {name!r} left out: {reason} (keep=[{name!r}] uses it)",
                IdentifierWarning,
                stacklevel=3,
            )
        if not kinds:
            names = [entry["name"] for entry in left_out]
            raise DataError(
                f"no feature columns are left: {', '.join(map(repr, names))} look(s) like "
                f"identifiers; keep={names!r} uses them"
            )
        return left_out

    def _split_target(self, X: Any, y: Any) -> tuple[dict, str | None, np.ndarray]:
        """``(feature columns, target name or None, target values)``."""
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
        rows = len(next(iter(table.values())))
        if len(y) != rows:
            raise DataError(f"the table has {rows} rows but y {len(y)}")
        return table, target, y

    def _label_array(self, labels: np.ndarray) -> np.ndarray:
        return label_array(labels) if self.is_classifier else labels.astype(np.float64)

    def _validation_rows(self, X_val: Any, y_val: Any) -> tuple[np.ndarray, np.ndarray]:
        rows, labels, _ = self.rows_with_targets(X_val, y_val)
        return self.transform(rows), labels

    # ------------------------------------------------------------------ columns
    def _names(self, kind: str) -> list[str]:
        return [c["name"] for c in self.columns_ if c["kind"] == kind]

    def _output_names(self) -> list[str]:
        numeric, categorical = self._names(NUMERIC), self._names(CATEGORICAL)
        names = list(numeric)
        if self.crosses_ is not None:
            names = self.crosses_.get_feature_names_out(numeric)
        if getattr(self, "calendar_", None) is not None:
            names += self.calendar_.get_feature_names_out(self._names(DATE))
        if self.encoder_ is not None:
            names += self.encoder_.get_feature_names_out(categorical)
        return names

    def _column_report(
        self, typed: dict[str, np.ndarray] | None = None, order: Sequence[str] = ()
    ) -> list[dict]:
        """``[{"name", "became", "inputs"}, ...]``: what became of each column, left-out
        ones included, in ``order`` (the table's; else inputs first) (``typed``: the
        training columns, for hints)."""
        report = {}
        categorical = self._names(CATEGORICAL)
        for column in self.columns_:
            name, kind = column["name"], column["kind"]
            if kind == NUMERIC:
                became, inputs = "number", 1
                if self.crosses_ is not None:
                    became += ", with its square and its products with the other numbers"
                few = _few_whole_values(typed[name]) if typed is not None else None
                if few is not None:
                    became += (
                        f" ({few} distinct values, read as a quantity; categorical=[{name!r}] "
                        "makes them categories)"
                    )
            elif kind == DATE:
                j = self._names(DATE).index(name)
                timed = self.calendar_.with_time_[j]
                inputs = 9 if timed else 7
                became = (
                    "calendar: year; month, day of week, day of year"
                    + (", time of day" if timed else "")
                    + " as sine and cosine"
                )
            else:
                j = categorical.index(name)
                became, inputs = self._one_hot_words(j)
            report[name] = {"name": name, "became": became, "inputs": inputs}
        for entry in getattr(self, "left_out_", []):
            name = entry["name"]
            report[name] = {
                "name": name,
                "became": f"left out: {entry['reason']} (keep=[{name!r}] uses it)",
                "inputs": 0,
            }
        ordered = [report[name] for name in order if name in report]
        return ordered + [entry for name, entry in report.items() if name not in order]

    def _one_hot_words(self, j: int) -> tuple[str, int]:
        encoder = self.encoder_
        categories = len(encoder.categories_[j])
        rare = len(getattr(encoder, "infrequent_categories_", [[]] * (j + 1))[j])
        words = f"one-hot: {categories} categor{'y' if categories == 1 else 'ies'}"
        if rare:
            least = encoder.min_frequency
            fewer = f"{least} rows" if isinstance(least, int) else f"{least:.0%} of the rows"
            unseen = " and unseen ones" if encoder.handle_unknown == "other" else ""
            words += f" + other ({rare} seen in fewer than {fewer} each{unseen})"
        elif encoder.handle_unknown == "other":
            words += " + other (unseen ones)"
        return words, categories + int(encoder.has_other(j))

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
        numeric, categorical = self._names(NUMERIC), self._names(CATEGORICAL)
        dates = self._names(DATE)
        if numeric:
            block = _stack(typed, numeric, np.float64)
            blocks.append(block if self.crosses_ is None else self.crosses_.transform(block))
        if dates:
            blocks.append(self.calendar_.transform(_stack(typed, dates, np.float64)))
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
            c["name"]: typed_column(
                c["name"], np.asarray(table[c["name"]]), c["kind"], trained=True
            )
            for c in self.columns_
        }

    def typed_columns(self, X: Any) -> dict[str, np.ndarray]:
        """The model's input columns of ``X``, typed as the model reads them: float64
        (NaN missing) for numeric columns, text labels (None missing) for categorical
        ones, float64 days since 1970-01-01 for dates. Raises DataError for a missing
        column, text in a numeric one or a value that is not a date in a date one."""
        return self._typed_input(X)

    def complete_rows(self, X: Any) -> np.ndarray:
        """True for rows with no missing value in the columns the model uses."""
        return complete_rows(self._typed_input(X))

    def predictable_rows(self, X: Any) -> np.ndarray:
        """True for the rows the model can predict: all of them, except those with a
        missing value when it was trained with ``missing="drop"``."""
        if self.missing == "drop":
            return self.complete_rows(X)
        return np.ones(len(next(iter(as_table(X).values()))), dtype=bool)

    def _target_values(self, y: Any) -> np.ndarray:
        """Labelled rows' targets, read as training read them: a model whose classes are
        text takes ``"1", "2", "x"`` as text labels; one whose classes are numbers refuses
        a stray word, naming its row (else every label would look unseen)."""
        fitted = getattr(self, "estimator_", None)  # while fitting: read as fit reads them
        text_classes = self.is_classifier and (
            fitted is None or np.asarray(fitted.classes_).dtype.kind in "OUS"
        )
        return target_values(
            self.target_ or "target", np.asarray(y), self.is_classifier, text_classes
        )

    def rows_with_targets(self, X: Any, y: Any = None) -> tuple[dict, np.ndarray, np.ndarray]:
        """The rows of a labelled table the model can be measured on.

        ``y`` is the targets (an array, or the name of a column of ``X``); by default the
        model's own target column. Returns ``(rows, labels, kept)``: the table restricted
        to the rows with a target (and, under ``missing="drop"``, every input filled in),
        their targets as the estimator takes them, and the mask of kept rows.
        """
        self._check_fitted("columns_")
        if not self.is_supervised:
            raise DataError(
                f"this model is a {self.task} model: it learned without a target, so there "
                "is nothing to measure it against; use predict for its output"
            )
        table = as_table(X)
        if y is None:
            y = self.target_
        if isinstance(y, str):
            if y not in table:
                raise DataError(
                    f"the data has no column {y!r}, the target the model predicts; its columns "
                    f"are: {', '.join(table)}"
                )
            y = table[y]
        labels = self._target_values(y)
        keep = ~missing_mask(labels)
        if self.missing == "drop":
            keep &= self.complete_rows(table)
        if not keep.any():
            raise DataError(
                "the data has no row with a target and all the model's columns filled in"
            )
        rows = {name: values[keep] for name, values in table.items()}
        return rows, self._label_array(labels[keep]), keep

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
            raise_if_missing(
                typed,
                f"the model was trained with missing={self.missing!r}, which cannot predict "
                "such rows: fill them in (or train with missing='mean')",
            )
        return typed, self._estimator_input(self._fill(typed))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels or values, one per row of ``X``."""
        return self._estimator_call("predict", self.transform(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_rows, n_classes)`` (classifiers only)."""
        if not self.is_classifier:
            raise DataError("predict_proba needs a classifier; this model is a regressor")
        return self._estimator_call("predict_proba", self.transform(X))

    def check_threshold(self, threshold: float | None) -> None:
        """Refuse a decision ``threshold`` that cannot apply: it needs a classifier with
        two classes (one probability to cut) and a number from 0 to 1. None (the most
        probable class wins) always applies."""
        if threshold is None:
            return
        if not (np.isfinite(threshold) and 0 <= threshold <= 1):
            raise OptionError(
                f"threshold={threshold!r} is not a probability; give a number from 0 to 1 "
                "(e.g. threshold=0.3)"
            )
        if not self.is_classifier:
            raise OptionError(
                f"threshold={threshold:g} applies to classifiers; this model does "
                f"{self.task}: leave it out"
            )
        classes = self.classes_.tolist()
        if len(classes) != 2:
            raise OptionError(
                f"threshold={threshold:g} applies to a model with two classes; this one has "
                f"{len(classes)} ({', '.join(map(repr, classes[:5]))}), where the most "
                "probable class wins: leave it out"
            )

    def _decide(self, features: np.ndarray, threshold: float | None):
        """``(labels, probabilities)`` of a classifier: ``classes_[1]`` where its
        probability reaches ``threshold``, else the estimator's own rule."""
        probabilities = self._estimator_call("predict_proba", features)
        if threshold is None:
            return self._estimator_call("predict", features), probabilities
        return apply_threshold(probabilities[:, 1], threshold, classes=self.classes_), probabilities

    def prediction_table(self, X: Any, threshold: float | None = None) -> dict[str, np.ndarray]:
        """Predictions as columns, one row per row of ``X``: ``prediction`` and, for a
        classifier, ``probability_<label>`` for each class; for a clustering, the
        ``cluster`` of each row; for an autoencoder, its code (``code_0``, ``code_1``,
        …) and ``reconstruction_error``. Rows the model cannot predict
        (:meth:`predictable_rows`) are left empty (None or NaN). A two-class model
        predicts ``classes_[1]`` where its probability is at least ``threshold``, when
        one is given (see :meth:`check_threshold`)."""
        self.check_threshold(threshold)
        keep = self.predictable_rows(X)
        table = as_table(X)
        rows = table if keep.all() else {name: values[keep] for name, values in table.items()}
        features = self.transform(rows)
        n = len(keep)
        if not self.is_supervised:
            return self._unsupervised_columns(features, keep)
        if self.is_classifier:
            predicted, probabilities = self._decide(features, threshold)
        else:
            predicted = self._estimator_call("predict", features)
        column = np.full(n, None, dtype=object) if self.is_classifier else np.full(n, np.nan)
        column[keep] = predicted.tolist() if self.is_classifier else predicted
        columns = {"prediction": column}
        if self.is_classifier:
            for index, label in enumerate(self.classes_.tolist()):
                values = np.full(n, np.nan)
                values[keep] = probabilities[:, index]
                columns[f"probability_{label}"] = values
        return columns

    def _unsupervised_columns(self, features: np.ndarray, keep: np.ndarray) -> dict:
        n = len(keep)
        if self.task == "clustering":
            column = np.full(n, None, dtype=object)
            column[keep] = self._estimator_call("predict", features).tolist()
            return {"cluster": column}
        codes = self._estimator_call("transform", features)
        columns = {}
        for j in range(codes.shape[1]):
            columns[f"code_{j}"] = np.full(n, np.nan)
            columns[f"code_{j}"][keep] = codes[:, j]
        if hasattr(self.estimator_, "reconstruction_error"):
            columns["reconstruction_error"] = np.full(n, np.nan)
            errors = self._estimator_call("reconstruction_error", features)
            columns["reconstruction_error"][keep] = errors
        return columns

    def score(self, X: Any, y: Any = None) -> float:
        """Accuracy (classifiers) or R² (regressors) on a table and its targets; an
        unsupervised estimator's own score (minus the inertia, minus the reconstruction
        error) on a table alone."""
        if not self.is_supervised:
            return self._estimator_call("score", self.transform(X))
        if isinstance(y, str):
            y = as_table(X)[y]
        labels = self._target_values(y)
        return self._estimator_call("score", self.transform(X), self._label_array(labels))

    def evaluate(self, X: Any, y: Any, threshold: float | None = None) -> Evaluation:
        """Metrics on labelled rows (see :func:`thalweg.metrics.summary.evaluate_predictions`):
        accuracy, the majority-class baseline, precision, recall, F1, ROC AUC and log loss
        for a classifier; MSE, RMSE, MAE and R² for a regressor; with the predictions they
        came from. A two-class model decides at ``threshold`` when one is given."""
        self.check_threshold(threshold)
        features = self.transform(X)
        labels = np.asarray(y)
        if self.is_classifier:
            predicted, probabilities = self._decide(features, threshold)
            return evaluate_predictions(
                labels, predicted, probabilities, self.classes_, threshold=threshold
            )
        return evaluate_predictions(labels, self._estimator_call("predict", features))

    def _estimator_call(self, method: str, features: np.ndarray, *args):
        """``estimator_.<method>(features, ...)``. The matrix has no column names, but its
        columns are ``feature_names_out_`` by construction: an estimator fitted on named
        columns elsewhere (``from_fitted``) need not warn that the names are missing."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return getattr(self.estimator_, method)(features, *args)

    def _check_fitted(self, attribute: str = "estimator_") -> None:
        if not hasattr(self, attribute):
            raise NotFittedError("this TabularModel is not fitted yet; call fit(table, y) first")

    # ------------------------------------------------------------------ files
    def to_config(self) -> dict:
        """The column handling as JSON-able data (the ``tabular`` entry of the model file)."""
        self._check_fitted()
        calendar = getattr(self, "calendar_", None)
        return {
            "target": self.target_,
            "task": self.task,
            "columns": self.columns_,
            "categorical": list(self.categorical),
            "missing": self.missing,
            "unknown": self.unknown,
            "min_frequency": self.min_frequency,
            "keep": list(self.keep),
            "fill_values": {k: _json_value(v) for k, v in self.fill_values_.items()},
            "crosses": self.crosses_.to_config() if self.crosses_ is not None else None,
            "encoder": self.encoder_.to_config() if self.encoder_ is not None else None,
            "calendar": calendar.to_config() if calendar is not None else None,
            "left_out": list(getattr(self, "left_out_", [])),
            "column_report": getattr(self, "column_report_", None) or self._column_report(),
            "scaler": self.scaler_.to_config() if getattr(self, "scaler_", None) else None,
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
        """Read a model written by :meth:`save`; nothing in the file is executed.

        The whole header is checked first (:data:`TABULAR_CONFIG` and the estimator's
        schema in :mod:`thalweg.models.persistence`), then the column handling against
        the estimator it feeds; a damaged file raises a one-line FileFormatError.
        """
        from thalweg.data import preprocessor_from_config
        from thalweg.models import ESTIMATORS, legacy
        from thalweg.models.persistence import build_estimator, model_header
        from thalweg.models.table_clustering import RUN_RECORDS

        with open_container(path) as container:
            meta = container.metadata
            if meta.get("kind") != "estimator" or "tabular" not in meta:
                kind = meta.get("kind")
                what = "a model without column information" if kind == "estimator" else repr(kind)
                raise FileFormatError(
                    f"{path} is a thalweg file but holds {what}, not a model trained on a "
                    "table; pass a model file written by `thalweg train`"
                )
            sections = {"tabular": TABULAR_CONFIG, **RUN_RECORDS}
            check(meta, model_header(ESTIMATORS, sections), str(path))
            config = meta["tabular"]
            source = f"{path} is damaged"
            _check_tabular_config(config, source)
            estimator = build_estimator(
                container,
                meta,
                ESTIMATORS,
                {"Scaling": legacy.LegacyScaling},
                upgrade=legacy.upgrade,
            )
        model = cls(
            type(estimator)(**estimator.get_params()),
            categorical=config["categorical"],
            missing=config["missing"],
            unknown=config["unknown"],
            crosses=config["crosses"] is not None,
            # Files from before rare categories were grouped kept every category.
            min_frequency=config.get("min_frequency", 1),
            keep=config.get("keep", []),
            scale=config.get("scaler") is not None,
        )
        if model.task != config["task"]:
            raise FileFormatError(
                f"{source}: its column handling is for {config['task']}, but its model "
                f"({type(estimator).__name__}) does {model.task}"
            )
        model.estimator_ = estimator
        model.target_ = config["target"]
        model.columns_ = [dict(c) for c in config["columns"]]
        model.fill_values_ = dict(config["fill_values"])
        model.crosses_ = (
            preprocessor_from_config(config["crosses"], str(path)) if config["crosses"] else None
        )
        model.encoder_ = (
            preprocessor_from_config(config["encoder"], str(path)) if config["encoder"] else None
        )
        calendar = config.get("calendar")  # absent in files from before dates were read
        model.calendar_ = preprocessor_from_config(calendar, str(path)) if calendar else None
        model.left_out_ = [dict(entry) for entry in config.get("left_out", [])]
        model.feature_names_out_ = list(config["feature_names_out"])
        model.n_dropped_ = 0
        if model._output_names() != model.feature_names_out_:
            raise FileFormatError(f"{source}: its feature names do not match its columns")
        if len(model.feature_names_out_) != estimator.n_features_in_:
            raise FileFormatError(
                f"{source}: its columns make {len(model.feature_names_out_)} features, but its "
                f"model takes {estimator.n_features_in_}"
            )
        scaler = config.get("scaler")  # absent in files from before scale=
        model.scaler_ = preprocessor_from_config(scaler, str(path)) if scaler else None
        statistics = config.get("statistics") or {}  # absent in older model files
        model.feature_statistics_ = statistics.get("features")
        model.prediction_statistics_ = statistics.get("predictions")
        report = config.get("column_report")
        model.column_report_ = model._column_report()
        if report:  # kept as written (it has the training data's hints), if it is right
            inputs = {entry["name"]: entry["inputs"] for entry in model.column_report_}
            named = {entry["name"] for entry in report}
            if (
                len(report) != len(inputs)
                or named != set(inputs)
                or any(inputs[entry["name"]] != entry["inputs"] for entry in report)
            ):
                raise FileFormatError(
                    f"{source}: its report of columns does not match its columns and inputs"
                )
            model.column_report_ = [dict(entry) for entry in report]
        skip = {"format", "format_version", "kind", "class", "params", "state", "tabular"}
        model.metadata_ = {k: v for k, v in meta.items() if k not in skip}
        return model


def _profiled_kinds(kinds: dict[str, str]) -> dict[str, str]:
    """Column kinds for :func:`table_profile`: dates are profiled as the numbers the model
    reads (days since 1970)."""
    return {name: NUMERIC if kind == DATE else kind for name, kind in kinds.items()}


def _few_whole_values(values: np.ndarray) -> int | None:
    """The number of distinct values of a numeric column when they are few whole
    numbers (3 to ``FEW_VALUES``: a code, a count, a rating), else None."""
    present = values[~np.isnan(values)]
    distinct = np.unique(present)
    if 3 <= len(distinct) <= FEW_VALUES and np.all(distinct == np.round(distinct)):
        return len(distinct)
    return None


def _check_tabular_config(config: dict, source: str) -> None:
    """The column handling is consistent: unique columns, a fill value of the right kind
    for known columns only, an encoder exactly for the categorical columns, feature
    crosses for the numeric ones, a scaler for every feature, and no target for a model
    that learned without one."""
    names = [c["name"] for c in config["columns"]]
    if len(set(names)) != len(names):
        raise FileFormatError(f"{source}: a column is listed twice")
    if config["task"] in ("clustering", "embedding") and config["target"] is not None:
        raise FileFormatError(f"{source}: a {config['task']} model has no target")
    kinds = {c["name"]: c["kind"] for c in config["columns"]}
    for name, value in config["fill_values"].items():
        if name not in kinds:
            raise FileFormatError(f"{source}: a fill value is given for unknown column {name!r}")
        if (kinds[name] != CATEGORICAL) == isinstance(value, str):  # dates: a number of days
            raise FileFormatError(f"{source}: the fill value of column {name!r} has the wrong type")
    statistics = config.get("statistics") or {}
    features = statistics.get("features") or {}
    profiled = _profiled_kinds(kinds)
    for name, profile in features.items():
        if profiled.get(name) != profile["kind"]:
            raise FileFormatError(
                f"{source}: its statistics describe a {profile['kind']} column {name!r}, "
                "which is not one of its columns of that kind"
            )
    profiles = [
        *features.values(),
        *([statistics["predictions"]] if statistics.get("predictions") else []),
    ]
    for profile in profiles:
        problem = check_profile_shapes(profile)
        if problem:
            raise FileFormatError(f"{source}: a column profile is inconsistent: {problem}")
    counts = {
        "encoder": (sum(k == CATEGORICAL for k in kinds.values()), ("OneHotEncoder",)),
        # the numeric columns' features: crosses, or the Playground's features of two
        "crosses": (
            sum(k == NUMERIC for k in kinds.values()),
            ("FeatureCrosses", "PlaygroundFeatures"),
        ),
        "calendar": (sum(k == DATE for k in kinds.values()), ("CalendarFeatures",)),
    }
    for key, (count, classes) in counts.items():
        part = config.get(key)  # "calendar" is absent in older files
        if part is None:
            if key in ("encoder", "calendar") and count:
                what = "categorical" if key == "encoder" else "date"
                raise FileFormatError(f"{source}: it has {what} columns but no {key}")
            continue
        state = part["state"]
        if part["class"] not in classes or state is None or state["n_features_in_"] != count:
            raise FileFormatError(
                f"{source}: its {key} should be a fitted {' or '.join(classes)} of {count} "
                "column(s)"
            )
    encoder = config.get("encoder")
    if (
        encoder is not None
        and "min_frequency" in config
        and encoder["params"].get("min_frequency") != config["min_frequency"]
    ):
        raise FileFormatError(
            f"{source}: its encoder groups categories by another min_frequency than the model's"
        )
    left_out = [entry["name"] for entry in config.get("left_out", [])]
    if len(set(left_out)) != len(left_out) or set(left_out) & set(names):
        raise FileFormatError(
            f"{source}: a column left out is listed twice, or is also one of its inputs"
        )
    scaler = config.get("scaler")
    features = len(config["feature_names_out"])
    if scaler is not None and (
        scaler["class"] != "Standardizer"
        or scaler["state"] is None
        or scaler["state"]["n_features_in_"] != features
    ):
        raise FileFormatError(
            f"{source}: its scaler should be a fitted Standardizer of {features} feature(s)"
        )


def _stack(typed: dict[str, np.ndarray], names: list[str], dtype) -> np.ndarray:
    return np.column_stack([typed[name] for name in names]).astype(dtype)


def _json_value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
