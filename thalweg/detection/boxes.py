"""Boxes: formats, conversions, areas and IoU.

Every function here takes boxes as a NumPy array of shape ``(..., 4)`` (usually
``(N, 4)``), one box per row, in pixels or any unit as long as it is the same for all
boxes. Three formats are understood:

* ``"xyxy"``: ``(x_min, y_min, x_max, y_max)``, the corners. thalweg's default: every
  other function in :mod:`thalweg.detection` takes and returns xyxy boxes.
* ``"xywh"``: ``(x_min, y_min, width, height)``, COCO's format.
* ``"cxcywh"``: ``(center_x, center_y, width, height)``, what SSD's offsets are relative to.

A box with ``x_max == x_min`` (zero width) is allowed and has area 0; ``x_max < x_min``
is not a box, and the functions that check inputs say so.

>>> import numpy as np
>>> boxes = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 15.0, 15.0]])
>>> box_area(boxes)
array([100., 100.])
>>> box_iou(boxes, boxes).round(4)
array([[1.    , 0.1429],
       [0.1429, 1.    ]])
"""

from __future__ import annotations

import numpy as np

from thalweg.errors import DataError, ShapeError

__all__ = [
    "BOX_FORMATS",
    "box_area",
    "box_convert",
    "box_iou",
    "check_boxes",
    "clip_boxes",
]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")

# box_iou works on row blocks of about this many (row, column) pairs: its temporaries
# then stay in the L2 cache, and the (N, M) result is written to memory exactly once.
_IOU_BLOCK_PAIRS = 1 << 15


def as_boxes(boxes, op: str, dtype=None) -> np.ndarray:
    """``boxes`` as a float array of shape ``(N, 4)`` (ints become float64)."""
    array = np.asarray(boxes)
    if array.dtype.kind not in "fiub":
        raise DataError(f"{op}: boxes must be numbers, got an array of {array.dtype}")
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ShapeError(
            f"{op}: boxes must have shape (N, 4), one (x_min, y_min, x_max, y_max) per row; "
            f"got shape {array.shape}"
        )
    if dtype is None:
        dtype = array.dtype if array.dtype.kind == "f" else np.float64
    return np.asarray(array, dtype=dtype)


def check_boxes(boxes: np.ndarray, op: str) -> None:
    """Raise :class:`~thalweg.errors.DataError` for NaN/inf or inverted xyxy boxes."""
    if boxes.size == 0:
        return
    if not np.isfinite(boxes).all():
        row = int(np.flatnonzero(~np.isfinite(boxes).all(axis=1))[0])
        raise DataError(f"{op}: box {row} has a NaN or infinite coordinate: {boxes[row]}")
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if inverted.any():
        row = int(np.flatnonzero(inverted)[0])
        raise DataError(
            f"{op}: box {row} = {boxes[row].tolist()} has x_max < x_min or y_max < y_min; "
            "boxes must be (x_min, y_min, x_max, y_max) (convert with box_convert)"
        )


def box_convert(boxes, in_fmt: str, out_fmt: str) -> np.ndarray:
    """Convert boxes ``(..., 4)`` between the ``"xyxy"``, ``"xywh"`` and ``"cxcywh"`` formats.

    Float inputs keep their dtype; integer inputs become float64.

    >>> box_convert([[10, 20, 4, 6]], "xywh", "xyxy")
    array([[10., 20., 14., 26.]])
    >>> box_convert([[10.0, 20.0, 14.0, 26.0]], "xyxy", "cxcywh")
    array([[12., 23.,  4.,  6.]])
    """
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"box_convert: {name} must be one of {BOX_FORMATS}, got {fmt!r}")
    boxes = np.asarray(boxes)
    if boxes.shape[-1:] != (4,):
        raise ShapeError(f"box_convert: boxes must have shape (..., 4), got {boxes.shape}")
    if boxes.dtype.kind != "f":
        boxes = boxes.astype(np.float64)
    if in_fmt == out_fmt:
        return boxes.copy()
    a, b, c, d = np.moveaxis(boxes, -1, 0)
    # Through xyxy: two steps at most, each exact in the arithmetic it needs.
    if in_fmt == "xywh":
        x1, y1, x2, y2 = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        x1, y1, x2, y2 = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    else:
        x1, y1, x2, y2 = a, b, c, d
    if out_fmt == "xywh":
        out = (x1, y1, x2 - x1, y2 - y1)
    elif out_fmt == "cxcywh":
        out = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    else:
        out = (x1, y1, x2, y2)
    return np.stack(out, axis=-1).astype(boxes.dtype, copy=False)


def box_area(boxes) -> np.ndarray:
    """Areas ``(N,)`` of xyxy boxes ``(N, 4)``: ``(x_max - x_min) * (y_max - y_min)``.

    >>> box_area([[0, 0, 2, 3]])
    array([6.])
    """
    boxes = as_boxes(boxes, "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Parameters
    ----------
    a : array (N, 4)
        xyxy boxes.
    b : array (M, 4)
        xyxy boxes.

    Returns
    -------
    array (N, M)
        ``iou[i, j] = area(a_i ∩ b_j) / area(a_i ∪ b_j)``, in ``[0, 1]``; float32 when both
        inputs are float32, else float64. Two zero-area boxes give NaN (0 / 0), as in
        torchvision.

    The formula and the order of its float operations are torchvision's
    (``inter / (area_a + area_b - inter)``), so float32 results agree bit for bit.
    The work is done in row blocks that fit the CPU cache: each block's temporaries
    stay in cache and the result is written to memory once, which is what bounds the
    speed for large N × M (see ``docs/detection.md``).

    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(4)
    array([[0.3333, 0.    ]])
    """
    a = as_boxes(a, "box_iou")
    b = as_boxes(b, "box_iou")
    dtype = np.result_type(a.dtype, b.dtype)
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    n, m = len(a), len(b)
    out = np.empty((n, m), dtype)
    if n == 0 or m == 0:
        return out
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    bx1, by1, bx2, by2 = (np.ascontiguousarray(b[:, k]) for k in range(4))
    rows = max(1, _IOU_BLOCK_PAIRS // m)
    width = np.empty((rows, m), dtype)
    height = np.empty((rows, m), dtype)
    scratch = np.empty((rows, m), dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            k = stop - start
            w, h, t = width[:k], height[:k], scratch[:k]
            block = a[start:stop]
            # width of the intersection: min of the right edges - max of the left edges
            np.minimum(block[:, 2:3], bx2, out=w)
            np.maximum(block[:, 0:1], bx1, out=t)
            w -= t
            np.maximum(w, 0, out=w)
            np.minimum(block[:, 3:4], by2, out=h)
            np.maximum(block[:, 1:2], by1, out=t)
            h -= t
            np.maximum(h, 0, out=h)
            w *= h  # the intersection's area
            np.add(area_a[start:stop, None], area_b, out=t)
            t -= w  # the union's area
            np.divide(w, t, out=out[start:stop])
    return out


def clip_boxes(boxes, image_size) -> np.ndarray:
    """Clip xyxy boxes ``(N, 4)`` to an image: ``image_size`` is ``(height, width)`` or an int.

    >>> clip_boxes([[-5.0, 2.0, 12.0, 8.0]], (10, 10))
    array([[ 0.,  2., 10.,  8.]])
    """
    boxes = as_boxes(boxes, "clip_boxes")
    height, width = (image_size, image_size) if np.isscalar(image_size) else image_size
    upper = np.array([width, height, width, height], dtype=boxes.dtype)
    return np.clip(boxes, 0, upper)
