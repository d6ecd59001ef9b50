"""Rule #37 directly: features served against the same rows' features recomputed offline.

A model server logs the features it computed for each request. Recompute the features
of the same raw rows the way training does, and compare: any difference is
training/serving skew in the feature code itself (the smile bot's device sent uncropped
photos where training cropped to the face: every row differs, a 100 % mismatch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def feature_mismatch(
    served: np.ndarray,
    recomputed: np.ndarray,
    names: Sequence[str],
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> dict:
    """How often, and by how much, served features differ from recomputed ones.

    Parameters
    ----------
    served, recomputed : arrays (n_rows, n_features)
        The same rows' features, as served and as recomputed offline; NaN equals NaN.
    names : the feature names, one per column.
    rtol, atol : a difference within ``atol + rtol * |recomputed|`` is no mismatch
        (float32 on one side, float64 on the other, must not count).

    Returns
    -------
    dict with ``rows``, ``rows_mismatched``, ``row_mismatch_rate`` and ``features``: per
    feature ``name``, ``mismatch_rate``, ``mean_abs_difference``, ``max_abs_difference``
    (over the mismatched rows; 0 when none), most mismatched first.

    >>> served = np.array([[1.0, 5.0], [2.0, 6.0]])
    >>> report = feature_mismatch(served, np.array([[1.0, 5.0], [2.0, 9.0]]), ["a", "b"])
    >>> report["row_mismatch_rate"], report["features"][0]["name"]
    (0.5, 'b')
    """
    served = np.asarray(served, dtype=np.float64)
    recomputed = np.asarray(recomputed, dtype=np.float64)
    if served.shape != recomputed.shape or served.ndim != 2:
        raise ValueError(
            f"served {served.shape} and recomputed {recomputed.shape} features must be two "
            "tables of the same shape (rows, features)"
        )
    if served.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for {served.shape[1]} features")
    both_nan = np.isnan(served) & np.isnan(recomputed)
    difference = np.abs(served - recomputed)
    close = both_nan | (difference <= atol + rtol * np.abs(recomputed))
    mismatched = ~close
    rows = served.shape[0]
    features = []
    for j, name in enumerate(names):
        bad = mismatched[:, j]
        gaps = np.where(np.isnan(difference[bad, j]), np.inf, difference[bad, j])
        features.append(
            {
                "name": str(name),
                "mismatch_rate": float(bad.mean()) if rows else 0.0,
                "mean_abs_difference": float(gaps.mean()) if bad.any() else 0.0,
                "max_abs_difference": float(gaps.max()) if bad.any() else 0.0,
            }
        )
    features.sort(key=lambda f: -f["mismatch_rate"])
    row_bad = mismatched.any(axis=1)
    return {
        "rows": rows,
        "rows_mismatched": int(row_bad.sum()),
        "row_mismatch_rate": float(row_bad.mean()) if rows else 0.0,
        "features": features,
    }
