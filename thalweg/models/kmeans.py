"""k-means clustering: ``KMeans``, by Lloyd's algorithm or by mini-batch gradient descent.

k-means looks for ``k`` centres that make the **inertia**, the sum over rows of the
squared distance to the nearest centre, as small as possible::

    J(c_1, …, c_k) = Σ_i min_j ‖x_i − c_j‖²

There is no target: it is *unsupervised* learning, finding structure in the rows alone.

* **Lloyd's algorithm** (``algorithm="lloyd"``) alternates two exact steps: give each
  row to its nearest centre, then move each centre to the mean of its rows (the point
  that minimises its share of ``J``). Each round lowers ``J``; it stops when the labels
  stop changing, when the centres move less than ``tol``, or after ``max_iter`` rounds.
* **Mini-batch k-means** (``algorithm="minibatch"``, Sculley 2010) is stochastic
  gradient descent on ``J``: each step looks at ``batch_size`` random rows and moves
  each centre a step ``1/count`` along the negative gradient of its loss on the batch,
  ``count`` being the rows the centre has seen so far (see
  :func:`~thalweg.models.centers.minibatch_step`). It never needs all the rows at once,
  so it also learns from ``partial_fit`` calls and from streams (``fit_stream``).

Both start from **k-means++** seeds (greedy: several candidates per centre, the best
kept), run ``n_init`` times when asked, and keep the run with the lowest inertia. The
settings follow scikit-learn's ``KMeans`` and ``MiniBatchKMeans``: ``tol`` is relative
to the data's variance, ``n_init="auto"`` is one run from k-means++ seeds and ten from
random ones, ``inertia_`` is the sum of squared distances. The arithmetic (distances as
one matrix product, in cache-sized chunks) is in :mod:`thalweg.models.centers`.
"""

from __future__ import annotations

import warnings

import numpy as np

from thalweg.errors import DataError
from thalweg.models import checks
from thalweg.models.base import Estimator
from thalweg.models.centers import (
    NearestCenter,
    blocks,
    chunk_rows,
    kmeans_plusplus,
    lloyd,
    minibatch_step,
    random_rows,
    reassign_low_counts,
    row_norms,
)
from thalweg.models.transformer import TransformerMixin

ALGORITHMS = ("lloyd", "minibatch")
INITS = ("k-means++", "random")
# The rows are shifted by their mean before distances are expanded when
# eps · ‖mean‖² / spread exceeds this (see thalweg.models.centers: data far from 0).
PRECISION_LIMIT = 1e-6
REASSIGNMENT_RATIO = 0.01  # mini-batch: centres below this share of the largest count move


class EmptyClusterWarning(UserWarning):
    """A cluster lost all its rows and its centre was moved (reseeded) elsewhere."""


class KMeans(TransformerMixin, Estimator):
    """k-means clustering by Lloyd's algorithm or mini-batch gradient descent.

    Parameters
    ----------
    n_clusters : int
        The number of clusters ``k``.
    init : "k-means++", "random" or array (n_clusters, n_features)
        Seeds: greedy k-means++ (default), ``k`` distinct random rows, or given centres.
    algorithm : "lloyd" or "minibatch"
        Lloyd's exact alternation, or mini-batch k-means (SGD with a per-centre
        learning rate ``1/count``).
    batch_size : int
        Rows per mini-batch step (``"minibatch"``, ``partial_fit`` ignores it: each call
        is one step on the rows given).
    max_iter : int
        Lloyd: most rounds of assign-and-update. Mini-batch: most passes over the data.
    tol : float
        Stop when the centres moved less than ``tol × (mean variance of the features)``
        in total squared distance: between two rounds (Lloyd) or in one step (mini-batch).
    n_init : "auto" or int
        Runs from different seeds; the one with the lowest inertia is kept. ``"auto"``:
        1 with k-means++ or given centres, 10 with random ones. For mini-batch the
        seeds are compared on the seeding sample, and one descent is run.
    max_no_improvement : int or None
        Mini-batch: stop when the smoothed batch inertia has not improved for this many
        steps (scikit-learn's rule); None never stops early on it.
    random_state : None, int or numpy Generator
        Seeds the seeding and the batches: the same int gives the same clusters.

    Attributes
    ----------
    cluster_centers_ : array (n_clusters, n_features)
        The centres, in the dtype of the training data (float32 stays float32).
    labels_ : array (n_samples,) of int
        Each training row's cluster (after ``partial_fit``: the last batch's rows).
    inertia_ : float
        Sum of squared distances of the training rows to their nearest centre.
    n_iter_ : int
        Lloyd rounds, or passes over the data (mini-batch), of the run kept.
    n_steps_ : int
        Mini-batch steps taken (0 for Lloyd).
    counts_ : array (n_clusters,)
        Rows each centre has absorbed: its mini-batch learning rate is ``1/count``.
    origin_ : array (n_features,) or None
        The point distances are computed around (the training mean, for data far
        from 0; see :mod:`thalweg.models.centers`), or None.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 0.0], [10.0, 2.0], [10.0, 4.0], [10.0, 0.0]])
    >>> model = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(model.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> bool((model.predict([[0.0, 0.0], [12.0, 3.0]]) == model.predict([[1, 2], [10, 2]])).all())
    True
    >>> float(model.inertia_)
    16.0
    """

    _estimator_type = "clusterer"
    _preserves_dtype = ("float64", "float32")

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init="k-means++",
        algorithm: str = "lloyd",
        batch_size: int = 1024,
        max_iter: int = 300,
        tol: float = 1e-4,
        n_init="auto",
        max_no_improvement: int | None = 10,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.algorithm = algorithm
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.max_no_improvement = max_no_improvement
        self.random_state = random_state

    # ------------------------------------------------------------------ settings
    def _check_params(self, n_samples: int, n_features: int) -> int:
        """Validate the parameters against the data; return the number of runs."""
        who = type(self).__name__
        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 1:
            raise ValueError(f"{who}: n_clusters must be a positive int, got {self.n_clusters!r}")
        if n_samples < self.n_clusters:
            raise DataError(
                f"{who}: n_samples={n_samples} should be >= n_clusters={self.n_clusters}; "
                "pass more rows or ask for fewer clusters"
            )
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"{who}: algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}"
            )
        for name in ("batch_size", "max_iter"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
        if not self.tol >= 0:
            raise ValueError(f"{who}: tol must be >= 0, got {self.tol!r}")
        if self.max_no_improvement is not None and self.max_no_improvement < 1:
            raise ValueError(f"{who}: max_no_improvement must be None or >= 1")
        if isinstance(self.init, str):
            if self.init not in INITS:
                raise ValueError(
                    f"{who}: init must be 'k-means++', 'random' or an array of centres, "
                    f"got {self.init!r}"
                )
        else:
            given = np.asarray(self.init, dtype=np.float64)
            if given.shape != (self.n_clusters, n_features):
                raise DataError(
                    f"{who}: init has shape {given.shape}; it must be (n_clusters, "
                    f"n_features) = ({self.n_clusters}, {n_features})"
                )
            checks.check_finite(given, who, "init")
        if self.n_init == "auto":
            return 10 if isinstance(self.init, str) and self.init == "random" else 1
        if not isinstance(self.n_init, int | np.integer) or self.n_init < 1:
            raise ValueError(f"{who}: n_init must be 'auto' or a positive int, got {self.n_init!r}")
        if not isinstance(self.init, str) and self.n_init != 1:
            warnings.warn(
                f"{who}: init is an array of centres, so n_init={self.n_init} runs would all "
                "be the same; running once",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return int(self.n_init)

    def _seeds(self, X, rng, norms, origin) -> np.ndarray:
        """Initial centres (shifted by ``origin``) for one run."""
        if isinstance(self.init, str) and self.init == "k-means++":
            return kmeans_plusplus(X, self.n_clusters, rng, norms, origin)
        if isinstance(self.init, str):
            return random_rows(X, self.n_clusters, rng, origin)
        given = np.array(self.init, dtype=np.float64)  # a copy: descent moves it in place
        return given if origin is None else given - origin

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None) -> KMeans:
        """Find the clusters of ``X`` ``(n_samples, n_features)``; ``y`` is ignored."""
        X = self._validate_X(X, reset=True)
        runs = self._check_params(*X.shape)
        rng = np.random.default_rng(self._random_seed())
        if self.algorithm == "lloyd":
            origin, norms, spread = _origin_and_spread(X)
            self._fit_lloyd(X, runs, rng, norms, origin, self.tol * spread)
        else:
            self._fit_minibatch(X, runs, rng)
        self._warn_if_fewer_distinct()
        return self

    def _fit_lloyd(self, X, runs, rng, norms, origin, tol) -> None:
        best = None
        relocated = 0
        for _ in range(runs):
            seeds = self._seeds(X, rng, norms, origin)
            centers, labels, distances, n_iter, moved = lloyd(
                X, seeds, max_iter=self.max_iter, tol=tol, offset=origin
            )
            relocated += moved
            inertia = float(distances.sum())
            if best is None or inertia < best[0]:
                best = (inertia, centers, labels, n_iter)
        inertia, centers, labels, n_iter = best
        self._set_fitted(centers, origin, X.dtype)
        self.labels_ = labels
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self.n_steps_ = 0
        self.counts_ = np.bincount(labels, minlength=self.n_clusters)
        if relocated:
            warnings.warn(
                f"{type(self).__name__}: {relocated} cluster(s) became empty during Lloyd's "
                "iterations and were reseeded at the rows farthest from their centres",
                EmptyClusterWarning,
                stacklevel=2,
            )

    def _fit_minibatch(self, X, runs, rng) -> None:
        """Seeds from a sample, then steps on batches drawn at random (with replacement,
        as scikit-learn does) until a stopping rule fires or ``max_iter`` epochs' worth
        of rows were seen; then one pass for ``labels_`` and ``inertia_``."""
        n = len(X)
        batch_size = min(self.batch_size, n)
        sample = X[np.sort(rng.choice(n, min(n, max(3 * batch_size, 3 * self.n_clusters))))]
        # The sample tells where the data lies and how spread it is: no pass over X.
        origin, _, spread = _origin_and_spread(sample)
        shift = None if origin is None else origin.astype(X.dtype)
        centers = self._best_seeds_on_sample(sample, runs, rng, origin)
        counts = np.zeros(self.n_clusters, np.int64)
        descent = _MiniBatchDescent(self, n, batch_size, self.tol * spread, rng)
        steps_per_epoch = -(-n // batch_size)
        while descent.steps < self.max_iter * steps_per_epoch and not descent.converged:
            batch = X[rng.integers(0, n, batch_size)]
            if shift is not None:
                batch -= shift
            descent.step(batch, centers, counts)
        self._set_fitted(centers, origin, X.dtype)
        self.labels_, distances = NearestCenter(centers, X.dtype, origin).assign_and_measure(X)
        self.inertia_ = float(distances.sum())
        self.n_steps_ = descent.steps
        self.n_iter_ = -(-descent.steps // steps_per_epoch)
        self.counts_ = counts
        descent.warn_if_reassigned()

    def _best_seeds_on_sample(self, sample, runs, rng, origin) -> np.ndarray:
        """Seeds from ``sample`` (scikit-learn's ``init_size`` rows); with several runs,
        the seeds whose inertia on the sample is lowest. In shifted coordinates."""
        if origin is not None:
            sample = sample - origin.astype(sample.dtype)
        norms = row_norms(sample)
        best = None
        for _ in range(runs):
            seeds = np.asarray(self._seeds(sample, rng, norms, None), dtype=np.float64)
            if not isinstance(self.init, str) and origin is not None:
                seeds = seeds - origin  # given centres are in the data's coordinates
            _, distances = NearestCenter(seeds, sample.dtype).assign_and_measure(sample)
            if best is None or distances.sum() < best[0]:
                best = (distances.sum(), seeds)
        return best[1]

    def partial_fit(self, X, y=None) -> KMeans:
        """One mini-batch step on the rows ``X`` (whatever ``algorithm`` says: Lloyd's
        needs all the rows at once). The first call seeds the centres from ``X``, which
        needs at least ``n_clusters`` rows; ``labels_`` and ``inertia_`` describe the
        last batch, against the centres after the step."""
        first = not self._is_fitted()
        X = self._validate_X(X, reset=first)
        if first:
            self._check_params(*X.shape)
            self._rng = np.random.default_rng(self._random_seed())
            origin, norms, _ = _origin_and_spread(X)
            centers = np.asarray(self._seeds(X, self._rng, norms, origin), dtype=np.float64)
            self.counts_ = np.zeros(self.n_clusters, np.int64)
            self.n_steps_ = 0
            self.n_iter_ = 0
        else:
            origin = self.origin_
            centers = self._shifted_centers()
        batch = X if origin is None else X - origin.astype(X.dtype)
        counts = np.asarray(self.counts_, dtype=np.int64)
        minibatch_step(batch, centers, counts)
        if (counts == 0).any():  # only duplicate rows can leave a seed without rows
            rng = getattr(self, "_rng", None) or np.random.default_rng(self._random_seed())
            _warn_reassigned(reassign_low_counts(centers, counts, batch, rng, REASSIGNMENT_RATIO))
        self._set_fitted(centers, origin, X.dtype)
        self.counts_ = counts
        # The batch against the moved centres, as scikit-learn reports it.
        self.labels_, distances = NearestCenter(centers, X.dtype).assign_and_measure(batch)
        self.inertia_ = float(distances.sum())
        self.n_steps_ += 1
        self.n_iter_ += 1
        return self

    def fit_stream(self, stream, epochs: int | None = None) -> KMeans:
        """Mini-batch k-means on a stream of batches too big for memory.

        ``stream`` is a :func:`thalweg.data.stream` (``target=None`` for files without
        labels; a target, if any, is ignored) or any batch source. A first pass learns
        the mean and spread and keeps a uniform sample of rows (``3 × batch_size``) to
        seed from; then ``epochs`` passes (default: the stream's ``epochs``) of
        mini-batch steps, one per stream batch; then a last pass measures ``inertia_``.
        ``labels_`` is not kept (one label per row of a file bigger than memory):
        :meth:`predict` the rows you need.

        >>> import numpy as np, os, tempfile
        >>> from thalweg.data import stream
        >>> path = os.path.join(tempfile.mkdtemp(), "rows.npy")
        >>> rng = np.random.default_rng(0)
        >>> np.save(path, np.vstack([rng.normal(0, 1, (500, 2)), rng.normal(20, 1, (500, 2))]))
        >>> data = stream(path, target=None, batch_size=100, seed=0, epochs=3)
        >>> model = KMeans(n_clusters=2, random_state=0).fit_stream(data)
        >>> sorted(round(float(x)) for x in model.cluster_centers_[:, 0])
        [0, 20]
        """
        rng = np.random.default_rng(self._random_seed())
        batch_size = int(getattr(stream, "batch_size", None) or self.batch_size)
        sample_size = max(3 * batch_size, 3 * int(self.n_clusters))
        n, mean, spread, sample = _summarize_stream(stream, rng, sample_size, type(self).__name__)
        self.n_features_in_ = sample.shape[1]
        self._remember_feature_names(getattr(stream, "feature_names", None), from_arrays=True)
        runs = self._check_params(n, self.n_features_in_)
        dtype = sample.dtype
        origin = _far_origin(mean, spread, dtype)
        shift = None if origin is None else origin.astype(dtype)
        centers = self._best_seeds_on_sample(sample, runs, rng, origin)
        counts = np.zeros(self.n_clusters, np.int64)
        descent = _MiniBatchDescent(self, n, batch_size, self.tol * spread, rng)
        passes = int(epochs if epochs is not None else getattr(stream, "epochs", 1))
        done = 0
        while done < passes and not descent.converged:
            for X, _ in stream.epoch_batches(rng):
                batch = np.array(X, dtype=dtype)  # a copy: shifted in place
                if shift is not None:
                    batch -= shift
                descent.step(batch, centers, counts)
                if descent.converged:
                    break
            done += 1
        self._set_fitted(centers, origin, dtype)
        finder = NearestCenter(centers, dtype, origin)
        inertia = 0.0
        for X, _ in _one_pass(stream, rng):
            inertia += float(finder.assign_and_measure(np.asarray(X, dtype=dtype))[1].sum())
        self.inertia_ = inertia
        self.n_steps_ = descent.steps
        self.n_iter_ = done
        self.counts_ = counts
        if hasattr(self, "labels_"):
            del self.labels_
        descent.warn_if_reassigned()
        self._warn_if_fewer_distinct()
        return self

    def _set_fitted(self, centers: np.ndarray, origin, dtype) -> None:
        shifted_back = centers if origin is None else centers + origin
        self.cluster_centers_ = np.asarray(shifted_back, dtype=dtype)
        self.origin_ = origin

    def _shifted_centers(self) -> np.ndarray:
        centers = np.asarray(self.cluster_centers_, dtype=np.float64)
        return centers if self.origin_ is None else centers - self.origin_

    def _warn_if_fewer_distinct(self) -> None:
        distinct = len(np.unique(self.cluster_centers_, axis=0))
        if distinct < self.n_clusters:
            warnings.warn(
                f"{type(self).__name__}: only {distinct} distinct clusters were found for "
                f"n_clusters={self.n_clusters}; the data has fewer distinct rows than "
                "clusters (duplicate rows?): ask for fewer clusters",
                EmptyClusterWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ using
    def predict(self, X) -> np.ndarray:
        """The nearest centre's index for each row of ``X``: ``(n_samples,)`` int64."""
        X = self._validate_X(X, reset=False)
        return NearestCenter(self._shifted_centers(), X.dtype, self.origin_).assign(X)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X).labels_

    def transform(self, X) -> np.ndarray:
        """Euclidean distance from every row to every centre: ``(n_samples, n_clusters)``,
        in ``X``'s float dtype."""
        X = self._validate_X(X, reset=False)
        centers = self._shifted_centers().astype(X.dtype)
        center_norms = np.einsum("ij,ij->i", centers, centers)
        out = np.empty((len(X), self.n_clusters), X.dtype)
        rows = chunk_rows(X.shape[1], self.n_clusters, X.dtype.itemsize)
        for start, block in blocks(X, rows, self.origin_):
            part = out[start : start + len(block)]
            np.matmul(block, -2 * centers.T, out=part)
            part += np.einsum("ij,ij->i", block, block)[:, None]
            part += center_norms
            np.maximum(part, 0, out=part)
            np.sqrt(part, out=part)
        return out

    def score(self, X, y=None) -> float:
        """Minus the inertia of ``X``: ``−Σ‖x − nearest centre‖²`` (higher is better)."""
        X = self._validate_X(X, reset=False)
        finder = NearestCenter(self._shifted_centers(), X.dtype, self.origin_)
        return -float(finder.assign_and_measure(X)[1].sum())


def _origin_and_spread(X: np.ndarray):
    """``(origin, norms, spread)``: the point to compute distances around (the mean when
    the data sits far from 0, else None), ``‖x − origin‖²`` per row, and the mean
    variance of the features (the scale of ``tol``)."""
    n, d = X.shape
    mean = X.mean(axis=0, dtype=np.float64)
    norms = row_norms(X)
    spread = max(float(norms.sum(dtype=np.float64)) / n - float(mean @ mean), 0.0) / d
    origin = _far_origin(mean, spread, X.dtype)
    if origin is not None:
        norms = row_norms(X, origin.astype(X.dtype))
        spread = float(norms.sum(dtype=np.float64)) / (n * d)
    return origin, norms, spread


def _far_origin(mean: np.ndarray, spread: float, dtype) -> np.ndarray | None:
    """The mean, when rounding in ``‖x‖² − 2x·c + ‖c‖²`` would cost accuracy; else None."""
    eps = np.finfo(dtype).eps
    scale = spread * len(mean)
    if float(mean @ mean) * eps > PRECISION_LIMIT * max(scale, np.finfo(np.float64).tiny):
        return mean
    return None


def _one_pass(stream, rng):
    """Every row of ``stream`` once: a Stream's chunks in file order, else one epoch."""
    return stream.chunks() if hasattr(stream, "chunks") else stream.epoch_batches(rng)


def _summarize_stream(stream, rng, sample_size: int, who: str):
    """One pass: ``(n, mean, spread, sample)`` with a uniform sample of rows (reservoir)."""
    from thalweg.data.holdout import Reservoir

    n, mean, square_sum, reservoir, dtype = 0, None, 0.0, None, None
    for X, _ in _one_pass(stream, rng):
        X = checks.check_X(X, f"{who}.fit_stream")
        if reservoir is None:
            reservoir = Reservoir(sample_size, int(rng.integers(2**31)))
            mean, dtype = np.zeros(X.shape[1]), X.dtype
        checks.check_n_features(who, X, len(mean))
        # Running mean (Welford's merge of chunk means): no catastrophic cancellation.
        mean += (X.mean(axis=0, dtype=np.float64) - mean) * (len(X) / (n + len(X)))
        square_sum += float(np.einsum("ij,ij->", X, X, dtype=np.float64))
        n += len(X)
        reservoir.add(X)
    if not n:
        raise DataError(f"{who}.fit_stream: the stream is empty")
    spread = max(square_sum / n - float(mean @ mean), 0.0) / len(mean)
    return n, mean, spread, reservoir.X.astype(dtype)


def _warn_reassigned(moved: int) -> None:
    if moved:
        warnings.warn(
            f"KMeans: {moved} centre(s) attracted no rows and were reseeded at random rows",
            EmptyClusterWarning,
            stacklevel=3,
        )


class _MiniBatchDescent:
    """The bookkeeping around :func:`minibatch_step`: reassignment of starved centres
    and scikit-learn's stopping rules (small centre movement; no improvement of the
    exponentially weighted average of the batch inertia)."""

    def __init__(self, model: KMeans, n_samples: int, batch_size: int, tol: float, rng):
        self.model, self.n_samples, self.tol, self.rng = model, n_samples, tol, rng
        self.alpha = min(1.0, 2.0 * batch_size / (n_samples + 1))
        self.steps = 0
        self.converged = False
        self.smoothed = self.best = None
        self.no_improvement = 0
        self.since_reassign = 0
        self.reassigned = 0

    def step(self, batch: np.ndarray, centers: np.ndarray, counts: np.ndarray) -> None:
        inertia, shift, _ = minibatch_step(batch, centers, counts)
        self.steps += 1
        self.since_reassign += len(batch)
        if (counts == 0).any() or self.since_reassign >= 10 * len(centers):
            self.since_reassign = 0
            self.reassigned += reassign_low_counts(
                centers, counts, batch, self.rng, REASSIGNMENT_RATIO
            )
        mean_inertia = inertia / len(batch)
        if self.steps == 1:
            return  # the first batch measures the seeds, not the descent
        if self.smoothed is None:
            self.smoothed = mean_inertia
        else:
            self.smoothed += self.alpha * (mean_inertia - self.smoothed)
        if self.tol > 0 and shift <= self.tol:
            self.converged = True
        if self.best is None or self.smoothed < self.best:
            self.best, self.no_improvement = self.smoothed, 0
        else:
            self.no_improvement += 1
        patience = self.model.max_no_improvement
        if patience is not None and self.no_improvement >= patience:
            self.converged = True

    def warn_if_reassigned(self) -> None:
        if self.reassigned:
            warnings.warn(
                f"KMeans: {self.reassigned} time(s) a centre had absorbed almost no rows "
                f"(under {REASSIGNMENT_RATIO:.0%} of the largest count) and was reseeded "
                "at a random row of the batch",
                EmptyClusterWarning,
                stacklevel=3,
            )
