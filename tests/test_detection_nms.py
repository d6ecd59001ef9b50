"""NMS: the exact greedy result (torchvision's semantics), per class, weighted, soft; WBF."""

from __future__ import annotations

import numpy as np
import pytest
from detection_reference import (
    clustered_boxes,
    iou_broadcast,
    soft_nms_loop,
    torchvision_nms,
    wbf_loop,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from thalweg.detection import (
    batched_nms,
    nms,
    overlapping_pairs,
    soft_nms,
    weighted_box_fusion,
    weighted_nms,
)
from thalweg.errors import DataError, ShapeError

THRESHOLDS = [0.0, 0.3, 0.5, 0.7, 0.95, 1.0]


def case(seed: int, n_objects: int, copies: int, dtype=np.float32, ties=False, duplicates=False):
    rng = np.random.default_rng(seed)
    boxes, scores = clustered_boxes(n_objects, copies, rng, dtype=dtype)
    if ties:
        scores = np.round(scores, 1).astype(dtype)
    if duplicates:
        boxes[::5] = boxes[0]
    return boxes, scores


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_objects=st.integers(1, 60),
    copies=st.integers(1, 12),
    threshold=st.sampled_from(THRESHOLDS),
    ties=st.booleans(),
    duplicates=st.booleans(),
)
def test_nms_keeps_exactly_what_torchvisions_kernel_keeps(
    seed, n_objects, copies, threshold, ties, duplicates
):
    boxes, scores = case(seed, n_objects, copies, ties=ties, duplicates=duplicates)
    kept = nms(boxes, scores, threshold)
    assert kept.dtype == np.int64
    np.testing.assert_array_equal(kept, torchvision_nms(boxes, scores, threshold))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nms_on_a_large_clustered_scene_matches_the_kernel_through_the_strip_search(dtype):
    boxes, scores = case(7, 150, 8, dtype=dtype, ties=True)  # 1,200 boxes: the search path
    for threshold in (0.3, 0.5, 0.8):
        np.testing.assert_array_equal(
            nms(boxes, scores, threshold), torchvision_nms(boxes, scores, threshold)
        )


def test_equal_scores_keep_the_lowest_index_and_exact_duplicates_collapse():
    box = [10.0, 10.0, 20.0, 20.0]
    boxes = np.array([box, box, box, [50, 50, 60, 60]], np.float32)
    scores = np.array([0.5, 0.9, 0.9, 0.9], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 3])


def test_iou_exactly_at_the_threshold_is_not_suppressed():
    boxes = np.array([[0, 0, 2, 1], [0, 0, 1, 1]], np.float32)  # IoU exactly 0.5
    assert nms(boxes, np.array([1.0, 0.5]), 0.5).tolist() == [0, 1]
    assert nms(boxes, np.array([1.0, 0.5]), 0.4999).tolist() == [0]


def test_threshold_compared_in_float64_like_torchvision():
    # float32 IoU 0.3 is 0.30000001: above the float64 threshold 0.3, so suppressed
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 3]], np.float32)
    assert nms(boxes, np.array([1.0, 0.5], np.float32), 0.3).tolist() == [0]


def test_zero_area_boxes_never_suppress_each_other():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5]], np.float32)
    assert nms(boxes, np.array([1.0, 0.5]), 0.0).tolist() == [0, 1]


def test_a_long_chain_of_overlaps_is_settled_exactly_past_the_round_limit():
    # boxes shifted by 1 px along a line, scores decreasing: each suppresses the next, so
    # kept/suppressed alternate along a chain far longer than the rounds allow
    x = np.arange(400, dtype=np.float64)
    boxes = np.stack([x, np.zeros_like(x), x + 3, np.full_like(x, 3)], axis=1)
    scores = 1 - x / 1000
    np.testing.assert_array_equal(nms(boxes, scores, 0.4), torchvision_nms(boxes, scores, 0.4))


def test_a_few_huge_boxes_among_small_ones_are_paired_directly_and_exactly():
    boxes, scores = case(3, 100, 5)
    rng = np.random.default_rng(0)
    huge = np.array([[0, 0, 1000, 1000], [10, 10, 990, 1000], [500, 0, 1024, 600]], np.float32)
    boxes = np.concatenate([boxes, huge, huge + 1])
    scores = np.concatenate([scores, rng.random(6).astype(np.float32)])
    for threshold in (0.2, 0.5):
        np.testing.assert_array_equal(
            nms(boxes, scores, threshold), torchvision_nms(boxes, scores, threshold)
        )


def test_overlapping_pairs_finds_every_pair_a_full_comparison_finds():
    boxes, _ = case(11, 120, 6, dtype=np.float64)
    for threshold in (0.0, 0.5, 0.9):
        first, second, iou = overlapping_pairs(boxes, threshold)
        found = set(zip(first.tolist(), second.tolist(), strict=True))
        full = iou_broadcast(boxes, boxes)
        i, j = np.nonzero(np.triu(full > threshold, 1))
        assert found == set(zip(i.tolist(), j.tolist(), strict=True))
        np.testing.assert_allclose(iou, full[first, second], rtol=1e-12)


def test_batched_nms_is_nms_per_class_merged_by_score():
    boxes, scores = case(5, 80, 6)
    classes = np.random.default_rng(1).choice(["cat", "dog", "face"], len(boxes))
    kept = batched_nms(boxes, scores, classes, 0.5)
    expected = []
    for label in np.unique(classes):
        rows = np.flatnonzero(classes == label)
        expected += rows[torchvision_nms(boxes[rows], scores[rows], 0.5)].tolist()
    expected.sort(key=lambda i: (-scores[i], i))
    np.testing.assert_array_equal(kept, expected)
    # and classes never suppress each other: the same box twice, two classes
    same = np.array([[0, 0, 10, 10]] * 2, np.float32)
    assert batched_nms(same, np.array([0.9, 0.8]), np.array([0, 1]), 0.5).tolist() == [0, 1]


def test_weighted_nms_keeps_nms_indices_and_averages_each_cluster_by_score():
    boxes, scores = case(9, 40, 5, dtype=np.float64)
    kept, merged = weighted_nms(boxes, scores, 0.5)
    np.testing.assert_array_equal(kept, torchvision_nms(boxes, scores, 0.5))
    # the reference: in the greedy loop, each suppressed box belongs to its suppressor
    owner = {}
    order = np.argsort(-scores, kind="stable")
    iou = iou_broadcast(boxes, boxes)
    for position, i in enumerate(order):
        if i in owner:
            continue
        owner[i] = i
        for j in order[position + 1 :]:
            if j not in owner and iou[i, j] > 0.5:
                owner[j] = i
    for k, i in enumerate(kept):
        members = [j for j, o in owner.items() if o == i]
        w = scores[members]
        np.testing.assert_allclose(merged[k], (w[:, None] * boxes[members]).sum(0) / w.sum())


@pytest.mark.parametrize("method", ["gaussian", "linear"])
def test_soft_nms_matches_the_papers_algorithm(method):
    boxes, scores = case(4, 15, 4, dtype=np.float64)
    kept, decayed = soft_nms(boxes, scores, method=method, sigma=0.5, iou_threshold=0.3)
    ref_kept, ref_scores = soft_nms_loop(boxes, scores, method, 0.5, 0.3, 0.001)
    np.testing.assert_array_equal(kept, ref_kept)
    np.testing.assert_allclose(decayed, ref_scores, rtol=1e-12)
    assert np.all(np.diff(decayed) <= 0)  # selected by decreasing decayed score


def test_soft_nms_keeps_every_box_but_lowers_duplicates_and_drops_below_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [30, 30, 40, 40]], np.float64)
    kept, decayed = soft_nms(boxes, np.array([0.9, 0.8, 0.7]), method="linear", iou_threshold=0.5)
    assert kept.tolist() == [0, 2]  # the duplicate decays to 0.8 · (1 - 1) = 0 < 0.001
    kept, decayed = soft_nms(boxes, np.array([0.9, 0.8, 0.7]), sigma=0.5)
    assert kept.tolist() == [0, 2, 1]
    assert decayed[2] == pytest.approx(0.8 * np.exp(-1 / 0.5))


def test_weighted_box_fusion_matches_the_papers_algorithm():
    boxes, scores = case(2, 30, 5, dtype=np.float64)
    fused, fused_scores, labels = weighted_box_fusion(boxes, scores, iou_threshold=0.55)
    ref_boxes, ref_scores = wbf_loop(boxes, scores, 0.55)
    np.testing.assert_allclose(fused, ref_boxes, rtol=1e-12)
    np.testing.assert_allclose(fused_scores, ref_scores, rtol=1e-12)
    assert (labels == 0).all()


def test_weighted_box_fusion_discounts_boxes_fewer_models_found_and_keeps_labels_apart():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]], np.float64)
    fused, scores, labels = weighted_box_fusion(
        boxes, np.array([0.8, 0.6, 0.9]), labels=np.array([1, 1, 2]), n_models=2
    )
    assert labels.tolist() == [1, 2]
    np.testing.assert_allclose(scores, [0.7, 0.45])  # mean 0.7 (2 of 2); 0.9 · 1/2
    np.testing.assert_allclose(fused[0], [0.6 / 1.4, 0, 10 + 0.6 / 1.4, 10])


@pytest.mark.parametrize("fn", [nms, soft_nms, weighted_nms])
def test_bad_inputs_get_one_clear_error(fn):
    good = np.array([[0, 0, 1, 1]], np.float32)
    with pytest.raises(ShapeError, match=r"\(N, 4\)"):
        fn(np.zeros((2, 3)), np.zeros(2), 0.5) if fn is not soft_nms else fn(
            np.zeros((2, 3)), np.zeros(2)
        )
    with pytest.raises(ShapeError, match="one per box"):
        fn(good, np.zeros(2), 0.5) if fn is not soft_nms else fn(good, np.zeros(2))
    with pytest.raises(DataError, match="x_max < x_min"):
        bad = np.array([[5, 0, 1, 1]], np.float32)
        fn(bad, np.ones(1), 0.5) if fn is not soft_nms else fn(bad, np.ones(1))
    with pytest.raises(DataError, match="finite"):
        fn(good, np.array([np.nan]), 0.5) if fn is not soft_nms else fn(good, np.array([np.nan]))


def test_empty_input_gives_empty_int64_indices():
    empty = np.zeros((0, 4), np.float32)
    assert nms(empty, np.zeros(0), 0.5).dtype == np.int64
    assert len(batched_nms(empty, np.zeros(0), np.zeros(0), 0.5)) == 0
    assert len(soft_nms(empty, np.zeros(0))[0]) == 0
