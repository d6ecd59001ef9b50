"""Monitoring (layer 2): feature statistics, training/serving skew and feature mismatch.

* :mod:`~thalweg.monitoring.profile`: compact per-column statistics a model keeps of its
  training data (``TabularModel.feature_statistics_``);
* :mod:`~thalweg.monitoring.distances`: TFDV's L-infinity distance and Jensen–Shannon
  divergence, population stability index, Kolmogorov–Smirnov statistic;
* :mod:`~thalweg.monitoring.skew`: :func:`skew_report` (new data vs training, flags);
* :mod:`~thalweg.monitoring.mismatch`: :func:`feature_mismatch` (Rule #37: served vs
  recomputed features);
* :mod:`~thalweg.monitoring.images`: what an image model keeps instead of column
  profiles: brightness, contrast, sharpness and the subject's share of the frame, per
  image (:func:`image_statistics`), profiled as numeric columns (:func:`image_profile`)
  and compared the same way (:func:`image_skew_report`).

A profile says its column's ``kind`` (``numeric``, ``categorical``); profiling and
comparing branch on it.
"""

from thalweg.monitoring.distances import (
    align_histograms,
    jensen_shannon_divergence,
    ks_statistic,
    l_infinity_distance,
    population_stability_index,
)
from thalweg.monitoring.images import (
    IMAGE_STATISTICS,
    image_profile,
    image_skew_report,
    image_statistics,
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
    "IMAGE_STATISTICS",
    "FeatureSkew",
    "SkewReport",
    "SkewThresholds",
    "align_histograms",
    "column_profile",
    "compare_column",
    "feature_mismatch",
    "image_profile",
    "image_skew_report",
    "image_statistics",
    "jensen_shannon_divergence",
    "ks_statistic",
    "l_infinity_distance",
    "population_stability_index",
    "prediction_profile",
    "skew_report",
    "table_profile",
]
