"""Non-maximum suppression: greedy (torchvision's semantics), per class, soft, weighted.

A detector fires many boxes around each object; NMS keeps one per object. **Greedy NMS**
visits boxes by decreasing score and keeps a box unless a box kept before it overlaps it
with IoU above the threshold. That is the whole rule, and its weakness: the *most
confident* box wins, not the best-fitting one (``docs/detection.md`` tells the story).

How it is computed here, vectorized (the result is exactly the greedy one):

1. sort by score, descending and stable (equal scores keep index order, as torchvision);
2. find every pair with IoU above the threshold without comparing all pairs
   (:func:`~thalweg.detection.overlaps.overlapping_pairs`): an edge from the higher-ranked
   box to the lower-ranked one;
3. resolve the greedy order in rounds instead of one box at a time: a box none of whose
   higher-ranked neighbours is still undecided is *kept* if all of them were suppressed,
   and a box with a kept higher-ranked neighbour is *suppressed*. Every round settles all
   the boxes whose fate no longer depends on others, cluster by cluster at once; a
   cluster of 20 jittered boxes settles in two or three rounds. (Long chains of
   overlaps would need many rounds; past ``_MAX_ROUNDS`` the rest is settled one box at
   a time.)

>>> import numpy as np
>>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
>>> nms(boxes, np.array([0.9, 0.8, 0.7], np.float32), iou_threshold=0.5)
array([0, 2])
"""

from __future__ import annotations

import numpy as np

from thalweg.detection.boxes import as_boxes, check_boxes
from thalweg.detection.overlaps import overlapping_pairs, pair_iou
from thalweg.errors import DataError, ShapeError

__all__ = ["batched_nms", "nms", "soft_nms", "weighted_nms"]

_UNDECIDED, _KEPT, _SUPPRESSED = 0, 1, 2
_MAX_ROUNDS = 64


def _check_inputs(boxes, scores, op: str) -> tuple[np.ndarray, np.ndarray]:
    boxes = as_boxes(boxes, op)
    scores = np.asarray(scores)
    if scores.ndim != 1 or len(scores) != len(boxes):
        raise ShapeError(
            f"{op}: scores must have shape ({len(boxes)},), one per box; got {scores.shape}"
        )
    if scores.dtype.kind not in "fiub":
        raise DataError(f"{op}: scores must be numbers, got {scores.dtype}")
    if len(scores) and not np.isfinite(scores).all():
        row = int(np.flatnonzero(~np.isfinite(scores))[0])
        raise DataError(f"{op}: score {row} is {scores[row]}; scores must be finite")
    check_boxes(boxes, op)
    return boxes, scores


def _check_threshold(value, name: str, op: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value}")
    return value


def _rank_order(scores: np.ndarray) -> np.ndarray:
    """Indices by decreasing score; equal scores keep index order (a stable sort)."""
    return np.argsort(-scores, kind="stable")


def _settle(n: int, higher: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Greedy NMS on ranks ``0..n-1`` given the suppression edges ``higher -> lower``.

    Returns each rank's fate (``_KEPT`` or ``_SUPPRESSED``). Exactly the sequential rule:
    rank r is kept iff no kept rank < r has an edge to it.
    """
    status = np.zeros(n, np.int8)
    blocked = np.zeros(n, bool)
    for _ in range(_MAX_ROUNDS):
        # Keep every undecided box that no live edge points at: all its higher-ranked
        # neighbours were suppressed (edges from suppressed boxes are dropped below).
        blocked[:] = False
        blocked[lower] = True
        status[(status == _UNDECIDED) & ~blocked] = _KEPT
        # Suppress what the kept boxes point at.
        from_kept = status[higher] == _KEPT
        status[lower[from_kept]] = _SUPPRESSED
        # Edges that can still matter: both ends undecided.
        live = (status[higher] == _UNDECIDED) & (status[lower] == _UNDECIDED)
        higher, lower = higher[live], lower[live]
        if not (status == _UNDECIDED).any():
            return status
    return _settle_one_by_one(status, higher, lower)


def _settle_one_by_one(status: np.ndarray, higher: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The sequential rule for what the rounds left undecided (long chains of overlaps)."""
    order = np.argsort(higher, kind="stable")
    higher, lower = higher[order], lower[order]
    starts = np.searchsorted(higher, np.arange(len(status) + 1))
    for rank in np.flatnonzero(status == _UNDECIDED).tolist():
        if status[rank] == _UNDECIDED:
            status[rank] = _KEPT
            status[lower[starts[rank] : starts[rank + 1]]] = _SUPPRESSED
    return status


def _greedy(boxes, scores, iou_threshold, groups=None):
    """Ranks, sorted boxes, suppression edges (in ranks) and each rank's fate."""
    order = _rank_order(scores)
    ranked = boxes[order]
    group_ranked = None if groups is None else groups[order]
    higher, lower, _ = overlapping_pairs(ranked, iou_threshold, group_ranked)
    status = _settle(len(order), higher, lower)
    return order, higher, lower, status


def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; the kept indices by decreasing score.

    Parameters
    ----------
    boxes : array (N, 4)
        xyxy boxes (float32 or float64; ints become float64).
    scores : array (N,)
        One confidence per box.
    iou_threshold : float
        A box is discarded when its IoU with a kept, higher-scoring box is **greater
        than** this.

    Returns
    -------
    int64 array (K,)
        Indices into ``boxes`` of the kept boxes, by decreasing score.

    The semantics are ``torchvision.ops.nms``'s, to the index: a stable descending sort
    (equal scores are visited in index order, so of two duplicate boxes with equal scores
    the first is kept), IoU computed in the boxes' dtype with torchvision's formula and
    compared with ``>`` in float64; two zero-area boxes have IoU NaN and never suppress
    each other. Non-finite values and boxes with ``x_max < x_min`` are refused.

    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 9]], np.float32)
    >>> nms(boxes, np.array([0.5, 0.5, 0.9], np.float32), 0.95)  # IoU 0.9: both kinds kept
    array([2, 0])
    """
    boxes, scores = _check_inputs(boxes, scores, "nms")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold", "nms")
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    order, _, _, status = _greedy(boxes, scores, iou_threshold)
    return order[status == _KEPT].astype(np.int64)


def batched_nms(boxes, scores, classes, iou_threshold: float) -> np.ndarray:
    """NMS within each class independently; kept indices by decreasing score.

    Parameters
    ----------
    boxes : array (N, 4)
        xyxy boxes.
    scores : array (N,)
    classes : array (N,)
        A label per box (ints or strings); boxes of different classes never suppress
        each other.
    iou_threshold : float

    Returns
    -------
    int64 array (K,)
        Indices of the kept boxes, by decreasing score (ties in index order).

    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11]], np.float32)
    >>> batched_nms(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 1, 1]), 0.5)
    array([0, 1])
    """
    boxes, scores = _check_inputs(boxes, scores, "batched_nms")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold", "batched_nms")
    classes = np.asarray(classes)
    if classes.shape != (len(boxes),):
        raise ShapeError(
            f"batched_nms: classes must have shape ({len(boxes)},), one per box; "
            f"got {classes.shape}"
        )
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    _, groups = np.unique(classes, return_inverse=True)
    order, _, _, status = _greedy(boxes, scores, iou_threshold, groups.reshape(-1))
    return order[status == _KEPT].astype(np.int64)


def weighted_nms(boxes, scores, iou_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS whose kept boxes become the score-weighted mean of their cluster.

    The cluster of a kept box is itself plus every box it suppressed (a suppressed box
    belongs to the first kept box, in score order, that overlaps it by more than the
    threshold — the box that suppresses it in the greedy loop). The kept box's
    coordinates are replaced by ``Σ sᵢ·boxᵢ / Σ sᵢ`` over its cluster: the confident
    box keeps its place in the ranking, while its *position* draws on every box that
    agreed with it, which repairs the "confident but badly placed" winner.

    Parameters
    ----------
    boxes : array (N, 4)
    scores : array (N,)
        Non-negative confidences (they are the weights).
    iou_threshold : float

    Returns
    -------
    indices : int64 array (K,)
        The kept indices by decreasing score, exactly :func:`nms`'s.
    merged : array (K, 4)
        The merged box of each kept index.

    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10]], np.float64)
    >>> weighted_nms(boxes, np.array([0.6, 0.4]), 0.5)
    (array([0]), array([[ 0.8,  0. , 10.8, 10. ]]))
    """
    boxes, scores = _check_inputs(boxes, scores, "weighted_nms")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold", "weighted_nms")
    if len(scores) and scores.min() < 0:
        raise DataError("weighted_nms: scores are the weights of the mean; they must be >= 0")
    if len(boxes) == 0:
        return np.zeros(0, np.int64), boxes[:0].copy()
    order, higher, lower, status = _greedy(boxes, scores, iou_threshold)
    # Each suppressed rank's owner: the lowest-ranked kept box with an edge to it.
    from_kept = status[higher] == _KEPT
    higher, lower = higher[from_kept], lower[from_kept]
    owner = np.arange(len(order))
    first = np.lexsort((higher, lower))  # by lower, then by higher
    lower_sorted, higher_sorted = lower[first], higher[first]
    head = np.ones(len(first), bool)
    head[1:] = lower_sorted[1:] != lower_sorted[:-1]
    owner[lower_sorted[head]] = higher_sorted[head]
    # Score-weighted sums per owner (in float64), then back to the boxes' dtype.
    weights = scores[order].astype(np.float64)
    sums = np.zeros((len(order), 4))
    np.add.at(sums, owner, boxes[order] * weights[:, None])
    totals = np.bincount(owner, weights=weights, minlength=len(order))
    kept = np.flatnonzero(status == _KEPT)
    with np.errstate(divide="ignore", invalid="ignore"):
        merged = sums[kept] / totals[kept, None]
    # A cluster of zero total score has no weighted mean: keep its box as it is.
    zero = totals[kept] == 0
    merged[zero] = boxes[order[kept[zero]]]
    return order[kept].astype(np.int64), merged.astype(boxes.dtype)


def soft_nms(
    boxes,
    scores,
    method: str = "gaussian",
    sigma: float = 0.5,
    iou_threshold: float = 0.3,
    score_threshold: float = 0.001,
) -> tuple[np.ndarray, np.ndarray]:
    """Soft-NMS (Bodla et al., 2017): decay overlapping boxes' scores instead of dropping them.

    Repeatedly take the box with the highest *current* score, then multiply the score
    of every remaining box ``j`` by a decay of its IoU with it:

    * ``method="gaussian"``: ``exp(-IoU² / sigma)`` (every box, no threshold);
    * ``method="linear"``: ``1 - IoU`` where ``IoU > iou_threshold``, else unchanged.

    A box whose score is, or decays to, below ``score_threshold`` is discarded.

    Parameters
    ----------
    boxes : array (N, 4)
    scores : array (N,)
    method : {"gaussian", "linear"}
    sigma : float
        Width of the Gaussian decay (``> 0``).
    iou_threshold : float
        Where the linear decay starts.
    score_threshold : float
        The lowest score kept.

    Returns
    -------
    indices : int64 array (K,)
        The kept boxes in the order they were selected (decreasing decayed score).
    scores : array (K,)
        Their decayed scores, in the dtype of ``scores`` (float64 for ints).

    Equal current scores are taken in index order. Each step is vectorized over the
    remaining boxes; the N steps are inherently sequential (each decays the next).

    >>> import numpy as np
    >>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float64)
    >>> keep, decayed = soft_nms(boxes, np.array([0.9, 0.8, 0.7]))
    >>> keep, decayed.round(3)
    (array([0, 2, 1]), array([0.9  , 0.7  , 0.317]))
    """
    boxes, scores = _check_inputs(boxes, scores, "soft_nms")
    if method not in ("gaussian", "linear"):
        raise ValueError(f"soft_nms: method must be 'gaussian' or 'linear', got {method!r}")
    sigma = _check_threshold(sigma, "sigma", "soft_nms")
    if method == "gaussian" and sigma <= 0:
        raise ValueError(f"soft_nms: sigma must be > 0, got {sigma}")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold", "soft_nms")
    score_threshold = _check_threshold(score_threshold, "score_threshold", "soft_nms")
    out_dtype = scores.dtype if scores.dtype.kind == "f" else np.float64
    current = scores.astype(np.float64)
    alive = np.flatnonzero(current >= score_threshold)
    kept, kept_scores = [], []
    while len(alive):
        best = int(np.argmax(current[alive]))  # first maximum: index order on ties
        chosen = alive[best]
        kept.append(chosen)
        kept_scores.append(current[chosen])
        alive = np.delete(alive, best)
        if not len(alive):
            break
        iou = pair_iou(boxes, np.full(len(alive), chosen), alive).astype(np.float64)
        iou = np.nan_to_num(iou, nan=0.0)
        if method == "gaussian":
            decay = np.exp(-(iou * iou) / sigma)
        else:
            decay = np.where(iou > iou_threshold, 1 - iou, 1.0)
        current[alive] *= decay
        alive = alive[current[alive] >= score_threshold]
    return np.asarray(kept, np.int64), np.asarray(kept_scores, out_dtype)
