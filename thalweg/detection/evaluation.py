"""Detection quality: average precision per class, Pascal VOC mAP and the COCO metrics.

Both protocols rank a class's detections by score and walk down the ranking, calling
each detection a true positive if it overlaps a not-yet-found ground-truth box enough,
and a false positive otherwise (a second box on a found object is a false positive:
duplicates cost precision). Average precision summarises the precision/recall curve.

* **Pascal VOC** (:func:`average_precision`, :func:`mean_average_precision`): IoU > 0.5
  with the detection's *best-overlapping* box; AP is the area under the precision
  envelope (VOC 2010+), or the 11-point mean (VOC 2007) with ``method="11point"``.
* **COCO** (:func:`coco_evaluate`): a detection takes the *best still-unmatched* box with
  IoU ≥ t, for t = 0.50, 0.55, …, 0.95; precision is read at 101 recall points; at most
  100 detections per image and class; AP is averaged over the thresholds and classes,
  also per object size. It reproduces ``pycocotools.cocoeval.COCOeval`` number for
  number (the tests compare them).

Detections and ground truth are box tables (``thalweg.detection.annotations``): columns
``image, x_min, y_min, x_max, y_max, label`` plus ``score`` for detections. Every image
named in either table counts as evaluated: a detection on an image without ground
truth is a false positive. Classes without ground truth have no AP and are left out.

>>> gt = {"image": ["a", "b"], "x_min": [0, 0], "y_min": [0, 0], "x_max": [10, 10],
...       "y_max": [10, 10], "label": ["face", "face"]}
>>> det = dict(gt, score=[0.9, 0.8])
>>> coco_evaluate(det, gt)["ap"], mean_average_precision(det, gt)
(1.0, 1.0)
"""

from __future__ import annotations

import numpy as np

from thalweg.detection.annotations import as_box_table
from thalweg.detection.boxes import box_iou
from thalweg.errors import DataError

__all__ = [
    "average_precision",
    "box_fit",
    "coco_evaluate",
    "mean_average_precision",
    "precision_recall_curve",
]

# COCOeval's parameters, built with its own expressions so the floats are identical.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
AREA_RANGES = {
    "all": (0.0, 1e10),
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 1e10),
}
_COORDINATES = ("x_min", "y_min", "x_max", "y_max")


def _tables(detections, ground_truth):
    det = as_box_table(detections, "detections", score=True)
    gt = as_box_table(ground_truth, "ground_truth")
    for name in ("image", "label"):
        if len(det[name]) and len(gt[name]):
            if (det[name].dtype.kind == "U") != (gt[name].dtype.kind == "U"):
                raise DataError(
                    f"detections and ground_truth name their {name}s differently (strings in "
                    "one, numbers in the other); use the same kind in both"
                )
    return det, gt


def _xyxy(table, rows=None) -> np.ndarray:
    boxes = np.stack([table[name] for name in _COORDINATES], axis=1)
    return boxes if rows is None else boxes[rows]


# ---------------------------------------------------------------------- Pascal VOC


def _voc_matches(det, gt, label, iou_threshold: float):
    """For one class: scores by rank, true-positive flags by rank, and the box count."""
    det_rows = np.flatnonzero(det["label"] == label)
    gt_rows = np.flatnonzero(gt["label"] == label)
    rank = det_rows[np.argsort(-det["score"][det_rows], kind="stable")]
    scores = det["score"][rank]
    # for each ranked detection: its best IoU and which box (the first on ties)
    best_iou = np.full(len(rank), -np.inf)
    best_box = np.full(len(rank), -1, np.int64)
    gt_images = gt["image"][gt_rows]
    det_images = det["image"][rank]
    for image in np.unique(det_images):
        boxes_here = gt_rows[gt_images == image]
        if not len(boxes_here):
            continue
        mine = np.flatnonzero(det_images == image)
        iou = box_iou(_xyxy(det, rank[mine]), _xyxy(gt, boxes_here))
        best_iou[mine] = iou.max(axis=1)
        best_box[mine] = boxes_here[iou.argmax(axis=1)]
    # A hit is a true positive if it is the first (best-ranked) hit on its box.
    hit = np.flatnonzero(best_iou > iou_threshold)
    _, first = np.unique(best_box[hit], return_index=True)
    true_positive = np.zeros(len(rank), bool)
    true_positive[hit[first]] = True
    return scores, true_positive, len(gt_rows)


def precision_recall_curve(
    detections, ground_truth, label=None, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall after each detection of one class, by decreasing score.

    Parameters
    ----------
    detections, ground_truth : box tables
    label : optional
        The class; may be left out when the ground truth has one class only.
    iou_threshold : float
        VOC matching (IoU > threshold with the best-overlapping box).

    Returns
    -------
    precision, recall, scores : float64 arrays (D,)
        Entry k is measured over the k + 1 best-scored detections.

    >>> gt = {"image": ["a"], "x_min": [0], "y_min": [0], "x_max": [10], "y_max": [10],
    ...       "label": [1]}
    >>> det = {"image": ["a", "a"], "x_min": [20, 0], "y_min": [20, 1], "x_max": [30, 10],
    ...        "y_max": [30, 10], "label": [1, 1], "score": [0.9, 0.8]}
    >>> precision_recall_curve(det, gt)
    (array([0. , 0.5]), array([0., 1.]), array([0.9, 0.8]))
    """
    det, gt = _tables(detections, ground_truth)
    classes = np.unique(gt["label"])
    if label is None:
        if len(classes) != 1:
            raise DataError(
                f"precision_recall_curve: the ground truth has {len(classes)} classes; say "
                "which with label="
            )
        label = classes[0]
    scores, true_positive, n_boxes = _voc_matches(det, gt, label, iou_threshold)
    if n_boxes == 0:
        raise DataError(f"precision_recall_curve: no ground-truth box has label {label!r}")
    hits = np.cumsum(true_positive)
    ranks = np.arange(1, len(hits) + 1)
    return hits / ranks, hits / n_boxes, scores


def _area_under_envelope(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2010+: the area under the precision envelope (max precision at ≥ recall)."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * envelope[steps + 1]))


def _eleven_point(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2007: the mean over recall 0, 0.1, …, 1 of the best precision at ≥ that recall."""
    total = 0.0
    for level in np.linspace(0, 1, 11):
        reached = precision[recall >= level]
        total += reached.max() if len(reached) else 0.0
    return total / 11


def average_precision(
    detections, ground_truth, iou_threshold: float = 0.5, method: str = "continuous"
) -> dict:
    """Pascal VOC average precision of each class.

    Parameters
    ----------
    detections, ground_truth : box tables
    iou_threshold : float
        A detection is a hit when its IoU with its best-overlapping box of the same
        class and image is **>** this; the best-ranked hit on a box is the true positive,
        later ones (duplicates) are false positives.
    method : {"continuous", "11point"}
        Area under the precision envelope (VOC 2010+), or VOC 2007's 11-point mean.

    Returns
    -------
    dict
        ``{label: AP}`` for every class with ground truth, sorted by label.

    >>> gt = {"image": ["a", "a"], "x_min": [0, 50], "y_min": [0, 50], "x_max": [10, 60],
    ...       "y_max": [10, 60], "label": ["cat", "dog"]}
    >>> det = dict(gt, score=[0.9, 0.3], x_min=[0, 20])
    >>> average_precision(det, gt)
    {'cat': 1.0, 'dog': 0.0}
    """
    if method not in ("continuous", "11point"):
        raise ValueError(
            f"average_precision: method must be 'continuous' or '11point', got {method!r}"
        )
    det, gt = _tables(detections, ground_truth)
    summary = _area_under_envelope if method == "continuous" else _eleven_point
    result = {}
    for label in np.unique(gt["label"]).tolist():
        _, true_positive, n_boxes = _voc_matches(det, gt, label, iou_threshold)
        hits = np.cumsum(true_positive)
        precision = hits / np.maximum(np.arange(1, len(hits) + 1), 1)
        result[label] = summary(precision, hits / n_boxes)
    return result


def mean_average_precision(
    detections, ground_truth, iou_threshold: float = 0.5, method: str = "continuous"
) -> float:
    """Pascal VOC mAP: the mean of :func:`average_precision` over classes with ground truth.

    >>> gt = {"image": ["a"], "x_min": [0], "y_min": [0], "x_max": [10], "y_max": [10],
    ...       "label": [0]}
    >>> mean_average_precision(dict(gt, score=[1.0], x_max=[30]), gt)  # IoU 1/3: a miss
    0.0
    """
    per_class = average_precision(detections, ground_truth, iou_threshold, method)
    if not per_class:
        raise DataError("mean_average_precision: the ground truth has no boxes")
    return float(np.mean(list(per_class.values())))


# ---------------------------------------------------------------------------- COCO


def _coco_iou(det_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """IoU ``(D, G)`` exactly as pycocotools' ``bbIou`` computes it (xywh, float64)."""
    dx, dy, dw, dh = (det_xywh[:, k : k + 1] for k in range(4))
    gx, gy, gw, gh = (gt_xywh[:, k] for k in range(4))
    width = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    height = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    overlap = (width > 0) & (height > 0)
    inter = np.where(overlap, width * height, 0.0)
    union = (dw * dh + gw * gh) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(overlap, inter / union, 0.0)


def _evaluate_image(det_xywh, det_scores, gt_xywh, max_detections):
    """COCOeval.evaluateImg for one image and class, every area range at once.

    Returns the ranked scores (D,), matched flags (A, T, D), ignore flags (A, T, D) and
    the number of non-ignored boxes per area range (A,).
    """
    ranked = np.argsort(-det_scores, kind="mergesort")[:max_detections]
    det_xywh, det_scores = det_xywh[ranked], det_scores[ranked]
    n_det, n_gt = len(ranked), len(gt_xywh)
    ranges = np.array(list(AREA_RANGES.values()))  # (A, 2)
    n_areas, n_thresholds = len(ranges), len(IOU_THRESHOLDS)
    gt_area = gt_xywh[:, 2] * gt_xywh[:, 3]
    det_area = det_xywh[:, 2] * det_xywh[:, 3]
    gt_ignore = (gt_area < ranges[:, :1]) | (gt_area > ranges[:, 1:])  # (A, G)
    det_outside = (det_area < ranges[:, :1]) | (det_area > ranges[:, 1:])  # (A, D)
    matched = np.zeros((n_areas, n_thresholds, n_det), bool)
    ignored = np.zeros((n_areas, n_thresholds, n_det), bool)
    if n_gt and n_det:
        iou = _coco_iou(det_xywh, gt_xywh)  # (D, G)
        # COCO scans the boxes non-ignored first (a stable sort on the ignore flag),
        # per area range; keep that order so ties resolve as they do there.
        gt_order = np.argsort(gt_ignore, axis=1, kind="mergesort")  # (A, G)
        iou_sorted = iou[:, gt_order].transpose(1, 0, 2)  # (A, D, G)
        ignore_sorted = np.take_along_axis(gt_ignore, gt_order, axis=1)[:, None, :]  # (A,1,G)
        taken = np.zeros((n_areas, n_thresholds, n_gt), bool)
        needed = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[None, :, None]  # (1, T, 1)
        reverse = slice(None, None, -1)
        for d in np.flatnonzero(iou.max(axis=1) >= IOU_THRESHOLDS[0]):
            candidates = ~taken & (iou_sorted[:, d, None, :] >= needed)  # (A, T, G)
            scores = iou_sorted[:, d, None, :]
            # the best non-ignored box (the last one on ties, as COCO's scan), else the
            # best ignored one
            for want_ignored in (False, True):
                pool = candidates & (ignore_sorted == want_ignored)
                if want_ignored:
                    pool &= ~matched[:, :, d, None]
                values = np.where(pool, scores, -1.0)
                best = n_gt - 1 - np.argmax(values[..., reverse], axis=2)  # (A, T)
                found = np.take_along_axis(values, best[..., None], axis=2)[..., 0] >= 0
                a, t = np.nonzero(found)
                taken[a, t, best[a, t]] = True
                matched[a, t, d] = True
                ignored[a, t, d] = want_ignored
    ignored |= ~matched & det_outside[:, None, :]
    return det_scores, matched, ignored, (~gt_ignore).sum(axis=1)


def _accumulate(results, max_dets):
    """COCOeval.accumulate for one class: precision (T, R, A, M) and recall (T, A, M)."""
    n_t, n_r, n_a, n_m = (
        len(IOU_THRESHOLDS),
        len(RECALL_THRESHOLDS),
        len(AREA_RANGES),
        len(max_dets),
    )
    precision = -np.ones((n_t, n_r, n_a, n_m))
    recall = -np.ones((n_t, n_a, n_m))
    for m, max_det in enumerate(max_dets):
        scores = np.concatenate([r[0][:max_det] for r in results])
        order = np.argsort(-scores, kind="mergesort")
        for a in range(n_a):
            n_boxes = sum(int(r[3][a]) for r in results)
            if n_boxes == 0:
                continue
            matched = np.concatenate([r[1][a][:, :max_det] for r in results], axis=1)[:, order]
            ignored = np.concatenate([r[2][a][:, :max_det] for r in results], axis=1)[:, order]
            tp = np.cumsum(matched & ~ignored, axis=1).astype(float)
            fp = np.cumsum(~matched & ~ignored, axis=1).astype(float)
            n_det = tp.shape[1]
            rc = tp / n_boxes
            pr = tp / (fp + tp + np.spacing(1))
            recall[:, a, m] = rc[:, -1] if n_det else 0
            if not n_det:
                precision[:, :, a, m] = 0
                continue
            pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]  # the envelope
            for t in range(n_t):
                where = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
                inside = where < n_det
                row = np.zeros(n_r)
                row[inside] = pr[t, where[inside]]
                precision[t, :, a, m] = row
    return precision, recall


def coco_evaluate(detections, ground_truth, max_detections: int = 100) -> dict:
    """The COCO detection metrics, equal to ``pycocotools``' ``COCOeval`` (bbox).

    Parameters
    ----------
    detections : box table with ``score``
    ground_truth : box table
    max_detections : int
        The most detections per image and class that count (COCO: 100).

    Returns
    -------
    dict
        ``ap`` (AP@[.50:.95]), ``ap50``, ``ap75``, ``ap_small``, ``ap_medium``,
        ``ap_large``, ``ar1``, ``ar10``, ``ar100`` (recall with at most 1, 10, 100
        detections per image), ``ar_small``, ``ar_medium``, ``ar_large`` — the twelve
        numbers of ``COCOeval.summarize()``, in that order, -1 where undefined (no box
        in that size range) — and ``per_class``: ``{label: AP@[.50:.95]}``.

    Small, medium and large mean an area below 32², between 32² and 96², above 96²
    pixels; boxes outside the range are ignored, as are unmatched detections outside it.

    >>> gt = {"image": [1, 1], "x_min": [0, 40], "y_min": [0, 0], "x_max": [20, 60],
    ...       "y_max": [20, 20], "label": [0, 0]}
    >>> det = {"image": [1, 1], "x_min": [0, 41], "y_min": [0, 0], "x_max": [20, 61],
    ...        "y_max": [20, 20], "label": [0, 0], "score": [0.9, 0.6]}
    >>> round(coco_evaluate(det, gt)["ap"], 4)
    0.9505
    """
    if int(max_detections) < 1:
        raise ValueError(f"coco_evaluate: max_detections must be >= 1, got {max_detections}")
    det, gt = _tables(detections, ground_truth)
    max_dets = (1, 10, int(max_detections))
    images = np.unique(np.concatenate([det["image"], gt["image"]]))
    classes = np.unique(gt["label"])
    if not len(classes):
        raise DataError("coco_evaluate: the ground truth has no boxes; there is nothing to find")
    det_xywh = _xywh(det)
    gt_xywh = _xywh(gt)
    det_image = np.searchsorted(images, det["image"])
    gt_image = np.searchsorted(images, gt["image"])
    precisions, recalls = [], []
    for label in classes.tolist():
        det_rows = np.flatnonzero(det["label"] == label)
        gt_rows = np.flatnonzero(gt["label"] == label)
        # rows of each image in table order (a stable sort by image)
        det_rows = det_rows[np.argsort(det_image[det_rows], kind="stable")]
        gt_rows = gt_rows[np.argsort(gt_image[gt_rows], kind="stable")]
        det_bounds = np.searchsorted(det_image[det_rows], np.arange(len(images) + 1))
        gt_bounds = np.searchsorted(gt_image[gt_rows], np.arange(len(images) + 1))
        results = []
        for i in range(len(images)):
            d = det_rows[det_bounds[i] : det_bounds[i + 1]]
            g = gt_rows[gt_bounds[i] : gt_bounds[i + 1]]
            if len(d) or len(g):
                results.append(
                    _evaluate_image(det_xywh[d], det["score"][d], gt_xywh[g], max_dets[-1])
                )
        precision, recall = _accumulate(results, max_dets)
        precisions.append(precision)
        recalls.append(recall)
    precision = np.stack(precisions, axis=2)  # (T, R, K, A, M)
    recall = np.stack(recalls, axis=1)  # (T, K, A, M)
    areas = list(AREA_RANGES)

    def mean(values) -> float:
        values = values[values > -1]
        return float(np.mean(values)) if len(values) else -1.0

    last = len(max_dets) - 1
    stats = {
        "ap": mean(precision[:, :, :, 0, last]),
        "ap50": mean(precision[0, :, :, 0, last]),
        "ap75": mean(precision[5, :, :, 0, last]),
    }
    for name in ("small", "medium", "large"):
        stats[f"ap_{name}"] = mean(precision[:, :, :, areas.index(name), last])
    for m, max_det in enumerate(max_dets):
        stats[f"ar{max_det}" if m < last else "ar100"] = mean(recall[:, :, 0, m])
    for name in ("small", "medium", "large"):
        stats[f"ar_{name}"] = mean(recall[:, :, areas.index(name), last])
    stats["per_class"] = {
        label: mean(precision[:, :, k, 0, last]) for k, label in enumerate(classes.tolist())
    }
    return stats


def _xywh(table) -> np.ndarray:
    """COCO's (x, y, w, h) from xyxy columns, as COCO json would hold them."""
    return np.stack(
        [
            table["x_min"],
            table["y_min"],
            table["x_max"] - table["x_min"],
            table["y_max"] - table["y_min"],
        ],
        axis=1,
    )


# ---------------------------------------------------------------------- fit and duplicates


def box_fit(detections, ground_truth, min_score: float = 0.5, iou_threshold: float = 0.5) -> dict:
    """How well the boxes a detector is surest of fit, and how many objects get two.

    Each detection is assigned to the ground-truth box (same image and label) it
    overlaps most; an object's *top box* is its assigned detection with the highest
    score. Greedy NMS keeps exactly those boxes, so their fit is the fit a user gets.

    Returns
    -------
    dict
        ``objects``; ``mean_top_iou``: the mean IoU of each object with its top box (0
        for an object no detection overlaps); ``duplicates``: objects with two or more
        assigned detections scoring at least ``min_score`` with IoU above
        ``iou_threshold`` (a second confident box on one object); ``missed``: objects
        with none.

    >>> gt = {"image": ["a"], "x_min": [0], "y_min": [0], "x_max": [10], "y_max": [10],
    ...       "label": ["face"]}
    >>> det = {"image": ["a", "a"], "x_min": [0, 1], "y_min": [0, 0], "x_max": [6, 10],
    ...        "y_max": [10, 10], "label": ["face"] * 2, "score": [0.9, 0.8]}
    >>> box_fit(det, gt)  # the top box covers 60 % of the face; both boxes are hits
    {'objects': 1, 'mean_top_iou': 0.6, 'duplicates': 1, 'missed': 0}
    """
    det, gt = _tables(detections, ground_truth)
    top_iou = np.zeros(len(gt["image"]))
    confident_hits = np.zeros(len(gt["image"]), np.int64)
    gt_boxes, det_boxes = _xyxy(gt), _xyxy(det)
    for image in np.unique(gt["image"]).tolist():
        for label in np.unique(gt["label"][gt["image"] == image]).tolist():
            objects = np.flatnonzero((gt["image"] == image) & (gt["label"] == label))
            found = np.flatnonzero((det["image"] == image) & (det["label"] == label))
            if not len(found):
                continue
            iou = box_iou(gt_boxes[objects], det_boxes[found]).astype(np.float64)
            owner = iou.argmax(axis=0)  # each detection's object
            overlapping = iou.max(axis=0) > 0
            scores = det["score"][found]
            for k, obj in enumerate(objects):
                mine = np.flatnonzero((owner == k) & overlapping)
                if not len(mine):
                    continue
                top = mine[np.argmax(scores[mine])]  # the first of equal scores
                top_iou[obj] = iou[k, top]
                confident_hits[obj] = int(
                    ((scores[mine] >= min_score) & (iou[k, mine] > iou_threshold)).sum()
                )
    return {
        "objects": len(top_iou),
        "mean_top_iou": float(top_iou.mean()) if len(top_iou) else float("nan"),
        "duplicates": int((confident_hits >= 2).sum()),
        "missed": int((confident_hits == 0).sum()),
    }
