"""Learning from a table without a target: what ``thalweg cluster`` and ``thalweg embed``
do, as library calls.

* :func:`cluster_table` — k-means on the columns of a table, prepared as ``thalweg train``
  prepares them (numbers as numbers, text one-hot encoded, the missing-value policy),
  then standardized so that every column counts alike in the distances. With a range of
  ``k`` it fits each one and picks by the silhouette
  (:func:`~thalweg.models.k_selection.select_k`), saying why.
  :func:`thalweg.report.clustering.cluster_report` turns the result into the HTML
  report's input.
* :func:`embed_table` — an :class:`~thalweg.models.Autoencoder` on the same columns:
  every row's code and its reconstruction error (an anomaly score).

Both return a fitted :class:`~thalweg.models.tabular.TabularModel`, which saves to one
model file that ``thalweg predict`` reads (a ``cluster`` per row, or the code and the
error).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(0, 1, 50), rng.normal(10, 1, 50)])
>>> table = {"x": x, "kind": np.array(["a"] * 50 + ["b"] * 50, dtype=object)}
>>> result = cluster_table(table, k=2)
>>> sorted(result.sizes.tolist())
[50, 50]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from thalweg.data.columns import as_table
from thalweg.errors import DataError
from thalweg.metrics.clustering import silhouette_score
from thalweg.models.autoencoder import Autoencoder
from thalweg.models.k_selection import SILHOUETTE_ROWS, KSelection, select_k
from thalweg.models.kmeans import KMeans
from thalweg.models.tabular import TabularModel
from thalweg.schema import Integer, ListOf, Number, Optional, Record, Text

__all__ = [
    "RUN_RECORDS",
    "ClusterResult",
    "EmbedResult",
    "cluster_table",
    "embed_table",
]

_COUNT = Integer(minimum=0)
# What both records say about the table (the ``summary`` of the results below).
_TABLE_SUMMARY = {
    "rows": _COUNT,
    "dropped_rows": _COUNT,
    "columns": ListOf(Text()),
    "ignored": ListOf(Text()),
    "features": ListOf(Text()),
}

#: The ``clustering`` and ``embedding`` sections of a model file (what
#: :meth:`ClusterResult.record` and :meth:`EmbedResult.save` write; shown by ``thalweg
#: inspect``, never built), checked by :meth:`TabularModel.load` with the rest; a key
#: they do not know is refused, as in the ``tabular`` section.
RUN_RECORDS = {
    "clustering": Record(
        optional={
            "command": Text(),
            "k": Integer(minimum=1),
            "inertia": Number(minimum=0),
            "silhouette": Number(),  # NaN when it is undefined (one cluster)
            "silhouette_rows": _COUNT,
            "sizes": ListOf(_COUNT),
            "seconds": Number(finite=True, minimum=0),
            "selection": Optional(
                Record(
                    optional={
                        "ks": ListOf(Integer(minimum=1)),
                        "inertias": ListOf(Number()),
                        "silhouettes": ListOf(Number()),
                        "chosen": Integer(minimum=1),
                        "elbow": Integer(minimum=1),
                        "reason": Text(),
                        "silhouette_rows": _COUNT,
                        "rows": _COUNT,
                    },
                    name="a choice of k",
                )
            ),
            **_TABLE_SUMMARY,
        },
        name="a clustering record",
    ),
    "embedding": Record(
        optional={
            "command": Text(),
            "code_size": Integer(minimum=1),
            "epochs_run": _COUNT,
            "loss": Optional(Number()),
            "seconds": Number(finite=True, minimum=0),
            **_TABLE_SUMMARY,
        },
        name="an embedding record",
    ),
}


@dataclass
class ClusterResult:
    """A clustering of a table.

    Attributes
    ----------
    model : TabularModel
        Column handling, standardization (``scaler_``) and the fitted ``KMeans``.
    selection : KSelection or None
        The curves and the choice, when a range of ``k`` was tried.
    features : ndarray (rows, features)
        The standardized rows k-means saw (rows dropped for missing values left out).
    labels : ndarray (rows,)
        Their clusters.
    silhouette : float
        Mean silhouette of the clustering (on ``silhouette_rows`` rows).
    silhouette_rows : int
    seconds : float
    summary : dict
        Rows, dropped rows, columns used and ignored.
    """

    model: TabularModel
    selection: KSelection | None
    features: np.ndarray
    labels: np.ndarray
    silhouette: float
    silhouette_rows: int
    seconds: float
    summary: dict = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.model.estimator_.n_clusters)

    @property
    def sizes(self) -> np.ndarray:
        """Rows per cluster."""
        return np.bincount(self.labels, minlength=self.k)

    def record(self, command: str = "") -> dict:
        """What the model file keeps about this run (its ``clustering`` metadata)."""
        estimator = self.model.estimator_
        return {
            "command": command,
            "k": self.k,
            "inertia": float(estimator.inertia_),
            "silhouette": self.silhouette,
            "silhouette_rows": self.silhouette_rows,
            "sizes": self.sizes.tolist(),
            "seconds": round(self.seconds, 3),
            "selection": None if self.selection is None else self.selection.to_dict(),
            **self.summary,
        }

    def metrics(self) -> dict:
        """The numbers a run records (``thalweg runs``): ``k``, ``inertia``,
        ``silhouette`` (NaN for one cluster), ``silhouette_rows``, ``rows``,
        ``dropped_rows``."""
        return {
            "k": self.k,
            "inertia": float(self.model.estimator_.inertia_),
            "silhouette": self.silhouette,
            "silhouette_rows": self.silhouette_rows,
            "rows": self.summary["rows"],
            "dropped_rows": self.summary["dropped_rows"],
        }

    def save(self, path, command: str = "") -> None:
        """Write the model file (with this run's record in its metadata)."""
        self.model.save(path, metadata={"clustering": self.record(command)})


def _columns(table: dict, ignore: Sequence[str]) -> dict:
    unknown = [name for name in ignore if name not in table]
    if unknown:
        raise DataError(
            f"ignore={list(unknown)!r} names column(s) not in the data; its columns are: "
            f"{', '.join(table)}"
        )
    kept = {name: values for name, values in table.items() if name not in set(ignore)}
    if not kept:
        raise DataError("every column is ignored; leave at least one to learn from")
    return kept


def cluster_table(
    table,
    *,
    k: int | None = None,
    ks: Sequence[int] | None = None,
    ignore: Sequence[str] = (),
    categorical: Sequence[str] = (),
    keep: Sequence[str] = (),
    missing: str = "error",
    unknown: str = "other",
    algorithm: str = "lloyd",
    n_init="auto",
    random_state: int = 0,
    silhouette_rows: int = SILHOUETTE_ROWS,
    on_fit: Callable | None = None,
) -> ClusterResult:
    """k-means on a table: one ``k``, or the best of a range ``ks`` (by silhouette).

    Parameters
    ----------
    table : dict of name -> 1-D array, or DataFrame
    k, ks : int, or a sequence of ints
        The number of clusters, or the candidates to choose from (give one of them).
    ignore : sequence of str
        Columns to leave out (an identifier, a label you want to compare with later).
    categorical, keep, missing, unknown
        Column handling, as :class:`~thalweg.models.tabular.TabularModel`'s (an
        identifier-like column is left out, with a warning, unless in ``keep``).
    silhouette_rows : int
        The silhouette costs n² distances: on more rows it uses a uniform sample of this
        many.
    on_fit : callable, optional
        ``on_fit(k, model)`` after each fit of a range (progress).
    """
    if (k is None) == (ks is None):
        raise DataError("cluster_table: give k (one number of clusters) or ks (a range)")
    if k is not None and (not isinstance(k, int | np.integer) or k < 1):
        raise DataError(f"cluster_table: k must be a positive number of clusters, got {k!r}")
    started = time.perf_counter()
    full = as_table(table)
    columns = _columns(full, ignore)
    first_k = int(k) if k is not None else max(2, min(int(c) for c in ks))
    estimator = KMeans(first_k, algorithm=algorithm, n_init=n_init, random_state=random_state)
    model = TabularModel(
        estimator,
        categorical=categorical,
        keep=keep,
        missing=missing,
        unknown=unknown,
        scale=True,
    ).fit(columns)
    kept = model.predictable_rows(columns)
    rows = columns if kept.all() else {name: v[kept] for name, v in columns.items()}
    features = model.transform(rows)
    selection = None
    if ks is not None:
        selection = select_k(
            features,
            ks,
            algorithm=algorithm,
            n_init=n_init,
            random_state=random_state,
            silhouette_rows=silhouette_rows,
            on_fit=on_fit,
        )
        model.estimator = KMeans(
            selection.chosen, algorithm=algorithm, n_init=n_init, random_state=random_state
        )
        model.estimator_ = selection.models[selection.chosen]
    fitted = model.estimator_
    labels = fitted.labels_
    if selection is not None:
        silhouette = selection.silhouettes[selection.ks.index(selection.chosen)]
        used = selection.silhouette_rows
    else:
        silhouette, used = _silhouette(features, fitted, silhouette_rows, random_state)
    summary = {
        "rows": len(kept),
        "dropped_rows": int((~kept).sum()),
        "columns": list(columns),
        "ignored": list(ignore),
        "features": list(model.feature_names_out_),
    }
    return ClusterResult(
        model=model,
        selection=selection,
        features=features,
        labels=labels,
        silhouette=silhouette,
        silhouette_rows=used,
        seconds=time.perf_counter() - started,
        summary=summary,
    )


def _silhouette(features, model: KMeans, rows: int, random_state) -> tuple[float, int]:
    """Mean silhouette of ``model``'s clusters, on a sample of ``rows`` rows if more."""
    n = len(features)
    if model.n_clusters < 2 or n < 3:
        return float("nan"), 0
    sample = np.arange(n)
    if n > rows:
        sample = np.sort(np.random.default_rng(random_state).choice(n, rows, replace=False))
    labels = model.labels_[sample]
    if not 2 <= len(np.unique(labels)) < len(sample):
        return float("nan"), len(sample)
    return float(silhouette_score(features[sample], labels)), len(sample)


@dataclass
class EmbedResult:
    """An autoencoder trained on a table, and what it says about every row."""

    model: TabularModel
    table: dict  # code_0 … and reconstruction_error, one row per input row
    seconds: float
    summary: dict = field(default_factory=dict)

    def metrics(self) -> dict:
        """The numbers a run records (``thalweg runs``): ``reconstruction_error`` (the
        mean of the rows' errors, rows left out for missing values aside), ``loss`` (the
        last epoch's training loss, noise included), ``epochs_run``, ``rows``,
        ``dropped_rows``."""
        estimator = self.model.estimator_
        errors = np.asarray(self.table["reconstruction_error"], dtype=np.float64)
        errors = errors[np.isfinite(errors)]  # a row left out has no error
        return {
            "reconstruction_error": float(errors.mean()) if errors.size else float("nan"),
            "loss": float(estimator.loss_),
            "epochs_run": int(estimator.n_iter_),
            "rows": self.summary["rows"],
            "dropped_rows": self.summary["dropped_rows"],
        }

    def save(self, path, command: str = "") -> None:
        """Write the model file (``thalweg predict`` then gives codes and errors)."""
        estimator = self.model.estimator_
        record = {
            "command": command,
            "code_size": int(estimator.code_size),
            "epochs_run": int(estimator.n_iter_),
            "loss": float(estimator.loss_),
            "seconds": round(self.seconds, 3),
            **self.summary,
        }
        self.model.save(path, metadata={"embedding": record})


def embed_table(
    table,
    *,
    code_size: int = 2,
    hidden: Sequence[int] = (64,),
    activation: str = "relu",
    max_epochs: int = 200,
    tol: float | None = 1e-4,
    noise: float = 0.0,
    ignore: Sequence[str] = (),
    categorical: Sequence[str] = (),
    keep: Sequence[str] = (),
    missing: str = "error",
    unknown: str = "other",
    random_state: int = 0,
    verbose: int = 0,
) -> EmbedResult:
    """Train an autoencoder on a table's columns; every row's code and reconstruction error.

    The columns are prepared as for ``thalweg train`` (the autoencoder standardizes
    them itself). Rows the model cannot take (missing values under ``missing="drop"``)
    get empty codes.

    >>> import numpy as np
    >>> t = np.linspace(-1, 1, 200)
    >>> result = embed_table({"a": t, "b": t**2, "c": -t}, code_size=1, max_epochs=50, tol=None)
    >>> sorted(result.table)
    ['code_0', 'reconstruction_error']
    """
    started = time.perf_counter()
    columns = _columns(as_table(table), ignore)
    estimator = Autoencoder(
        hidden=tuple(hidden),
        code_size=code_size,
        activation=activation,
        max_epochs=max_epochs,
        tol=tol,
        noise=noise,
        random_state=random_state,
        verbose=verbose,
    )
    model = TabularModel(
        estimator, categorical=categorical, keep=keep, missing=missing, unknown=unknown
    ).fit(columns)
    seconds = time.perf_counter() - started
    summary = {
        "rows": len(next(iter(columns.values()))),
        "dropped_rows": int(model.n_dropped_),
        "columns": list(columns),
        "ignored": list(ignore),
    }
    return EmbedResult(model, model.prediction_table(columns), seconds, summary)
