"""Where the training loop's mini-batches come from.

``fit`` asks a *batch source* for each epoch's batches::

    source.epoch_batches(rng, skip)  ->  iterator of (X_batch, y_batch)

``rng`` is the loop's random generator (its state is saved in checkpoints, so a resumed
run draws the same order) and ``skip`` is how many batches of this epoch were already
done before an interruption. A source also says ``n_samples`` and ``batch_size`` (None
when unknown, e.g. a stream whose length is not known in advance).

In-memory arrays are wrapped in :class:`ArrayBatches`; streams from files and feature
pipelines (``thalweg.data.stream``, ``thalweg.data.Pipeline``) implement the same
method, so the loop does not care where the data lives.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class ArrayBatches:
    """Mini-batches of in-memory arrays, in a new random order each epoch.

    ``batch_size >= n`` is full-batch gradient descent: every step sees all the data,
    in its original order (shuffling would change nothing but cost a copy).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = True):
        self.X, self.y = X, y
        self.n_samples = X.shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator[tuple]:
        n, size = self.n_samples, self.batch_size
        if size >= n:
            if skip == 0:
                yield self.X, self.y
            return
        order = rng.permutation(n) if self.shuffle else None
        for start in range(skip * size, n, size):
            if order is None:
                yield self.X[start : start + size], self.y[start : start + size]
            else:
                rows = order[start : start + size]
                yield self.X[rows], self.y[rows]
