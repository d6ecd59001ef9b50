"""Training/serving skew: new data against the distribution a model trained on.

Rule #37 of Google's *Rules of ML*: measure training/serving skew. For every feature,
:func:`compare_column` compares the training profile (:mod:`thalweg.monitoring.profile`,
saved in the model file) with the values seen since, and flags the feature when any
metric passes its threshold (:class:`SkewThresholds`, documented in ``docs/infra.md``):

==================  =====================================================  =========
metric              what it measures                                       flag when
==================  =====================================================  =========
``distance``        TFDV's drift/skew metric, as BigQuery ML exposes it:   > 0.3
                    Jensen–Shannon divergence (numeric), L-infinity
                    distance (categorical); per-feature thresholds
``psi``             population stability index over training deciles       > 0.25
                    (numeric) or categories plus "unseen" (categorical)
``ks``              Kolmogorov–Smirnov statistic (numeric)                 > 0.2
``mean_shift``      (new mean - training mean) / training std              |x| > 0.5
``std_shift``       (new std - training std) / training std                x <= -0.5
                                                                           or x >= 1
``missing_change``  new missing rate - training missing rate               |x| > 0.05
``unseen_share``    share of rows whose category training never saw        > 0.01
==================  =====================================================  =========

The model's predictions are compared the same way with the predictions it made on its
validation rows at training time (class shares, or a numeric distribution).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from thalweg.monitoring.distances import (
    jensen_shannon_divergence,
    ks_statistic,
    l_infinity_distance,
    population_stability_index,
)
from thalweg.monitoring.profile import (
    CATEGORICAL,
    NUMERIC,
    _missing,
    bin_shares,
    standard_histogram,
)

METRICS = ("distance", "psi", "ks", "mean_shift", "std_shift", "missing_change", "unseen_share")
# Below this many rows the sample is small enough for the metrics to move by chance.
FEW_ROWS = 100


@dataclass
class SkewThresholds:
    """When a metric flags a feature (see the module docstring's table).

    ``features`` overrides the TFDV distance threshold per feature, as TFDV's
    ``skew_comparator`` / BigQuery ML's per-feature thresholds do.
    """

    distance: float = 0.3
    features: dict[str, float] = field(default_factory=dict)
    psi: float = 0.25
    ks: float = 0.2
    mean_shift: float = 0.5
    # The std halved or doubled (a ratio of 2 either way): heavy-tailed features swing
    # by more than +/- 50 % between samples, so a symmetric 0.5 would flag them by chance.
    std_ratio: float = 2.0
    missing_change: float = 0.05
    unseen_share: float = 0.01

    def __post_init__(self):
        from thalweg.errors import OptionError

        named = {f"the {name} threshold": getattr(self, name) for name in _THRESHOLD_FIELDS}
        named.update({f"the threshold of {k!r}": v for k, v in self.features.items()})
        for what, value in named.items():  # NaN compares false: it would never flag
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise OptionError(f"{what} must be a number, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise OptionError(f"{what} must be a finite number of 0 or more, got {value}")

    def distance_for(self, name: str) -> float:
        """The TFDV distance threshold of feature ``name``."""
        return self.features.get(name, self.distance)


_THRESHOLD_FIELDS = ("distance", "psi", "ks", "mean_shift", "std_ratio", "missing_change")
_THRESHOLD_FIELDS += ("unseen_share",)


@dataclass
class FeatureSkew:
    """The comparison of one feature (or of the predictions) with training."""

    name: str
    kind: str
    rows: int
    metric: str  # "jensen_shannon" (numeric) or "l_infinity" (categorical)
    distance: float | None
    threshold: float
    psi: float | None = None
    ks: float | None = None
    mean_shift: float | None = None
    std_shift: float | None = None
    missing_rate: float | None = None
    missing_change: float | None = None
    unseen_share: float | None = None
    unseen: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    # What to draw: training vs new shares per bucket (bins or categories).
    buckets: list[str] = field(default_factory=list)
    training_shares: list[float] = field(default_factory=list)
    new_shares: list[float] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["flagged"] = self.flagged
        return data


@dataclass
class SkewReport:
    """Every feature's comparison, the predictions', and notes for the reader."""

    features: list[FeatureSkew]
    predictions: FeatureSkew | None
    rows: int
    thresholds: SkewThresholds
    notes: list[str] = field(default_factory=list)
    mismatch: dict | None = None  # Rule #37 feature mismatch, when computed
    unit: str = "rows"  # what a row is: "rows" of a table, or "images"

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged features (``"(predictions)"`` for the predictions)."""
        names = [f.name for f in self.features if f.flagged]
        if self.predictions is not None and self.predictions.flagged:
            names.append("(predictions)")
        if self.mismatch is not None and self.mismatch.get("rows_mismatched"):
            names.append("(feature mismatch)")
        return names

    def to_dict(self) -> dict:
        return {
            "rows": self.rows,
            "unit": self.unit,
            "flagged": self.flagged,
            "features": [f.to_dict() for f in self.features],
            "predictions": self.predictions.to_dict() if self.predictions else None,
            "mismatch": self.mismatch,
            "thresholds": asdict(self.thresholds),
            "notes": self.notes,
        }


def _rounded(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def compare_column(
    name: str, training: Mapping, values: np.ndarray, thresholds: SkewThresholds | None = None
) -> FeatureSkew:
    """Compare one column's new ``values`` with its training ``profile``.

    ``values``: float64 with NaN missing (numeric), or text with None missing
    (categorical), typed as the model types them.

    >>> import numpy as np
    >>> from thalweg.monitoring.profile import column_profile
    >>> training = column_profile(np.arange(1000.0), "numeric")
    >>> compare_column("x", training, np.arange(1000.0) * 3).flags
    ['distance', 'psi', 'ks', 'mean_shift', 'std_shift']
    """
    thresholds = thresholds or SkewThresholds()
    values = np.asarray(values)
    missing = _missing(values)
    present = values[~missing]
    kind = training["kind"]
    rows = len(values)
    missing_rate = float(missing.mean()) if rows else 0.0
    result = FeatureSkew(
        name=name,
        kind=kind,
        rows=rows,
        metric="jensen_shannon" if kind == NUMERIC else "l_infinity",
        distance=None,
        threshold=thresholds.distance_for(name),
        missing_rate=_rounded(missing_rate),
        missing_change=_rounded(missing_rate - training["missing_rate"]),
    )
    trained_on = training["count"] - training["missing"]
    if len(present) and trained_on:
        if kind == NUMERIC:
            _compare_numeric(result, training, present.astype(np.float64))
        else:
            _compare_categorical(result, training, present)
    limits = {
        "distance": result.threshold,
        "psi": thresholds.psi,
        "ks": thresholds.ks,
        "mean_shift": thresholds.mean_shift,
        "missing_change": thresholds.missing_change,
        "unseen_share": thresholds.unseen_share,
    }
    over = {
        metric: getattr(result, metric) is not None and abs(getattr(result, metric)) > limit
        for metric, limit in limits.items()
    }
    if result.std_shift is not None:
        ratio = 1.0 + result.std_shift  # new std / training std
        over["std_shift"] = ratio <= 1.0 / thresholds.std_ratio or ratio >= thresholds.std_ratio
    result.flags = [metric for metric in METRICS if over.get(metric)]
    return result


def _compare_numeric(result: FeatureSkew, training: Mapping, values: np.ndarray) -> None:
    result.distance = _rounded(
        jensen_shannon_divergence(training["histogram"], standard_histogram(values))
    )
    bins = training["psi"]
    shares = bin_shares(values, bins["edges"])
    result.psi = _rounded(population_stability_index(bins["shares"], shares))
    result.ks = _rounded(ks_statistic(training["quantiles"], values))
    finite = values[np.isfinite(values)]  # infinities weigh in the distance and PSI
    if training["std"] > 0 and len(finite):
        result.mean_shift = _rounded((finite.mean() - training["mean"]) / training["std"])
        result.std_shift = _rounded((finite.std() - training["std"]) / training["std"])
    edges = bins["edges"]
    result.buckets = (
        [f"≤ {edges[0]:.4g}"]
        + [f"{low:.4g} – {high:.4g}" for low, high in itertools.pairwise(edges)]
        + [f"> {edges[-1]:.4g}"]
        if edges
        else ["all"]
    )
    result.training_shares = [_rounded(s) for s in bins["shares"]]
    result.new_shares = [_rounded(s) for s in shares.tolist()]


def _compare_categorical(result: FeatureSkew, training: Mapping, values: np.ndarray) -> None:
    labels, counts = np.unique(np.asarray([str(v) for v in values.tolist()]), return_counts=True)
    new_counts = {str(label): int(count) for label, count in zip(labels, counts, strict=True)}
    trained = dict(training["counts"])
    result.distance = _rounded(l_infinity_distance(trained, new_counts))
    total_trained = sum(trained.values()) + training.get("other", 0)
    total_new = sum(new_counts.values())
    unseen = {k: v for k, v in new_counts.items() if k not in trained}
    # With a truncated training list (over MAX_CATEGORIES), "unseen" means "not among
    # the training's most frequent": rare categories count as unseen then.
    result.unseen_share = _rounded(sum(unseen.values()) / total_new)
    result.unseen = sorted(unseen, key=lambda k: -unseen[k])[:10]
    buckets = sorted(trained, key=lambda k: -trained[k])
    expected = [trained[k] / total_trained for k in buckets]
    actual = [new_counts.get(k, 0) / total_new for k in buckets]
    expected.append(training.get("other", 0) / total_trained)  # rarer + unseen categories
    actual.append(sum(unseen.values()) / total_new)
    result.psi = _rounded(population_stability_index(expected, actual))
    shown = buckets[:20]
    result.buckets = [*shown, "(other / unseen)"]
    result.training_shares = [_rounded(s) for s in [*expected[: len(shown)], expected[-1]]]
    result.new_shares = [_rounded(s) for s in [*actual[: len(shown)], actual[-1]]]


def skew_report(
    statistics: Mapping[str, Mapping],
    columns: Mapping[str, np.ndarray],
    *,
    predictions: np.ndarray | None = None,
    prediction_statistics: Mapping | None = None,
    thresholds: SkewThresholds | None = None,
    unit: str = "rows",
) -> SkewReport:
    """Compare every profiled column of ``columns`` with its training profile, and the
    ``predictions`` with the training-time ``prediction_statistics``.

    Parameters
    ----------
    statistics : dict of name -> profile
        The training profiles (``TabularModel.feature_statistics_``).
    columns : dict of name -> 1-D array
        The new data, typed as the model types it; a profiled column missing here raises
        ``KeyError`` (the caller checks columns first).
    predictions : 1-D array, optional
        The model's predictions on the new rows.
    prediction_statistics : dict, optional
        The profile of the predictions on the validation rows at training time.
    thresholds : SkewThresholds, optional
    unit : str
        What a row is, in notes and reports (``"images"`` for image statistics).
    """
    thresholds = thresholds or SkewThresholds()
    unknown = sorted(set(thresholds.features) - set(statistics))
    if unknown:
        raise KeyError(
            f"per-feature thresholds name {unknown}, which the model does not use; its "
            f"features are {', '.join(statistics)}"
        )
    features = [
        compare_column(name, profile, columns[name], thresholds)
        for name, profile in statistics.items()
    ]
    rows = len(next(iter(columns.values()))) if columns else 0
    notes = []
    compared = None
    if predictions is not None and prediction_statistics is not None and len(predictions):
        kind = prediction_statistics["kind"]
        typed = (
            np.asarray([str(p) for p in np.asarray(predictions).tolist()], dtype=object)
            if kind == CATEGORICAL
            else np.asarray(predictions, dtype=np.float64)
        )
        compared = compare_column("(predictions)", prediction_statistics, typed, thresholds)
        compared.missing_change = None  # a prediction is never missing
        compared.flags = [f for f in compared.flags if f != "missing_change"]
        source = prediction_statistics.get("source", "validation")
        notes.append(
            f"predictions are compared with the model's predictions on its {source} {unit}"
        )
    if rows < FEW_ROWS:
        notes.append(
            f"only {rows} {unit}: with fewer than {FEW_ROWS}, the metrics move by chance; "
            f"compare more {unit} before trusting a flag"
        )
    return SkewReport(features, compared, rows, thresholds, notes, unit=unit)
