"""Held-out rows of data that is never loaded whole, and uniform samples of a stream.

In memory, a split shuffles the row numbers and cuts them into train, validation and
test (:func:`thalweg.data.train_val_test_split`). A stream cannot: it reads the file
piece by piece, in a new order every epoch, and never knows a row's number. So
:class:`RowSplit` draws each row's part from a random generator keyed by the *chunk*
that holds it (the same ``read_rows`` rows every pass, whatever the order of the pieces)
and by its position in that chunk:

* **deterministic**: every pass over the file, the training epochs included, puts every
  row in the same part, so no held-out row is ever trained on;
* **by row**, not by content: duplicate or discrete rows are split like any others;
* **cheap**: one hash of three rows and one ``rng.random(n)`` per chunk.

``stream.filter(RowSplit(fractions, seed, TRAIN))`` is the stream of the training rows;
a Dask partition plays the part of a chunk (:func:`survey_partition`,
:func:`keep_part`). :class:`Reservoir` keeps a uniform sample of bounded size of a
stream of rows (the validation or test rows; rows for the learning rate), and
:class:`TargetSurvey` learns what a target column holds while the same pass reads it.

>>> import numpy as np
>>> split = RowSplit((0.8, 0.2), seed=0, part=TRAIN)
>>> X = np.arange(20, dtype=np.float32).reshape(10, 2)
>>> keep = split(X, np.zeros(10))
>>> keep.dtype, bool((keep == split(X.copy(), np.zeros(10))).all())
(dtype('bool'), True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import islice

import numpy as np

from thalweg.data.columns import missing_mask

__all__ = [
    "PART_NAMES",
    "TEST",
    "TRAIN",
    "VALIDATION",
    "Reservoir",
    "RowSplit",
    "Survey",
    "TargetSurvey",
    "WholeNumberLabels",
    "as_labels",
    "held_out_sample_size",
    "keep_part",
    "survey_chunks",
    "survey_partition",
]

TRAIN, VALIDATION, TEST = 0, 1, 2
PART_NAMES = ("train", "validation", "test")

# Numbers kept per held-out sample (validation, test): 40 MB of float32 features, at
# most HELD_OUT_ROWS rows. Up to that size the metrics are on every held-out row.
HELD_OUT_VALUES = 10_000_000
HELD_OUT_ROWS = 200_000


class RowSplit:
    """Each row's part (train, validation, test) by ``fractions``, reproducibly.

    Called as a stream's filter, ``RowSplit(...)(X, y)`` is True for the rows of
    ``part``. It is a class, not a closure, so that a stream read in another process can
    carry it.

    >>> import numpy as np
    >>> split = RowSplit((0.5, 0.5), seed=0)
    >>> X = np.arange(20, dtype=np.float32).reshape(10, 2)
    >>> bool((split.parts(X) == split.parts(X.copy())).all())  # the same rows, the same parts
    True
    """

    def __init__(self, fractions, seed: int, part: int = TRAIN):
        self.edges = np.cumsum(fractions)[:-1]  # part k: edges[k-1] <= u < edges[k]
        self.seed = int(seed)
        self.part = part

    def parts(self, X: np.ndarray) -> np.ndarray:
        """The part of every row of the chunk ``X`` (n, d): 0 train, 1 validation, 2 test."""
        return self.draw(X)[0]

    def __call__(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.parts(X) == self.part

    def draw(self, X: np.ndarray) -> tuple[np.ndarray, np.random.Generator]:
        """The rows' parts, and the chunk's generator for any further draws."""
        n = len(X)
        key = hashlib.blake2b(digest_size=8)
        key.update(np.int64([self.seed, n]).tobytes())
        for row in (0, n // 2, n - 1) if n else ():
            key.update(np.ascontiguousarray(X[row]).tobytes())
        rng = np.random.default_rng(int.from_bytes(key.digest(), "little"))
        u = rng.random(n)
        parts = np.searchsorted(self.edges, u, side="right").astype(np.int8)
        if n and not (parts == TRAIN).any():
            # The stream's first pass cannot use a chunk with no rows, and a tiny chunk (the
            # tail of a row group) may draw no training row: its lowest draw then trains.
            parts[int(np.argmin(u))] = TRAIN
        return parts, rng


def as_labels(y: np.ndarray, classify: bool) -> np.ndarray:
    """A classifier's labels as an in-memory table has them: whole-number floats
    (``1.0``) become integers (``1``), so model files and metrics say ``1``."""
    if classify and y.dtype.kind == "f":
        return y.astype(np.int64)
    return y


class WholeNumberLabels:
    """A stream's ``map`` function: ``(X, y) -> (X, as_labels(y, classify=True))``."""

    def __call__(self, X: np.ndarray, y: np.ndarray):
        return X, as_labels(y, classify=True)


def held_out_sample_size(n_features: int) -> int:
    """How many rows a held-out sample keeps for ``n_features`` columns.

    >>> held_out_sample_size(10), held_out_sample_size(1000)
    (200000, 10000)
    """
    return max(1, min(HELD_OUT_ROWS, HELD_OUT_VALUES // max(n_features, 1)))


class Reservoir:
    """A uniform sample of at most ``size`` rows ``X`` (and their ``y``) of a stream of
    chunks, and the number of rows seen (Algorithm R, vectorised; deterministic for a
    seed).

    Row ``i`` of the stream (0-based) takes slot ``j ~ U{0..i}`` when ``j < size``; a
    later row overwrites an earlier one, as in the one-row-at-a-time algorithm.

    >>> import numpy as np
    >>> sample = Reservoir(3, seed=0)
    >>> sample.add(np.arange(10.0).reshape(5, 2), np.arange(5))
    >>> sample.seen, sample.X.shape, sample.y.shape, sample.complete
    (5, (3, 2), (3,), False)
    """

    def __init__(self, size: int, seed):
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)
        self._X: np.ndarray | None = None
        self._y: np.ndarray | None = None

    def add(self, X: np.ndarray, y: np.ndarray | None = None) -> None:
        """Offer the rows of one chunk (and their targets) to the sample."""
        if self._X is None:
            self._X = np.empty((self.size, *X.shape[1:]), dtype=X.dtype)
            if y is not None:
                self._y = np.empty(self.size, dtype=y.dtype)
        first = min(max(0, self.size - self.seen), len(X))  # rows that fill free slots
        self._X[self.seen : self.seen + first] = X[:first]
        if self._y is not None:
            self._y[self.seen : self.seen + first] = y[:first]
        if first < len(X):
            index = self.seen + np.arange(first, len(X))
            slots = self.rng.integers(0, index + 1)
            taken = slots < self.size
            self._X[slots[taken]] = X[first:][taken]
            if self._y is not None:
                self._y[slots[taken]] = y[first:][taken]
        self.seen += len(X)

    @property
    def X(self) -> np.ndarray:
        """The sampled rows, (kept, n_features)."""
        return self._X[: min(self.seen, self.size)] if self._X is not None else np.empty((0, 0))

    @property
    def y(self) -> np.ndarray:
        """The sampled targets, (kept,)."""
        return self._y[: min(self.seen, self.size)] if self._y is not None else np.empty(0)

    @property
    def complete(self) -> bool:
        """Whether every row seen is in the sample."""
        return self.seen <= self.size


class TargetSurvey:
    """What a target column holds, learned a chunk at a time: its missing values, its
    distinct values (up to ``DISTINCT`` of them) and a value with a fraction, if any;
    enough for the rule of :func:`thalweg.data.columns.infer_task`.

    >>> import numpy as np
    >>> survey = TargetSurvey()
    >>> survey.add(np.array([0, 1, 1])); survey.add(np.array([2]))
    >>> survey.values().tolist(), survey.rows
    ([0, 1, 2], 4)
    """

    DISTINCT = 1000

    def __init__(self):
        self.rows = 0
        self.missing = 0
        self.distinct: set = set()
        self.fraction = None  # a value with a fractional part, if any was seen

    @property
    def overflowed(self) -> bool:
        """Whether there were more distinct values than the survey keeps."""
        return len(self.distinct) > self.DISTINCT

    def add(self, y: np.ndarray) -> None:
        """Count one chunk of target values."""
        holes = missing_mask(y)
        self.rows += len(y)
        self.missing += int(holes.sum())
        present = y[~holes]
        if self.fraction is None and present.dtype.kind == "f":
            fractional = present[present != np.round(present)]
            if len(fractional):
                self.fraction = float(fractional[0])
        if not self.overflowed:
            self._keep(self.distinct | set(np.unique(present).tolist()))

    def merge(self, other: TargetSurvey) -> TargetSurvey:
        """Both surveys together (for surveys made side by side, e.g. per partition)."""
        merged = TargetSurvey()
        merged.rows = self.rows + other.rows
        merged.missing = self.missing + other.missing
        merged._keep(self.distinct | other.distinct)
        merged.fraction = self.fraction if self.fraction is not None else other.fraction
        return merged

    def _keep(self, values: set) -> None:
        # One more than DISTINCT says "more than DISTINCT" and bounds the memory.
        self.distinct = set(islice(values, self.DISTINCT + 1))

    def values(self) -> np.ndarray:
        """The distinct values seen (with the fractional one), as one array."""
        values = sorted(self.distinct, key=lambda v: (str(type(v)), v))
        if self.fraction is not None and self.fraction not in self.distinct:
            values.append(self.fraction)
        if values and all(isinstance(v, str) for v in values):
            return np.asarray(values, dtype=object)
        return np.asarray(values)

    def caveat(self) -> str:
        """Words to add to the task's reason when the distinct values were not all counted."""
        return f" (counted up to {self.DISTINCT + 1:,})" if self.overflowed else ""


@dataclass
class Survey:
    """The first pass over a stream: rows per part, the target, the held-out samples."""

    counts: np.ndarray  # rows in train, validation, test
    target: TargetSurvey  # every row's target
    train_target: TargetSurvey  # the training rows' (a classifier learns these classes)
    validation: Reservoir
    test: Reservoir

    def validation_rows(self, classify: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The validation sample ``(X, y)``, without rows of a class no training row has
        (the loss of a class the model cannot output is undefined); None when empty."""
        X, y = self.validation.X, as_labels(self.validation.y, classify)
        if classify:
            known = np.isin(y, as_labels(self.train_target.values(), classify))
            X, y = X[known], y[known]
        return (X, y) if len(y) else None


def survey_chunks(chunks, split: RowSplit, n_features: int, seed: int) -> Survey:
    """Read every chunk ``(X, y)`` once: count the rows of each part, survey the target,
    and keep a sample of at most :func:`held_out_sample_size` validation rows and test
    rows."""
    size = held_out_sample_size(n_features)
    survey = Survey(
        counts=np.zeros(3, dtype=np.int64),
        target=TargetSurvey(),
        train_target=TargetSurvey(),
        validation=Reservoir(size, seed),
        test=Reservoir(size, seed + 1),
    )
    for X, y in chunks:
        parts = split.parts(X)
        survey.counts += np.bincount(parts, minlength=3)
        survey.target.add(y)
        survey.train_target.add(y[parts == TRAIN])
        for part, sample in ((VALIDATION, survey.validation), (TEST, survey.test)):
            rows = parts == part
            if rows.any():
                sample.add(X[rows], y[rows])
    return survey


# Dask partitions: the same split, one pandas DataFrame at a time (these run on the workers).


def _partition_matrix(frame, features: list[str]) -> np.ndarray:
    return frame[features].to_numpy(dtype=np.float64)


def survey_partition(frame, features: list[str], target: str, split: RowSplit):
    """``(TargetSurvey, rows per part)`` of one partition."""
    survey = TargetSurvey()
    survey.add(np.asarray(frame[target]))
    parts = split.parts(_partition_matrix(frame, features))
    return survey, np.bincount(parts, minlength=3)


def keep_part(
    frame,
    features: list[str],
    target: str,
    split: RowSplit,
    fraction: float = 1.0,
    classify: bool = False,
):
    """The rows of one partition in ``split.part`` (a uniform ``fraction`` of them), with
    labels as :func:`as_labels` makes them."""
    parts, rng = split.draw(_partition_matrix(frame, features))
    keep = parts == split.part
    if fraction < 1.0:
        keep &= rng.random(len(parts)) < fraction
    kept = frame[keep]
    labels = as_labels(np.asarray(kept[target]), classify)
    return kept.assign(**{target: labels}) if labels.dtype != kept[target].dtype else kept
