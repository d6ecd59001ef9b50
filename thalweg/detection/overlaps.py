"""Which pairs of boxes overlap by more than an IoU threshold, without comparing all pairs.

Greedy NMS needs, for each box, the boxes it could suppress. Comparing every pair costs
N² IoUs (10⁸ for 10,000 boxes); but two boxes whose IoU exceeds ``t`` must be close:
along x, ``IoU ≤ IoU_x`` (the IoU of the two boxes' x-intervals), and ``IoU_x > t``
forces the centers within ``(w_i + w_j)/2 · (1 - t)/(1 + t)`` of each other (likewise
along y). So:

1. Cut the plane into vertical strips of width ``(1 - t)/(1 + t) · w_max`` and sort the
   boxes by (group, strip, center y). Any overlapping pair lies in one strip or two
   neighbouring ones, within a window of center y.
2. For each box, two ``searchsorted`` calls give the run of candidates after it in its
   own strip and the run in the next strip: every candidate pair once, vectorized.
3. Compute the exact IoU of the candidates only (torchvision's formula, in the boxes'
   own dtype, so borderline pairs come out exactly as in ``torchvision.ops.nms``) and
   keep those above ``t``.

A few boxes much larger than the rest would make the strips wide; those (at most ~5 %)
are paired with every box directly instead. The search is conservative (its windows are
computed for a slightly lower threshold), so no pair is ever missed; only speed depends
on how boxes are spread. For tiny inputs, or a negative threshold (where even disjoint
boxes "overlap"), all pairs are compared.
"""

from __future__ import annotations

import numpy as np

__all__ = ["overlapping_pairs", "pair_iou"]

# Below this many boxes, comparing all pairs is as fast as searching.
_DENSE_BELOW = 192
# The search uses windows for threshold - _MARGIN, so float rounding in the exact IoU
# (relative error ~1e-7 in float32) can never make a pruned pair exceed the threshold.
_MARGIN = 1e-4
# center y, scaled to [0, 2^30], plus 2^32 per cell: one exact int64 sort key
_Y_BITS = 30
_CELL_SHIFT = 32
# strips per widest reach (see _search_strips)
_STRIPS_PER_REACH = 3


def pair_iou(boxes: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of ``boxes[first[k]]`` with ``boxes[second[k]]`` for each k: shape ``(K,)``.

    The same float operations, in the same order, as ``box_iou`` and torchvision's NMS
    kernel (``inter / (area_i + area_j - inter)`` in the boxes' dtype).
    """
    columns = _Columns(boxes)
    return columns.iou(first, second)


class _Columns:
    """A box array as four contiguous coordinate columns and the areas, for fast gathers."""

    def __init__(self, boxes: np.ndarray):
        self.x1, self.y1, self.x2, self.y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
        self.area = (self.x2 - self.x1) * (self.y2 - self.y1)

    def iou(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        # (take with int64 indices is the fastest gather NumPy has)
        width = np.minimum(self.x2.take(first), self.x2.take(second))
        width -= np.maximum(self.x1.take(first), self.x1.take(second))
        np.maximum(width, 0, out=width)
        height = np.minimum(self.y2.take(first), self.y2.take(second))
        height -= np.maximum(self.y1.take(first), self.y1.take(second))
        np.maximum(height, 0, out=height)
        width *= height  # the intersection
        union = self.area.take(first)
        union += self.area.take(second)
        union -= width
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(width, union, out=width)


def overlapping_pairs(
    boxes: np.ndarray, iou_threshold: float, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair ``i < j`` of boxes with ``IoU > iou_threshold`` (and the same group).

    Parameters
    ----------
    boxes : array (N, 4)
        Valid xyxy boxes (finite, ``x_max >= x_min``, ``y_max >= y_min``).
    iou_threshold : float
        Pairs with IoU strictly above it are returned (compared in float64).
    groups : array (N,) of int, optional
        Only pairs within one group (e.g. one class) are returned.

    Returns
    -------
    first, second : int64 arrays (K,)
        The pairs, ``first < second``, in no particular order.
    iou : array (K,)
        Their IoU, in the boxes' dtype.

    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    >>> first, second, iou = overlapping_pairs(boxes, 0.5)
    >>> first.tolist(), second.tolist(), [round(float(v), 3) for v in iou]
    ([0], [1], [0.681])
    """
    n = len(boxes)
    threshold = np.float64(iou_threshold)
    columns = _Columns(boxes)
    if n < _DENSE_BELOW or threshold < 0:
        first, second = _all_pairs(n, groups)
        hits = _Hits(threshold, boxes.dtype)
        hits.test(columns, first, second)
        return hits.result()
    return _search(boxes, columns, threshold, groups)


def _all_pairs(n: int, groups) -> tuple[np.ndarray, np.ndarray]:
    first, second = np.triu_indices(n, 1)
    if groups is not None:
        same = groups[first] == groups[second]
        first, second = first[same], second[same]
    return first.astype(np.intp), second.astype(np.intp)


class _Hits:
    """The pairs found so far (IoU above the threshold), piece by piece."""

    def __init__(self, threshold: np.float64, dtype):
        self.threshold, self.dtype = threshold, dtype
        self.first, self.second, self.iou = [], [], []

    def test(self, columns: _Columns, first, second, first_id=None, second_id=None) -> None:
        """Keep the candidate pairs ``(first, second)`` (rows of ``columns``) above the
        threshold, recorded as ``(first_id[first], second_id[second])`` when given."""
        iou = columns.iou(first, second)
        hit = np.flatnonzero(iou > self.threshold)  # float32 IoU vs a float64 threshold
        first, second = first.take(hit), second.take(hit)
        self.first.append(first if first_id is None else first_id.take(first))
        self.second.append(second if second_id is None else second_id.take(second))
        self.iou.append(iou.take(hit))

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.first:
            empty = np.zeros(0, np.intp)
            return empty, empty, np.zeros(0, self.dtype)
        first, second = np.concatenate(self.first), np.concatenate(self.second)
        return np.minimum(first, second), np.maximum(first, second), np.concatenate(self.iou)


def _search(boxes: np.ndarray, columns: _Columns, threshold: np.float64, groups):
    """The pairs above ``threshold``, testing only pairs the strips allow (module docstring)."""
    n = len(boxes)
    hits = _Hits(threshold, boxes.dtype)
    x1, y1, x2, y2 = (boxes[:, k].astype(np.float64) for k in range(4))
    width, height = x2 - x1, y2 - y1
    loose = max(float(threshold) - _MARGIN, 0.0)  # the threshold the search is built for

    # Outsized boxes would make every strip wide: test them against every box directly.
    k = int(0.95 * (n - 1))
    large = (width > 2 * np.partition(width, k)[k]) | (height > 2 * np.partition(height, k)[k])
    if large.any():
        big = np.flatnonzero(large)
        first = np.repeat(big, n)
        second = np.tile(np.arange(n), len(big))
        keep = (first != second) & ~(large[second] & (second < first))  # each pair once
        if groups is not None:
            keep &= groups[first] == groups[second]
        hits.test(columns, first[keep], second[keep])
    small = np.flatnonzero(~large)
    if len(small) > 1:
        _search_strips(
            small,
            (x1[small] + x2[small]) / 2,
            (y1[small] + y2[small]) / 2,
            width[small],
            height[small],
            loose,
            None if groups is None else groups[small],
            boxes,
            hits,
        )
    return hits.result()


def _search_strips(index, center_x, center_y, width, height, loose, groups, boxes, hits):
    """Test the pairs of boxes ``index`` that lie close enough in strips of center x."""
    n = len(index)
    reach = (1 - loose) / (1 + loose)  # partners' centers are closer than reach · (wᵢ + wⱼ)/2
    # A partner is at most x_reach away in center x (and y_reach in center y). Its width
    # is also less than w / t (IoU ≤ IoU_x ≤ min(w) / max(w)), which bounds the reach of
    # small boxes far better than the widest box does.
    with np.errstate(divide="ignore"):
        widest = np.minimum(width / loose, width.max()) if loose > 0 else width.max()
        tallest = np.minimum(height / loose, height.max()) if loose > 0 else height.max()
    x_reach = reach * (width + widest) / 2
    y_reach = reach * (height + tallest) / 2
    x_min = center_x.min()
    x_span = max(center_x.max() - x_min, 1e-300)
    # Strips a third of the widest reach: a box searches its own strip and the next few
    # its reach touches, a tighter cover than one strip as wide as the reach.
    strip_width = max(x_reach.max() / _STRIPS_PER_REACH, x_span / n, 1e-300)
    n_strips = int(x_span // strip_width) + 1
    strip = np.minimum(((center_x - x_min) / strip_width).astype(np.int64), n_strips - 1)
    if groups is not None:
        _, group_index = np.unique(groups, return_inverse=True)
        # empty strips between groups, so a search never crosses into another group
        strip = strip + group_index.reshape(-1) * (n_strips + _STRIPS_PER_REACH + 1)

    # One exact int64 sort key: the strip, then center y scaled to [0, 2^30].
    y_min = center_y.min()
    y_span = center_y.max() - y_min
    scale = float(1 << _Y_BITS) / y_span if y_span > 1e-200 else 0.0  # all in a row: one key
    key = (strip << _CELL_SHIFT) + ((center_y - y_min) * scale).astype(np.int64)
    order = np.argsort(key)
    key, strip = key[order], strip[order]
    index = index[order]
    # the boxes in key order: a run of positions is then a run of rows
    columns = _Columns(boxes[index])
    y = center_y[order] - y_min
    y_reach = y_reach[order]
    # the y window, in key units, widened by a step each way for the rounding
    top = 1 << (_Y_BITS + 1)
    low = np.clip(np.floor((y - y_reach) * scale) - 1, 0, top).astype(np.int64)
    high = np.clip(np.ceil((y + y_reach) * scale) + 1, 0, top).astype(np.int64)
    # how far right (in strips) each box's reach goes
    right = ((center_x[order] + x_reach[order] - x_min) / strip_width).astype(np.int64)
    right = np.minimum(right, n_strips - 1) - (strip % (n_strips + _STRIPS_PER_REACH + 1))

    positions = np.arange(n)
    # its own strip: the boxes after it (each pair once) with center y up to y + reach
    stop = np.searchsorted(key, (strip << _CELL_SHIFT) + high, side="right")
    _test_runs(columns, index, positions, positions + 1, stop, hits)
    # the next strips its reach touches: center y within ± reach
    for offset in range(1, _STRIPS_PER_REACH + 2):
        owners = np.flatnonzero(right >= offset)
        if not len(owners):
            break
        cell = (strip[owners] + offset) << _CELL_SHIFT
        start = np.searchsorted(key, cell + low[owners], side="left")
        stop = np.searchsorted(key, cell + high[owners], side="right")
        _test_runs(columns, index, owners, start, stop, hits)


def _test_runs(columns, index, owners, start, stop, hits) -> None:
    """Test each position ``owners[k]`` against positions ``start[k]:stop[k]``; record the
    pairs found as box numbers (``index`` maps a position to its box)."""
    lengths = np.maximum(stop - start, 0)
    total = int(lengths.sum())
    if total == 0:
        return
    # the runs' positions without a Python loop: k + (start - where the run begins in the output)
    offsets = np.cumsum(lengths) - lengths
    partner = np.repeat(start - offsets, lengths)
    partner += np.arange(total)
    hits.test(columns, np.repeat(owners, lengths), partner, index, index)
