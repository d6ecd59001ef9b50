"""Distances between two distributions, as the drift and skew tools define them.

* :func:`l_infinity_distance`: TensorFlow Data Validation's metric for categorical
  features: each side's value counts normalised to shares separately, then the largest
  absolute difference of any value's share (0: the same shares; 1: disjoint).
* :func:`jensen_shannon_divergence`: TFDV's metric for numeric features, on histograms.
  As TFDV does (``anomalies/metrics.cc``): point buckets (low == high) are set apart as
  point masses; the other buckets of both histograms are cut at the union of their
  boundaries, a bucket's count being spread uniformly over its width; the point masses
  are added back as extra buckets, and infinite values as one bucket per side that has
  any (never matched with the other side's); both are normalised to sum to 1; then
  ``JS(P, Q) = (KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2`` and base-2
  logarithms, capped at 1 (0: identical; 1: disjoint).
* :func:`population_stability_index`: ``PSI = sum_i (a_i - e_i) ln(a_i / e_i)`` over
  bins, shares floored at :data:`PSI_FLOOR` so an empty bin does not make it infinite.
* :func:`ks_statistic`: the Kolmogorov–Smirnov statistic ``sup_x |F(x) - G(x)|`` between
  a distribution known by its percentiles and a sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

PSI_FLOOR = 1e-4  # a bin's share below this counts as this much (usual practice)


def l_infinity_distance(counts_a: Mapping[str, float], counts_b: Mapping[str, float]) -> float:
    """Largest difference of a value's share between two sets of value counts.

    >>> l_infinity_distance({"a": 1, "b": 1}, {"a": 3, "b": 1})
    0.25
    """
    total_a, total_b = sum(counts_a.values()), sum(counts_b.values())
    if total_a <= 0 or total_b <= 0:
        raise ValueError("l_infinity_distance needs at least one value on each side")
    keys = set(counts_a) | set(counts_b)
    return max(abs(counts_a.get(k, 0) / total_a - counts_b.get(k, 0) / total_b) for k in keys)


def _split_points(histogram: Mapping) -> tuple[list[tuple[float, float, float]], dict]:
    """Buckets ``(low, high, count)`` of a histogram, and its point masses apart."""
    edges, counts = histogram["edges"], histogram["counts"]
    if len(counts) == 1 and edges[0] == edges[1]:
        return [], {float(edges[0]): float(counts[0])}
    buckets = [(float(edges[i]), float(edges[i + 1]), float(c)) for i, c in enumerate(counts)]
    return buckets, {}


def _infinite(histogram: Mapping) -> float:
    """Values at -inf or +inf, kept beside the buckets (TFDV's infinite buckets)."""
    return float(histogram.get("infinite", 0))


def _rebucket(buckets, boundaries: np.ndarray) -> np.ndarray:
    """Counts of ``buckets`` in the buckets between consecutive ``boundaries``, each old
    bucket's count spread uniformly over its width (the boundaries include every old
    bucket's edges, so a new bucket lies wholly inside an old one or outside all)."""
    counts = np.zeros(max(len(boundaries) - 1, 0))
    lows, highs = boundaries[:-1], boundaries[1:]
    for low, high, count in buckets:
        inside = (lows >= low) & (highs <= high)
        counts[inside] += count * (highs[inside] - lows[inside]) / (high - low)
    return counts


def align_histograms(first: Mapping, second: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Two histograms (``{"edges", "counts"}``) as counts over the same buckets, the way
    TFDV aligns them before a Jensen–Shannon divergence (see the module docstring).

    >>> a, b = align_histograms({"edges": [0, 2], "counts": [4]}, {"edges": [1, 3], "counts": [2]})
    >>> a.tolist(), b.tolist()
    ([2.0, 2.0, 0.0], [0.0, 1.0, 1.0])
    """
    buckets_1, points_1 = _split_points(first)
    buckets_2, points_2 = _split_points(second)
    edges = sorted({e for low, high, _ in (*buckets_1, *buckets_2) for e in (low, high)})
    boundaries = np.asarray(edges, dtype=np.float64)
    counts_1, counts_2 = _rebucket(buckets_1, boundaries), _rebucket(buckets_2, boundaries)
    points = sorted(set(points_1) | set(points_2))
    counts_1 = np.concatenate([counts_1, [points_1.get(p, 0.0) for p in points]])
    counts_2 = np.concatenate([counts_2, [points_2.get(p, 0.0) for p in points]])
    # Infinite values: one bucket per side that has any, never shared (as TFDV does).
    infinite_1, infinite_2 = _infinite(first), _infinite(second)
    if infinite_1:
        counts_1, counts_2 = np.append(counts_1, infinite_1), np.append(counts_2, 0.0)
    if infinite_2:
        counts_1, counts_2 = np.append(counts_1, 0.0), np.append(counts_2, infinite_2)
    return counts_1, counts_2


def _kl_base2(p: np.ndarray, q: np.ndarray) -> float:
    both = (p > 0) & (q > 0)
    return float(np.sum(p[both] * np.log2(p[both] / q[both])))


def jensen_shannon_divergence(first: Mapping, second: Mapping) -> float:
    """TFDV's approximate Jensen–Shannon divergence of two histograms, in [0, 1].

    >>> h = {"edges": [0.0, 1.0, 2.0], "counts": [5.0, 5.0]}
    >>> jensen_shannon_divergence(h, h)
    0.0
    >>> jensen_shannon_divergence(h, {"edges": [7.0, 7.0], "counts": [3.0]})
    1.0
    """
    p, q = align_histograms(first, second)
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("jensen_shannon_divergence needs at least one value on each side")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return min((_kl_base2(p, m) + _kl_base2(q, m)) / 2, 1.0)


def population_stability_index(expected: Sequence[float], actual: Sequence[float]) -> float:
    """PSI of ``actual`` bin shares against ``expected`` ones (the same bins).

    Rules of thumb: below 0.1 no shift, 0.1-0.25 moderate, above 0.25 a major shift.

    >>> round(population_stability_index([0.5, 0.5], [0.4, 0.6]), 4)
    0.0405
    """
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _sketch_cdf(percentiles: np.ndarray, x: np.ndarray, strict: bool) -> np.ndarray:
    """F(x) (or F(x-) when ``strict``) from the 0..100th percentiles: the share of
    percentile points at or below ``x``, exact to within 1 / (points - 1)."""
    side = "left" if strict else "right"
    below = np.searchsorted(percentiles, x, side=side)
    return np.clip((below - 1) / (len(percentiles) - 1), 0.0, 1.0) * (below > 0)


def ks_statistic(percentiles: Sequence[float], sample: np.ndarray) -> float:
    """``sup_x |F(x) - G(x)|``: F known by its percentiles (0th to 100th, actual
    values), G the empirical distribution of ``sample``. Exact to within one percentile
    step (0.01 with 101 points) of the two-sample statistic on the full data.

    >>> ks_statistic(np.linspace(0, 1, 101), np.array([2.0, 3.0]))
    1.0
    """
    percentiles = np.asarray(percentiles, dtype=np.float64)
    sample = np.sort(np.asarray(sample, dtype=np.float64))
    if len(sample) == 0 or len(percentiles) < 2:
        raise ValueError("ks_statistic needs a sample and at least two percentiles")
    points = np.union1d(percentiles, sample)
    gaps = []
    for strict in (False, True):
        side = "left" if strict else "right"
        sample_cdf = np.searchsorted(sample, points, side=side) / len(sample)
        gaps.append(np.abs(_sketch_cdf(percentiles, points, strict) - sample_cdf).max())
    return float(max(gaps))


def finite_or_none(value: float | None) -> float | None:
    """``value`` if it is a finite number, else None (JSON has no NaN)."""
    return value if value is not None and math.isfinite(value) else None
