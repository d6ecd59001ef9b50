"""Where the training loop's mini-batches come from.

``fit`` asks a *batch source* for each epoch's batches::

    source.epoch_batches(rng, skip)  ->  iterator of (X_batch, y_batch)

``rng`` is the loop's random generator (its state is saved in checkpoints, so a resumed
run draws the same order) and ``skip`` is how many batches of this epoch were already
done before an interruption. A source also says ``n_samples`` and ``batch_size`` (None
when unknown, e.g. a stream whose length is not known in advance).

In-memory arrays are wrapped in :class:`ArrayBatches`; streams from files and feature
pipelines (``thalweg.data.stream``, ``thalweg.data.Pipeline``) implement the same
method, so the loop does not care where the data lives. A source may also report
``input_stats()`` (seconds spent making examples, examples made, workers): ``fit`` then
says, in :class:`InputBalance`, whether training waited for its input and why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from thalweg.data.pipeline import format_duration


class ArrayBatches:
    """Mini-batches of in-memory arrays, in a new random order each epoch.

    A batch is ``(X_batch, y_batch)``, or ``(X_batch, y_batch, weight_batch)`` when
    ``sample_weight`` (one weight per row) is given. ``batch_size >= n`` is full-batch
    gradient descent: every step sees all the data, in its original order (shuffling
    would change nothing but cost a copy).

    >>> import numpy as np
    >>> source = ArrayBatches(np.arange(6.0).reshape(3, 2), np.arange(3.0), batch_size=2)
    >>> [len(X) for X, y in source.epoch_batches(np.random.default_rng(0))]
    [2, 1]
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        sample_weight: np.ndarray | None = None,
    ):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.n_samples = X.shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator[tuple]:
        n, size = self.n_samples, self.batch_size
        arrays = (
            (self.X, self.y) if self.sample_weight is None else (self.X, self.y, self.sample_weight)
        )
        if size >= n:
            if skip == 0:
                yield arrays
            return
        order = rng.permutation(n) if self.shuffle else None
        for start in range(skip * size, n, size):
            if order is None:
                yield tuple(a[start : start + size] for a in arrays)
            else:
                rows = order[start : start + size]
                yield tuple(a[rows] for a in arrays)


# Waiting more than this share of an epoch for data calls the trainer data-bound.
DATA_BOUND_WAIT_SHARE = 0.1


@dataclass
class InputBalance:
    """Did the trainer wait for data? The measured terms of ``T_g·B/C > T_step``.

    A batch takes ``T_g·B/C`` seconds to make (``T_g`` seconds of work per example,
    ``C`` workers, ``B`` examples per batch) and ``T_step`` seconds to train on; when
    making is slower, the trainer waits. ``fit`` measures the waiting directly (the time
    spent in ``next(batches)``), and ``T_g``/``C`` when the source reports them
    (``input_stats()``: a :class:`~thalweg.data.Pipeline` or a stream does).

    Attributes
    ----------
    example_seconds : float or None
        ``T_g``, seconds of input work per example (None: the source does not say).
    workers : int
        ``C``.
    batch_size : int or None
        ``B``.
    step_seconds : float
        ``T_step``, seconds of training (forward, backward, update) per batch of ``B``.
    utilisation : float
        Share of the last epoch the trainer spent training rather than waiting (the
        steady state: after a cache filled and workers started).
    epoch_utilisation : list of float
        The same, epoch by epoch.
    data_bound : bool
        The last epoch waited for data more than ``DATA_BOUND_WAIT_SHARE`` of the time.
    cached : bool
        Whether the source caches its batches.
    mapped : bool
        Whether the source makes features with a function (``Pipeline.map``), as opposed
        to only reading stored rows (a stream): the advice differs.
    """

    example_seconds: float | None
    workers: int
    batch_size: int | None
    step_seconds: float
    utilisation: float
    epoch_utilisation: list
    data_bound: bool
    cached: bool = False
    mapped: bool = False

    @classmethod
    def measure(cls, rows: list[dict], source, stats_before: dict | None) -> InputBalance | None:
        """The balance of a finished ``fit`` from its history rows and the source's
        ``input_stats()`` before and after (None when no epoch finished)."""
        if not rows:
            return None
        shares = [1 - r["data_seconds"] / r["seconds"] if r["seconds"] > 0 else 1.0 for r in rows]
        compute = sum(r["seconds"] - r["data_seconds"] for r in rows)
        examples = sum(r["examples"] for r in rows)
        batch_size = source.batch_size
        step_seconds = compute / examples * (batch_size or examples) if examples else 0.0
        example_seconds, workers, cached, mapped = None, 1, False, False
        if stats_before is not None:
            after = source.input_stats()
            made = after["examples"] - stats_before["examples"]
            if made > 0:
                example_seconds = (after["seconds"] - stats_before["seconds"]) / made
            workers = max(1, after.get("workers", 1))
            cached, mapped = after.get("cached", False), after.get("mapped", False)
        return cls(
            example_seconds=example_seconds,
            workers=workers,
            batch_size=batch_size,
            step_seconds=step_seconds,
            utilisation=shares[-1],
            epoch_utilisation=shares,
            data_bound=1 - shares[-1] > DATA_BOUND_WAIT_SHARE,
            cached=cached,
            mapped=mapped,
        )

    @property
    def batch_make_seconds(self) -> float | None:
        """``T_g·B/C``: seconds to make one batch with all workers busy."""
        if self.example_seconds is None or not self.batch_size:
            return None
        return self.example_seconds * self.batch_size / self.workers

    @property
    def workers_needed(self) -> int | None:
        """The smallest ``C`` with ``T_g·B/C ≤ T_step``."""
        if self.batch_make_seconds is None or self.step_seconds <= 0:
            return None
        return max(1, math.ceil(self.example_seconds * self.batch_size / self.step_seconds))

    @property
    def advice(self) -> str:
        """What to change, in one sentence (empty when the trainer is not data-bound)."""
        if not self.data_bound:
            return ""
        tips = []
        if self.cached and len(self.epoch_utilisation) > 1:
            # Later epochs read the cache: generating features no longer matters.
            tips.append("the wait left is reading the cache: .prefetch(k) overlaps it")
            tips.append("larger batches spread it")
            return "data-bound: " + "; ".join(tips)
        if not self.mapped and self.example_seconds is not None:
            # Nothing to parallelise but the reading itself.
            tips.append(
                "reading is slower than a training step: read fewer columns, store Parquet "
                "uncompressed and without dictionary encoding when values do not repeat, "
                "or train with larger batches (fewer, longer steps)"
            )
            return "data-bound: " + "; ".join(tips)
        needed = self.workers_needed
        if needed is not None and needed > self.workers:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            more = f"map(fn, workers={needed})"
            if cores is not None and needed > cores:
                more += f" (this machine has {cores} cores: also make fn cheaper)"
            tips.append(f"use at least {needed} workers: {more}")
        if not self.cached:
            tips.append(".cache(dir) so epochs after the first read the features from disk")
        tips.append(".prefetch(k) overlaps making batches with training but cannot fix a shortfall")
        return "data-bound: " + "; ".join(tips)

    def lines(self, epochs_shown: int = 8) -> list[str]:
        """:meth:`__str__` as lines, with a per-epoch list longer than ``epochs_shown``
        cut to its first and last three epochs."""
        lines = str(self).splitlines()
        shares = [f"{u:.0%}" for u in self.epoch_utilisation]
        if len(shares) > epochs_shown:
            short = f"  busy per epoch: {', '.join(shares[:3])}, ..., {', '.join(shares[-3:])}"
            lines = [short if line.startswith("  busy per epoch:") else line for line in lines]
        return lines

    def __str__(self) -> str:
        wait = 1 - self.utilisation
        lines = [
            f"input balance: trainer busy {self.utilisation:.0%} of the last epoch "
            f"(waited {wait:.0%} for data) -> "
            + ("data-bound" if self.data_bound else "compute-bound"),
            f"  T_step = {format_duration(self.step_seconds)} per batch of B = {self.batch_size}",
        ]
        if self.example_seconds is not None:
            lines.append(
                f"  T_g = {format_duration(self.example_seconds)} per example, "
                f"C = {self.workers} worker(s): "
                f"T_g·B/C = {format_duration(self.batch_make_seconds)} per batch"
            )
        if len(self.epoch_utilisation) > 1:
            shares = ", ".join(f"{u:.0%}" for u in self.epoch_utilisation)
            lines.append(f"  busy per epoch: {shares}")
        if self.advice:
            lines.append(f"  {self.advice}")
        return "\n".join(lines)
