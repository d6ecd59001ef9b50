"""Monitoring (layer 2): feature statistics, training/serving skew and feature mismatch.

* :mod:`~thalweg.monitoring.profile`: compact per-column statistics a model keeps of its
  training data (``TabularModel.feature_statistics_``);
* :mod:`~thalweg.monitoring.distances`: TFDV's L-infinity distance and Jensen–Shannon
  divergence, population stability index, Kolmogorov–Smirnov statistic;
* :mod:`~thalweg.monitoring.skew`: :func:`skew_report` (new data vs training, flags);
* :mod:`~thalweg.monitoring.mismatch`: :func:`feature_mismatch` (Rule #37: served vs
  recomputed features).

A profile says its column's ``kind`` (``numeric``, ``categorical``); profiling and
comparing branch on it. Image statistics (brightness, contrast, sharpness, the face
box's share of the frame) are the next kind, to add once thalweg trains on images
(see "Images" in ``docs/infra.md``).
"""

from thalweg.monitoring.distances import (
    align_histograms,
    jensen_shannon_divergence,
    ks_statistic,
    l_infinity_distance,
    population_stability_index,
)
from thalweg.monitoring.mismatch import feature_mismatch
from thalweg.monitoring.profile import column_profile, prediction_profile, table_profile
from thalweg.monitoring.skew import (
    FeatureSkew,
    SkewReport,
    SkewThresholds,
    compare_column,
    skew_report,
)

__all__ = [
    "FeatureSkew",
    "SkewReport",
    "SkewThresholds",
    "align_histograms",
    "column_profile",
    "compare_column",
    "feature_mismatch",
    "jensen_shannon_divergence",
    "ks_statistic",
    "l_infinity_distance",
    "population_stability_index",
    "prediction_profile",
    "skew_report",
    "table_profile",
]
