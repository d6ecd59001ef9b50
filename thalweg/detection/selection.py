"""From a detector's scores at every anchor to its detections: threshold, suppress, keep the best.

A single-shot detector scores every anchor for every class; most scores are near zero
and every object is found by several neighbouring anchors. :func:`select_detections`
turns one image's anchor scores into a short list of boxes: per class, drop scores
below ``score_threshold``, keep the ``candidates`` best, suppress duplicates (greedy NMS,
soft-NMS, weighted NMS or weighted box fusion: ``method``), and keep the
``max_detections`` best over all classes.

>>> boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
>>> scores = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3]])  # background, face
>>> kept, kept_scores, classes = select_detections(boxes, scores)
>>> kept.tolist(), kept_scores.round(2).tolist(), classes.tolist()
([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]], [0.9, 0.3], [0, 0])
"""

from __future__ import annotations

import numpy as np

from thalweg.detection.fusion import weighted_box_fusion
from thalweg.detection.nms import nms, soft_nms, weighted_nms
from thalweg.errors import ShapeError

__all__ = ["SUPPRESSION_METHODS", "select_detections"]

SUPPRESSION_METHODS = ("greedy", "soft", "weighted", "fusion")


def select_detections(
    boxes,
    class_scores,
    *,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    max_detections: int = 100,
    method: str = "greedy",
    candidates: int = 400,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's detections from its anchors' boxes and class probabilities.

    Parameters
    ----------
    boxes : array (A, 4)
        The decoded box of every anchor (xyxy).
    class_scores : array (A, C + 1)
        Class probabilities per anchor, column 0 the background (it is never detected).
    score_threshold : float
        Lowest score kept.
    iou_threshold : float
        Overlap above which boxes of a class are duplicates.
    max_detections : int
        Most boxes kept per image (the best scores over all classes).
    method : "greedy", "soft", "weighted" or "fusion"
        :func:`~thalweg.detection.nms`; :func:`~thalweg.detection.soft_nms` (Gaussian,
        σ = 0.5: duplicates are kept with decayed scores); greedy NMS with each kept
        box the score-weighted mean of its cluster
        (:func:`~thalweg.detection.weighted_nms`); or
        :func:`~thalweg.detection.weighted_box_fusion`.
    candidates : int
        Per class, only the best-scored ``candidates`` anchors go into suppression.

    Returns
    -------
    boxes : array (K, 4), scores : float64 array (K,), classes : int64 array (K,)
        By decreasing score; ``classes`` are ``0 .. C - 1`` (column ``c + 1``).
    """
    boxes = np.asarray(boxes)
    class_scores = np.asarray(class_scores)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or class_scores.shape[:1] != boxes.shape[:1]:
        raise ShapeError(
            f"select_detections: boxes must be (A, 4) and class_scores (A, C + 1); got "
            f"{boxes.shape} and {class_scores.shape}"
        )
    if method not in SUPPRESSION_METHODS:
        raise ValueError(
            f"select_detections: method must be one of {', '.join(SUPPRESSION_METHODS)}; "
            f"got {method!r}"
        )
    found_boxes, found_scores, found_classes = [], [], []
    for c in range(class_scores.shape[1] - 1):
        scores = class_scores[:, c + 1]
        passing = np.flatnonzero(scores >= score_threshold)
        if len(passing) > candidates:
            best = np.argsort(-scores[passing], kind="stable")[:candidates]
            passing = passing[best]
        if not len(passing):
            continue
        kept_boxes, kept_scores = _suppress(
            boxes[passing], scores[passing], method, iou_threshold, score_threshold
        )
        found_boxes.append(kept_boxes)
        found_scores.append(kept_scores.astype(np.float64))
        found_classes.append(np.full(len(kept_scores), c, np.int64))
    if not found_boxes:
        return boxes[:0].copy(), np.zeros(0), np.zeros(0, np.int64)
    all_boxes = np.concatenate(found_boxes)
    all_scores = np.concatenate(found_scores)
    all_classes = np.concatenate(found_classes)
    order = np.argsort(-all_scores, kind="stable")[:max_detections]
    return all_boxes[order], all_scores[order], all_classes[order]


def _suppress(boxes, scores, method, iou_threshold, score_threshold):
    """One class's boxes after duplicate suppression: ``(boxes, scores)``."""
    if method == "greedy":
        keep = nms(boxes, scores, iou_threshold)
        return boxes[keep], scores[keep]
    if method == "weighted":
        keep, merged = weighted_nms(boxes, scores, iou_threshold)
        return merged, scores[keep]
    if method == "soft":
        keep, decayed = soft_nms(boxes, scores, score_threshold=score_threshold)
        return boxes[keep], decayed
    fused, fused_scores, _ = weighted_box_fusion(boxes, scores, iou_threshold=iou_threshold)
    return fused.astype(boxes.dtype), fused_scores
