"""Split arrays into train / validation / test parts, optionally stratified by label.

Sizes are exact and reproducible. The whole set of ``n`` rows is divided by the
*largest-remainder* rule: split ``k`` first gets ``floor(f_k * n)`` rows, and the rows
left over go one each to the splits with the largest fractional parts ``f_k * n -
floor(f_k * n)`` (ties go to the earlier split: train, then validation, then test). The
sizes therefore always add up to ``n`` and each is within one row of ``f_k * n``. If that
leaves a split empty it takes one row from the largest split, so every requested split
has at least one row.

With ``stratify=labels`` the split sizes are the same, and each class ``c`` with ``n_c``
members puts ``floor`` or ``ceil`` of ``f_k * n_c`` of its rows in split ``k``: every
class proportion is within one row of exact *and* the per-class counts add up to the
split sizes. Choosing which classes round up so that both hold is a small "controlled
rounding" problem; :func:`_controlled_rounding` solves it exactly with augmenting paths.
Every class must have at least one member per split, so a class whose exact share of a
split is below one row still gets one row (the only case where a count can differ from
exact by one row or more).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from thalweg.backend import as_generator
from thalweg.errors import DataError, ShapeError

__all__ = ["train_val_test_split"]

_FRACTION_TOLERANCE = 1e-6


def train_val_test_split(
    *arrays: Any,
    fractions: Sequence[float] = (0.6, 0.2, 0.2),
    stratify: Any = None,
    shuffle: bool = True,
    seed: int | np.random.Generator | None = None,
) -> list[Any]:
    """Split arrays row-wise into train, validation and test parts.

    Parameters
    ----------
    *arrays : array-like, each with ``n`` rows
        NumPy arrays, lists, pandas DataFrames/Series (indexed with ``.iloc``), or anything
        indexable by an integer array (scipy sparse matrices, for example).
    fractions : sequence of 3 floats (train, val, test) or 2 floats (train, test)
        Positive fractions adding up to 1 (within 1e-6).
    stratify : array-like of shape (n,), optional
        Class labels; each split then keeps the class proportions (see module docstring).
    shuffle : bool, default True
        Shuffle rows before splitting. With ``shuffle=False`` the splits are consecutive
        blocks in the original order (per class when stratified), which is what you want
        for time-ordered data.
    seed : int, numpy Generator or None
        Same seed, same split. None uses thalweg's global generator
        (:func:`thalweg.backend.manual_seed`).

    Returns
    -------
    list
        For two arrays ``a, b`` and three fractions:
        ``[a_train, a_val, a_test, b_train, b_val, b_test]``; with two fractions:
        ``[a_train, a_test, b_train, b_test]``. Each part has the type of its input
        (a list stays a list, a DataFrame stays a DataFrame).

    Raises
    ------
    DataError
        Bad fractions, no arrays, too few rows for the splits, or a stratification class
        with fewer members than there are splits.
    ShapeError
        Arrays (or ``stratify``) of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, seed=0)
    >>> len(y_tr), len(y_va), len(y_te)
    (6, 2, 2)
    """
    if not arrays:
        raise DataError("train_val_test_split needs at least one array to split")
    fractions = _check_fractions(fractions)
    n = _common_length(arrays)
    rng = as_generator(seed) if shuffle else None

    if stratify is None:
        sizes = _split_sizes(n, fractions)
        order = rng.permutation(n) if rng is not None else np.arange(n)
        parts = np.split(order, np.cumsum(sizes)[:-1])
    else:
        parts = _stratified_parts(stratify, n, fractions, rng)

    result: list[Any] = []
    for array in arrays:
        result.extend(_take_rows(array, part) for part in parts)
    return result


def _check_fractions(fractions: Sequence[float]) -> tuple[float, ...]:
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise DataError(
            f"fractions must be 2 or 3 numbers like (0.6, 0.2, 0.2); got {fractions!r}"
        ) from None
    if len(values) not in (2, 3):
        raise DataError(
            "fractions must have 3 entries (train, val, test) or 2 (train, test); "
            f"got {len(values)}: {values}"
        )
    if not all(math.isfinite(f) and f > 0 for f in values):
        raise DataError(
            f"every fraction must be a positive number; got {values}. "
            "Pass 2 fractions (train, test) to skip the validation split"
        )
    total = sum(values)
    if abs(total - 1.0) > _FRACTION_TOLERANCE:
        raise DataError(f"fractions must sum to 1; {values} sums to {total:g}")
    return values


def _common_length(arrays: Sequence[Any]) -> int:
    lengths = [_length(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ShapeError(f"all arrays must have the same number of rows; got lengths {lengths}")
    return lengths[0]


def _length(array: Any) -> int:
    shape = getattr(array, "shape", None)
    if shape is not None:  # arrays, DataFrames, sparse matrices: len() may be ambiguous
        if len(shape) == 0:
            raise ShapeError("cannot split a 0-d array (a single scalar); pass rows")
        return int(shape[0])
    return len(array)


def _take_rows(array: Any, rows: np.ndarray) -> Any:
    if hasattr(array, "iloc"):  # pandas, without importing it
        return array.iloc[rows]
    if hasattr(array, "shape"):
        return array[rows]
    if isinstance(array, list | tuple):
        return [array[i] for i in rows]
    return np.asarray(array)[rows]


def _split_sizes(n: int, fractions: Sequence[float]) -> np.ndarray:
    """Largest-remainder sizes adding up to ``n``, each split at least one row."""
    k = len(fractions)
    if n < k:
        raise DataError(f"cannot make {k} non-empty splits from {n} row(s); need at least {k}")
    quotas = np.asarray(fractions, dtype=np.float64) * n
    sizes = _largest_remainder(quotas, n)
    while (sizes == 0).any():
        # The only way a split can be empty is a tiny fraction of a tiny n; the largest
        # split can always spare a row because n >= k.
        sizes[np.argmax(sizes)] -= 1
        sizes[np.flatnonzero(sizes == 0)[0]] += 1
    return sizes


def _largest_remainder(quotas: np.ndarray, total: int) -> np.ndarray:
    sizes = np.floor(quotas).astype(np.int64)
    leftover = total - int(sizes.sum())
    # stable sort so equal remainders favour the earlier split
    order = np.argsort(-(quotas - sizes), kind="stable")
    sizes[order[:leftover]] += 1
    return sizes


def _stratified_parts(
    stratify: Any, n: int, fractions: Sequence[float], rng: np.random.Generator | None
) -> list[np.ndarray]:
    labels = np.asarray(stratify)
    if labels.ndim != 1:
        raise ShapeError(f"stratify must be 1-D labels of shape (n,); got shape {labels.shape}")
    if len(labels) != n:
        raise ShapeError(f"stratify has {len(labels)} labels but the arrays have {n} rows")
    k = len(fractions)
    classes, codes = np.unique(labels, return_inverse=True)
    codes = codes.reshape(-1)
    class_sizes = np.bincount(codes, minlength=len(classes))
    too_small = [(c, int(m)) for c, m in zip(classes.tolist(), class_sizes, strict=True) if m < k]
    if too_small:
        named = ", ".join(f"{c!r} ({m} member{'s' if m != 1 else ''})" for c, m in too_small)
        raise DataError(
            f"stratified split into {k} parts needs at least {k} members per class; "
            f"too few in class {named}. Merge rare classes or split without stratify"
        )

    totals = _split_sizes(n, fractions)
    counts = _stratified_counts(class_sizes, np.asarray(fractions), totals)

    parts: list[list[np.ndarray]] = [[] for _ in range(k)]
    for c in range(len(classes)):
        members = np.flatnonzero(codes == c)  # original order
        if rng is not None:
            members = rng.permutation(members)
        for split, chunk in enumerate(np.split(members, np.cumsum(counts[c])[:-1])):
            parts[split].append(chunk)
    out = []
    for chunks in parts:
        rows = np.concatenate(chunks)
        # interleave the classes (shuffled) or restore the original order (not shuffled)
        out.append(rng.permutation(rows) if rng is not None else np.sort(rows))
    return out


def _stratified_counts(
    class_sizes: np.ndarray, fractions: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """Counts (classes, splits): rows sum to class sizes, columns to ``totals``."""
    quotas = class_sizes[:, None] * fractions[None, :]
    low = np.floor(quotas).astype(np.int64)
    high = np.ceil(quotas).astype(np.int64)
    # every class in every split: shares below one row become exactly one row ...
    tiny = quotas < 1
    low[tiny] = 1
    high[tiny] = 1
    # ... taken, where the floors no longer fit the class, from its largest splits
    for c in np.flatnonzero(low.sum(axis=1) > class_sizes):
        while low[c].sum() > class_sizes[c]:
            j = np.argmax(np.where(low[c] > 1, quotas[c], -np.inf))
            low[c, j] -= 1
    # tighten each cell to what its row can actually take given the other cells
    row_sizes = class_sizes[:, None]
    low = np.maximum(low, row_sizes - (high.sum(axis=1, keepdims=True) - high))
    high = np.minimum(high, row_sizes - (low.sum(axis=1, keepdims=True) - low))

    # With at most three splits, the column totals are reachable exactly when each lies
    # between its column's lowest and highest possible sum (Hoffman's circulation theorem
    # reduces to single columns and their complements). Nudge totals into range if the
    # one-row-per-class rule pushed them out, keeping the sum at n.
    targets = np.clip(totals, low.sum(axis=0), high.sum(axis=0))
    exact = totals.astype(np.float64)
    while targets.sum() < totals.sum():
        room = np.where(targets < high.sum(axis=0), exact - targets, -np.inf)
        targets[np.argmax(room)] += 1
    while targets.sum() > totals.sum():
        room = np.where(targets > low.sum(axis=0), exact - targets, np.inf)
        targets[np.argmin(room)] -= 1
    return low + _controlled_rounding(
        row_need=class_sizes - low.sum(axis=1),
        col_need=targets - low.sum(axis=0),
        capacity=high - low,
        preference=quotas - low,
    )


def _controlled_rounding(
    row_need: np.ndarray, col_need: np.ndarray, capacity: np.ndarray, preference: np.ndarray
) -> np.ndarray:
    """A 0..capacity integer table with the given row and column sums.

    A greedy pass gives each row's extra rows to the columns that still need the most
    (ties to the larger fractional part); any shortfall is then fixed one unit at a time
    by breadth-first augmenting paths (Ford-Fulkerson), which reroute units between rows.
    """
    n_rows = capacity.shape[0]
    flow = np.zeros_like(capacity)
    row_left = row_need.astype(np.int64).copy()
    col_left = col_need.astype(np.int64).copy()
    for r in range(n_rows):
        while row_left[r] > 0:
            open_cols = (flow[r] < capacity[r]) & (col_left > 0)
            if not open_cols.any():
                break
            score = np.where(open_cols, col_left + preference[r], -np.inf)
            j = int(np.argmax(score))
            flow[r, j] += 1
            row_left[r] -= 1
            col_left[j] -= 1

    while row_left.sum() > 0:
        # Nodes: rows 0..n_rows-1, columns n_rows..n_rows+n_cols-1. A row can push a unit
        # into a column with spare capacity; a column can hand a unit back to a row that
        # already sends it one (that row then sends it elsewhere).
        parent: dict[int, int] = {}
        queue = deque(int(r) for r in np.flatnonzero(row_left > 0))
        for r in queue:
            parent[r] = -1
        end = -1
        while queue and end < 0:
            node = queue.popleft()
            if node < n_rows:
                for j in np.flatnonzero(flow[node] < capacity[node]):
                    col = n_rows + int(j)
                    if col not in parent:
                        parent[col] = node
                        if col_left[j] > 0:
                            end = col
                            break
                        queue.append(col)
            else:
                for r in np.flatnonzero(flow[:, node - n_rows] > 0):
                    if int(r) not in parent:
                        parent[int(r)] = node
                        queue.append(int(r))
        if end < 0:  # cannot happen for feasible inputs, which _stratified_counts ensures
            raise RuntimeError("stratified split: no table fits the class and split sizes")
        col_left[end - n_rows] -= 1
        node = end
        while parent[node] != -1:
            prev = parent[node]
            if node >= n_rows:  # row prev -> column node: one more unit in that cell
                flow[prev, node - n_rows] += 1
            else:  # column prev -> row node: that cell gives one unit back
                flow[node, prev - n_rows] -= 1
            node = prev
        row_left[node] -= 1
    return flow
