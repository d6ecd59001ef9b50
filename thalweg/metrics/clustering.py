"""Clustering metrics: how well a partition matches labels, or fits its own data.

* :func:`adjusted_rand_score` compares two labellings of the same rows (the clusters
  found, and known classes): 1 when they are the same partition (whatever the label
  names), about 0 for a random one. scikit-learn's ``adjusted_rand_score``.
* :func:`silhouette_samples` / :func:`silhouette_score` need no known classes: for each
  row, how much closer it is to its own cluster than to the nearest other one, from
  −1 (wrong cluster) to 1 (tight, well separated). scikit-learn's functions of the
  same names (Euclidean distance).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from thalweg.errors import DataError

# Bytes of one block of pairwise distances (rows × n) computed at a time.
DISTANCE_BLOCK_BYTES = 1 << 26


def _codes(labels: ArrayLike, name: str, metric: str) -> tuple[np.ndarray, int]:
    """Labels of any type -> codes ``0..m-1`` and ``m``."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise DataError(f"{metric}: {name} must be 1-D (n_samples,), got shape {array.shape}")
    values, codes = np.unique(array, return_inverse=True)
    return codes.reshape(-1), len(values)


def _pairs(counts: np.ndarray) -> float:
    """Σ C(count, 2): the number of pairs inside each group, summed."""
    counts = counts.astype(np.float64)
    return float((counts * (counts - 1)).sum() / 2)


def adjusted_rand_score(labels_true: ArrayLike, labels_pred: ArrayLike) -> float:
    """Rand index adjusted for chance (Hubert & Arabie 1985), between two labellings.

    Counts the pairs of rows that both labellings put together (or both keep apart),
    and rescales so that the expected value for random labellings is 0 and identical
    partitions give 1::

        ARI = (Σ_ij C(n_ij, 2) − E) / (½(Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E),
        E = Σ_i C(a_i, 2) · Σ_j C(b_j, 2) / C(n, 2)

    with ``n_ij`` the contingency table and ``a``, ``b`` its row and column sums.

    >>> adjusted_rand_score([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(adjusted_rand_score([0, 0, 1, 1], [0, 1, 0, 1]), 2)
    -0.5
    """
    true, n_true = _codes(labels_true, "labels_true", "adjusted_rand_score")
    pred, n_pred = _codes(labels_pred, "labels_pred", "adjusted_rand_score")
    if len(true) != len(pred):
        raise DataError(
            f"adjusted_rand_score: labels_true has {len(true)} rows but labels_pred "
            f"{len(pred)}; they must label the same rows"
        )
    n = len(true)
    # One cluster each, or every row its own cluster in both: the same partition.
    if (n_true == n_pred and n_true in (1, n)) or n == 0:
        return 1.0
    table = np.bincount(true * n_pred + pred, minlength=n_true * n_pred)
    together = _pairs(table)
    rows, columns = _pairs(np.bincount(true)), _pairs(np.bincount(pred))
    expected = rows * columns / (n * (n - 1) / 2)
    maximum = (rows + columns) / 2
    if maximum == expected:
        return 1.0
    return float((together - expected) / (maximum - expected))


def silhouette_samples(X: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """The silhouette of every row: ``(b − a) / max(a, b)``, shape ``(n_samples,)``.

    ``a``: the row's mean distance to the other rows of its cluster; ``b``: its mean
    distance to the rows of the nearest other cluster. A row alone in its cluster
    scores 0. Needs 2 ≤ clusters ≤ n_samples − 1. Costs ``n²`` distances, computed in
    blocks (``DISTANCE_BLOCK_BYTES``); use :func:`silhouette_score`'s ``sample_size``
    on big data.

    >>> X = [[0.0], [1.0], [10.0], [11.0]]
    >>> silhouette_samples(X, [0, 0, 1, 1]).round(3).tolist()
    [0.905, 0.895, 0.895, 0.905]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise DataError(f"silhouette: X must be 2-D (n_samples, n_features), got {X.shape}")
    codes, k = _codes(labels, "labels", "silhouette")
    n = len(X)
    if len(codes) != n:
        raise DataError(f"silhouette: X has {n} rows but labels {len(codes)}")
    if not 2 <= k <= n - 1:
        raise DataError(
            f"silhouette: the number of clusters is {k}; it is defined for 2 to "
            f"n_samples - 1 = {n - 1} clusters"
        )
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    members = np.zeros((n, k))
    members[np.arange(n), codes] = 1.0
    norms = np.einsum("ij,ij->i", X, X)
    out = np.empty(n)
    rows = max(1, DISTANCE_BLOCK_BYTES // (8 * n))
    for start in range(0, n, rows):
        block = X[start : start + rows]
        distances = norms[start : start + rows, None] - 2.0 * (block @ X.T) + norms
        np.maximum(distances, 0, out=distances)
        np.sqrt(distances, out=distances)
        totals = distances @ members  # (rows, k): summed distance to each cluster
        own = codes[start : start + rows]
        index = np.arange(len(block))
        # The row itself is in its own cluster at distance ~0: leave it out of the mean.
        own_size = sizes[own] - 1
        a = totals[index, own] / np.maximum(own_size, 1)
        means = totals / sizes
        means[index, own] = np.inf
        b = means.min(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            score = (b - a) / np.maximum(a, b)
        out[start : start + rows] = np.where(own_size > 0, np.nan_to_num(score), 0.0)
    return out


def silhouette_score(
    X: ArrayLike, labels: ArrayLike, *, sample_size: int | None = None, random_state=None
) -> float:
    """Mean silhouette over the rows (or over ``sample_size`` rows drawn without
    replacement, for big data: the cost is quadratic in the rows used).

    >>> round(silhouette_score([[0.0], [1.0], [10.0], [11.0]], [0, 0, 1, 1]), 3)
    0.9
    """
    X = np.asarray(X)
    labels = np.asarray(labels)
    if sample_size is not None and sample_size < len(X):
        rng = np.random.default_rng(random_state)
        rows = rng.choice(len(X), sample_size, replace=False)
        X, labels = X[rows], labels[rows]
    return float(silhouette_samples(X, labels).mean())
