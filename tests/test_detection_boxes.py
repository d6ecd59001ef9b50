"""Box formats, areas, IoU; default boxes, SSD matching, offsets and targets."""

from __future__ import annotations

import numpy as np
import pytest
from detection_reference import iou_broadcast, iou_loops, ssd_match_loop
from hypothesis import given, settings
from hypothesis import strategies as st

from thalweg.detection import (
    box_area,
    box_convert,
    box_iou,
    clip_boxes,
    decode,
    default_boxes,
    encode,
    match_anchors,
    multibox_targets,
)
from thalweg.detection import boxes as boxes_module
from thalweg.errors import DataError, ShapeError


def random_boxes(rng, n, size=100.0, dtype=np.float64):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(0, size / 3, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(dtype)


@pytest.mark.parametrize("fmt", ["xywh", "cxcywh"])
def test_box_convert_round_trips_and_agrees_with_the_definitions(fmt):
    boxes = random_boxes(np.random.default_rng(0), 20)
    converted = box_convert(boxes, "xyxy", fmt)
    x1, y1, x2, y2 = boxes.T
    expected = {
        "xywh": np.stack([x1, y1, x2 - x1, y2 - y1], 1),
        "cxcywh": np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], 1),
    }[fmt]
    np.testing.assert_allclose(converted, expected)
    np.testing.assert_allclose(box_convert(converted, fmt, "xyxy"), boxes, rtol=1e-12)
    other = "cxcywh" if fmt == "xywh" else "xywh"
    np.testing.assert_allclose(
        box_convert(box_convert(converted, fmt, other), other, "xyxy"), boxes, rtol=1e-12
    )
    assert box_convert(boxes.astype(np.float32), "xyxy", fmt).dtype == np.float32
    assert box_convert(boxes[None], "xyxy", fmt).shape == (1, 20, 4)  # any leading shape


def test_box_convert_refuses_unknown_formats_and_wrong_shapes():
    with pytest.raises(ValueError, match="in_fmt"):
        box_convert(np.zeros((1, 4)), "xxyy", "xyxy")
    with pytest.raises(ShapeError):
        box_convert(np.zeros((1, 3)), "xyxy", "xywh")


def test_box_area_and_clip():
    boxes = np.array([[0, 0, 2, 3], [1, 1, 1, 5]])
    np.testing.assert_array_equal(box_area(boxes), [6, 0])
    np.testing.assert_array_equal(
        clip_boxes([[-5, 2, 12, 8], [1, -1, 4, 30]], (10, 20)), [[0, 2, 12, 8], [1, 0, 4, 10]]
    )


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 30), m=st.integers(0, 30), seed=st.integers(0, 2**31))
def test_box_iou_equals_the_pairwise_definition(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = random_boxes(rng, n), random_boxes(rng, m)
    got = box_iou(a, b)
    assert got.shape == (n, m)
    np.testing.assert_allclose(got, iou_loops(a, b), rtol=1e-12)


def test_box_iou_blocks_give_the_same_float32_bits_as_one_broadcast(monkeypatch):
    rng = np.random.default_rng(1)
    a, b = random_boxes(rng, 50, dtype=np.float32), random_boxes(rng, 70, dtype=np.float32)
    whole = box_iou(a, b)
    monkeypatch.setattr(boxes_module, "_IOU_BLOCK_PAIRS", 100)  # blocks of one or two rows
    blocked = box_iou(a, b)
    assert whole.dtype == np.float32
    np.testing.assert_array_equal(whole, blocked)
    # torchvision's float32 formula, written as broadcasting
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    np.testing.assert_array_equal(whole, inter / (area_a[:, None] + area_b - inter))


def test_box_iou_of_two_empty_boxes_is_nan_and_of_disjoint_boxes_zero():
    iou = box_iou([[1, 1, 1, 1]], [[1, 1, 1, 1], [5, 5, 6, 6]])
    assert np.isnan(iou[0, 0]) and iou[0, 1] == 0


def test_box_inputs_must_be_n_by_4_numbers():
    with pytest.raises(ShapeError, match=r"\(N, 4\)"):
        box_iou(np.zeros((3, 5)), np.zeros((1, 4)))
    with pytest.raises(DataError, match="numbers"):
        box_area(np.array([["a", "b", "c", "d"]]))


# ------------------------------------------------------------------ default boxes


def test_default_boxes_follow_ssds_definition_location_by_location():
    maps, image, scales, ratios = [(3, 4), 2], (60, 80), [0.2, 0.5, 0.9], [1.0, 2.0, 0.5]
    anchors = default_boxes(maps, image, scales, ratios)
    expected = []
    for k, (rows, cols) in enumerate([(3, 4), (2, 2)]):
        for i in range(rows):
            for j in range(cols):
                cx, cy = (j + 0.5) * 80 / cols, (i + 0.5) * 60 / rows
                shapes = [(scales[k] * np.sqrt(r), scales[k] / np.sqrt(r)) for r in ratios]
                extra = np.sqrt(scales[k] * scales[k + 1])
                for w, h in [*shapes, (extra, extra)]:
                    w, h = w * 80, h * 60
                    expected.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert anchors.dtype == np.float32
    np.testing.assert_allclose(anchors, expected, rtol=1e-6, atol=1e-4)
    # one scale per map: no extra box
    assert len(default_boxes(maps, image, scales[:2], ratios)) == (12 + 4) * 3
    clipped = default_boxes([1], 10, [1.5], [1.0], clip=True)
    np.testing.assert_array_equal(clipped, [[0, 0, 10, 10]])


def test_default_boxes_refuse_bad_arguments():
    with pytest.raises(ValueError, match="scales"):
        default_boxes([4, 2], 32, [0.1], [1.0])
    with pytest.raises(ValueError, match="aspect_ratios"):
        default_boxes([4, 2], 32, [0.1, 0.2], [[1.0]])
    with pytest.raises(ValueError, match="aspect ratios must be > 0"):
        default_boxes([4], 32, [0.1], [0.0])


# ----------------------------------------------------------------------- matching


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31), n_images=st.integers(1, 4), threshold=st.sampled_from([0.3, 0.5])
)
def test_match_anchors_equals_ssds_per_anchor_loop(seed, n_images, threshold):
    rng = np.random.default_rng(seed)
    anchors = default_boxes([4, 2], 32, [0.2, 0.5, 0.8], [1.0, 2.0])
    gt = []
    for _ in range(n_images):
        g = random_boxes(rng, int(rng.integers(0, 4)), size=32)
        if len(g) > 1 and rng.random() < 0.3:
            g[1] = g[0]  # two boxes with the same best anchor: the later one wins
        gt.append(g)
    matches = match_anchors(anchors, gt, threshold)
    assert matches.shape == (n_images, len(anchors)) and matches.dtype == np.int64
    for b in range(n_images):
        np.testing.assert_array_equal(matches[b], ssd_match_loop(anchors, gt[b], threshold))


def test_every_box_gets_an_anchor_even_below_the_threshold():
    anchors = np.array([[0, 0, 10, 10], [20, 20, 40, 40]], np.float32)
    small = np.array([[0.0, 0.0, 2.0, 2.0]])  # IoU 0.04 with anchor 0
    assert match_anchors(anchors, [small]).tolist() == [[0, -1]]
    outside = np.array([[100.0, 100.0, 110.0, 110.0]])  # overlaps nothing: stays unmatched
    assert match_anchors(anchors, [outside]).tolist() == [[-1, -1]]


def test_match_anchors_accepts_empty_images_and_refuses_bad_boxes():
    anchors = default_boxes([2], 8, [0.5], [1.0])
    assert match_anchors(anchors, [np.zeros((0, 4)), np.zeros((0, 4))]).tolist() == [[-1] * 4] * 2
    with pytest.raises(DataError, match="x_max < x_min"):
        match_anchors(anchors, [np.array([[5.0, 0, 1, 1]])])
    with pytest.raises(ShapeError, match="list"):
        match_anchors(anchors, np.zeros((4, 4)))


# ------------------------------------------------------------------ encode/decode


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_decode_inverts_encode_to_float32_rounding(seed):
    rng = np.random.default_rng(seed)
    # anchors at least 4 px, boxes at least 1 px: size ratios inside decode's clip
    anchors = (random_boxes(rng, 50) + np.array([0, 0, 4, 4])).astype(np.float32)
    boxes = (random_boxes(rng, 50) + np.array([0, 0, 1, 1])).astype(np.float32)
    offsets = encode(boxes, anchors)
    assert offsets.dtype == np.float32
    back = decode(offsets, anchors)
    # within two float32 ulps of the coordinate
    np.testing.assert_allclose(back, boxes, rtol=0, atol=2 * np.spacing(np.abs(boxes).max()))


def test_encode_is_ssds_center_size_offsets_with_variances():
    offsets = encode([[10.0, 20.0, 30.0, 60.0]], [[0.0, 10.0, 20.0, 30.0]], variances=(0.1, 0.2))
    # box: c (20, 40), (20, 40); anchor: c (10, 20), (20, 20)
    np.testing.assert_allclose(
        offsets, [[10 / 2.0, 20 / 2.0, np.log(1.0) / 0.2, np.log(2.0) / 0.2]], rtol=1e-12
    )


def test_encode_refuses_empty_boxes_and_decode_never_overflows():
    with pytest.raises(DataError, match="zero or negative width"):
        encode([[0.0, 0, 0, 5]], [[0.0, 0, 5, 5]])
    assert np.isfinite(decode([[0.0, 0.0, 1e6, 1e6]], [[0.0, 0.0, 5.0, 5.0]])).all()


def test_multibox_targets_is_one_gather_of_labels_and_encoded_boxes():
    rng = np.random.default_rng(3)
    anchors = default_boxes([4, 2], 32, [0.2, 0.5, 0.8], [1.0, 2.0])
    gt = [random_boxes(rng, 3, size=32) + np.array([0, 0, 2, 2]), np.zeros((0, 4))]
    labels_in = [np.array([0, 2, 1]), np.zeros(0, np.int64)]
    labels, offsets = multibox_targets(anchors, gt, labels_in)
    matches = match_anchors(anchors, gt)
    assert labels.shape == matches.shape and offsets.shape == (*matches.shape, 4)
    for b in range(2):
        for a in range(len(anchors)):
            m = matches[b, a]
            if m < 0:
                assert labels[b, a] == 0 and not offsets[b, a].any()
            else:
                assert labels[b, a] == labels_in[b][m] + 1
                np.testing.assert_allclose(
                    offsets[b, a], encode(gt[b][m], anchors[a].astype(float)), rtol=1e-6
                )


def test_multibox_targets_checks_labels():
    anchors = default_boxes([2], 8, [0.5], [1.0])
    with pytest.raises(ShapeError, match="labels"):
        multibox_targets(anchors, [np.array([[0.0, 0, 4, 4]])], [[0, 1]])
    with pytest.raises(DataError, match=">= 0"):
        multibox_targets(anchors, [np.array([[0.0, 0, 4, 4]])], [[-1]])


def test_iou_references_agree():  # the two test references are one definition
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 5), random_boxes(rng, 6)
    np.testing.assert_allclose(iou_broadcast(a, b), iou_loops(a, b), rtol=1e-12)


def test_detection_never_imports_the_engine_or_heavy_libraries():
    # DESIGN.md, layer 2: detection is NumPy only (plus layer 0), never the autodiff engine
    import ast
    import sys
    from pathlib import Path

    import thalweg

    allowed = ("thalweg.errors", "thalweg.files", "thalweg.backend", "thalweg.detection")
    for path in (Path(thalweg.__file__).parent / "detection").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                if module.startswith("thalweg"):
                    assert module.startswith(allowed), f"{path.name} imports {module}"
                else:
                    top = module.split(".")[0]
                    assert top == "numpy" or top in sys.stdlib_module_names, (
                        f"{path.name} imports {module}"
                    )
