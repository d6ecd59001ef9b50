"""SSD's default boxes (anchors), matching them to ground truth, and the box offsets.

An SSD-style detector predicts, at every location of a few feature maps and for each of
a few *default boxes* (anchors) there, a class and four offsets that move the anchor
onto the object. Training needs, for each anchor, which ground-truth box it should
predict (if any) — the *matching* — and the offsets that would get it there — the
*encoding*.

The story behind this module: matching written as loops (for each image × scale ×
location × anchor: IoU ≥ 0.5?) starved the trainer; here one call matches a whole batch
with one blocked IoU and a few array reductions (``docs/detection.md``).

>>> anchors = default_boxes([2], image_size=8, scales=[0.5], aspect_ratios=[1.0])
>>> anchors
array([[0., 0., 4., 4.],
       [4., 0., 8., 4.],
       [0., 4., 4., 8.],
       [4., 4., 8., 8.]], dtype=float32)
>>> match_anchors(anchors, [np.array([[3.0, 3.0, 8.0, 8.0]])])
array([[-1, -1, -1,  0]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from thalweg.detection.boxes import as_boxes, box_iou, check_boxes
from thalweg.errors import DataError, ShapeError

__all__ = [
    "anchor_grid",
    "decode",
    "default_boxes",
    "encode",
    "match_anchors",
    "multibox_targets",
]

# decode clips the log-size offsets here (torchvision's BoxCoder does the same), so a
# wild prediction gives a huge box instead of inf.
_LOG_SIZE_CLIP = math.log(1000.0 / 16)


def _pair(value, name: str) -> tuple[float, float]:
    """An int or (height, width) pair, checked positive."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(np.isscalar(v) and v > 0 for v in pair):
        raise ValueError(f"default_boxes: {name} must be a positive number or (height, width)")
    return pair


def default_boxes(
    feature_map_sizes: Sequence,
    image_size,
    scales: Sequence[float],
    aspect_ratios: Sequence = (1.0, 2.0, 0.5),
    clip: bool = False,
) -> np.ndarray:
    """SSD's default boxes for every location of every feature map, as xyxy pixels.

    Parameters
    ----------
    feature_map_sizes : sequence of int or (height, width)
        The size of each feature map the detector predicts from, finest first.
    image_size : int or (height, width)
        The input image's size in pixels.
    scales : sequence of float
        Box sizes as fractions of the image, one per map (SSD's ``s_k``). With one
        more scale than maps, each location also gets SSD's extra square box of size
        ``sqrt(s_k · s_{k+1})``.
    aspect_ratios : sequence of float, or one sequence per map
        Width/height ratios ``a``; each gives a box ``s·√a`` wide and ``s/√a`` tall.
    clip : bool
        Clip the boxes to the image.

    Returns
    -------
    float32 array (A, 4)
        Ordered map by map, then row by row, column by column, and at each location the
        aspect ratios in order followed by the extra box: the order of a head's output
        ``(B, H, W, k·4)`` reshaped to ``(B, H·W·k, 4)``. Box centers are at the cell
        centers ``((j + 0.5)·W/w, (i + 0.5)·H/h)``.

    >>> default_boxes([1], 10, scales=[0.4, 0.9], aspect_ratios=[1.0, 2.0]).round(2)
    array([[3.  , 3.  , 7.  , 7.  ],
           [2.17, 3.59, 7.83, 6.41],
           [2.  , 2.  , 8.  , 8.  ]], dtype=float32)
    """
    sizes = [_pair(size, "each feature map size") for size in feature_map_sizes]
    if not sizes:
        raise ValueError("default_boxes: feature_map_sizes is empty; give one size per map")
    image_h, image_w = _pair(image_size, "image_size")
    scales = [float(s) for s in scales]
    if len(scales) not in (len(sizes), len(sizes) + 1) or min(scales) <= 0:
        raise ValueError(
            f"default_boxes: scales must be {len(sizes)} positive numbers (one per map), or "
            f"{len(sizes) + 1} to add SSD's extra box; got {scales}"
        )
    if len(aspect_ratios) and np.isscalar(aspect_ratios[0]):
        ratios_per_map = [list(aspect_ratios)] * len(sizes)
    else:
        ratios_per_map = [list(r) for r in aspect_ratios]
    if len(ratios_per_map) != len(sizes):
        raise ValueError(
            f"default_boxes: aspect_ratios must be one list for all maps or one per map "
            f"({len(sizes)}), got {len(ratios_per_map)}"
        )
    extra = len(scales) == len(sizes) + 1
    pieces = []
    for k, ((rows, cols), ratios) in enumerate(zip(sizes, ratios_per_map, strict=True)):
        if any(r <= 0 for r in ratios):
            raise ValueError(f"default_boxes: aspect ratios must be > 0, got {ratios}")
        # (w, h) of the boxes at one location, as fractions of the image
        shapes = [(scales[k] * math.sqrt(r), scales[k] / math.sqrt(r)) for r in ratios]
        if extra:
            size = math.sqrt(scales[k] * scales[k + 1])
            shapes.append((size, size))
        shapes = np.array(shapes, np.float64) * [image_w, image_h]
        center_y, center_x = np.meshgrid(
            (np.arange(rows) + 0.5) * (image_h / rows),
            (np.arange(cols) + 0.5) * (image_w / cols),
            indexing="ij",
        )
        centers = np.stack([center_x.ravel(), center_y.ravel()], axis=1)  # (rows·cols, 2)
        half = shapes / 2
        low = centers[:, None, :] - half[None]  # (rows·cols, k, 2)
        high = centers[:, None, :] + half[None]
        pieces.append(np.concatenate([low, high], axis=2).reshape(-1, 4))
    boxes = np.concatenate(pieces)
    if clip:
        boxes = np.clip(boxes, 0, [image_w, image_h, image_w, image_h])
    return boxes.astype(np.float32)


def anchor_grid(
    feature_map_sizes: Sequence,
    image_size,
    sizes: Sequence[Sequence[float]],
    aspect_ratios: Sequence[float] = (1.0,),
) -> np.ndarray:
    """Anchors of given pixel sizes at every location of every feature map, xyxy.

    :func:`default_boxes` with sizes in pixels instead of fractions of the image: at each
    location of map ``i``, for each size ``s`` in ``sizes[i]`` and each aspect ratio
    ``r``, a box ``s·√r`` wide and ``s/√r`` tall centred on the cell.

    Parameters
    ----------
    feature_map_sizes : sequence of int or (height, width)
        Finest first.
    image_size : int or (height, width)
    sizes : one sequence of pixel sizes per map
    aspect_ratios : sequence of float
        Width/height ratios, the same on every map.

    Returns
    -------
    float32 array (A, 4)
        In the order of a head's output ``(B, H, W, k·V)`` reshaped to ``(B, H·W·k, V)``:
        map by map, row by row, column by column, and at each location sizes in order,
        each with its aspect ratios in order (``k = len(sizes[i])·len(aspect_ratios)``).

    >>> anchor_grid([2], 8, [[4.0]])
    array([[0., 0., 4., 4.],
           [4., 0., 8., 4.],
           [0., 4., 4., 8.],
           [4., 4., 8., 8.]], dtype=float32)
    """
    maps = [_pair(size, "each feature map size") for size in feature_map_sizes]
    image_h, image_w = _pair(image_size, "image_size")
    if len(sizes) != len(maps) or not all(len(per_map) for per_map in sizes):
        raise ValueError(
            f"anchor_grid: give one non-empty list of sizes per feature map ({len(maps)}), "
            f"got {sizes}"
        )
    ratios = [float(r) for r in aspect_ratios]
    if not ratios or min(ratios) <= 0 or min(min(per_map) for per_map in sizes) <= 0:
        raise ValueError("anchor_grid: sizes and aspect ratios must be positive")
    pieces = []
    for (rows, cols), per_map in zip(maps, sizes, strict=True):
        shapes = np.array(
            [(s * math.sqrt(r), s / math.sqrt(r)) for s in per_map for r in ratios], np.float64
        )
        center_y, center_x = np.meshgrid(
            (np.arange(rows) + 0.5) * (image_h / rows),
            (np.arange(cols) + 0.5) * (image_w / cols),
            indexing="ij",
        )
        centers = np.stack([center_x.ravel(), center_y.ravel()], axis=1)
        low = centers[:, None, :] - shapes[None] / 2
        high = centers[:, None, :] + shapes[None] / 2
        pieces.append(np.concatenate([low, high], axis=2).reshape(-1, 4))
    return np.concatenate(pieces).astype(np.float32)


def _gt_list(gt_boxes, op: str, check: bool = True) -> list[np.ndarray]:
    if isinstance(gt_boxes, np.ndarray) and gt_boxes.ndim == 3:
        gt_boxes = list(gt_boxes)
    if not isinstance(gt_boxes, (list, tuple)):
        raise ShapeError(
            f"{op}: gt_boxes must be a list with one (G_i, 4) array per image, got "
            f"{type(gt_boxes).__name__}"
        )
    boxes = [as_boxes(g, op) for g in gt_boxes]
    if check:
        for g in boxes:
            check_boxes(g, op)
    return boxes


def match_anchors(anchors, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Match every anchor of every image to a ground-truth box, with SSD's rule.

    Parameters
    ----------
    anchors : array (A, 4)
        xyxy default boxes (e.g. :func:`default_boxes`), the same for every image.
    gt_boxes : list of arrays (G_i, 4)
        The ground-truth xyxy boxes of each image (``G_i`` may be 0).
    iou_threshold : float
        An anchor matches its best ground-truth box when their IoU is **≥** this.

    Returns
    -------
    int64 array (B, A)
        For each image and anchor, the index of the matched box in that image's list,
        or -1 (background). Labels and target boxes are then one gather.

    SSD's rule: each anchor takes the box it overlaps most (the lowest index on ties) if
    that IoU ≥ the threshold; then every ground-truth box is *forced* onto its own best
    anchor even below the threshold, so no object goes unmatched (if two boxes share a
    best anchor, the later box wins, as in the reference implementation). A box that
    overlaps no anchor at all (IoU 0 everywhere) is left unmatched. The whole batch is
    one IoU computation of ``(B·G_max, A)``.

    >>> anchors = np.array([[0, 0, 10, 10], [0, 0, 20, 20], [30, 30, 40, 40]], np.float32)
    >>> match_anchors(anchors, [np.array([[0.0, 0.0, 12.0, 12.0]]), np.zeros((0, 4))])
    array([[ 0, -1, -1],
           [-1, -1, -1]])
    """
    anchors = as_boxes(anchors, "match_anchors")
    check_boxes(anchors, "match_anchors")
    gts = _gt_list(gt_boxes, "match_anchors", check=False)
    n_images, n_anchors = len(gts), len(anchors)
    counts = np.array([len(g) for g in gts], np.int64)
    matches = np.full((n_images, n_anchors), -1, np.int64)
    if not counts.sum() or n_anchors == 0:
        return matches
    boxes = np.concatenate(gts)
    check_boxes(boxes, "match_anchors")
    # Every image's boxes against the anchors in one blocked IoU: (total boxes, A).
    iou = box_iou(boxes, anchors)
    image_of = np.repeat(np.arange(n_images), counts)
    slot_of = np.arange(len(boxes)) - np.repeat(np.cumsum(counts) - counts, counts)

    # Each anchor's best box: a running max over the box slots (an image has few boxes),
    # which keeps the first box on ties, like argmax.
    first = slot_of == 0
    best_iou = np.full((n_images, n_anchors), -1, iou.dtype)
    best_iou[image_of[first]] = iou[first]
    matches[image_of[first]] = 0
    for g in range(1, int(counts.max())):
        rows = np.flatnonzero(slot_of == g)
        images = image_of[rows]
        better = iou[rows] > best_iou[images]
        matches[images] = np.where(better, g, matches[images])
        best_iou[images] = np.maximum(best_iou[images], iou[rows])
    # IoU ≥ threshold, decided exactly: for float32 IoU, compare with the smallest float32
    # not below the float64 threshold (no float64 copy of the (B, A) array needed).
    matches[best_iou < _at_least(float(iou_threshold), best_iou.dtype)] = -1

    # Each box's best anchor, forced; in box order so a later box wins a shared anchor.
    best_anchor = iou.argmax(axis=1)
    forced = np.flatnonzero(iou[np.arange(len(boxes)), best_anchor] > 0)
    target = image_of[forced] * n_anchors + best_anchor[forced]
    # Fancy assignment with repeated targets has no defined winner: keep the last
    # (highest box index) per (image, anchor) explicitly.
    last = len(target) - 1 - np.unique(target[::-1], return_index=True)[1]
    matches.reshape(-1)[target[last]] = slot_of[forced[last]]
    return matches


def _at_least(threshold: float, dtype) -> np.generic:
    """The smallest value of ``dtype`` that is ≥ ``threshold`` (x ≥ it ⟺ x ≥ threshold)."""
    value = dtype.type(threshold)
    if value < threshold:
        value = np.nextafter(value, dtype.type(np.inf))
    return value


def encode(boxes, anchors, variances: Sequence[float] = (0.1, 0.2)) -> np.ndarray:
    """Offsets that move each anchor onto its box (SSD's center-size encoding).

    ``t = ((cx - cxₐ) / (v₀·wₐ), (cy - cyₐ) / (v₀·hₐ), log(w / wₐ) / v₁, log(h / hₐ) / v₁)``

    Parameters
    ----------
    boxes : array (..., 4)
        Target xyxy boxes (positive width and height).
    anchors : array (..., 4)
        xyxy anchors, broadcastable against ``boxes``.
    variances : (float, float)
        SSD's scaling of the center and size offsets.

    Returns
    -------
    array (..., 4)
        Offsets, computed in float64 and returned in the inputs' float dtype.
        ``decode(encode(b, a), a)`` gives ``b`` back to float32 rounding.

    >>> encode([[1.0, 1.0, 3.0, 5.0]], [[0.0, 0.0, 2.0, 4.0]]).round(4)
    array([[5. , 2.5, 0. , 0. ]])
    """
    boxes, anchors, dtype = _broadcast_boxes(boxes, anchors, "encode")
    v_center, v_size = _variances(variances, "encode")
    box_cx, box_cy, box_w, box_h = _center_size(boxes)
    cx, cy, w, h = _center_size(anchors)
    if (box_w <= 0).any() or (box_h <= 0).any():
        raise DataError(
            "encode: a target box has zero or negative width or height; its log-size "
            "offset would be infinite (drop such boxes, or give them a minimum size)"
        )
    if (w <= 0).any() or (h <= 0).any():
        raise DataError("encode: an anchor has zero width or height")
    offsets = np.stack(
        [
            (box_cx - cx) / (v_center * w),
            (box_cy - cy) / (v_center * h),
            np.log(box_w / w) / v_size,
            np.log(box_h / h) / v_size,
        ],
        axis=-1,
    )
    return offsets.astype(dtype)


def decode(offsets, anchors, variances: Sequence[float] = (0.1, 0.2)) -> np.ndarray:
    """Boxes from predicted offsets and their anchors: the inverse of :func:`encode`.

    Parameters
    ----------
    offsets : array (..., 4)
    anchors : array (..., 4)
        xyxy anchors, broadcastable against ``offsets``.
    variances : (float, float)

    Returns
    -------
    array (..., 4)
        xyxy boxes in the inputs' float dtype. The size offsets are clipped at
        ``log(1000/16)/v₁`` (as torchvision's box coder) so no box becomes infinite.

    >>> decode([[5.0, 2.5, 0.0, 0.0]], [[0.0, 0.0, 2.0, 4.0]])
    array([[1., 1., 3., 5.]])
    """
    offsets, anchors, dtype = _broadcast_boxes(offsets, anchors, "decode")
    v_center, v_size = _variances(variances, "decode")
    cx, cy, w, h = _center_size(anchors)
    box_cx = cx + offsets[..., 0] * v_center * w
    box_cy = cy + offsets[..., 1] * v_center * h
    half_w = w * np.exp(np.minimum(offsets[..., 2] * v_size, _LOG_SIZE_CLIP)) / 2
    half_h = h * np.exp(np.minimum(offsets[..., 3] * v_size, _LOG_SIZE_CLIP)) / 2
    boxes = np.stack([box_cx - half_w, box_cy - half_h, box_cx + half_w, box_cy + half_h], -1)
    return boxes.astype(dtype)


def multibox_targets(
    anchors,
    gt_boxes,
    gt_labels,
    iou_threshold: float = 0.5,
    variances: Sequence[float] = (0.1, 0.2),
) -> tuple[np.ndarray, np.ndarray]:
    """Training targets of a batch for an SSD head: a class and four offsets per anchor.

    Parameters
    ----------
    anchors : array (A, 4)
    gt_boxes : list of arrays (G_i, 4)
        Each image's xyxy boxes.
    gt_labels : list of int arrays (G_i,)
        Each box's class, ``0 .. n_classes - 1``.
    iou_threshold : float
        As in :func:`match_anchors`.
    variances : (float, float)
        As in :func:`encode`.

    Returns
    -------
    labels : int64 array (B, A)
        0 for background, ``class + 1`` for an anchor matched to a box of ``class``: the
        target of a softmax over ``n_classes + 1`` scores.
    offsets : float32 array (B, A, 4)
        :func:`encode` of each matched box against its anchor; 0 for background.

    >>> anchors = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    >>> labels, offsets = multibox_targets(anchors, [np.array([[0, 0, 10, 12.0]])], [[2]])
    >>> labels
    array([[3, 0]])
    >>> offsets[0, 0].round(3)
    array([0.   , 1.   , 0.   , 0.912], dtype=float32)
    """
    anchors = as_boxes(anchors, "multibox_targets")
    gts = _gt_list(gt_boxes, "multibox_targets")
    if len(gt_labels) != len(gts):
        raise ShapeError(
            f"multibox_targets: got {len(gts)} images of boxes but {len(gt_labels)} of labels"
        )
    labels_list = []
    for b, (g, lab) in enumerate(zip(gts, gt_labels, strict=True)):
        lab = np.asarray(lab).reshape(-1)
        if lab.shape != (len(g),):
            raise ShapeError(
                f"multibox_targets: image {b} has {len(g)} boxes but {lab.size} labels"
            )
        if lab.size and (lab.dtype.kind not in "iu" or lab.min() < 0):
            raise DataError(
                f"multibox_targets: labels of image {b} must be class indices >= 0, got {lab}"
            )
        labels_list.append(lab.astype(np.int64))
    matches = match_anchors(anchors, gts, iou_threshold)
    n_images, n_anchors = matches.shape
    most = max((len(g) for g in gts), default=0)
    # Pad with one extra row that background (-1) points at: one gather for everything.
    padded_boxes = np.zeros((n_images, most + 1, 4), np.float64)
    padded_labels = np.full((n_images, most + 1), -1, np.int64)
    for b, (g, lab) in enumerate(zip(gts, labels_list, strict=True)):
        padded_boxes[b, : len(g)] = g
        padded_labels[b, : len(g)] = lab
    pick = np.where(matches >= 0, matches, most)
    labels = np.take_along_axis(padded_labels, pick, axis=1) + 1
    offsets = np.zeros((n_images, n_anchors, 4), np.float32)
    positive = matches >= 0
    if positive.any():
        image, anchor = np.nonzero(positive)
        matched = padded_boxes[image, matches[image, anchor]]
        offsets[image, anchor] = encode(matched, anchors[anchor].astype(np.float64), variances)
    return labels, offsets


def _broadcast_boxes(a, b, op: str):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[-1:] != (4,) or b.shape[-1:] != (4,):
        raise ShapeError(f"{op}: both inputs must have shape (..., 4), got {a.shape} and {b.shape}")
    dtype = np.result_type(a.dtype, b.dtype, np.float32)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast") from None
    return a.astype(np.float64), b.astype(np.float64), dtype


def _variances(variances, op: str) -> tuple[float, float]:
    values = tuple(float(v) for v in variances)
    if len(values) != 2 or min(values) <= 0:
        raise ValueError(f"{op}: variances must be two positive numbers, got {variances}")
    return values


def _center_size(boxes: np.ndarray):
    x1, y1, x2, y2 = np.moveaxis(boxes, -1, 0)
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
