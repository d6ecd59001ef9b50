"""The HTML report of a clustering (``thalweg cluster --report``): one self-contained file.

It shows the rows in two dimensions coloured by cluster (the first two principal
components of the features k-means saw, or an autoencoder's 2-D code), the size of
every cluster, the centroids as a table in the data's own units, and — when a range of
``k`` was tried — the elbow and silhouette curves with the reason for the choice. It
shares the look, the escaping and the Content-Security-Policy of the model report
(:mod:`thalweg.report.html`).

>>> from thalweg.report.clustering import ClusterReportInput, write_cluster_report  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.errors import DataError
from thalweg.files import atomic_write
from thalweg.plot.clustering import plot_clusters, plot_k_selection
from thalweg.report.figures import ReportFigure, _draw
from thalweg.report.html import (
    Html,
    element,
    escape,
    figure_grid,
    format_number,
    format_seconds,
    format_value,
    join,
    note,
    page,
    page_header,
    section,
    share_bar,
    table,
)
from thalweg.report.sections import navigation

VIEW_ROWS = 5000  # rows drawn in the 2-D view (a uniform sample of bigger data)

READ_VIEW = (
    "Every point is a row, placed by {view} and coloured by the cluster k-means gave it; "
    "the numbered circles are the centres. Clusters that form separate islands are well "
    "defined; colours that overlap mean the rows sit between centres (or that two "
    "dimensions cannot show the separation k-means found in all of them)."
)
READ_K = (
    "Left: the inertia (sum of squared distances to the nearest centre) always falls as k "
    "grows; the elbow, where it stops falling fast, is where new centres stop splitting "
    "real groups. Right: the mean silhouette, how much closer rows are to their own "
    "cluster than to the next (−1 … 1); it peaks at the k whose clusters are tightest and "
    "farthest apart."
)


@dataclass
class ClusterReportInput:
    """What the clustering report shows.

    ``centroids`` are in the units of the input columns (``feature_names``); ``view``
    are ``view_labels``-coloured 2-D positions of (a sample of) the rows, and
    ``view_centers`` the centres in the same view.
    """

    title: str
    model_name: str
    source: str
    n_rows: int
    seconds: float
    feature_names: list[str]
    centroids: np.ndarray  # (k, len(feature_names))
    sizes: np.ndarray  # (k,) rows per cluster
    overall: np.ndarray | None  # (len(feature_names),) the mean of all rows, to compare
    inertia: float
    view: np.ndarray  # (m, 2)
    view_labels: np.ndarray  # (m,)
    view_name: str  # e.g. "the first two principal components"
    view_axes: tuple[str, str] = ("component 1", "component 2")
    view_centers: np.ndarray | None = None
    silhouette: float | None = None
    silhouette_rows: int | None = None
    selection: dict | None = None  # thalweg.models.k_selection.KSelection.to_dict()
    seed: int | None = None
    settings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def principal_axes(X: np.ndarray, n_components: int = 2, max_rows: int = 20_000, seed: int = 0):
    """``(mean, components)`` of the first principal axes of ``X`` ``(n, d)``, from a
    sample of at most ``max_rows`` rows; project with ``(X − mean) @ components.T``.

    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    >>> mean, axes = principal_axes(X, 1)
    >>> mean.tolist(), np.abs(axes).tolist()
    ([2.0, 0.0], [[1.0, 0.0]])
    """
    X = np.asarray(X, dtype=np.float64)
    if len(X) > max_rows:
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), max_rows, replace=False))]
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    components = np.zeros((n_components, X.shape[1]))
    components[: min(n_components, len(vt))] = vt[:n_components]
    return mean, components


def render_cluster_report(report: ClusterReportInput) -> str:
    """The report as one HTML document (a string)."""
    k = len(report.sizes)
    figures = {
        "view": [
            _draw(
                "clusters",
                "Clusters in two dimensions",
                READ_VIEW.format(view=report.view_name),
                plot_clusters,
                report.view,
                report.view_labels,
                centers=report.view_centers,
                axis_names=report.view_axes,
                heading=f"Clusters on {report.view_name}",
            )
        ]
    }
    if report.selection is not None:
        chosen = report.selection
        figures["k"] = [
            _draw(
                "choosing-k",
                "Choosing k",
                READ_K,
                plot_k_selection,
                chosen["ks"],
                chosen["inertias"],
                chosen["silhouettes"],
                chosen=chosen["chosen"],
                elbow=chosen["elbow"],
                wide=True,
            )
        ]
    sections: list[tuple[str, str, Html]] = [
        ("view", "Clusters", _view_section(report, figures["view"])),
        ("sizes", "Sizes", _sizes_section(report)),
        ("centroids", "Centroids", _centroids_section(report)),
    ]
    if report.selection is not None:
        sections.append(("k", "Choosing k", _k_section(report, figures["k"])))
    sections.append(("model", "Model", _model_section(report)))
    footer = element(
        "footer",
        element(
            "div",
            f"Made with thalweg {__version__}. This file is self-contained: it loads nothing "
            "from the network and runs no scripts.",
            class_="wrap",
        ),
    )
    body = join(
        [
            _header(report, k),
            navigation([(anchor, title) for anchor, title, _ in sections]),
            element("main", join(html for _, _, html in sections), class_="wrap"),
            footer,
        ]
    )
    return page(report.title, f"thalweg {__version__}", body)


def write_cluster_report(path: str | os.PathLike, report: ClusterReportInput) -> Path:
    """Render ``report`` and write it atomically to ``path``; return the path."""
    document = render_cluster_report(report)  # everything that can fail happens first
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(document.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------- sections


def _header(report: ClusterReportInput, k: int) -> Html:
    stats = [("Rows", format_number(report.n_rows)), ("Clusters", format_number(k))]
    stats.append(("Inertia", format_number(report.inertia)))
    if report.silhouette is not None:
        stats.append(("Silhouette", format_number(report.silhouette)))
    stats.append(("Time", format_seconds(report.seconds)))
    subtitle = f"clustering · {report.model_name} · {report.source}"
    return page_header(report.title, subtitle, stats, report.seed, __version__)


def _view_section(report: ClusterReportInput, figures: list[ReportFigure]) -> Html:
    parts: list[object] = [note(escape(line)) for line in report.notes]
    parts.append(figure_grid(figures))
    intro = f"The rows on {report.view_name}, coloured by cluster."
    return section("view", "Clusters in two dimensions", intro, join(parts))


def _sizes_section(report: ClusterReportInput) -> Html:
    total = max(int(np.sum(report.sizes)), 1)
    rows = [
        [
            f"cluster {index}",
            format_number(int(size)),
            Html(f'<span class="bar">{share_bar(size / total)}{size / total:.1%}</span>'),
        ]
        for index, size in enumerate(report.sizes)
    ]
    body = table(["cluster", "rows", "share"], rows, numeric=[1])
    intro = "How many rows each cluster holds. A tiny cluster can be a group of outliers."
    return section("sizes", "Cluster sizes", intro, body)


def _centroids_section(report: ClusterReportInput) -> Html:
    k = len(report.centroids)
    header = ["column", *(f"cluster {index}" for index in range(k))]
    if report.overall is not None:
        header.append("all rows")
    rows = []
    for j, name in enumerate(report.feature_names):
        row = [name, *(format_number(float(centre[j])) for centre in report.centroids)]
        if report.overall is not None:
            row.append(format_number(float(report.overall[j])))
        rows.append(row)
    body = element("div", table(header, rows, numeric=range(1, len(header))), class_="scroll")
    intro = (
        "Each cluster's centre: the mean of its rows, column by column, in the data's own "
        "units (a one-hot column's value is the share of the cluster's rows in that "
        "category). Read a row across: where a cluster's value is far from the mean of "
        "all rows, that column sets the cluster apart."
    )
    return section("centroids", "Centroids", intro, body)


def _k_section(report: ClusterReportInput, figures: list[ReportFigure]) -> Html:
    chosen = report.selection
    rows = [
        [
            format_number(k),
            format_number(inertia),
            format_number(silhouette),
            "chosen" if k == chosen["chosen"] else ("elbow" if k == chosen["elbow"] else ""),
        ]
        for k, inertia, silhouette in zip(
            chosen["ks"], chosen["inertias"], chosen["silhouettes"], strict=True
        )
    ]
    parts = [
        note(Html(f"<strong>Chosen:</strong> {escape(chosen['reason'])}")),
        figure_grid(figures),
        table(["k", "inertia", "silhouette", ""], rows, numeric=[0, 1, 2]),
    ]
    if chosen["silhouette_rows"] < chosen["rows"]:
        parts.insert(
            1,
            note(
                f"The silhouette costs n² distances, so it was computed on a uniform sample "
                f"of {chosen['silhouette_rows']:,} of the {chosen['rows']:,} rows (the same "
                "sample for every k); the inertia uses every row.",
                "warning",
            ),
        )
    intro = "k-means was fitted for every k in the range; the curves say which k fits the data."
    return section("k", "Choosing k", intro, join(parts))


def _model_section(report: ClusterReportInput) -> Html:
    facts = [
        ("Model", element("code", report.model_name)),
        ("Rows", format_number(report.n_rows)),
        ("Features k-means saw", format_number(len(report.feature_names))),
        ("Time", format_seconds(report.seconds)),
        ("Seed", format_value(report.seed)),
    ]
    if report.silhouette is not None and report.silhouette_rows is not None:
        where = (
            "every row"
            if report.silhouette_rows >= report.n_rows
            else f"a sample of {report.silhouette_rows:,} rows"
        )
        facts.append(("Silhouette measured on", where))
    settings = [[name, element("code", format_value(v))] for name, v in report.settings.items()]
    body = element(
        "div",
        join(
            [
                element("div", join([element("h3", "Summary"), table(None, facts)])),
                element(
                    "div",
                    join([element("h3", "Settings"), table(["setting", "value"], settings)]),
                ),
            ]
        ),
        class_="columns",
    )
    return section("model", "Model", "What was fitted, with which settings.", body)


# ----------------------------------------------------------------------------- inputs


def two_dimensional_view(
    features: np.ndarray, centers: np.ndarray, *, view: str = "pca", random_state: int = 0
):
    """Rows and centres in two dimensions, for the report's picture.

    ``view="pca"``: the first two principal components of the rows; ``"autoencoder"``:
    the code of an :class:`~thalweg.models.Autoencoder` with ``code_size=2`` trained on
    them. At most ``VIEW_ROWS`` rows are placed (a uniform sample).

    Returns
    -------
    (rows, points, centre_points, name, axis_names)
        The indices of the rows shown, their 2-D positions, the centres' positions, a
        description of the view, and the two axis labels.
    """
    n = len(features)
    rows = np.arange(n)
    if n > VIEW_ROWS:
        rows = np.sort(np.random.default_rng(random_state).choice(n, VIEW_ROWS, replace=False))
    if view == "autoencoder":
        from thalweg.models import Autoencoder

        coder = Autoencoder(code_size=2, activation="tanh", tol=None, random_state=random_state)
        coder.fit(features[rows] if n > 20 * VIEW_ROWS else features)
        points, centre_points = coder.transform(features[rows]), coder.transform(centers)
        name = "an autoencoder's 2-D code"
        axes = ("code 0", "code 1")
    elif view == "pca":
        mean, components = principal_axes(features, 2, seed=random_state)
        points = (features[rows] - mean) @ components.T
        centre_points = (np.asarray(centers) - mean) @ components.T
        name = "the first two principal components"
        axes = ("principal component 1", "principal component 2")
    else:
        raise DataError(f"view must be 'pca' or 'autoencoder', got {view!r}")
    return rows, points, centre_points, name, axes


def cluster_report(result, *, title: str, source: str, view: str = "pca", random_state: int = 0):
    """The report's input for a :class:`~thalweg.models.table_clustering.ClusterResult`:
    the 2-D view, sizes, centroids in the data's units, the curves for choosing k."""
    model, estimator = result.model, result.model.estimator_
    centers = estimator.cluster_centers_
    rows, points, centre_points, name, axes = two_dimensional_view(
        result.features, centers, view=view, random_state=random_state
    )
    # Back to the data's units: numbers as they were, one-hot columns as shares.
    centroids = model.scaler_.inverse_transform(centers)
    notes = []
    if result.summary.get("dropped_rows"):
        notes.append(
            f"{result.summary['dropped_rows']:,} row(s) with missing values were left out "
            "(missing='drop')."
        )
    if len(rows) < len(result.features):
        notes.append(f"The view shows a uniform sample of {len(rows):,} of the rows.")
    settings = {
        "k": result.k,
        "algorithm": estimator.algorithm,
        "n_init": estimator.n_init,
        "random_state": estimator.random_state,
        "missing": model.missing,
        "columns standardized": "yes (every column counts alike)",
        "ignored columns": result.summary.get("ignored") or None,
    }
    return ClusterReportInput(
        title=title,
        model_name=repr(estimator),
        source=source,
        n_rows=len(result.features),
        seconds=result.seconds,
        feature_names=list(model.feature_names_out_),
        centroids=centroids,
        sizes=result.sizes,
        overall=model.scaler_.mean_,
        inertia=float(estimator.inertia_),
        view=points,
        view_labels=result.labels[rows],
        view_name=name,
        view_axes=axes,
        view_centers=centre_points,
        silhouette=None if np.isnan(result.silhouette) else result.silhouette,
        silhouette_rows=result.silhouette_rows,
        selection=None if result.selection is None else result.selection.to_dict(),
        seed=random_state,
        settings=settings,
        notes=notes,
    )
