"""Detection: boxes, IoU, NMS, anchors and matching, evaluation, annotations (NumPy only).

Everything takes and returns NumPy arrays; boxes are xyxy floats ``(N, 4)`` unless a
function says otherwise. The losses that train a detector live with the other losses
(:func:`thalweg.losses.multibox_loss`). See ``docs/detection.md``.
"""

from thalweg.detection.anchors import (
    anchor_grid,
    decode,
    default_boxes,
    encode,
    match_anchors,
    multibox_targets,
)
from thalweg.detection.annotations import (
    BOX_COLUMNS,
    as_box_table,
    boxes_by_image,
    print_boxes_csv,
    read_boxes_csv,
    write_boxes_csv,
)
from thalweg.detection.boxes import BOX_FORMATS, box_area, box_convert, box_iou, clip_boxes
from thalweg.detection.evaluation import (
    average_precision,
    box_fit,
    coco_evaluate,
    mean_average_precision,
    precision_recall_curve,
)
from thalweg.detection.fusion import weighted_box_fusion
from thalweg.detection.nms import batched_nms, nms, soft_nms, weighted_nms
from thalweg.detection.overlaps import overlapping_pairs
from thalweg.detection.selection import SUPPRESSION_METHODS, select_detections
from thalweg.detection.targets import (
    MatchTargets,
    match_anchors_loop,
    pack_targets,
    pad_boxes,
    unpack_targets,
    unpad_boxes,
)

__all__ = [
    "BOX_COLUMNS",
    "BOX_FORMATS",
    "SUPPRESSION_METHODS",
    "MatchTargets",
    "anchor_grid",
    "as_box_table",
    "average_precision",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_fit",
    "box_iou",
    "boxes_by_image",
    "clip_boxes",
    "coco_evaluate",
    "decode",
    "default_boxes",
    "encode",
    "match_anchors",
    "match_anchors_loop",
    "mean_average_precision",
    "multibox_targets",
    "nms",
    "overlapping_pairs",
    "pack_targets",
    "pad_boxes",
    "precision_recall_curve",
    "print_boxes_csv",
    "read_boxes_csv",
    "select_detections",
    "soft_nms",
    "unpack_targets",
    "unpad_boxes",
    "weighted_box_fusion",
    "weighted_nms",
    "write_boxes_csv",
]
