"""Putting the data on the workers, one shard each, and summarising it there.

A Dask array or DataFrame is a list of partitions (row blocks). :meth:`ShardedData.load`
gives each worker a contiguous run of partitions and has *that worker* compute them
(read the Parquet files, slice the array) and stack them into one :class:`Shard`, which
stays in the worker's memory for the whole fit. From then on the driver only sends
small messages (weights, a seed) and receives small answers (sums, gradients): the
rows never travel to the driver.

One shard per worker (rather than one task per partition) keeps each training step at
one task per worker: with Dask's per-task overhead of a few milliseconds, that is what
lets a step cost little more than the slowest worker's arithmetic.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from thalweg.data.filesystems import is_url, locate, translate_errors
from thalweg.data.summary import SUMMARY_SAMPLE_ROWS, DataSummary
from thalweg.distributed import worker
from thalweg.distributed.cluster import require_dask, worker_addresses
from thalweg.errors import DataError, ShapeError

# Weights at least this large are scattered once per step rather than sent inside each
# task, so multi-megabyte messages do not pass through the scheduler once per worker.
SCATTER_BYTES = 1 << 20
# The rows the workers send for the learning rate's curvature: at most this many numbers.
SAMPLE_VALUES = 4_000_000


def combine_moments(parts: list[dict]) -> tuple[int, np.ndarray, np.ndarray]:
    """Merge per-shard ``{"n", "mean", "m2"}`` into the moments of all rows together.

    Chan, Golub and LeVeque's pairwise update: for two groups A and B, with
    ``δ = mean_B - mean_A`` and ``n = n_A + n_B``::

        mean = mean_A + δ·n_B/n
        M2   = M2_A + M2_B + δ²·n_A·n_B/n

    It is exact (no second pass over the data) and stable (no ``Σx² - n·mean²``
    cancellation). The variance is ``M2 / n``.

    >>> a = np.array([[1.0], [2.0]]); b = np.array([[4.0], [7.0], [8.0]])
    >>> parts = [{"n": len(p), "mean": p.mean(0), "m2": ((p - p.mean(0)) ** 2).sum(0)}
    ...          for p in (a, b)]
    >>> n, mean, m2 = combine_moments(parts)
    >>> n, np.allclose(mean, 4.4), np.allclose(m2 / n, np.vstack([a, b]).var(axis=0))
    (5, True, True)
    """
    n, mean, m2 = 0, None, None
    for part in parts:
        if part["n"] == 0:
            continue
        if n == 0:
            n, mean, m2 = part["n"], part["mean"], part["m2"]
            continue
        total = n + part["n"]
        delta = part["mean"] - mean
        mean = mean + delta * (part["n"] / total)
        m2 = m2 + part["m2"] + delta**2 * (n * part["n"] / total)
        n = total
    return n, mean, m2


class ShardedData:
    """A dataset held on the workers as one shard future per worker.

    Parameters
    ----------
    client : dask.distributed.Client
    shards : list of Future
        Each resolves (on its worker) to a :class:`~thalweg.distributed.worker.Shard`.
    n_features : int
    feature_names : list of str or None
        DataFrame column names (the estimator remembers them as ``feature_names_in_``).
    sizes : list of int, optional
        Rows in each shard (learned by :meth:`statistics`).
    """

    def __init__(self, client, shards: list, n_features: int, feature_names=None, sizes=None):
        self.client = client
        self.shards = shards
        self.n_features = n_features
        self.feature_names = feature_names
        self.sizes = sizes

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, client, X, y=None, target: str | None = None) -> ShardedData:
        """Load ``X`` (and ``y``) onto the client's workers.

        ``X`` is a Dask DataFrame with the label column named by ``target``; a Dask
        DataFrame and a Dask Series ``y``; a 2-D Dask array and a 1-D Dask array ``y``
        chunked alike along the rows; or NumPy arrays (split into one block per worker,
        for small experiments).
        """
        require_dask()
        import dask

        workers = worker_addresses(client)
        if hasattr(X, "columns") and dask.is_dask_collection(X):
            frame, target = _frame_with_target(X, y, target)
            if frame.npartitions < len(workers):  # give every worker something to do
                frame = frame.repartition(npartitions=len(workers))
            partitions = frame.to_delayed()
            delayed_shards = {
                address: dask.delayed(worker.shard_from_frames)(
                    [partitions[i] for i in run], target
                )
                for address, run in _assign(len(partitions), workers)
            }
            columns = [c for c in frame.columns if c != target]
            n_features = len(columns)
            feature_names = columns if all(isinstance(c, str) for c in columns) else None
        else:
            if target is not None:
                raise ValueError("target= names a DataFrame column; with arrays pass y")
            x_blocks, y_blocks, n_features = _array_blocks(X, y, len(workers))
            delayed_shards = {
                address: dask.delayed(worker.shard_from_arrays)(
                    [x_blocks[i] for i in run], [y_blocks[i] for i in run]
                )
                for address, run in _assign(len(x_blocks), workers)
            }
            feature_names = None
        # Each worker computes its own shard: its partitions are read where they will live.
        shards = [
            client.compute(shard, workers=[address]) for address, shard in delayed_shards.items()
        ]
        return cls(client, shards, n_features, feature_names)

    # ------------------------------------------------------------------ running on shards
    def broadcast(self, value: np.ndarray):
        """Get ``value`` (the weights θ) to every worker; pass the result to :meth:`map`.

        A large θ is scattered to all workers once (``client.scatter(broadcast=True)``)
        and the tasks refer to it. A small one (under :data:`SCATTER_BYTES`) simply
        travels inside each task: scattering costs an extra round trip to the scheduler,
        which on the measured machine doubled the time of a small model's step.
        """
        if value.nbytes < SCATTER_BYTES:
            return value
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, function, *args, each: list | None = None) -> list:
        """``function(shard, *args, *each[i])`` on every worker's shard ``i``; the results,
        gathered to the driver (keep them small: sums, gradients)."""
        return self.client.gather(self._submit(function, args, each))

    def transform(self, function, *args, each: list | None = None) -> ShardedData:
        """Shards replaced by ``function(shard, *args, *each[i])`` (the same rows, maybe
        reordered or re-encoded), left on the workers."""
        futures = self._submit(function, args, each)
        return ShardedData(self.client, futures, self.n_features, self.feature_names, self.sizes)

    def _submit(self, function, args: tuple, each: list | None) -> list:
        each = each or [()] * len(self.shards)
        return [
            # pure=False: a fresh task each time, and no hashing of the arguments
            self.client.submit(function, shard, *args, *extra, pure=False)
            for shard, extra in zip(self.shards, each, strict=True)
        ]

    def to_actors(self) -> ActorShards:
        """The same shards, each moved into a :class:`~thalweg.distributed.worker.ShardActor`
        on the worker that holds it (calls then skip the scheduler)."""
        distributed = require_dask()
        distributed.wait(self.shards)  # so that each shard has a home to ask about
        where = self.client.who_has(self.shards)
        futures = [
            self.client.submit(worker.ShardActor, shard, actor=True, workers=list(where[shard.key]))
            for shard in self.shards
        ]
        return ActorShards(self.client, futures, self.n_features, self.feature_names, self.sizes)

    def summarize(self, classify: bool) -> DataSummary:
        """One pass: the row count and column moments (Chan's merge of per-shard moments),
        the target's mean and variance or, with ``classify``, its sorted labels, and
        about :data:`~thalweg.data.summary.SUMMARY_SAMPLE_ROWS` evenly spaced rows (fewer
        for wide data: at most :data:`SAMPLE_VALUES` numbers travel to the driver)."""
        rows = min(SUMMARY_SAMPLE_ROWS, SAMPLE_VALUES // max(self.n_features, 1))
        parts = self.map(worker.shard_statistics, classify, math.ceil(rows / len(self.shards)))
        self.sizes = [part["n"] for part in parts]
        n, x_mean, x_m2 = combine_moments(parts)
        if n == 0:
            raise DataError("thalweg.distributed: the data has no rows")
        dtypes = {part["dtype"] for part in parts if part["n"]}
        sample = np.concatenate([part["sample"] for part in parts if part["n"]])
        summary = DataSummary(
            n_samples=n,
            x_mean=x_mean,
            x_var=x_m2 / n,
            sample=sample.astype(np.result_type(*dtypes), copy=False),
            feature_names=self.feature_names,
        )
        if classify:
            summary.classes = np.unique(np.concatenate([part["classes"] for part in parts]))
            if len(summary.classes) < 2:
                raise DataError(
                    f"thalweg.distributed: y has only one class ({summary.classes[0]!r}); a "
                    "classifier needs at least 2 classes in the training data"
                )
        else:
            _, y_mean, y_m2 = combine_moments([part["y"] for part in parts])
            summary.y_mean, summary.y_var = float(y_mean[0]), float(y_m2[0] / n)
        return summary


def read_table(path):
    """A lazy Dask DataFrame over a Parquet file, a folder of Parquet (or CSV) files, a
    CSV file, or a glob such as ``"data/*.csv"``: nothing is read until the workers
    load their partitions.

    ``path`` may be a URL of an object store (``s3://bucket/data/``, ``gs://``,
    ``az://``, ``hdfs://``; see :mod:`thalweg.data.filesystems`): each worker then reads
    its own partitions straight from the store, with the credentials of its own
    environment (nothing secret travels in the task graph).

    Parameters
    ----------
    path : str or Path

    Examples
    --------
    >>> frame = read_table("data/")                       # doctest: +SKIP
    >>> fit(LogisticRegression(), frame, target="label")  # doctest: +SKIP
    """
    require_dask()
    import dask.dataframe as dd

    if is_url(str(path)):
        return _read_store_table(str(path))
    text, folder = str(path), Path(path)
    if folder.is_dir():
        if any(folder.glob("*.parquet")) or not any(folder.glob("*.csv")):
            return dd.read_parquet(folder)
        return dd.read_csv(str(folder / "*.csv"))
    suffixes = "".join(Path(text).suffixes[-2:]).lower()
    if suffixes.endswith((".parquet", ".pq")):
        return dd.read_parquet(text)
    if suffixes.endswith(".csv"):
        return dd.read_csv(text)
    if suffixes.endswith((".csv.gz", ".csv.bz2", ".csv.xz")):
        return dd.read_csv(text, blocksize=None)  # compressed: one partition per file
    raise DataError(
        f"thalweg.distributed: cannot read {text!r} as a table; give a Parquet file, a "
        "CSV file, a folder of either, or a glob such as 'data/*.csv'"
    )


def _read_store_table(url: str):
    """:func:`read_table` for a URL: the folder is listed (and errors named) here."""
    import dask.dataframe as dd

    location = locate(url)
    glob = any(c in location.path for c in "*?[")
    if not glob and location.is_dir():
        parquet = location.files((".parquet", ".pq"))
        csvs = location.files((".csv",))
        if not parquet and not csvs:
            raise DataError(f"{location}: the folder holds no Parquet or CSV files")
        with translate_errors(location):
            if parquet:
                return dd.read_parquet(url)
            return dd.read_csv(url.rstrip("/") + "/*.csv")
    if not glob and not location.exists():
        raise DataError(f"{location}: no such file or folder; check the URL")
    name = location.name.lower()
    with translate_errors(location):
        if name.endswith((".parquet", ".pq")):
            return dd.read_parquet(url)
        if name.endswith(".csv"):
            return dd.read_csv(url)
        if name.endswith((".csv.gz", ".csv.bz2", ".csv.xz")):
            return dd.read_csv(url, blocksize=None)
    raise DataError(
        f"thalweg.distributed: cannot read {location} as a table; give a Parquet file, a "
        "CSV file, a folder of either, or a glob such as 's3://bucket/data/*.csv'"
    )


def _frame_with_target(X, y, target):
    """One DataFrame holding the features and the label column, and that column's name."""
    if target is not None:
        if y is not None:
            raise ValueError("pass either target= (a column of X) or y, not both")
        if target not in X.columns:
            raise DataError(
                f"thalweg.distributed: no column {target!r} in the data; its columns are "
                f"{list(X.columns)}"
            )
        return X, target
    if y is None:
        raise ValueError("pass the labels: y (a Dask Series) or target= (a column of X)")
    name = getattr(y, "name", None) or "__target__"
    if name in X.columns:
        name = "__target__"
    return X.assign(**{name: y}), name


def _array_blocks(X, y, n_workers: int):
    """Row blocks of ``X`` (all columns in each) and the matching blocks of ``y``."""
    import dask.array as da

    if y is None:
        raise ValueError("pass the labels y")
    if not hasattr(X, "chunks"):  # NumPy: one block per worker
        X = np.asarray(X)
        if X.ndim != 2:
            raise ShapeError(f"thalweg.distributed: X must be 2-D, got shape {X.shape}")
        X = da.from_array(X, chunks=(math.ceil(len(X) / n_workers), -1))
    if X.ndim != 2:
        raise ShapeError(f"thalweg.distributed: X must be 2-D, got shape {X.shape}")
    X = X.rechunk({1: -1})  # a block holds whole rows
    if X.numblocks[0] < n_workers:
        X = X.rechunk({0: math.ceil(X.shape[0] / n_workers)})
    if not hasattr(y, "chunks"):
        y = da.from_array(np.asarray(y), chunks=-1)
    if y.shape[0] != X.shape[0]:
        raise ShapeError(
            f"thalweg.distributed: X has {X.shape[0]} rows but y has {y.shape[0]}; they must match"
        )
    y = y.rechunk({0: X.chunks[0]} | ({1: -1} if y.ndim == 2 else {}))
    return list(X.to_delayed().ravel()), list(y.to_delayed().ravel()), X.shape[1]


def _assign(n_partitions: int, workers: list[str]) -> list[tuple[str, np.ndarray]]:
    """Split partitions ``0..n-1`` into contiguous runs of near-equal length (they differ
    by at most one partition), one run per worker; workers beyond ``n`` get none."""
    runs = np.array_split(np.arange(n_partitions), len(workers))
    return [(address, run) for address, run in zip(workers, runs, strict=True) if len(run)]


class ActorShards:
    """:class:`ShardedData`'s ``map``/``transform``/``broadcast``, with each shard held
    by an actor on its worker: the driver talks to the workers directly, with no
    scheduler in between. Faster per step; but an actor lost with its worker is not
    recomputed (a task's result would be), and Dask calls actors experimental.
    """

    def __init__(self, client, futures: list, n_features: int, feature_names=None, sizes=None):
        self.client = client
        self.futures = futures  # holding them keeps the actors alive
        self.actors = [future.result() for future in futures]
        self.n_features = n_features
        self.feature_names = feature_names
        self.sizes = sizes

    def broadcast(self, value):
        return value  # each call carries its own copy straight to its worker

    def map(self, function, *args, each: list | None = None) -> list:
        each = each or [()] * len(self.actors)
        calls = [
            actor.run(function, *args, *extra)
            for actor, extra in zip(self.actors, each, strict=True)
        ]
        return [call.result() for call in calls]

    def transform(self, function, *args, each: list | None = None) -> ActorShards:
        each = each or [()] * len(self.actors)
        calls = [
            actor.transform(function, *args, *extra)
            for actor, extra in zip(self.actors, each, strict=True)
        ]
        for call in calls:
            call.result()
        return self
