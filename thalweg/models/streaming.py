"""Training estimators on streams: one pass for the preprocessing, then gradient descent.

Least squares and L-BFGS need all the data at once; gradient descent needs one batch at
a time, which is why it trains on files bigger than memory. ``fit_stream`` does it in
two steps, never holding more than a batch (and the stream's buffer):

1. **One pass to learn the preprocessing** (:func:`summarize`): the features' means and
   variances (``Standardizer.partial_fit``, Chan's merge of per-chunk statistics, equal
   to a one-shot fit to ~1e-12), the target's for a regressor, the set of classes for a
   classifier, and a uniform sample of rows (reservoir sampling) from which
   ``learning_rate="auto"`` estimates the curvature of the loss.
2. **Gradient descent over the stream**: each chunk is prepared (standardized, labels
   encoded) as it is read, beside the training (in a background thread, or for a stream
   of ``PROCESS_READER_ROWS`` rows or more in a reading process), and the batches are fed
   to :func:`thalweg.train.fit` through the batch-source protocol, with the estimator's
   own optimizer, learning rate, penalties and stopping rules.

The stream's ``batch_size`` replaces the estimator's, and ``solver`` is ignored: a
stream is always trained by gradient descent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalweg.data import Pipeline, Standardizer
from thalweg.data.background import BackgroundReader
from thalweg.errors import DataError
from thalweg.models import validation as checks
from thalweg.models.gradient_descent import train_module

SAMPLE_ROWS = 10_000  # rows kept to estimate the curvature (λmax converges fast in n)
PREFETCH = 4  # prepared blocks (or batches) kept ready by the reading thread
# From this many rows a stream is read in another process: starting it (~1 s) is then
# small against an epoch, and reading no longer competes for the interpreter lock.
PROCESS_READER_ROWS = 1_000_000


@dataclass
class StreamSummary:
    """What one pass over a stream learned (see :func:`summarize`)."""

    n_samples: int
    n_features: int
    feature_names: list[str] | None
    features: Standardizer
    target: Standardizer | None  # regression: the target's mean and variance
    classes: np.ndarray | None  # classification: sorted distinct labels
    sample: np.ndarray  # up to SAMPLE_ROWS raw feature rows, drawn uniformly


def summarize(source, *, task: str, sample_rows: int = SAMPLE_ROWS, seed=None) -> StreamSummary:
    """Learn feature statistics, target statistics or classes, and a row sample in one pass.

    Parameters
    ----------
    source : Stream or batch source
        A :class:`~thalweg.data.Stream` is read chunk by chunk in file order (no
        shuffling needed for statistics); any other batch source for one epoch.
    task : "regressor" or "classifier"

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from thalweg.data import stream
    >>> path = os.path.join(tempfile.mkdtemp(), "d.npy")
    >>> np.save(path, np.array([[1.0, 0], [3.0, 1], [5.0, 1]]))
    >>> summary = summarize(stream(path, target=1, batch_size=2), task="classifier")
    >>> summary.features.mean_.tolist(), summary.classes.tolist()
    ([3.0], [0.0, 1.0])
    """
    if hasattr(source, "chunks"):
        parts = source.chunks()
    else:
        parts = source.epoch_batches(np.random.default_rng(seed))
    features = Standardizer()
    target = Standardizer() if task == "regressor" else None
    classes: np.ndarray | None = None
    reservoir = _Reservoir(sample_rows, seed)
    for X, y in parts:
        X, y = np.asarray(X), np.asarray(y).reshape(-1)
        features.partial_fit(X)  # also rejects NaN and non-numeric columns
        if target is not None:
            if y.dtype.kind not in "biuf":
                raise DataError(f"fit_stream: y must be numeric for regression, got {y.dtype}")
            target.partial_fit(y.astype(np.float64)[:, None])
        else:
            labels = np.unique(y)
            classes = labels if classes is None else np.union1d(classes, labels)
        reservoir.add(X)
    if not features._is_fitted():
        raise DataError("fit_stream: the stream is empty")
    if classes is not None:
        checks.check_y_classification(classes, len(classes), "fit_stream")
    return StreamSummary(
        n_samples=features.n_samples_seen_,
        n_features=features.n_features_in_,
        feature_names=getattr(source, "feature_names", None),
        features=features,
        target=target,
        classes=classes,
        sample=reservoir.rows(),
    )


class _Reservoir:
    """A uniform sample of ``size`` rows from a stream of chunks (Algorithm R, vectorised).

    Row ``i`` (0-based, in stream order) replaces a random slot ``j ~ U{0..i}`` when
    ``j < size``; later rows overwrite earlier ones, as in the one-row-at-a-time version.
    """

    def __init__(self, size: int, seed):
        self.size, self.seen, self.sample = size, 0, None
        self.rng = np.random.default_rng(seed)

    def add(self, X: np.ndarray) -> None:
        if self.sample is None:
            self.sample = np.empty((self.size, X.shape[1]), np.float64)
        free = max(0, self.size - self.seen)
        self.sample[self.seen : self.seen + min(free, len(X))] = X[:free]
        rest = X[free:]
        if len(rest):
            index = self.seen + free + np.arange(len(rest))
            slots = self.rng.integers(0, index + 1)
            keep = slots < self.size
            self.sample[slots[keep]] = rest[keep]
        self.seen += len(X)

    def rows(self) -> np.ndarray:
        return self.sample[: min(self.seen, self.size)]


# The preparation steps are small classes rather than closures: a stream read in another
# process (BackgroundReader) carries them there by pickle.


class Standardize:
    """``X -> (X - mean) / scale`` as one multiply and one add in float32.

    The training batches are float32 anyway; written as ``X·a + b`` with ``a = 1/scale``
    and ``b = -mean/scale`` precomputed, preparing a chunk is two passes over float32
    memory instead of a float64 round trip (predictions use the float64 path). Pass
    ``out=X`` to overwrite ``X`` (a chunk nobody reads again) instead of allocating.

    >>> import numpy as np
    >>> Standardize(np.array([1.0]), np.array([2.0]))(np.array([[5.0]])).tolist()
    [[2.0]]
    """

    def __init__(self, mean, scale):
        mean, scale = np.asarray(mean, np.float64), np.asarray(scale, np.float64)
        self.a = (1.0 / scale).astype(np.float32)
        self.b = (-mean / scale).astype(np.float32)

    def __call__(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        Z = np.multiply(X, self.a, out=out, dtype=np.float32)
        Z += self.b
        return Z


class ScaleTarget:
    """A regression target as the loss wants it: ``(y - mean) / scale``, float32, ``(n, 1)``."""

    def __init__(self, mean: float, scale: float):
        self.mean, self.scale = float(mean), float(scale)

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return ((y.astype(np.float64) - self.mean) / self.scale).astype(np.float32)[:, None]


class EncodeLabels:
    """Class labels -> codes ``0..k-1`` of ``classes`` (float32 for two classes, where
    the loss is binary cross-entropy on one logit; integers for softmax)."""

    def __init__(self, classes: np.ndarray, binary: bool):
        self.classes, self.binary = np.asarray(classes), binary

    def __call__(self, y: np.ndarray) -> np.ndarray:
        codes = np.clip(np.searchsorted(self.classes, y), 0, len(self.classes) - 1)
        unknown = self.classes[codes] != y
        if unknown.any():  # the data changed between the first pass and this one
            raise DataError(
                f"fit_stream: labels {sorted(set(y[unknown].tolist()))[:5]} were not in the "
                "first pass over the stream"
            )
        return codes.astype(np.float32) if self.binary else codes


class PrepareChunk:
    """``(X, y) -> (features(X), target(y))`` for a stream's chunks, in place on ``X``:
    a stream's chunk is a fresh array it never reads again."""

    def __init__(self, features, target):
        self.features, self.target = features, target

    def __call__(self, X: np.ndarray, y: np.ndarray):
        in_place = X.dtype == np.float32 and X.flags.writeable
        return self.features(X, out=X if in_place else None), self.target(y.reshape(-1))


def remember_features(estimator, summary: StreamSummary) -> None:
    """Set ``n_features_in_`` (and ``feature_names_in_`` for named columns)."""
    estimator.n_features_in_ = summary.n_features
    if summary.feature_names is not None:
        estimator.feature_names_in_ = np.asarray(summary.feature_names, dtype=object)
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def train_on_stream(
    estimator,
    module,
    loss_fn,
    weights,
    source,
    *,
    features,
    target,
    loss_kind: str,
    epochs: int | None,
    summary: StreamSummary,
    validation=None,
):
    """Gradient descent over ``source`` with ``train_module``; each batch ``(X, y)`` is
    fed as ``(features(X), target(y))``. Returns ``(history, optimizer)``."""
    if epochs is None:
        epochs = getattr(source, "epochs", 1)
    if validation is not None:
        X_val, y_val = validation
        X_val = checks.check_X(X_val, type(estimator).__name__)
        validation = (features(X_val), target(np.asarray(y_val).reshape(-1)))
    elif getattr(estimator, "early_stopping", False):
        raise ValueError(
            f"{type(estimator).__name__}.fit_stream: early_stopping needs held-out data; "
            "pass validation=(X_val, y_val)"
        )

    def prepare_batch(batch):
        X, y = batch
        return features(X), target(np.asarray(y).reshape(-1))

    # Reading and preparing overlap with training. A stream prepares whole chunks as it
    # reads them (cheaper than batch by batch) and hands over shuffled blocks, which the
    # training side cuts into batches; a big one is read in another process, where it
    # never waits for this interpreter's lock (see thalweg.data.background).
    reader = None
    if hasattr(source, "unbatched") and hasattr(source, "chunks"):
        blocks = source.map(PrepareChunk(features, target)).unbatched()
        if (source.n_samples or 0) >= PROCESS_READER_ROWS:
            reader = BackgroundReader(blocks)
            batches = Pipeline(reader).batch(source.batch_size)
        else:
            batches = Pipeline(blocks).prefetch(PREFETCH).batch(source.batch_size)
    else:
        batches = Pipeline(source).map(prepare_batch).prefetch(PREFETCH)
    try:
        return train_module(
            estimator,
            module,
            loss_fn,
            weights,
            batches,
            None,
            loss_kind=loss_kind,
            epochs=int(epochs),
            batch_size=source.batch_size,
            curvature_sample=features(summary.sample),
            validation=validation,
        )
    finally:
        if reader is not None:
            reader.close()
