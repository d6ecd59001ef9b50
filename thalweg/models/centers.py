"""Nearest centres, k-means++ seeding, and the Lloyd and mini-batch updates.

The arithmetic under :class:`~thalweg.models.KMeans`, on plain NumPy arrays.

Squared distances as one matrix product
---------------------------------------
``‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖²``. To find a row's nearest centre the ``‖x‖²`` term
does not matter (it is the same for every centre), so the nearest centre is
``argmin_c (‖c‖² − 2·x·c)``, and the products ``x·c`` for a block of rows and all ``k``
centres are one matrix product (GEMM): the whole assignment is BLAS plus a few cheap
passes over a ``(k, rows)`` array.

Rows go through in **chunks** small enough to stay in the CPU cache (``CHUNK_BYTES``):
each block of ``X`` is read from memory once, and the product, the minimum, the
one-hot assignment and the per-centre sums all work on cached data. The scores are
laid out ``(k, rows)`` so that the minimum over centres is ``k − 1`` element-wise
``minimum``s of contiguous rows (fast), and the one-hot matrix ``scores == minimum``
turns both the labels and the per-centre sums into two more small matrix products.

Two cores, not one
------------------
Each product is kept small enough that OpenBLAS runs it on the calling thread (see
``SINGLE_THREAD_PRODUCT``), and the rows are instead split into one contiguous range per
core, each scanned block by block in its own thread (:func:`in_parallel`): NumPy and
BLAS release the interpreter lock while they compute, so the threads run side by side,
and nothing waits at a barrier per block. Per-centre sums come back per range and are
added in range order, so the result does not depend on timing.

Data far from the origin
------------------------
The expansion subtracts large numbers when the rows sit far from the origin compared
with their spread (``‖x‖²`` and ``2·x·c`` nearly cancel). Callers then pass an
``offset`` (the data's mean): every block is shifted by it as it is read, and the
centres live in the shifted coordinates. Nothing is copied whole.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Bytes of a block of rows plus its (k, rows) work arrays: well inside one core's cache.
CHUNK_BYTES = 1 << 20
# OpenBLAS runs a product on the calling thread while m·n·k < 2 × 262,144 (65536 × its
# default GEMM_MULTITHREAD_THRESHOLD of 4, times two threads). Each block's products stay
# below that: a product split over threads waits at a barrier, and on a busy machine one
# wait can cost a whole scheduler time slice (measured here: 6× slower per row with
# other jobs running). The cores are used by scanning ranges side by side instead.
SINGLE_THREAD_PRODUCT = 400_000
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 32, 8192


def chunk_rows(n_features: int, n_centers: int, itemsize: int) -> int:
    """Rows per block: the block and its ``(k, rows)`` work arrays fit in cache, and its
    products run on one thread.

    >>> chunk_rows(20, 8, 8)
    2500
    """
    per_row = (n_features + 3 * n_centers) * itemsize
    rows = min(CHUNK_BYTES // per_row, SINGLE_THREAD_PRODUCT // (n_features * n_centers))
    return int(np.clip(rows, MIN_CHUNK_ROWS, MAX_CHUNK_ROWS))


MAX_THREADS = 8  # ranges scanned side by side, at most (and never more than the cores)
MIN_BLOCKS_PER_THREAD = 2  # a range smaller than this is not worth a thread


def thread_count() -> int:
    """Threads the scans use: the cores this process may run on, at most ``MAX_THREADS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_inside = threading.local()  # set in the pool's threads: a nested call runs inline


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def in_parallel(n: int, rows: int, work: Callable[[int, int], object], threads: int | None = None):
    """Run ``work(start, stop)`` on contiguous ranges that cover ``range(n)``, each a
    whole number of ``rows``-row blocks, one per thread; return the results in range
    order.

    >>> in_parallel(10, 2, lambda start, stop: (start, stop), threads=2)
    [(0, 6), (6, 10)]
    """
    global _pool
    threads = thread_count() if threads is None else threads
    n_blocks = -(-n // rows)
    parts = min(threads, n_blocks // MIN_BLOCKS_PER_THREAD)
    if parts <= 1 or getattr(_inside, "flag", False):
        return [work(0, n)]
    per_part = -(-n_blocks // parts) * rows
    bounds = [(start, min(start + per_part, n)) for start in range(0, n, per_part)]
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=thread_count(),
                thread_name_prefix="thalweg-centers",
                initializer=lambda: setattr(_inside, "flag", True),
            )
    futures = [_pool.submit(work, start, stop) for start, stop in bounds]
    return [future.result() for future in futures]


def blocks(X: np.ndarray, rows: int, offset: np.ndarray | None) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, X[start:start + rows] − offset)`` for consecutive blocks of ``X``.

    With an ``offset`` the shifted block is written into one reused buffer (so it is
    only valid until the next block); without, the block is a view of ``X``.
    """
    buffer = None if offset is None else np.empty((min(rows, len(X)), X.shape[1]), X.dtype)
    for start in range(0, len(X), rows):
        block = X[start : start + rows]
        if offset is not None:
            block = np.subtract(block, offset, out=buffer[: len(block)])
        yield start, block


class NearestCenter:
    """Assign rows to their nearest centre; optionally sum the rows of each centre.

    Build one per set of centres (it precomputes ``−2·c`` and ``‖c‖²``), then call
    :meth:`assign` on any number of arrays.

    Parameters
    ----------
    centers : array (k, d)
        In the coordinates of the rows after ``offset`` is subtracted.
    dtype : numpy dtype
        dtype of the rows (float32 or float64): the products run in it.
    offset : array (d,), optional
        Subtracted from every row before it is compared (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    >>> X = np.array([[1.0, 0.0], [9.0, 9.0], [0.0, 2.0]])
    >>> labels, sums, counts = NearestCenter(centers, X.dtype).assign(X, with_sums=True)
    >>> labels.tolist(), sums.tolist(), counts.tolist()
    ([0, 1, 0], [[1.0, 2.0], [9.0, 9.0]], [2, 1])
    """

    def __init__(self, centers: np.ndarray, dtype, offset: np.ndarray | None = None):
        self.dtype = np.dtype(dtype)
        self.k, self.d = centers.shape
        self.minus_twice = np.ascontiguousarray(-2.0 * centers, dtype=self.dtype)  # (k, d)
        self.minus_twice_t = np.ascontiguousarray(self.minus_twice.T)  # (d, k)
        norms = np.einsum("ij,ij->i", centers, centers, dtype=np.float64)
        self.norms = norms.astype(self.dtype)[:, None]  # (k, 1): added to every column
        self.offset = None if offset is None else np.asarray(offset, self.dtype)
        # Row 0 gives a one-hot column's centre index, row 1 how many centres tied.
        self.index_and_count = np.stack([np.arange(self.k), np.ones(self.k)]).astype(self.dtype)

    def assign(self, X: np.ndarray, with_sums: bool = False):
        """Nearest centre of every row of ``X`` ``(n, d)``.

        Returns ``labels`` ``(n,)`` int64; with ``with_sums`` also ``sums`` ``(k, d)``
        float64 (the sum of each centre's rows, offset subtracted) and ``counts`` ``(k,)``.
        Ties go to the lowest centre index, as ``argmin`` does.
        """
        labels, sums, _ = self._scan(X, with_sums, with_distances=False)
        if not with_sums:
            return labels
        return labels, sums, np.bincount(labels, minlength=self.k)

    def assign_and_measure(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(labels, distances)``: the nearest centre of every row and the exact squared
        distance to it (float64, from the differences, no cancellation), in one pass."""
        labels, _, distances = self._scan(X, with_sums=False, with_distances=True)
        return labels, distances

    def _scan(self, X: np.ndarray, with_sums: bool, with_distances: bool):
        n = len(X)
        rows = chunk_rows(self.d, self.k, self.dtype.itemsize)
        labels = np.empty(n, np.int64)
        distances = np.empty(n) if with_distances else None

        def scan_range(start: int, stop: int):
            return self._scan_range(X, start, stop, rows, labels, distances, with_sums)

        partial_sums = in_parallel(n, rows, scan_range)
        sums = None
        if with_sums:
            sums = partial_sums[0]
            for part in partial_sums[1:]:  # in range order: the same sum every run
                sums += part
        return labels, sums, distances

    def _scan_range(self, X, first, last, rows, labels, distances, with_sums):
        """Rows ``first:last`` block by block; fills ``labels`` (and ``distances``) there
        and returns this range's per-centre sums (or None)."""
        n = min(rows, last - first)
        scores_buffer = np.empty(self.k * n, self.dtype)
        onehot_buffer = np.empty_like(scores_buffer)
        lowest_buffer = np.empty(n, self.dtype)
        picked_buffer = np.empty(2 * n, self.dtype)
        sums = np.zeros((self.k, self.d)) if with_sums else None
        centers = -0.5 * self.minus_twice  # the centres, in the rows' dtype
        for at, block in blocks(X[first:last], rows, self.offset):
            start, r = first + at, len(block)
            scores = scores_buffer[: self.k * r].reshape(self.k, r)
            onehot = onehot_buffer[: self.k * r].reshape(self.k, r)
            lowest = lowest_buffer[:r]
            picked = picked_buffer[: 2 * r].reshape(2, r)
            # scores[c, i] = ‖c‖² − 2·c·x_i: the squared distance less ‖x_i‖². Written
            # through its transpose: the same numbers, but BLAS's kernel for a thin
            # right-hand side is about twice as fast as for a thin left-hand side.
            np.matmul(block, self.minus_twice_t, out=scores.T)
            scores += self.norms
            np.minimum.reduce(scores, axis=0, out=lowest)
            np.equal(scores, lowest, out=onehot, casting="unsafe")  # 1.0 at the nearest
            np.matmul(self.index_and_count, onehot, out=picked)
            if not (picked[1] == 1).all():
                _break_ties(scores, onehot, picked)
            labels[start : start + r] = picked[0]
            if with_sums:
                sums += onehot @ block
            if distances is not None:  # while the block is still in cache
                difference = block - centers[labels[start : start + r]]
                distances[start : start + r] = np.einsum(
                    "ij,ij->i", difference, difference, dtype=np.float64
                )
        return sums


def _break_ties(scores: np.ndarray, onehot: np.ndarray, picked: np.ndarray) -> None:
    """Columns where several centres are equally near (duplicate centres) or none is
    (an overflow to NaN): keep ``argmin``'s first choice."""
    columns = np.flatnonzero(picked[1] != 1)
    first = np.argmin(scores[:, columns], axis=0)
    onehot[:, columns] = 0
    onehot[first, columns] = 1
    picked[0, columns] = first


def squared_distances_to(
    X: np.ndarray, centers: np.ndarray, labels: np.ndarray, offset: np.ndarray | None = None
) -> np.ndarray:
    """``‖x_i − centers[labels_i]‖²`` for every row, computed from the differences (exact,
    no cancellation), as float64 ``(n,)``.

    >>> import numpy as np
    >>> squared_distances_to(np.array([[3.0, 4.0]]), np.zeros((1, 2)), np.array([0])).tolist()
    [25.0]
    """
    out = np.empty(len(X))
    rows = chunk_rows(X.shape[1], 1, X.dtype.itemsize)
    for start, block in blocks(X, rows, offset):
        difference = block - centers[labels[start : start + len(block)]]
        out[start : start + len(block)] = np.einsum(
            "ij,ij->i", difference, difference, dtype=np.float64
        )
    return out


def row_norms(X: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """``‖x_i − offset‖²`` for every row, in ``X``'s dtype (chunked)."""
    out = np.empty(len(X), X.dtype)
    rows = chunk_rows(X.shape[1], 1, X.dtype.itemsize)
    for start, block in blocks(X, rows, offset):
        out[start : start + len(block)] = np.einsum("ij,ij->i", block, block)
    return out


# ----------------------------------------------------------------------- seeding


def kmeans_plusplus(
    X: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    norms: np.ndarray,
    offset: np.ndarray | None = None,
    n_trials: int | None = None,
) -> np.ndarray:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii 2007): ``n_clusters`` rows of ``X``.

    The first centre is a uniformly random row. Each next one is drawn with probability
    proportional to a row's squared distance to its nearest centre so far (far rows are
    likely, rows already covered are not) — ``n_trials`` times (default ``2 + ln k``,
    as in scikit-learn), keeping the candidate that lowers the total squared distance
    (the *potential*) the most.

    Parameters
    ----------
    X : array (n, d)
    norms : array (n,)
        ``‖x_i − offset‖²`` (:func:`row_norms`), computed once per fit.

    Returns
    -------
    centers : array (n_clusters, d) in the shifted coordinates, X's dtype.
    """
    n, d = X.shape
    if n_trials is None:
        n_trials = 2 + int(np.log(n_clusters))
    shifted = (lambda rows: rows) if offset is None else (lambda rows: rows - offset)
    centers = np.empty((n_clusters, d), X.dtype)
    centers[0] = shifted(X[rng.integers(n)])
    closest = _distances_to(X, centers[:1], norms, offset)[0][0]
    for c in range(1, n_clusters):
        cumulative = np.cumsum(closest, dtype=np.float64)
        draws = rng.random(n_trials) * cumulative[-1]
        candidates = np.minimum(np.searchsorted(cumulative, draws), n - 1)
        distances, potentials = _distances_to(X, shifted(X[candidates]), norms, offset, closest)
        best = int(np.argmin(potentials))  # the greedy choice: the lowest potential
        closest = distances[best]
        centers[c] = shifted(X[candidates[best]])
    return centers


def _distances_to(
    X: np.ndarray,
    points: np.ndarray,
    norms: np.ndarray,
    offset: np.ndarray | None,
    cap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances ``(len(points), n)`` from a few ``points`` to every row, each
    capped at ``cap`` ``(n,)`` when given (k-means++: the distance to the nearest centre
    so far), and their sums per point (float64). Computed block by block in a cached
    buffer, written out once."""
    m = len(points)
    out = np.empty((m, len(X)), X.dtype)
    minus_twice_t = np.ascontiguousarray(-2.0 * points.T, dtype=X.dtype)  # (d, m)
    point_norms = np.einsum("ij,ij->i", points, points).astype(X.dtype)[:, None]
    rows = chunk_rows(X.shape[1], m, X.dtype.itemsize)

    def measure_range(first: int, last: int) -> np.ndarray:
        totals = np.zeros(m)
        buffer = np.empty(m * min(rows, last - first), X.dtype)
        for at, block in blocks(X[first:last], rows, offset):
            start = first + at
            stop = start + len(block)
            part = buffer[: m * len(block)].reshape(m, len(block))
            np.matmul(block, minus_twice_t, out=part.T)  # see NearestCenter._scan_range
            part += norms[start:stop]
            part += point_norms
            np.maximum(part, 0, out=part)  # rounding can dip a zero distance below 0
            if cap is not None:
                np.minimum(part, cap[start:stop], out=part)
            totals += part.sum(axis=1, dtype=np.float64)
            out[:, start:stop] = part
        return totals

    return out, np.sum(in_parallel(len(X), rows, measure_range), axis=0)


def random_rows(X: np.ndarray, n_clusters: int, rng: np.random.Generator, offset=None):
    """``n_clusters`` distinct rows of ``X`` drawn uniformly (``init="random"``)."""
    rows = X[np.sort(rng.choice(len(X), n_clusters, replace=False))]
    return rows if offset is None else rows - offset


# ----------------------------------------------------------------------- Lloyd


def lloyd(
    X: np.ndarray,
    centers: np.ndarray,
    *,
    max_iter: int,
    tol: float,
    offset: np.ndarray | None = None,
):
    """Lloyd's algorithm: assign every row to its nearest centre, move every centre to
    the mean of its rows, repeat.

    Each round can only lower the inertia ``Σ‖x − c(x)‖²``; it stops when the labels no
    longer change (*strict* convergence), when the centres moved less than ``tol`` in
    total squared distance, or after ``max_iter`` rounds. A centre left with no rows is
    moved to the row farthest from its own centre (see :func:`relocate_empty`).

    Returns ``(centers, labels, distances, n_iter, n_relocated)``: ``labels`` and the
    exact squared ``distances`` belong to the returned centres (one last assignment).
    """
    centers = np.array(centers, dtype=np.float64)
    previous = None
    relocated = 0
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        labels, sums, counts = NearestCenter(centers, X.dtype, offset).assign(X, with_sums=True)
        if not counts.all():
            relocated += relocate_empty(X, centers, labels, sums, counts, offset)
        updated = sums / counts[:, None]
        shift = float(((updated - centers) ** 2).sum())
        centers = updated
        if previous is not None and np.array_equal(labels, previous):
            break  # strict convergence: the next assignment would change nothing
        if shift <= tol:
            break
        previous = labels
    # The centres moved since the labels were made: assign once more, measuring inertia.
    labels, distances = NearestCenter(centers, X.dtype, offset).assign_and_measure(X)
    return centers, labels, distances, iteration, relocated


def relocate_empty(X, centers, labels, sums, counts, offset=None) -> int:
    """Give every centre without rows the row farthest from its own centre.

    That row leaves its old centre's sum and count (updated in place, with ``labels``)
    and becomes the empty centre's only member: the largest error in the data is the
    best place to spend an idle centre. Returns the number of centres moved.
    """
    empty = np.flatnonzero(counts == 0)
    distances = squared_distances_to(X, centers.astype(X.dtype), labels, offset)
    farthest = np.argsort(distances)[::-1][: len(empty)]
    for centre, row in zip(empty, farthest, strict=False):
        point = X[row].astype(np.float64) - (0.0 if offset is None else offset)
        old = labels[row]
        sums[old] -= point
        counts[old] -= 1
        sums[centre] = point
        counts[centre] = 1
        labels[row] = centre
    return len(empty)


# ----------------------------------------------------------------------- mini-batch


def minibatch_step(
    batch: np.ndarray, centers: np.ndarray, counts: np.ndarray
) -> tuple[float, float, np.ndarray]:
    """One step of mini-batch k-means (Sculley 2010) on ``batch`` ``(b, d)``, in place.

    Each centre ``c`` is a weight; its loss on the batch is ``½·Σ_{x→c} ‖x − c‖²``, whose
    gradient is ``n_b·c − Σ_{x→c} x`` (``n_b``: the batch rows nearest to ``c``). The
    step is plain gradient descent with a **per-centre learning rate 1/count**, where
    ``count`` is how many rows the centre has absorbed so far, this batch included::

        count_c ← count_c + n_b
        c ← c − (1 / count_c) · (n_b·c − Σ_{x→c} x)

    which makes every centre the running mean of all rows ever assigned to it: early
    steps move it a lot, later ones less and less.

    ``centers`` (float64) and ``counts`` are updated in place; ``batch`` must already be
    shifted by the offset. Returns ``(batch_inertia, squared_shift, labels)``: the batch's
    inertia against the centres before the step, the total squared distance the
    centres moved, and the batch's labels.
    """
    labels, sums, batch_counts = NearestCenter(centers, batch.dtype).assign(batch, with_sums=True)
    difference = batch - centers[labels].astype(batch.dtype)
    inertia = float(np.einsum("ij,ij->", difference, difference, dtype=np.float64))
    hit = batch_counts > 0
    counts += batch_counts
    gradient = batch_counts[hit, None] * centers[hit] - sums[hit]
    step = gradient / counts[hit, None]
    centers[hit] -= step
    return inertia, float((step**2).sum()), labels


def reassign_low_counts(
    centers: np.ndarray, counts: np.ndarray, batch: np.ndarray, rng, ratio: float
) -> int:
    """Move centres that absorbed fewer than ``ratio × max(counts)`` rows to random rows
    of ``batch`` (scikit-learn's ``reassignment_ratio``): a centre stranded where no data
    lives never attracts any and would be wasted. Their counts restart at the smallest
    count of the others, so they can still move. Returns how many were moved."""
    low = counts < ratio * counts.max()
    if not low.any() or low.all():
        return 0
    moved = np.flatnonzero(low)[: len(batch)]
    rows = rng.choice(len(batch), len(moved), replace=False)
    centers[moved] = batch[rows]
    counts[moved] = counts[~low].min()
    return len(moved)
