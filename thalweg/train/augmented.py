"""Training on augmented images: a batch source that augments every batch it hands out.

>>> import numpy as np
>>> from thalweg.data.augment import Augmenter
>>> X, y = np.random.default_rng(0).random((10, 1, 6, 6)), np.arange(10) % 2
>>> source = AugmentedBatches(X, y, augmenter=Augmenter(["noise"]), batch_size=4)
>>> [len(Xb) for Xb, _ in source.epoch_batches(np.random.default_rng(0))]
[4, 4, 2]
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from thalweg.data.augment import Augmenter
from thalweg.train.batches import ArrayBatches

__all__ = ["AugmentedBatches"]


class AugmentedBatches:
    """A batch source whose batches come out augmented: ``(augmenter(X, rng), y)``.

    Wraps in-memory arrays (``AugmentedBatches(X, y, batch_size=32, ...)``) or any batch
    source (a :class:`~thalweg.data.Pipeline`: ``AugmentedBatches(pipeline, ...)``).
    Each batch's generator is derived from the epoch's seed and the batch's position,
    so a run resumed from a checkpoint mid-epoch augments the remaining batches exactly
    as the uninterrupted run would. The seconds spent augmenting are reported to
    ``fit``'s input-balance diagnostic, with the wrapped source's own.
    """

    def __init__(
        self,
        X,
        y=None,
        *,
        augmenter: Augmenter,
        batch_size: int | None = None,
        shuffle: bool = True,
    ):
        if hasattr(X, "epoch_batches"):
            self.source = X
        else:
            X, y = np.asarray(X), np.asarray(y)
            self.source = ArrayBatches(X, y, min(batch_size or len(X), len(X)), shuffle)
        self.augmenter = augmenter
        self.seconds = 0.0
        self.examples = 0

    @property
    def n_samples(self):
        return self.source.n_samples

    @property
    def batch_size(self):
        return self.source.batch_size

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator[tuple]:
        epoch_seed = int(rng.integers(2**63))
        for position, (X, y) in enumerate(self.source.epoch_batches(rng, skip), start=skip):
            started = time.perf_counter()
            X = self.augmenter(X, np.random.default_rng([epoch_seed, position]))
            self.seconds += time.perf_counter() - started
            self.examples += len(X)
            yield X, y

    def input_stats(self) -> dict:
        stats = {"seconds": 0.0, "examples": 0, "workers": 1, "cached": False, "mapped": True}
        if hasattr(self.source, "input_stats"):
            stats.update(self.source.input_stats())
        stats["seconds"] += self.seconds
        stats["examples"] = max(stats["examples"], self.examples)
        return stats
