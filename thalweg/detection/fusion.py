"""Weighted box fusion (Solovyev et al., 2019): average a cluster's boxes instead of
choosing one.

NMS keeps one box per cluster, the most confident, wherever it sits. Fusion keeps a box
per cluster whose corners are the **score-weighted mean** of the cluster's boxes, and a
score that is their mean (lowered when fewer models than expected voted for it). Walk
the boxes by decreasing score; each joins the cluster whose *current fused box* it
overlaps most, if that IoU is above the threshold, else starts a new cluster; the fused
box is updated as boxes join.

>>> import numpy as np
>>> boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float64)
>>> fused, scores, labels = weighted_box_fusion(boxes, np.array([0.6, 0.4, 0.5]))
>>> fused
array([[ 0.8,  0. , 10.8, 10. ],
       [50. , 50. , 60. , 60. ]])
>>> scores
array([0.5, 0.5])
"""

from __future__ import annotations

import numpy as np

from thalweg.detection.nms import _check_inputs, _check_threshold
from thalweg.errors import DataError, ShapeError

__all__ = ["weighted_box_fusion"]


def weighted_box_fusion(
    boxes,
    scores,
    labels=None,
    iou_threshold: float = 0.55,
    skip_threshold: float = 0.0,
    n_models: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fuse overlapping boxes of the same label into score-weighted averages.

    Parameters
    ----------
    boxes : array (N, 4)
        xyxy boxes, from one model or several models' outputs concatenated.
    scores : array (N,)
        Confidences in [0, 1].
    labels : array (N,), optional
        Boxes of different labels are never fused (default: one label).
    iou_threshold : float
        A box joins the cluster whose fused box it overlaps most when that IoU is
        **greater than** this (the paper's 0.55 by default).
    skip_threshold : float
        Boxes scoring below this are dropped first.
    n_models : int
        How many models' boxes were concatenated: a cluster's score is the mean score
        times ``min(cluster size, n_models) / n_models``, so a box only some models found
        is trusted less. With one model that factor is 1.

    Returns
    -------
    fused : array (K, 4)
        The fused boxes, by decreasing fused score.
    scores : array (K,)
    labels : array (K,)
        (Zeros when no labels were given.)

    Each box is compared with all current clusters of its label at once; the walk over
    boxes is sequential by nature (every box moves its cluster's fused box).
    """
    boxes, scores = _check_inputs(boxes, scores, "weighted_box_fusion")
    iou_threshold = _check_threshold(iou_threshold, "iou_threshold", "weighted_box_fusion")
    if int(n_models) < 1:
        raise ValueError(f"weighted_box_fusion: n_models must be >= 1, got {n_models}")
    if len(scores) and scores.min() < 0:
        raise DataError("weighted_box_fusion: scores are the weights; they must be >= 0")
    if labels is None:
        labels = np.zeros(len(boxes), np.int64)
    labels = np.asarray(labels)
    if labels.shape != (len(boxes),):
        raise ShapeError(
            f"weighted_box_fusion: labels must have shape ({len(boxes)},), got {labels.shape}"
        )
    keep = scores >= skip_threshold
    boxes, scores, labels = (
        boxes[keep].astype(np.float64),
        scores[keep].astype(np.float64),
        labels[keep],
    )
    out_boxes, out_scores, out_labels = [], [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        fused, total, count = _fuse_one_label(boxes[rows], scores[rows], iou_threshold)
        mean_score = total / count
        out_boxes.append(fused)
        out_scores.append(mean_score * np.minimum(count, n_models) / n_models)
        out_labels.append(np.full(len(fused), label))
    if not out_boxes:
        return np.zeros((0, 4)), np.zeros(0), labels[:0]
    fused = np.concatenate(out_boxes)
    fused_scores = np.concatenate(out_scores)
    fused_labels = np.concatenate(out_labels)
    order = np.argsort(-fused_scores, kind="stable")
    return fused[order], fused_scores[order], fused_labels[order]


def _fuse_one_label(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float):
    """Clusters of boxes sorted by decreasing score: fused boxes, score sums, sizes."""
    n = len(boxes)
    weighted_sum = np.zeros((n, 4))  # Σ s·box per cluster (at most n clusters)
    weight = np.zeros(n)  # Σ s per cluster
    count = np.zeros(n, np.int64)
    fused = np.zeros((n, 4))
    clusters = 0
    for box, score in zip(boxes, scores, strict=True):
        best = -1
        if clusters:
            current = fused[:clusters]
            width = np.minimum(current[:, 2], box[2]) - np.maximum(current[:, 0], box[0])
            height = np.minimum(current[:, 3], box[3]) - np.maximum(current[:, 1], box[1])
            inter = np.maximum(width, 0) * np.maximum(height, 0)
            area = (current[:, 2] - current[:, 0]) * (current[:, 3] - current[:, 1])
            union = area + (box[2] - box[0]) * (box[3] - box[1]) - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = np.where(union > 0, inter / union, 0.0)
            k = int(np.argmax(iou))
            if iou[k] > iou_threshold:
                best = k
        if best < 0:
            best = clusters
            clusters += 1
        weighted_sum[best] += score * box
        weight[best] += score
        count[best] += 1
        fused[best] = weighted_sum[best] / weight[best] if weight[best] > 0 else box
    return fused[:clusters], weight[:clusters], count[:clusters]
