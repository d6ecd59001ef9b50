"""Clustering: rows in two dimensions coloured by cluster, and the curves for choosing k."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from thalweg.errors import ShapeError
from thalweg.plot._figure import (
    BLUE,
    GREY,
    HEIGHT,
    INK,
    ORANGE,
    WIDTH,
    _class_color,
    _new_figure,
    _sample,
    _shown,
    _styled,
    _text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@_styled
def plot_clusters(
    points: np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    centers: np.ndarray | None = None,
    axis_names: tuple[str, str] = ("component 1", "component 2"),
    heading: str = "Clusters",
    max_points: int = 5000,
) -> Figure:
    """Rows as points in a 2-D view, coloured by cluster, centres as numbered markers.

    Parameters
    ----------
    points : array (n, 2)
        Each row's position in the view (two principal components, an autoencoder code).
    labels : array (n,) of int
        Each row's cluster.
    centers : array (k, 2), optional
        The cluster centres in the same view.
    heading : str
        The figure's title (the count of rows drawn is added).
    max_points : int
        Draw at most this many points (a fixed random sample).

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_clusters(np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3)
    >>> fig.axes[0].get_title(loc="left")
    'Clusters (30 rows)'
    """
    points = np.asarray(points, dtype=float)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ShapeError(
            f"plot_clusters: points must be (n, 2) and labels (n,); got {points.shape} "
            f"and {labels.shape}"
        )
    shown = _sample(len(points), max_points)
    figure, axis = _new_figure(WIDTH, HEIGHT + 0.4)
    clusters = np.unique(labels)
    for cluster in clusters:
        rows = shown[labels[shown] == cluster]
        axis.scatter(
            *points[rows].T,
            s=9,
            alpha=0.55,
            color=_class_color(int(cluster)),
            edgecolors="none",
            label=f"cluster {cluster}",
        )
    if centers is not None:
        for index, centre in enumerate(np.asarray(centers, dtype=float)):
            axis.scatter(*centre, s=260, color="white", edgecolors=INK, linewidths=1.2, zorder=3)
            axis.annotate(
                str(index), centre, ha="center", va="center", fontsize=9, weight="bold", zorder=4
            )
    axis.set_xlabel(_text(axis_names[0]))
    axis.set_ylabel(_text(axis_names[1]))
    axis.set_title(f"{_text(heading)} ({_shown(len(shown), len(points))} rows)")
    if len(clusters) <= 12:
        axis.legend(loc="best", markerscale=1.6, ncols=2 if len(clusters) > 6 else 1)
    return figure


@_styled
def plot_k_selection(
    ks: Sequence[int],
    inertias: Sequence[float],
    silhouettes: Sequence[float],
    *,
    chosen: int | None = None,
    elbow: int | None = None,
) -> Figure:
    """Inertia (the elbow curve) and mean silhouette against the number of clusters.

    Examples
    --------
    >>> fig = plot_k_selection([2, 3, 4], [90.0, 30.0, 25.0], [0.5, 0.7, 0.6], chosen=3)
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['Elbow: inertia', 'Silhouette']
    """
    ks = np.asarray(ks)
    figure, (left, right) = _new_figure(WIDTH * 2, HEIGHT - 0.4, ncols=2)
    left.plot(ks, inertias, "o-", color=BLUE)
    left.set_title("Elbow: inertia")
    left.set_xlabel("k (clusters)")
    left.set_ylabel("Σ squared distance to the nearest centre")
    right.plot(ks, silhouettes, "o-", color=ORANGE)
    right.set_title("Silhouette")
    right.set_xlabel("k (clusters)")
    right.set_ylabel("mean silhouette (−1 … 1, higher is better)")
    for axis in (left, right):
        axis.set_xticks(ks)
        if elbow is not None:
            axis.axvline(elbow, color=GREY, linestyle=":", linewidth=1.2, label=f"elbow k={elbow}")
        if chosen is not None:
            axis.axvline(
                chosen, color=INK, linestyle="--", linewidth=1.2, label=f"chosen k={chosen}"
            )
        axis.legend(loc="best")
    return figure
