"""Feature statistics: a compact, bounded description of each column's distribution.

A model records these for its training rows (``TabularModel.feature_statistics_``, saved
in the model file) so that data seen later, at serving time, can be compared with what
it learned from (:mod:`thalweg.monitoring.skew`). Each column's profile is a small JSON
object whose size does not grow with the number of rows:

numeric
    ``count``, ``missing``, ``missing_rate``, ``mean``, ``std`` (population), ``min``,
    ``max``, ``zeros``; ``quantiles``: the 0, 1, ..., 100th percentiles (actual data
    values, NumPy's ``inverted_cdf``, so a two-valued column keeps its two values);
    (from a random sample of :data:`MAX_SORTED` rows of a longer column);
    ``histogram``: TensorFlow Data Validation's *standard histogram*, 10 equal-width
    buckets from min to max (one point bucket when min == max); ``psi``: the training
    deciles as bin edges and the training share of each bin.
categorical
    ``count``, ``missing``, ``missing_rate``, ``distinct``; ``counts``: rows per category,
    the :data:`MAX_CATEGORIES` most frequent; ``other``: rows of the rarer ones.

Missing values (NaN, None) are counted, never put in a histogram (TFDV treats an absent
value the same way). Floats are rounded to 11 significant digits to keep files small.

>>> import numpy as np
>>> profile = column_profile(np.array([1.0, 2.0, 2.0, np.nan]), "numeric")
>>> profile["count"], profile["missing_rate"], profile["mean"]
(4, 0.25, 1.6666666667)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from thalweg.schema import Integer, ListOf, MapOf, Number, Record, Tagged, Text

NUMERIC, CATEGORICAL = "numeric", "categorical"
HISTOGRAM_BUCKETS = 10  # TFDV's default num_histogram_buckets
QUANTILES = 101  # 0, 1, ..., 100th percentile
PSI_BINS = 10  # deciles
MAX_CATEGORIES = 1000
MAX_SORTED = 200_000  # quantiles of longer columns come from an evenly spaced sample


_FINITE = Number(finite=True)
_COUNT = Integer(minimum=0)
_BASE = {
    "kind": Text(),
    "count": _COUNT,
    "missing": _COUNT,
    "missing_rate": Number(finite=True, minimum=0),
}
_NUMERIC = {
    **_BASE,
    "histogram": Record(
        required={"edges": ListOf(_FINITE), "counts": ListOf(Number(finite=True, minimum=0))}
    ),
    "psi": Record(
        required={"edges": ListOf(_FINITE), "shares": ListOf(Number(finite=True, minimum=0))}
    ),
}
_NUMBERS_SEEN = {  # present when the column had at least one value
    "mean": _FINITE,
    "std": Number(finite=True, minimum=0),
    "min": _FINITE,
    "max": _FINITE,
    "zeros": _COUNT,
    "quantiles": ListOf(_FINITE, min_items=QUANTILES, max_items=QUANTILES),
}
_CATEGORICAL = {
    **_BASE,
    "distinct": _COUNT,
    "counts": MapOf(_COUNT, max_items=MAX_CATEGORIES),
    "other": _COUNT,
}


def _profile_schema(extra: dict | None = None) -> Tagged:
    return Tagged(
        "kind",
        {
            NUMERIC: Record(
                required=_NUMERIC, optional={**_NUMBERS_SEEN, **(extra or {})}, name="a profile"
            ),
            CATEGORICAL: Record(required=_CATEGORICAL, optional=extra or {}, name="a profile"),
        },
    )


#: What :func:`column_profile` writes (checked when a model file is read).
COLUMN_PROFILE = _profile_schema()
#: What :func:`prediction_profile` writes.
PREDICTION_PROFILE = _profile_schema({"source": Text(choices=("validation", "training"))})


def check_profile_shapes(profile: Mapping) -> str | None:
    """What is inconsistent in a profile that passed :data:`COLUMN_PROFILE` (its
    histogram's or bins' lengths), or None."""
    if profile["kind"] != NUMERIC:
        return None
    histogram, bins = profile["histogram"], profile["psi"]
    if len(histogram["edges"]) != (len(histogram["counts"]) + 1 if histogram["counts"] else 0):
        return "its histogram has edges and counts that do not match"
    if len(bins["shares"]) != (len(bins["edges"]) + 1 if bins["shares"] else 0):
        return "its bins have edges and shares that do not match"
    return None


def _round(value: float) -> float:
    """A float rounded to 11 significant digits (JSON stays short, errors stay tiny)."""
    return float(f"{float(value):.11g}")


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "O":
        return np.fromiter(
            (v is None or (isinstance(v, float) and v != v) for v in values.tolist()),
            dtype=bool,
            count=len(values),
        )
    return np.zeros(len(values), dtype=bool)


def _sample(values: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_SORTED` values drawn at random (a fixed seed, so a profile is
    reproducible): quantiles of a big column from a sample (off by about
    1 / sqrt(MAX_SORTED) in rank), every other statistic exact. Not evenly spaced
    rows: those see a single phase of a periodic column (every other row, say)."""
    if len(values) <= MAX_SORTED:
        return values
    return values[np.random.default_rng(0).integers(0, len(values), MAX_SORTED)]


def standard_histogram(values: np.ndarray) -> dict:
    """TFDV's standard histogram of present values: ``{"edges", "counts"}``, 10
    equal-width buckets between the finite min and max; a single point bucket ``[v, v]``
    when every finite value is ``v``; empty for none; plus ``"infinite"``, the count of
    -inf and +inf values, when there are any (TFDV's infinite buckets).

    >>> standard_histogram(np.array([0.0, 0.5, 10.0]))["counts"]
    [2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    >>> standard_histogram(np.array([1.0, np.inf]))
    {'edges': [1.0, 1.0], 'counts': [1.0], 'infinite': 1}
    """
    finite = np.isfinite(values)
    infinite = {"infinite": int(len(values) - finite.sum())} if not finite.all() else {}
    values = values[finite]
    if len(values) == 0:
        return {"edges": [], "counts": [], **infinite}
    low, high = float(values.min()), float(values.max())
    if low == high:
        return {"edges": [low, high], "counts": [float(len(values))], **infinite}
    counts, edges = np.histogram(values, bins=HISTOGRAM_BUCKETS, range=(low, high))
    return {"edges": [_round(e) for e in edges], "counts": [float(c) for c in counts], **infinite}


def decile_bins(values: np.ndarray) -> dict:
    """The population-stability bins of a numeric column: its deciles as inner edges
    (duplicates removed, so a column with few values gets fewer bins) and the share
    of values in each bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``."""
    if len(values) == 0:
        return {"edges": [], "shares": []}
    levels = np.arange(1, PSI_BINS) / PSI_BINS
    edges = np.unique(np.quantile(_sample(values), levels, method="inverted_cdf"))
    return {"edges": [float(e) for e in edges], "shares": bin_shares(values, edges).tolist()}


def bin_shares(values: np.ndarray, edges) -> np.ndarray:
    """Share of ``values`` in each bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def column_profile(values: np.ndarray, kind: str) -> dict:
    """The profile of one column (see the module docstring for the fields)."""
    values = np.asarray(values)
    missing = _missing(values)
    count = len(values)
    present = values[~missing]
    profile = {
        "kind": kind,
        "count": count,
        "missing": int(missing.sum()),
        "missing_rate": _round(missing.mean()) if count else 0.0,
    }
    if kind == NUMERIC:
        numbers = present.astype(np.float64)
        if len(numbers):
            percentiles = np.quantile(
                _sample(numbers), np.linspace(0, 1, QUANTILES), method="inverted_cdf"
            )
            profile.update(
                mean=_round(numbers.mean()),
                std=_round(numbers.std()),
                min=_round(numbers.min()),
                max=_round(numbers.max()),
                zeros=int((numbers == 0).sum()),
                quantiles=[float(q) for q in percentiles],
            )
        profile["histogram"] = standard_histogram(numbers)
        profile["psi"] = decile_bins(numbers)
        return profile
    labels, counts = np.unique(np.asarray([str(v) for v in present.tolist()]), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    profile["distinct"] = len(labels)
    profile["counts"] = {str(labels[i]): int(counts[i]) for i in order}
    profile["other"] = int(counts.sum() - counts[order].sum()) if len(counts) else 0
    return profile


def table_profile(columns: Mapping[str, np.ndarray], kinds: Mapping[str, str]) -> dict:
    """Profiles of every column: ``{name: column_profile(values, kinds[name])}``.

    >>> import numpy as np
    >>> table = {"x": np.array([1.0, 2.0]), "city": np.array(["a", "b"], dtype=object)}
    >>> sorted(table_profile(table, {"x": "numeric", "city": "categorical"})["city"]["counts"])
    ['a', 'b']
    """
    return {name: column_profile(columns[name], kinds[name]) for name in kinds}


def prediction_profile(predictions: np.ndarray, classifier: bool, source: str) -> dict:
    """The profile of a model's predictions (class labels or values), and which rows
    they were made on (``"validation"`` or ``"training"``)."""
    predictions = np.asarray(predictions)
    if classifier:
        profile = column_profile(predictions.astype(object), CATEGORICAL)
    else:
        profile = column_profile(predictions.astype(np.float64), NUMERIC)
    profile["source"] = source
    return profile
