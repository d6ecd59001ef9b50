"""Training targets of an SSD head as arrays, and the input-pipeline step that makes them.

A detector's loss needs, for every anchor of every image, a class and four offsets
(:func:`~thalweg.detection.multibox_targets`). Two array layouts carry them:

* **packed targets** ``(B, A, 5)`` float32: column 0 the class (0 background,
  ``class + 1`` otherwise; small integers, exact in float32), columns 1–4 the offsets.
  One array per batch, so the trainer's batching, validation split and caching treat it
  like any target (:func:`pack_targets`, :func:`unpack_targets`);
* **padded boxes** ``(B, G_max, 5)`` float32: each image's ground-truth boxes (xyxy)
  and class code, padded with rows of class -1 — the raw annotations as one array, for
  a pipeline that matches them batch by batch (:func:`pad_boxes`).

:class:`MatchTargets` is that pipeline step, ``(images, padded boxes) -> (images, packed
targets)``: ``Pipeline.from_arrays(X, pad_boxes(...)).batch(32).map(MatchTargets(anchors))``
matches on the fly, ``.cache(dir)`` after it keeps the targets on disk. Its
``method="loop"`` is the story's matcher — for each image, anchor and box, in Python —
kept to measure what it costs the trainer (``docs/detection.md``), not to use.

>>> anchors = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
>>> padded = pad_boxes([np.array([[0, 0, 10, 12.0]])], [np.array([0])])
>>> _, targets = MatchTargets(anchors)((np.zeros((1, 1, 4, 4)), padded))
>>> targets.shape, targets[0, :, 0].tolist()
((1, 2, 5), [1.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from thalweg.detection.anchors import encode, multibox_targets
from thalweg.errors import ShapeError

__all__ = [
    "MatchTargets",
    "match_anchors_loop",
    "pack_targets",
    "pad_boxes",
    "unpack_targets",
    "unpad_boxes",
]

METHODS = ("vectorized", "loop")


def pack_targets(labels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``labels (B, A)`` and ``offsets (B, A, 4)`` as one float32 array ``(B, A, 5)``.

    >>> pack_targets(np.array([[1, 0]]), np.zeros((1, 2, 4)))[0, :, 0]
    array([1., 0.], dtype=float32)
    """
    labels = np.asarray(labels)
    offsets = np.asarray(offsets)
    if offsets.shape != (*labels.shape, 4):
        raise ShapeError(
            f"pack_targets: offsets {offsets.shape} do not go with labels {labels.shape}"
        )
    packed = np.empty((*labels.shape, 5), np.float32)
    packed[..., 0] = labels
    packed[..., 1:] = offsets
    return packed


def unpack_targets(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(B, A, 5)`` -> ``labels`` int64 ``(B, A)`` and ``offsets`` ``(B, A, 4)``."""
    targets = np.asarray(targets)
    if targets.ndim != 3 or targets.shape[2] != 5:
        raise ShapeError(f"unpack_targets: targets must be (B, A, 5), got {targets.shape}")
    return targets[..., 0].astype(np.int64), targets[..., 1:]


def pad_boxes(boxes: Sequence, codes: Sequence, rows: int | None = None) -> np.ndarray:
    """Each image's boxes ``(G_i, 4)`` and class codes ``(G_i,)`` as one array
    ``(B, G_max, 5)``: ``x_min, y_min, x_max, y_max, code``, padded with code -1.

    ``rows`` fixes ``G_max`` (at least the most boxes of any image; default: that).

    >>> pad_boxes([np.array([[1.0, 2, 3, 4]]), np.zeros((0, 4))], [[0], []])[:, :, 4]
    array([[ 0.],
           [-1.]], dtype=float32)
    """
    if len(boxes) != len(codes):
        raise ShapeError(f"pad_boxes: {len(boxes)} images of boxes but {len(codes)} of codes")
    most = max((len(b) for b in boxes), default=0)
    rows = max(most, 1) if rows is None else int(rows)
    if rows < most:
        raise ShapeError(f"pad_boxes: rows={rows} but an image has {most} boxes")
    padded = np.zeros((len(boxes), rows, 5), np.float32)
    padded[:, :, 4] = -1
    for k, (b, c) in enumerate(zip(boxes, codes, strict=True)):
        padded[k, : len(b), :4] = np.asarray(b, np.float64).reshape(-1, 4)
        padded[k, : len(b), 4] = np.asarray(c).reshape(-1)
    return padded


def unpad_boxes(padded: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The inverse of :func:`pad_boxes`: per-image boxes (float64) and int64 codes."""
    padded = np.asarray(padded)
    if padded.ndim != 3 or padded.shape[2] != 5:
        raise ShapeError(f"unpad_boxes: expected (B, G_max, 5), got {padded.shape}")
    real = padded[:, :, 4] >= 0
    boxes = [padded[k][real[k], :4].astype(np.float64) for k in range(len(padded))]
    codes = [padded[k][real[k], 4].astype(np.int64) for k in range(len(padded))]
    return boxes, codes


def match_anchors_loop(anchors, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """:func:`~thalweg.detection.match_anchors` written the slow way: for each image,
    each anchor and each box, one IoU in Python. Same rule, same result ``(B, A)``.

    The story's matcher (``docs/detection.md``), kept to measure what per-anchor Python
    costs a trainer; use :func:`~thalweg.detection.match_anchors`.

    >>> anchors = np.array([[0, 0, 10, 10], [0, 0, 20, 20]], np.float32)
    >>> match_anchors_loop(anchors, [np.array([[0.0, 0.0, 12.0, 12.0]])])
    array([[ 0, -1]])
    """
    anchor_list = np.asarray(anchors, np.float64).tolist()
    out = np.full((len(gt_boxes), len(anchor_list)), -1, np.int64)
    for b, image_boxes in enumerate(gt_boxes):
        boxes = np.asarray(image_boxes, np.float64).reshape(-1, 4).tolist()
        best_anchor = [(0.0, -1)] * len(boxes)  # (IoU, anchor) of each box's best anchor
        for a, anchor in enumerate(anchor_list):
            best, best_iou = -1, -1.0
            for g, box in enumerate(boxes):
                overlap = _iou(box, anchor)
                if overlap > best_iou:
                    best, best_iou = g, overlap
                if overlap > best_anchor[g][0]:
                    best_anchor[g] = (overlap, a)
            if best >= 0 and best_iou >= iou_threshold:
                out[b, a] = best
        for g, (_, a) in enumerate(best_anchor):
            if a >= 0:  # forced: every box gets its best anchor (a later box wins a tie)
                out[b, a] = g
    return out


def _iou(p, q) -> float:
    w = min(p[2], q[2]) - max(p[0], q[0])
    h = min(p[3], q[3]) - max(p[1], q[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter)


class MatchTargets:
    """``(images, padded boxes) -> (images, packed targets)``: a batch map for a pipeline.

    Parameters
    ----------
    anchors : array (A, 4)
    iou_threshold : float
    variances : (float, float)
    method : "vectorized" or "loop"
        :func:`~thalweg.detection.match_anchors` (one call per batch), or
        :func:`match_anchors_loop` (Python, per anchor: the slow way, for comparison).

    A plain, picklable object, so ``Pipeline.map(MatchTargets(anchors), workers=2)``
    matches in two processes.
    """

    def __init__(
        self,
        anchors,
        iou_threshold: float = 0.5,
        variances: Sequence[float] = (0.1, 0.2),
        method: str = "vectorized",
    ):
        if method not in METHODS:
            raise ValueError(f"MatchTargets: method must be one of {METHODS}, got {method!r}")
        self.anchors = np.asarray(anchors, np.float32)
        self.iou_threshold = float(iou_threshold)
        self.variances = tuple(float(v) for v in variances)
        self.method = method

    def __call__(self, batch):
        images, padded = batch
        boxes, codes = unpad_boxes(padded)
        if self.method == "vectorized":
            labels, offsets = multibox_targets(
                self.anchors, boxes, codes, self.iou_threshold, self.variances
            )
        else:
            matches = match_anchors_loop(self.anchors, boxes, self.iou_threshold)
            labels, offsets = _gather(self.anchors, boxes, codes, matches, self.variances)
        return images, pack_targets(labels, offsets)

    def __repr__(self) -> str:
        return f"MatchTargets({len(self.anchors)} anchors, method={self.method!r})"


def _gather(anchors, boxes, codes, matches, variances):
    """Labels and offsets from given matches (what :func:`multibox_targets` does after
    matching)."""
    n_images, n_anchors = matches.shape
    labels = np.zeros((n_images, n_anchors), np.int64)
    offsets = np.zeros((n_images, n_anchors, 4), np.float32)
    for b in range(n_images):
        positive = np.flatnonzero(matches[b] >= 0)
        if not len(positive):
            continue
        matched = matches[b, positive]
        labels[b, positive] = codes[b][matched] + 1
        offsets[b, positive] = encode(
            boxes[b][matched], anchors[positive].astype(np.float64), variances
        )
    return labels, offsets
