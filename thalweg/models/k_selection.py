"""How many clusters? Fit k-means for a range of ``k`` and read two curves.

* The **elbow**: inertia always falls as ``k`` grows (more centres, shorter distances),
  steeply while new centres split real groups, slowly once they only cut groups in
  pieces. The elbow is the ``k`` where the curve bends most: the point farthest from the
  straight line joining its two ends (the "kneedle" rule), inertia and ``k`` both scaled
  to [0, 1].
* The **silhouette**: for each row, how much closer it is to its own cluster than to
  the next one (−1 … 1), averaged. It peaks at the ``k`` whose clusters are tight and
  well apart. It costs ``n²`` distances, so on more than ``silhouette_rows`` rows it is
  computed on a uniform sample of that many (the same rows for every ``k``).

:func:`select_k` picks the ``k`` with the highest silhouette, and says whether the
elbow agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from thalweg.errors import DataError
from thalweg.metrics.clustering import silhouette_score
from thalweg.models.kmeans import KMeans

SILHOUETTE_ROWS = 5000  # rows the silhouette is computed on, at most (its cost is n²)


@dataclass
class KSelection:
    """What :func:`select_k` measured and chose."""

    ks: list[int]
    inertias: list[float]
    silhouettes: list[float]
    chosen: int
    elbow: int
    reason: str  # why ``chosen``: "the highest mean silhouette, 0.62; next best k=…"
    silhouette_rows: int  # rows the silhouettes were computed on
    n_rows: int
    models: dict[int, KMeans] = field(repr=False, default_factory=dict)

    @property
    def sampled(self) -> bool:
        """Whether the silhouettes come from a sample of the rows."""
        return self.silhouette_rows < self.n_rows

    def to_dict(self) -> dict:
        """The curves and the choice as JSON-able data."""
        return {
            "ks": self.ks,
            "inertias": self.inertias,
            "silhouettes": self.silhouettes,
            "chosen": self.chosen,
            "elbow": self.elbow,
            "reason": self.reason,
            "silhouette_rows": self.silhouette_rows,
            "rows": self.n_rows,
        }


def elbow(ks, inertias) -> int:
    """The ``k`` farthest below the chord from the first to the last point of the
    inertia curve, both axes scaled to [0, 1] (the "kneedle" rule).

    >>> elbow([1, 2, 3, 4, 5], [100.0, 20.0, 15.0, 12.0, 10.0])
    2
    """
    ks, inertias = np.asarray(ks, dtype=float), np.asarray(inertias, dtype=float)
    if len(ks) < 3:
        return int(ks[-1] if len(ks) and inertias[-1] < inertias[0] else ks[0])
    x = (ks - ks[0]) / (ks[-1] - ks[0])
    span = inertias[0] - inertias[-1]
    y = (inertias - inertias[-1]) / span if span > 0 else np.zeros_like(inertias)
    # The chord goes from (0, 1) to (1, 0): distance below it is (1 − x) − y.
    return int(ks[int(np.argmax((1 - x) - y))])


def select_k(
    X,
    ks,
    *,
    algorithm: str = "lloyd",
    n_init="auto",
    random_state=0,
    silhouette_rows: int = SILHOUETTE_ROWS,
    on_fit=None,
) -> KSelection:
    """Fit ``KMeans(k)`` for every ``k`` in ``ks``; choose by the silhouette.

    Parameters
    ----------
    X : array (n_samples, n_features)
        Rows as k-means should see them (scaled, encoded).
    ks : iterable of int
        Candidate cluster counts, each ≥ 2 (the silhouette needs two clusters).
    silhouette_rows : int
        Compute the silhouette on a uniform sample of this many rows when there are more.
    on_fit : callable, optional
        Called as ``on_fit(k, model)`` after each fit (progress display).

    Returns
    -------
    KSelection
        ``chosen`` (highest silhouette), ``elbow``, ``reason`` (why, in words), both curves,
        and the fitted ``models`` by ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.3, (50, 2)) for c in ([0, 0], [5, 0], [0, 5])])
    >>> select_k(X, range(2, 7)).chosen
    3
    """
    ks = sorted({int(k) for k in ks})
    X = np.asarray(X)
    if not ks or ks[0] < 2:
        raise DataError(
            f"select_k: every k must be at least 2 (the silhouette needs two), got {ks}"
        )
    if ks[-1] >= len(X):
        raise DataError(
            f"select_k: k={ks[-1]} needs more than {ks[-1]} rows; the data has {len(X)}"
        )
    rng = np.random.default_rng(random_state)
    rows = min(len(X), int(silhouette_rows))
    sample = X if rows == len(X) else X[np.sort(rng.choice(len(X), rows, replace=False))]
    inertias, silhouettes, models = [], [], {}
    for k in ks:
        model = KMeans(k, algorithm=algorithm, n_init=n_init, random_state=random_state).fit(X)
        models[k] = model
        inertias.append(float(model.inertia_))
        labels = model.labels_ if rows == len(X) else model.predict(sample)
        distinct = len(np.unique(labels))
        silhouettes.append(
            float(silhouette_score(sample, labels)) if 2 <= distinct < len(sample) else -1.0
        )
        if on_fit is not None:
            on_fit(k, model)
    best = ks[int(np.argmax(silhouettes))]
    bend = elbow(ks, inertias)
    where = "" if rows == len(X) else f" (on a sample of {rows:,} of {len(X):,} rows)"
    ranked = sorted(zip(silhouettes, ks, strict=True), reverse=True)
    runner_up = f"; next best k={ranked[1][1]} at {ranked[1][0]:.3f}" if len(ranked) > 1 else ""
    reason = f"the highest mean silhouette, {max(silhouettes):.3f}{where}{runner_up}"
    reason += (
        f"; the elbow of the inertia curve is also at k={bend}"
        if bend == best
        else f"; the elbow of the inertia curve is at k={bend}"
    )
    return KSelection(
        ks=ks,
        inertias=inertias,
        silhouettes=silhouettes,
        chosen=best,
        elbow=bend,
        reason=reason,
        silhouette_rows=rows,
        n_rows=len(X),
        models=models,
    )
