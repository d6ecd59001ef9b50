"""What one pass over the training data tells an estimator before it trains.

Every estimator that standardizes its inputs (or its target, or encodes class labels)
learns that preprocessing from the same few numbers, wherever the data lives:

* in memory — :func:`summarize_arrays` (one chunked pass, weighted when rows carry
  sample weights, or a pass over evenly spaced rows when the estimate is enough);
* in files too big for memory — :func:`summarize_stream` (one pass over a stream,
  statistics merged chunk by chunk);
* on a Dask cluster — ``thalweg.distributed`` merges the workers' moments.

All three give a :class:`DataSummary`, so an estimator learns its preprocessing in one
place (``learn_encoding(summary)``) for all three.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalweg.data.holdout import Reservoir
from thalweg.data.preprocessing import Standardizer, column_moments
from thalweg.errors import DataError

__all__ = ["SUMMARY_SAMPLE_ROWS", "DataSummary", "summarize_arrays", "summarize_stream"]

SUMMARY_SAMPLE_ROWS = 20_000  # raw rows kept for the learning rate's curvature estimate


@dataclass
class DataSummary:
    """Column moments of the features, the target's moments or classes, and some rows.

    Attributes
    ----------
    n_samples : int
        Rows summarized.
    x_mean, x_var : ndarray (n_features,)
        Each feature's mean and population variance (weighted by the sample weights).
    y_mean, y_var : float or None
        The target's, for regression.
    classes : ndarray or None
        The sorted distinct labels, for classification.
    sample : ndarray (k, n_features)
        Raw feature rows spread over the data (evenly spaced or a uniform sample), from
        which ``learning_rate="auto"`` estimates the curvature of the loss.
    feature_names : list of str or None
        Column names, when the data had them.
    sample_weight : ndarray (k,) or None
        The weights of the ``sample`` rows, when the data's rows are weighted.
    """

    n_samples: int
    x_mean: np.ndarray
    x_var: np.ndarray
    sample: np.ndarray
    y_mean: float | None = None
    y_var: float | None = None
    classes: np.ndarray | None = None
    feature_names: list[str] | None = None
    sample_weight: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return len(self.x_mean)

    def feature_scaler(self, *, with_mean: bool = True, with_std: bool = True) -> Standardizer:
        """A fitted :class:`~thalweg.data.Standardizer` of the features."""
        return Standardizer.from_statistics(
            self.x_mean, self.x_var, self.n_samples, with_mean=with_mean, with_std=with_std
        )

    def target_scale(self, standardize: bool = True) -> tuple[float, float]:
        """``(mean, scale)`` a regression target is standardized with: its mean and its
        standard deviation (1 for a constant target, or without ``standardize``)."""
        scaler = Standardizer.from_statistics([self.y_mean], [self.y_var], self.n_samples)
        return float(self.y_mean), float(scaler.scale_[0]) if standardize else 1.0


def summarize_arrays(
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    task: str | None = None,
    sample_weight: np.ndarray | None = None,
    moments_from_sample: bool = False,
    classes: np.ndarray | None = None,
    sample_rows: int = SUMMARY_SAMPLE_ROWS,
) -> DataSummary:
    """A :class:`DataSummary` of in-memory arrays.

    Parameters
    ----------
    X : ndarray (n, ...)
        Features (axes after the first are flattened into features).
    y : ndarray (n,), optional
    task : "regressor", "classifier" or None
        What to learn about ``y``: its moments, its classes, or nothing.
    sample_weight : ndarray (n,), optional
        Non-negative row weights; the moments are weighted.
    moments_from_sample : bool
        Compute the feature moments from the evenly spaced sample of rows only: enough
        when they only condition the optimisation, and much cheaper on big data.
    classes : ndarray, optional
        The classes, when the caller found them already (classification).

    >>> summary = summarize_arrays(np.array([[1.0], [3.0]]), np.array([0, 1]), task="classifier")
    >>> summary.x_mean.tolist(), summary.classes.tolist()
    ([2.0], [0, 1])
    """
    rows = X.reshape(len(X), -1)
    step = max(1, len(rows) // sample_rows)
    sample = rows[::step]
    if moments_from_sample:
        weight = None if sample_weight is None else sample_weight[::step]
        x_mean, x_var = column_moments(sample, sample_weight=weight)
    else:
        x_mean, x_var = column_moments(rows, sample_weight=sample_weight)
    summary = DataSummary(len(rows), x_mean, x_var, sample)
    if sample_weight is not None:
        summary.sample_weight = sample_weight[::step]
    if task == "regressor":
        mean, var = column_moments(np.asarray(y, np.float64)[:, None], sample_weight=sample_weight)
        summary.y_mean, summary.y_var = float(mean[0]), float(var[0])
    elif task == "classifier":
        summary.classes = np.unique(y) if classes is None else np.asarray(classes)
    return summary


def summarize_stream(
    source, *, task: str | None, sample_rows: int = SUMMARY_SAMPLE_ROWS // 2, seed=None
) -> DataSummary:
    """A :class:`DataSummary` from one pass over a stream of ``(X, y)`` chunks.

    Feature and target moments are merged chunk by chunk (``Standardizer.partial_fit``:
    Chan's update, equal to a one-shot fit to ~1e-12), the classes collected, and a
    uniform sample of rows kept (:class:`~thalweg.data.holdout.Reservoir`).

    Parameters
    ----------
    source : Stream or batch source
        A :class:`~thalweg.data.Stream` is read chunk by chunk in file order (no
        shuffling needed for statistics); any other batch source for one epoch.
    task : "regressor", "classifier" or None

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from thalweg.data import stream
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npy")
    >>> np.save(path, np.array([[1.0, 0], [3.0, 1], [5.0, 1]]))
    >>> summary = summarize_stream(stream(path, target=1, batch_size=2), task="classifier")
    >>> summary.x_mean.tolist(), summary.classes.tolist()
    ([3.0], [0.0, 1.0])
    """
    if hasattr(source, "chunks"):
        parts = source.chunks()
    else:
        parts = source.epoch_batches(np.random.default_rng(seed))
    features = Standardizer()
    target = Standardizer() if task == "regressor" else None
    classes: np.ndarray | None = None
    reservoir = Reservoir(sample_rows, seed)
    for X, y in parts:
        X, y = np.asarray(X), np.asarray(y).reshape(-1)
        features.partial_fit(X)  # also rejects NaN and non-numeric columns
        if target is not None:
            if y.dtype.kind not in "biuf":
                raise DataError(f"fit_stream: y must be numeric for regression, got {y.dtype}")
            target.partial_fit(y.astype(np.float64)[:, None])
        elif task == "classifier":
            labels = np.unique(y)
            classes = labels if classes is None else np.union1d(classes, labels)
        reservoir.add(X)
    if not hasattr(features, "n_samples_seen_"):
        raise DataError("fit_stream: the stream is empty")
    summary = DataSummary(
        n_samples=features.n_samples_seen_,
        x_mean=features.mean_,
        x_var=features.var_,
        sample=reservoir.X,
        classes=classes,
        feature_names=getattr(source, "feature_names", None),
    )
    if target is not None:
        summary.y_mean, summary.y_var = float(target.mean_[0]), float(target.var_[0])
    return summary
