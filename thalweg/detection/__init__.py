"""Detection: boxes, IoU, NMS, anchors and matching, evaluation (NumPy only).

Everything takes and returns NumPy arrays; boxes are xyxy floats ``(N, 4)`` unless a
function says otherwise. See ``docs/detection.md``.
"""

from thalweg.detection.boxes import BOX_FORMATS, box_area, box_convert, box_iou, clip_boxes
from thalweg.detection.nms import batched_nms, nms, soft_nms, weighted_nms
from thalweg.detection.overlaps import overlapping_pairs

__all__ = [
    "BOX_FORMATS",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "clip_boxes",
    "nms",
    "overlapping_pairs",
    "soft_nms",
    "weighted_nms",
]
