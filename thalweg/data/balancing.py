"""Class-balanced sampling: batches whose class mix is the one you ask for.

With 1 % fraud (or rare faces, or smiles) a batch of 64 rows holds less than one
positive on average: most steps learn nothing about the class that matters. Balanced
batches fix the mix by **rejection sampling**, as tf.data's ``rejection_resample``
does: a row of class ``c`` is kept with probability

    a_c = r_c / max_k r_k,    r_c = target_c / initial_c

where ``initial`` is the class mix of the source and ``target`` the one wanted. The kept
rows then have the target mix exactly in expectation, the rarest class (relative to its
target) is always kept, and nothing is repeated: an epoch of a 99:1 source balanced to
50:50 keeps every positive and about 1 in 99 negatives, a different one each epoch.
When ``initial`` is not given it is estimated while reading, from the counts seen so far
(tf.data's live estimate); give it when you know it (``Pipeline.from_arrays`` does).

What it implies for the model: in expectation a balanced epoch's mean loss is the
class-weighted loss with weights ``target_c / initial_c`` (scikit-learn's
``class_weight="balanced"`` for equal targets), so the model learns the *training* mix.
Its probabilities follow that mix, not the real one: for logistic regression the
intercept moves by ``log(target_1/target_0 · initial_0/initial_1)`` (King and Zeng's
prior correction). The report's prediction bias shows it; the class mix trained on is
reported beside the data's.

>>> import numpy as np
>>> X, y = np.arange(1000.0)[:, None], np.r_[np.zeros(900), np.ones(100)]
>>> from thalweg.data import Pipeline
>>> pipe = Pipeline.from_arrays(X, y, seed=0).balance().batch(50)
>>> kept = np.concatenate([labels for _, labels in pipe])
>>> int((kept == 1).sum()), abs(int((kept == 0).sum()) - 100) < 40
(100, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

from thalweg.errors import DataError

__all__ = [
    "ArraySource",
    "Balance",
    "BalancedBatches",
    "acceptance_probabilities",
    "target_proportions",
]


def target_proportions(proportions, classes) -> dict:
    """The wanted share of each class: ``"equal"`` or a mapping class -> weight, as
    shares summing to 1 over ``classes`` (a class the mapping leaves out gets 0).

    >>> target_proportions("equal", [0, 1]), target_proportions({"a": 1, "b": 3}, ["a", "b"])
    ({0: 0.5, 1: 0.5}, {'a': 0.25, 'b': 0.75})
    """
    classes = list(classes)
    if isinstance(proportions, str):
        if proportions != "equal":
            raise ValueError(f"balance: proportions must be 'equal' or a dict; got {proportions!r}")
        return {c: 1 / len(classes) for c in classes} if classes else {}
    if not isinstance(proportions, Mapping) or not proportions:
        raise ValueError(
            "balance: proportions must be 'equal' or a dict class -> share, e.g. {0: 1, 1: 1}"
        )
    weights = {c: float(w) for c, w in proportions.items()}
    if any(not np.isfinite(w) or w < 0 for w in weights.values()) or not sum(weights.values()):
        raise ValueError(
            "balance: proportions must be non-negative numbers, at least one of them > 0"
        )
    total = sum(weights.get(c, 0.0) for c in classes)
    return {c: (weights.get(c, 0.0) / total if total else 0.0) for c in classes}


def acceptance_probabilities(target: Mapping, initial: Mapping) -> dict:
    """``a_c = r_c / max r`` with ``r_c = target_c / initial_c`` (0 where a class is
    absent from the source or not wanted).

    >>> acceptance_probabilities({0: 0.5, 1: 0.5}, {0: 0.9, 1: 0.1})
    {0: 0.11111111111111112, 1: 1.0}
    """
    ratios = {c: (target.get(c, 0.0) / share if share > 0 else 0.0) for c, share in initial.items()}
    largest = max(ratios.values(), default=0.0)
    if largest <= 0:
        return {c: 0.0 for c in ratios}
    return {c: r / largest for c, r in ratios.items()}


def _label_values(y: np.ndarray) -> np.ndarray:
    """One label per row: a ``(n, 1)`` target column counts as ``(n,)``."""
    y = np.asarray(y)
    return y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y


def _as_key(label):
    """A label as a plain Python value (dict keys: ``np.float32(1.0)`` is ``1.0``)."""
    return label.item() if isinstance(label, np.generic) else label


class Balance:
    """The ``Pipeline.balance`` stage: rejection sampling to ``proportions``.

    Elements are ``(x, y)`` examples, or ``(X, y)`` batches when the pipeline is
    batched (then rows are kept or dropped one by one, and a later ``batch(B)`` cuts the
    kept rows into batches again). ``label(element)`` overrides ``element[1]`` for
    examples. ``counts`` sums, over every epoch, the rows that went through by class.
    """

    def __init__(self, proportions, initial, label: Callable | None, batched: bool):
        target_proportions(proportions, [])  # a bad setting fails here, not mid-epoch
        self.proportions = proportions
        self.initial = (
            None if initial is None else {_as_key(c): float(v) for c, v in initial.items()}
        )
        if self.initial is not None and (
            any(v < 0 for v in self.initial.values()) or not sum(self.initial.values())
        ):
            raise ValueError("balance: initial must hold non-negative counts or shares")
        self.label = label
        self.batched = batched
        self.counts: dict = {}  # rows kept, by class, over all epochs
        self.seen: dict = {}  # rows read, by class, over all epochs (the live estimate)

    def _acceptance(self, seen_now: Mapping) -> dict:
        if self.initial is not None:
            total = sum(self.initial.values())
            initial = {c: v / total for c, v in self.initial.items()}
        else:
            total = sum(seen_now.values())
            initial = {c: v / total for c, v in seen_now.items()}
        target = target_proportions(self.proportions, initial)
        return acceptance_probabilities(target, initial)

    def _count(self, table: dict, label, n: int = 1) -> None:
        table[label] = table.get(label, 0) + n

    def apply(self, make_upstream, rng, shuffle) -> Iterator:
        upstream = make_upstream()
        try:
            if self.batched:
                yield from self._batches(upstream, rng)
            else:
                yield from self._examples(upstream, rng)
        finally:
            if hasattr(upstream, "close"):
                upstream.close()

    def _examples(self, upstream, rng) -> Iterator:
        for element in upstream:
            if self.label is not None:
                label = self.label(element)
            elif isinstance(element, tuple) and len(element) == 2:
                label = element[1]
            else:
                raise DataError(
                    "balance: each example must be a pair (features, label), or pass "
                    "label=fn to say which class an element is"
                )
            label = _as_key(np.asarray(label).reshape(-1)[0] if np.ndim(label) else label)
            self._count(self.seen, label)
            if self.initial is not None and label not in self.initial:
                raise DataError(f"balance: class {label!r} is not in initial; list every class")
            if rng.random() < self._acceptance(self.seen).get(label, 0.0):
                self._count(self.counts, label)
                yield element

    def _batches(self, upstream, rng) -> Iterator:
        for X, y in upstream:
            labels = _label_values(y)
            if len(labels) == 0:
                continue
            classes, codes, sizes = np.unique(labels, return_inverse=True, return_counts=True)
            keys = [_as_key(c) for c in classes]
            for key, size in zip(keys, sizes, strict=True):
                self._count(self.seen, key, int(size))
            if self.initial is not None:
                unknown = [k for k in keys if k not in self.initial]
                if unknown:
                    raise DataError(
                        f"balance: class {unknown[0]!r} is not in initial; list every class"
                    )
            accept = self._acceptance(self.seen)
            row_accept = np.array([accept.get(k, 0.0) for k in keys])[codes]
            keep = rng.random(len(labels)) < row_accept
            if not keep.any():
                continue
            kept_codes = np.bincount(codes[keep], minlength=len(keys))
            for key, size in zip(keys, kept_codes, strict=True):
                if size:
                    self._count(self.counts, key, int(size))
            yield X[keep], y[keep]


class ArraySource:
    """In-memory arrays as a batch source: each epoch, the rows in a new random order,
    in blocks of ``block_rows`` (``Pipeline.from_arrays``; cut into batches by a later
    ``batch(B)``).

    ``class_counts`` holds the count of each label of ``y`` (for classification
    targets), which ``balance()`` uses as the exact initial mix.
    """

    batch_size = None

    def __init__(self, X, y, *, shuffle: bool = True, block_rows: int = 4096):
        X, y = np.asarray(X), np.asarray(y)
        if len(X) != len(y):
            raise DataError(
                f"from_arrays: X has {len(X)} rows but y has {len(y)}; give one y per row"
            )
        if len(X) == 0:
            raise DataError("from_arrays: X has no rows")
        self.X, self.y = X, y
        self.n_samples = len(X)
        self.shuffle = shuffle
        self.block_rows = int(block_rows)

    def class_counts(self) -> dict:
        labels, counts = np.unique(_label_values(self.y), return_counts=True)
        return {_as_key(c): int(k) for c, k in zip(labels, counts, strict=True)}

    def epoch_batches(self, rng: np.random.Generator, skip: int = 0) -> Iterator:
        order = rng.permutation(self.n_samples) if self.shuffle else np.arange(self.n_samples)
        for start in range(skip * self.block_rows, self.n_samples, self.block_rows):
            rows = order[start : start + self.block_rows]
            yield self.X[rows], self.y[rows]


class BalancedBatches:
    """``(X, y, batch_size) -> batch source`` of class-balanced batches, for
    ``TabularModel.fit(batches=...)``; remembers the pipeline it made, so that
    :meth:`class_counts` can say afterwards what mix the model trained on.

    >>> import numpy as np
    >>> balanced = BalancedBatches(seed=0)
    >>> source = balanced(np.zeros((100, 1)), np.r_[np.zeros(90), np.ones(10)], 20)
    >>> sum(len(y) for _, y in source) == sum(balanced.class_counts().values())
    True
    """

    def __init__(self, proportions="equal", *, seed: int | None = None):
        target_proportions(proportions, [])
        self.proportions = proportions
        self.seed = seed
        self.pipeline = None

    def __call__(self, X, y, batch_size: int):
        from thalweg.data.pipeline import Pipeline

        self.pipeline = (
            Pipeline.from_arrays(X, y, seed=self.seed).balance(self.proportions).batch(batch_size)
        )
        return self.pipeline

    def class_counts(self) -> dict:
        """Rows trained on, by (encoded) class, over every epoch so far."""
        return {} if self.pipeline is None else self.pipeline.class_counts()
