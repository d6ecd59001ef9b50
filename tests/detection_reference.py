"""Written-out references the detection tests compare against (plain loops, no tricks)."""

from __future__ import annotations

import math

import numpy as np


def torchvision_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """A line-by-line port of torchvision's CPU kernel (csrc/ops/cpu/nms_kernel.cpp).

    Stable descending sort of the scores; for each box not yet suppressed, in that order:
    keep it, and suppress every later box whose IoU with it (computed in the boxes'
    dtype as inter / (area_i + area_j - inter)) is > threshold, compared in double.
    """
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        # the kernel's inner loop over j, one NumPy op per line (same dtype, same order
        # of operations, so the same rounding as the C++ scalars)
        later = order[position + 1 :]
        later = later[~suppressed[later]]
        w = np.maximum(np.minimum(x2[i], x2[later]) - np.maximum(x1[i], x1[later]), 0)
        h = np.maximum(np.minimum(y2[i], y2[later]) - np.maximum(y1[i], y1[later]), 0)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap = inter / (areas[i] + areas[later] - inter)
        suppressed[later[overlap.astype(np.float64) > threshold]] = True
    return np.array(keep, np.int64)


def iou_broadcast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix by broadcasting, in float64 (NaN for two empty boxes)."""
    a, b = a.astype(np.float64)[:, None], b.astype(np.float64)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / (area_a + area_b - inter)


def iou_loops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix, one pair at a time, in float64."""
    out = np.zeros((len(a), len(b)))
    for i, p in enumerate(a.astype(np.float64)):
        for j, q in enumerate(b.astype(np.float64)):
            w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
            h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
            inter = w * h
            union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
            out[i, j] = inter / union if union > 0 else math.nan
    return out


def soft_nms_loop(boxes, scores, method, sigma, iou_threshold, score_threshold):
    """Bodla et al.'s algorithm as a plain loop (first maximum on ties)."""
    current = [float(s) for s in scores]
    alive = [i for i in range(len(boxes)) if current[i] >= score_threshold]
    kept, kept_scores = [], []
    while alive:
        best = max(alive, key=lambda i: (current[i], -i))
        kept.append(best)
        kept_scores.append(current[best])
        alive.remove(best)
        for j in list(alive):
            overlap = iou_loops(boxes[best : best + 1], boxes[j : j + 1])[0, 0]
            overlap = 0.0 if math.isnan(overlap) else overlap
            if method == "gaussian":
                current[j] *= math.exp(-(overlap**2) / sigma)
            elif overlap > iou_threshold:
                current[j] *= 1 - overlap
            if current[j] < score_threshold:
                alive.remove(j)
    return np.array(kept, np.int64), np.array(kept_scores)


def wbf_loop(boxes, scores, iou_threshold, n_models=1):
    """Weighted box fusion for one label, as in the paper / ensemble-boxes, as a loop."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    clusters = []  # lists of indices
    fused = []
    for i in order:
        best, best_iou = -1, iou_threshold
        for k, f in enumerate(fused):
            overlap = iou_loops(boxes[i : i + 1], f[None])[0, 0]
            if overlap > best_iou:
                best, best_iou = k, overlap
        if best < 0:
            clusters.append([i])
            fused.append(boxes[i].astype(np.float64))
        else:
            clusters[best].append(i)
            w = np.array([scores[j] for j in clusters[best]])
            fused[best] = (w[:, None] * boxes[clusters[best]]).sum(0) / w.sum()
    out_scores = [
        np.mean([scores[j] for j in c]) * min(len(c), n_models) / n_models for c in clusters
    ]
    rank = sorted(range(len(clusters)), key=lambda k: (-out_scores[k], k))
    return np.array([fused[k] for k in rank]).reshape(-1, 4), np.array(
        [out_scores[k] for k in rank]
    )


def ssd_match_loop(anchors, gt_boxes, threshold):
    """SSD's matching for one image, one anchor at a time (the story's slow version)."""
    matches = []
    overlaps = iou_loops(gt_boxes, anchors) if len(gt_boxes) else np.zeros((0, len(anchors)))
    for a in range(len(anchors)):
        best, best_iou = -1, -1.0
        for g in range(len(gt_boxes)):
            if overlaps[g, a] > best_iou:
                best, best_iou = g, overlaps[g, a]
        matches.append(best if best_iou >= threshold else -1)
    for g in range(len(gt_boxes)):
        best_anchor = int(np.argmax(overlaps[g]))
        if overlaps[g, best_anchor] > 0:
            matches[best_anchor] = g
    return np.array(matches, np.int64)


def voc_ap_loop(det, gt, label, threshold=0.5, eleven_point=False):
    """Pascal VOC devkit's voc_eval for one class (continuous coordinates, no +1)."""
    gts = {}
    n_boxes = 0
    for r in range(len(gt["image"])):
        if gt["label"][r] == label:
            gts.setdefault(gt["image"][r], []).append(
                [gt[k][r] for k in ("x_min", "y_min", "x_max", "y_max")]
            )
            n_boxes += 1
    found = {image: [False] * len(b) for image, b in gts.items()}
    rows = [r for r in range(len(det["image"])) if det["label"][r] == label]
    rows.sort(key=lambda r: (-det["score"][r], r))
    tp, fp = [], []
    for r in rows:
        box = np.array([[det[k][r] for k in ("x_min", "y_min", "x_max", "y_max")]])
        candidates = np.array(gts.get(det["image"][r], np.zeros((0, 4))), dtype=float)
        best, best_iou = -1, -math.inf
        if len(candidates):
            overlaps = iou_loops(box, candidates)[0]
            best, best_iou = int(np.argmax(overlaps)), overlaps.max()
        if best_iou > threshold and not found[det["image"][r]][best]:
            found[det["image"][r]][best] = True
            tp.append(1)
            fp.append(0)
        else:
            tp.append(0)
            fp.append(1)
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    recall = tp / n_boxes
    precision = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    if eleven_point:
        return (
            sum(
                (precision[recall >= t].max() if (recall >= t).any() else 0.0)
                for t in np.arange(0.0, 1.1, 0.1)
            )
            / 11
        )
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    for i in range(len(mpre) - 1, 0, -1):
        mpre[i - 1] = max(mpre[i - 1], mpre[i])
    changes = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[changes + 1] - mrec[changes]) * mpre[changes + 1]))


def clustered_boxes(
    n_objects, copies, rng, size=1024.0, low=16.0, high=96.0, jitter=0.1, dtype=np.float32
):
    """Boxes jittered around ``n_objects`` objects (``copies`` each) and random scores."""
    wh = np.exp(rng.uniform(np.log(low), np.log(high), (n_objects, 2)))
    centers = rng.uniform(0, size, (n_objects, 2))
    centers = np.repeat(centers, copies, 0)
    wh = np.repeat(wh, copies, 0)
    centers = centers + rng.normal(0, jitter, centers.shape) * wh
    wh = wh * np.exp(rng.normal(0, jitter, wh.shape))
    boxes = np.concatenate([centers - wh / 2, centers + wh / 2], 1).astype(dtype)
    return boxes, rng.random(len(boxes)).astype(dtype)
