"""An input pipeline that keeps the trainer fed: map on worker processes, batch, prefetch, cache.

Slow feature generation starves training. With ``T_g`` seconds to make one example's
features, ``C`` workers making them side by side and batches of ``B`` examples, a batch
takes ``T_g·B/C`` seconds to make; the trainer waits whenever that exceeds the time of
one training step, ``T_step``. Buffers (``prefetch``) only hide the variance of those
times; they do not fix the balance. What fixes it: more workers (``map(fn,
workers=C)``), or making the features once (``cache(dir)``) so later epochs read them
back from disk. ``fit`` measures the balance (see
:class:`thalweg.train.batches.InputBalance`) and :func:`profile_input` measures a
pipeline alone.

>>> import numpy as np
>>> def features(i):
...     return np.array([i, i * i], dtype=np.float32), i % 2
>>> pipe = Pipeline(range(10), shuffle=False).map(features).batch(4)
>>> [(X.shape, y.tolist()) for X, y in pipe]
[((4, 2), [0, 1, 0, 1]), ((4, 2), [0, 1, 0, 1]), ((2, 2), [0, 1])]

Stages run in the order they are chained:

* ``Pipeline(source)``: ``source`` is a sequence of examples (a list, a ``range``, an
  array: each epoch visits it in a new random order when ``shuffle``), or a batch source
  (a :func:`~thalweg.data.stream`, anything with ``epoch_batches``) whose ``(X, y)``
  batches become the elements.
* ``map(fn, workers=N)``: ``fn`` on every element. ``workers=0`` calls it in this
  process; ``N >= 1`` calls it on a pool of ``N`` processes, with results kept in input
  order, so the order depends on the seed only and never on which worker finished first.
  ``fn`` and the elements travel to the workers by pickle, so ``fn`` must be importable
  (a module-level function, not a lambda or a closure) and scripts need the usual
  ``if __name__ == "__main__":`` guard (workers are started fresh, with ``spawn``).
  Pickle is only the pipe between processes here; model files never use it. An error in
  ``fn`` is raised again here, with its type and message (the worker's traceback is
  chained to it).
* ``batch(B)``: examples ``(x, y)`` become batches ``(X, y)`` stacked on a new first
  axis; batches from a batch source are cut again into batches of ``B`` rows.
* ``prefetch(k)``: a background thread runs everything before it and keeps up to ``k``
  elements ready in a queue, so making the next batch overlaps with training on this one.
* ``balance(proportions)``: class-balanced sampling, tf.data's ``rejection_resample``:
  each example (or each row of a batch) of class ``c`` is kept with the probability
  that gives the wanted class mix (see :mod:`thalweg.data.balancing`); follow it with
  ``batch(B)``. ``class_counts()`` then says what mix the trainer received.
  ``Pipeline.from_arrays(X, y)`` makes a source of in-memory arrays for it.
* ``cache(dir)``: the first complete epoch writes every batch to ``dir`` as ``.npy``
  shards (each atomically, then a manifest); later epochs read the shards back, in a new
  order each epoch, and run none of the stages before the cache. Batches keep the
  composition of the first epoch. The cache is reused while its manifest matches the
  pipeline's description (source size, function names, batch size): delete the folder
  when ``fn`` itself changes.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from thalweg.data.balancing import ArraySource, Balance
from thalweg.data.streaming import _rebatch
from thalweg.errors import DataError, OptionError
from thalweg.files import atomic_write

# More decoding processes than this is a typo, not a plan: each one is a whole Python.
MAX_WORKERS = 256

__all__ = ["InputProfile", "Pipeline", "format_duration", "profile_input"]

CACHE_FORMAT = 1


class Pipeline:
    """A chain of input stages, used as a batch source by :func:`thalweg.train.fit`.

    Parameters
    ----------
    source : sequence of examples, or a batch source
        See the module docstring.
    shuffle : bool
        Visit a sequence in a new random order each epoch (and cached batches too).
    seed : int, optional
        Seeds the order when the pipeline is iterated directly; in ``fit`` the loop's
        generator picks each epoch's order (mixed with this seed).

    Iterating a pipeline (``for X, y in pipeline``) runs one epoch; the next iteration
    runs the next epoch, in its own order. Close it (``close()`` or ``with``) to stop its
    worker processes early; they also stop when the pipeline is garbage collected.

    Examples
    --------
    >>> import numpy as np
    >>> def square(example):
    ...     x, y = example
    ...     return x**2, y
    >>> data = [(np.array([float(i)]), i) for i in range(6)]
    >>> pipe = Pipeline(data, seed=0).map(square).batch(3).prefetch(2)
    >>> sorted(int(v) for X, y in pipe for v in X[:, 0])
    [0, 1, 4, 9, 16, 25]
    """

    def __init__(self, source, *, shuffle: bool = True, seed: int | None = None):
        if not hasattr(source, "epoch_batches"):
            if iter(source) is source:
                raise DataError(
                    "Pipeline: the source is a one-shot iterator; pass something that can "
                    "be read every epoch (a list, a range, an array, a stream)"
                )
            if not hasattr(source, "__len__") or not hasattr(source, "__getitem__"):
                source = list(source)
        self.source = source
        self.shuffle = shuffle
        self.seed = seed
        self.stages: list = []
        self._rng = np.random.default_rng(seed)

    @classmethod
    def from_arrays(
        cls, X, y, *, shuffle: bool = True, seed: int | None = None, block_rows: int = 4096
    ) -> Pipeline:
        """A pipeline over in-memory arrays ``X`` ``(n, ...)`` and ``y`` ``(n,)``: each
        epoch visits the rows in a new random order, in blocks of ``block_rows``; chain
        ``balance()`` and ``batch(B)``.

        >>> import numpy as np
        >>> pipe = Pipeline.from_arrays(np.zeros((10, 2)), np.arange(10), seed=0).batch(4)
        >>> [len(y) for _, y in pipe]
        [4, 4, 2]
        """
        return cls(ArraySource(X, y, shuffle=shuffle, block_rows=block_rows), seed=seed)

    # ------------------------------------------------------------------ chaining
    def _then(self, stage) -> Pipeline:
        pipeline = copy.copy(self)
        pipeline.stages = [*self.stages, stage]
        pipeline._rng = np.random.default_rng(self.seed)
        return pipeline

    def map(self, fn: Callable, *, workers: int = 0, chunksize: int | None = None) -> Pipeline:
        """Apply ``fn`` to every element, on ``workers`` processes (0: in this process).

        ``chunksize`` elements travel to a worker together (default: 16 examples, or one
        batch), which spreads the cost of each trip between processes.
        """
        if int(workers) < 0:
            raise ValueError(f"map: workers must be 0 or more, got {workers}")
        if int(workers) > MAX_WORKERS:
            raise OptionError(
                f"workers {workers}: at most {MAX_WORKERS} processes (this machine has "
                f"{os.cpu_count()} cores); give fewer workers"
            )
        size = chunksize or (1 if self._batched else 16)
        return self._then(_Map(fn, int(workers), int(size), self._batched))

    def batch(self, batch_size: int) -> Pipeline:
        """Group examples into batches of ``batch_size`` (the last may be smaller)."""
        if int(batch_size) < 1:
            raise ValueError(f"batch: batch_size must be at least 1, got {batch_size}")
        return self._then(_Batch(int(batch_size), rebatch=self._batched))

    def prefetch(self, size: int = 2) -> Pipeline:
        """Make up to ``size`` elements ahead in a background thread."""
        if int(size) < 1:
            raise ValueError(f"prefetch: size must be at least 1, got {size}")
        return self._then(_Prefetch(int(size)))

    def balance(self, proportions="equal", *, initial=None, label=None) -> Pipeline:
        """Keep examples (or rows of batches) by class so that what passes has the class
        mix ``proportions``: ``"equal"`` or a dict class -> share, e.g. ``{0: 1, 1: 1}``.

        Rejection sampling, as tf.data's ``rejection_resample``: nothing is repeated, the
        class rarest relative to its target is always kept, and the others are thinned
        (see :mod:`thalweg.data.balancing`). ``initial`` is the source's class mix
        (counts or shares); by default it is estimated from the labels read so far, or
        counted exactly for ``Pipeline.from_arrays`` when ``balance`` comes first.
        ``label(element)`` says an element's class when elements are not ``(x, y)``.
        Follow with ``batch(B)``; epochs get shorter (their length is random).
        """
        if initial is None and not self.stages and isinstance(self.source, ArraySource):
            initial = self.source.class_counts()
        if label is not None and self._batched:
            raise ValueError("balance: label= applies to examples; batches use their y")
        return self._then(Balance(proportions, initial, label, self._batched))

    def class_counts(self) -> dict:
        """Rows that passed ``balance``, by class, summed over every epoch so far (the
        class mix the trainer received); empty without a ``balance`` stage."""
        counts: dict = {}
        for stage in self.stages:
            if isinstance(stage, Balance):
                counts = dict(stage.counts)
        return counts

    def cache(self, directory) -> Pipeline:
        """Write the first epoch's batches to ``directory``; read them back afterwards."""
        if not self._batched:
            raise ValueError("cache: it stores batches; call .batch(batch_size) before .cache()")
        return self._then(_Cache(Path(directory), self._describe()))

    # ------------------------------------------------------------------ batch source
    @property
    def _batched(self) -> bool:
        return hasattr(self.source, "epoch_batches") or any(
            isinstance(s, _Batch) for s in self.stages
        )

    @property
    def batch_size(self) -> int | None:
        """Rows per batch (the last ``batch`` stage's, else the source's)."""
        for stage in reversed(self.stages):
            if isinstance(stage, _Batch):
                return stage.batch_size
        return getattr(self.source, "batch_size", None)

    @property
    def in_memory(self) -> bool:
        """Whether every batch comes from arrays in memory with no feature function (the
        trainer then need not be told about waiting for input)."""
        return isinstance(self.source, ArraySource) and not any(
            isinstance(s, _Map | _Cache) for s in self.stages
        )

    @property
    def n_samples(self) -> int | None:
        """Examples per epoch, when known (``map`` keeps one output per input; after
        ``balance`` the count is random: None)."""
        if any(isinstance(stage, Balance) for stage in self.stages):
            return None
        if hasattr(self.source, "epoch_batches"):
            return self.source.n_samples
        return len(self.source)

    def __iter__(self) -> Iterator:
        return self.epoch_batches(self._rng)

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator:
        """One epoch of elements (``(X, y)`` batches once batched), the first ``skip``
        dropped; the order comes from ``rng`` (and ``seed``)."""
        if not self._batched:
            raise ValueError("Pipeline: call .batch(batch_size) to make batches for training")
        return self._epoch(rng, skip)

    def _epoch(self, rng: np.random.Generator, skip: int) -> Iterator:
        entropy = [int(rng.integers(2**63))] + ([] if self.seed is None else [int(self.seed)])
        elements = self._elements(np.random.default_rng(entropy))
        try:
            yield from islice(elements, skip, None)
        finally:
            elements.close()  # stop threads and pending work now, not at garbage collection

    def _elements(self, rng: np.random.Generator) -> Iterator:
        # Each stage wraps the iterator of the stages before it; a cache that is already
        # full replaces them all, so they never run.
        def source_elements():
            if hasattr(self.source, "epoch_batches"):
                return self.source.epoch_batches(rng)
            order = rng.permutation(len(self.source)) if self.shuffle else range(len(self.source))
            return (self.source[int(i)] for i in order)  # a generator: it has close()

        make = source_elements
        for stage in self.stages:
            make = _bind(stage, make, rng, self.shuffle)
        return make()

    def input_stats(self) -> dict:
        """Cumulative seconds spent making examples (reading the source plus every map
        stage, summed over workers), examples made, and the most workers of any stage:
        ``T_g = seconds / examples`` and ``C`` of the balance diagnostic."""
        seconds, examples, workers = 0.0, 0, 1
        if hasattr(self.source, "input_stats"):
            stats = self.source.input_stats()
            seconds, examples = stats["seconds"], stats["examples"]
            workers = stats.get("workers", 1)
        for stage in self.stages:
            if isinstance(stage, _Map):
                seconds += stage.seconds
                examples = max(examples, stage.examples)
                workers = max(workers, stage.workers)
        return {
            "seconds": seconds,
            "examples": examples,
            "workers": workers,
            "cached": any(isinstance(s, _Cache) for s in self.stages),
            "mapped": any(isinstance(s, _Map) for s in self.stages),
        }

    def close(self) -> None:
        """Stop the worker processes (a later epoch starts new ones)."""
        for stage in self.stages:
            if isinstance(stage, _Map):
                stage.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _describe(self) -> dict:
        """What the cache depends on, as JSON (to notice a cache made by another pipeline)."""
        stages = []
        for stage in self.stages:
            if isinstance(stage, _Map):
                fn = stage.fn
                stages.append(
                    f"map:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
                )
            elif isinstance(stage, _Batch):
                stages.append(f"batch:{stage.batch_size}")
            elif isinstance(stage, Balance):
                stages.append(f"balance:{stage.proportions}")
        return {"source": type(self.source).__name__, "n": self.n_samples, "stages": stages}

    def __repr__(self) -> str:
        return f"Pipeline({type(self.source).__name__}, stages={self._describe()['stages']})"


def _bind(stage, make_upstream, rng, shuffle):
    return lambda: stage.apply(make_upstream, rng, shuffle)


# ---------------------------------------------------------------------------- map


def _apply_chunk(fn: Callable, items: list) -> tuple[list, float]:
    """Run in a worker: ``fn`` on each item, and the seconds it took (for ``T_g``)."""
    started = time.perf_counter()
    results = [fn(item) for item in items]
    return results, time.perf_counter() - started


class _Map:
    def __init__(self, fn: Callable, workers: int, chunksize: int, batched: bool):
        self.fn, self.workers, self.chunksize = fn, workers, chunksize
        self.batched = batched  # elements are (X, y) batches, not single examples
        self.seconds = 0.0  # summed over workers: seconds of fn per example = seconds / examples
        self.examples = 0
        self._pool = None

    def apply(self, make_upstream, rng, shuffle) -> Iterator:
        if self.workers == 0:
            for item in make_upstream():
                started = time.perf_counter()
                result = self.fn(item)
                self.seconds += time.perf_counter() - started
                self.examples += len(result[0]) if self.batched else 1
                yield result
            return
        pool = self._get_pool()
        pending: deque = deque()  # futures in submission order: results leave in that order
        upstream = make_upstream()
        try:
            while True:
                chunk = list(islice(upstream, self.chunksize))
                if chunk:
                    pending.append(pool.submit(_apply_chunk, self.fn, chunk))
                # Keep every worker busy with one chunk and one more queued, no more:
                # memory stays bounded however long the source is.
                while pending and (not chunk or len(pending) >= 2 * self.workers):
                    results, seconds = pending.popleft().result()
                    self.seconds += seconds
                    for result in results:
                        self.examples += len(result[0]) if self.batched else 1
                        yield result
                if not chunk:
                    return
        finally:
            for future in pending:
                future.cancel()

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn: a fresh interpreter per worker; forking a process that runs threads
            # (prefetch, BLAS) can deadlock.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __getstate__(self):  # a pipeline copied to another process starts its own pool
        return {**self.__dict__, "_pool": None}

    def __del__(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------- batch


class _Batch:
    def __init__(self, batch_size: int, rebatch: bool):
        self.batch_size, self.rebatch = batch_size, rebatch

    def apply(self, make_upstream, rng, shuffle) -> Iterator:
        if self.rebatch:
            yield from _rebatch(make_upstream(), self.batch_size)
            return
        examples = make_upstream()
        while True:
            group = list(islice(examples, self.batch_size))
            if not group:
                return
            if not all(isinstance(e, tuple) and len(e) == 2 for e in group):
                raise DataError(
                    "batch: each example must be a pair (features, target); make map's "
                    "function return (x, y)"
                )
            xs, ys = zip(*group, strict=True)
            yield np.stack([np.asarray(x) for x in xs]), np.asarray(ys)


# ---------------------------------------------------------------------------- prefetch


class _Prefetch:
    def __init__(self, size: int):
        self.size = size

    def apply(self, make_upstream, rng, shuffle) -> Iterator:
        ready: queue.Queue = queue.Queue(maxsize=self.size)
        stop = threading.Event()
        done = object()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def produce():
            try:
                with contextlib.closing(make_upstream()) as upstream:
                    for item in upstream:
                        if not put((item, None)):
                            return
                put((done, None))
            except BaseException as error:  # handed to the consumer, raised there
                put((None, error))

        thread = threading.Thread(target=produce, name="thalweg-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                item, error = ready.get()
                if error is not None:
                    raise error
                if item is done:
                    return
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)


# ---------------------------------------------------------------------------- cache


class _Cache:
    def __init__(self, directory: Path, description: dict):
        self.directory = directory
        self.description = {"format": CACHE_FORMAT, **description}

    def _manifest(self) -> dict | None:
        try:
            manifest = json.loads((self.directory / "manifest.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return manifest if manifest.get("pipeline") == self.description else None

    def apply(self, make_upstream, rng, shuffle) -> Iterator:
        manifest = self._manifest()
        if manifest is not None:
            order = rng.permutation(manifest["shards"]) if shuffle else range(manifest["shards"])
            for index in order:
                yield self._read(int(index))
            return
        (self.directory / "manifest.json").unlink(missing_ok=True)
        count = 0
        for X, y in make_upstream():
            self._write(count, X, y)
            count += 1
            yield X, y
        # Only a complete epoch is a cache: the manifest goes last, atomically.
        with atomic_write(self.directory / "manifest.json", "w") as handle:
            json.dump({"pipeline": self.description, "shards": count}, handle)

    def _paths(self, index: int) -> tuple[Path, Path]:
        return self.directory / f"{index:06d}.X.npy", self.directory / f"{index:06d}.y.npy"

    def _write(self, index: int, X, y) -> None:
        y = np.asarray(y)
        if y.dtype.kind == "O":
            try:  # labels as fixed-width strings: .npy files without pickle
                y = y.astype(str)
            except (TypeError, ValueError):
                raise DataError("cache: the targets must be numbers or strings") from None
        for path, array in zip(self._paths(index), (np.asarray(X), y), strict=True):
            with atomic_write(path, "wb") as handle:
                np.save(handle, array, allow_pickle=False)

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        X_path, y_path = self._paths(index)
        return np.load(X_path, allow_pickle=False), np.load(y_path, allow_pickle=False)


# ---------------------------------------------------------------------------- profile


def format_duration(seconds: float) -> str:
    """A duration for people: ``0.49 µs``, ``4.1 ms``, ``1.2 s``.

    >>> format_duration(0.0041), format_duration(4.9e-7)
    ('4.1 ms', '0.49 µs')
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e6:.2g} µs"


@dataclass
class InputProfile:
    """What :func:`profile_input` measured: how fast a pipeline makes batches alone.

    ``batch_seconds`` is the time between two batches at the consumer: a training step
    that takes longer than it never waits for data.
    """

    batches: int
    examples: int
    seconds: float
    batch_seconds: float  # median seconds per batch
    examples_per_second: float
    example_seconds: float | None  # T_g: seconds of work per example (all map stages)
    workers: int  # C
    batch_size: int | None  # B

    def __str__(self) -> str:
        lines = [
            f"input pipeline: {self.batches} batches, {self.examples:,} examples in "
            f"{format_duration(self.seconds)} ({self.examples_per_second:,.0f} examples/s)",
            f"  one batch every {format_duration(self.batch_seconds)} (median): a training "
            "step slower than this never waits for data",
        ]
        if self.example_seconds is not None:
            per_batch = self.example_seconds * (self.batch_size or 1) / self.workers
            lines.append(
                f"  T_g = {format_duration(self.example_seconds)} per example, "
                f"C = {self.workers} worker(s), B = {self.batch_size}: "
                f"T_g·B/C = {format_duration(per_batch)} per batch"
            )
        return "\n".join(lines)


def profile_input(pipeline, batches: int = 50, *, seed: int | None = 0) -> InputProfile:
    """Measure a pipeline (or any batch source) alone: batches per second, ``T_g``, ``C``.

    Reads up to ``batches`` batches of one epoch as fast as it can, with no training.
    The first batch is excluded from the per-batch median (it pays for starting workers
    and filling buffers), not from the totals.

    Examples
    --------
    >>> import numpy as np
    >>> def features(i):
    ...     return np.full(3, float(i), dtype=np.float32), i % 2
    >>> profile = profile_input(Pipeline(range(100)).map(features).batch(10), batches=5)
    >>> profile.batches, profile.examples, profile.batch_size
    (5, 50, 10)
    """
    before = pipeline.input_stats() if hasattr(pipeline, "input_stats") else None
    rng = np.random.default_rng(seed)
    gaps: list[float] = []
    examples = 0
    started = last = time.perf_counter()
    source = pipeline.epoch_batches(rng)
    try:
        for X, _ in islice(source, batches):
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
            examples += len(X)
    finally:
        if hasattr(source, "close"):
            source.close()
    seconds = time.perf_counter() - started
    example_seconds, workers = None, 1
    if before is not None:
        after = pipeline.input_stats()
        made = after["examples"] - before["examples"]
        workers = after["workers"]
        if made > 0:
            example_seconds = (after["seconds"] - before["seconds"]) / made
    steady = gaps[1:] or gaps
    return InputProfile(
        batches=len(gaps),
        examples=examples,
        seconds=seconds,
        batch_seconds=float(np.median(steady)) if steady else math.nan,
        examples_per_second=examples / seconds if seconds > 0 else math.nan,
        example_seconds=example_seconds,
        workers=workers,
        batch_size=getattr(pipeline, "batch_size", None),
    )
