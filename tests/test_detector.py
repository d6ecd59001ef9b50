"""SSDDetector: the network against PyTorch, anchors, targets, training, files, bad input."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

import thalweg
from thalweg import nn
from thalweg.datasets.scenes import make_scenes
from thalweg.detection import (
    MatchTargets,
    anchor_grid,
    average_precision,
    box_fit,
    boxes_by_image,
    default_boxes,
    match_anchors,
    match_anchors_loop,
    nms,
    pack_targets,
    pad_boxes,
    select_detections,
    unpack_targets,
    unpad_boxes,
)
from thalweg.errors import ThalwegError
from thalweg.models import SSDDetector, load_model
from thalweg.models.detector import feature_map_sizes

torch_missing = importlib.util.find_spec("torch") is None


def scene_targets(n: int, seed: int):
    images, table = make_scenes(n, seed=seed)
    boxes, labels = boxes_by_image(table, [f"scene_{k:04d}.png" for k in range(n)])
    return images, [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels, strict=True)]


@pytest.fixture(scope="module")
def trained():
    """A small detector trained for a few epochs on drawn faces (the slow part, shared)."""
    images, targets = scene_targets(192, seed=0)
    detector = SSDDetector(max_epochs=10, learning_rate=0.005, random_state=0)
    return detector.fit(images[:160], targets[:160]), images, targets


# ---------------------------------------------------------------------- the network


@pytest.mark.skipif(torch_missing, reason="needs PyTorch")
def test_network_output_and_every_gradient_match_pytorch():
    import torch

    images, targets = scene_targets(4, seed=3)
    images = images[:, :32, :32].astype(np.float64)  # small crops, float64: exact comparison
    targets = [{"boxes": np.array([[2.0, 3.0, 20.0, 21.0]]), "labels": ["face"]}] * 4
    detector = SSDDetector(channels=(3, 4, 5), feature_maps=2, random_state=1)
    detector._validate_X(images, reset=True)
    detector._validate_y(targets, 4, reset=True)
    detector.learn_encoding(detector.summarize(images[:, None], None, None))
    net = detector.build_module(0, np.random.default_rng(0), np.float64)
    x = detector.encode(images)[0].astype(np.float64)
    out = net(thalweg.tensor(x))
    upstream = np.random.default_rng(1).normal(size=out.shape)
    (out * thalweg.tensor(upstream)).sum().backward()

    def mirror(layer):
        if isinstance(layer, nn.Sequential):
            return torch.nn.Sequential(*(mirror(inner) for inner in layer.layers))
        if isinstance(layer, nn.Conv2d):
            conv = torch.nn.Conv2d(
                layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                layer.padding, dtype=torch.float64,
            )  # fmt: skip
            conv.weight.data = torch.from_numpy(layer.weight.data.copy())
            conv.bias.data = torch.from_numpy(layer.bias.data.copy())
            return conv
        if isinstance(layer, nn.MaxPool2d):
            return torch.nn.MaxPool2d(2)
        if isinstance(layer, nn.ReLU):
            return torch.nn.ReLU()
        return Standardize(layer.mean, layer.scale)

    class Standardize(torch.nn.Module):  # nn.Normalize: (x - mean) / scale per channel
        def __init__(self, mean, scale):
            super().__init__()
            self.mean = torch.from_numpy(np.asarray(mean, np.float64)).reshape(1, -1, 1, 1)
            self.scale = torch.from_numpy(np.asarray(scale, np.float64)).reshape(1, -1, 1, 1)

        def forward(self, x):
            return (x - self.mean) / self.scale

    stages = [mirror(s) for s in net.stages.layers]
    heads = [mirror(h) for h in net.heads.layers]
    feature, pieces = torch.from_numpy(x), []
    for stage, head in zip(stages, heads, strict=True):
        feature = stage(feature)
        scores = head(feature)
        b, c, h, w = scores.shape
        pieces.append(scores.permute(0, 2, 3, 1).reshape(b, h * w * c // 6, 6))
    expected = torch.cat(pieces, 1)
    (expected * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours = [p.grad for p in net.parameters()]
    theirs = [p.grad.numpy() for m in stages + heads for p in m.parameters()]
    assert len(ours) == len(theirs) == 10
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-9, atol=1e-11)
    assert out.shape == (4, len(detector.anchors_), 6)  # 4 offsets + background + face


def test_network_architecture_round_trips_through_its_config():
    net = nn.SSDNetwork(
        [nn.Conv2d(1, 4, 3, stride=2, padding=1, rng=0), nn.Sequential(nn.MaxPool2d(2), nn.ReLU())],
        [nn.Conv2d(4, 12, 3, padding=1, rng=1), nn.Conv2d(4, 6, 3, padding=1, rng=2)],
        values_per_anchor=6,
    )
    again = nn.layer_from_config(nn.layer_to_config(net))
    again.load_state_dict(net.state_dict())
    x = thalweg.tensor(np.random.default_rng(0).random((2, 1, 16, 16)))
    np.testing.assert_array_equal(again(x).data, net(x).data)
    assert net(x).shape == (2, 8 * 8 * 2 + 4 * 4 * 1, 6)
    with pytest.raises(ValueError, match="one head per stage"):
        nn.SSDNetwork([nn.ReLU()], [], 6)


def test_anchor_grid_is_default_boxes_in_pixels_in_the_heads_order():
    fractions = default_boxes([4, 2], 32, [0.25, 0.5], [1.0, 2.0])
    pixels = anchor_grid([4, 2], 32, [[8.0], [16.0]], [1.0, 2.0])
    np.testing.assert_allclose(pixels, fractions, atol=1e-5)
    # two sizes per location: at location 0 the sizes in order, each with its ratios
    two = anchor_grid([1], 10, [[2.0, 4.0]], [1.0, 4.0])
    np.testing.assert_allclose(two[:, 2] - two[:, 0], [2, 4, 4, 8])
    np.testing.assert_allclose((two[:, :2] + two[:, 2:]) / 2, 5.0)
    assert feature_map_sizes((96, 96), 3)[-2:] == [(12, 12), (6, 6)]


# ---------------------------------------------------------------------- targets


@pytest.mark.parametrize("seed", range(4))
def test_the_per_anchor_loop_and_the_vectorized_matcher_agree(seed):
    rng = np.random.default_rng(seed)
    anchors = anchor_grid([12, 6], 96, [[14.0, 20.0], [28.0, 40.0]], [1.0, 2.0])
    gt, codes = [], []
    for _ in range(6):
        n = int(rng.integers(0, 4))
        side = rng.choice([12.0, 14.0, 20.0, 40.0], (n, 1))  # ties at anchor sizes
        corner = np.round(rng.uniform(0, 96 - side, (n, 2)) / 4) * 4
        gt.append(np.concatenate([corner, corner + side], 1))
        codes.append(rng.integers(0, 2, n))
    gt[0] = np.array([[10.0, 10, 30, 30], [10, 10, 30, 30]])  # a duplicate box
    codes[0] = np.array([0, 1])
    np.testing.assert_array_equal(match_anchors_loop(anchors, gt), match_anchors(anchors, gt))
    padded = pad_boxes(gt, codes)
    images = np.zeros((6, 1, 2, 2))
    _, fast = MatchTargets(anchors)((images, padded))
    _, slow = MatchTargets(anchors, method="loop")((images, padded))
    np.testing.assert_array_equal(fast, slow)
    labels, offsets = unpack_targets(fast)
    assert labels.dtype == np.int64 and set(np.unique(labels)) <= {0, 1, 2}
    np.testing.assert_array_equal(pack_targets(labels, offsets), fast)
    back_boxes, back_codes = unpad_boxes(padded)
    for mine, theirs in zip(back_boxes, gt, strict=True):
        np.testing.assert_allclose(mine, theirs)
    assert [len(c) for c in back_codes] == [len(c) for c in codes]


# ---------------------------------------------------------------------- suppression


def test_select_detections_per_class_methods_and_limits():
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 80, (60, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(10, 20, (60, 2))], 1).astype(np.float32)
    scores = rng.dirichlet(np.ones(3), 60)  # background + two classes
    kept, kept_scores, classes = select_detections(boxes, scores, score_threshold=0.2)
    for c in (0, 1):  # greedy: per class exactly nms on the boxes above the threshold
        passing = np.flatnonzero(scores[:, c + 1] >= 0.2)
        expected = boxes[passing][nms(boxes[passing], scores[passing, c + 1], 0.45)]
        np.testing.assert_array_equal(np.sort(kept[classes == c], 0), np.sort(expected, 0))
    assert (np.diff(kept_scores) <= 0).all()
    pair = np.array([[0, 0, 10, 10], [1, 0, 11, 10]], np.float32)  # IoU 0.82
    pair_scores = np.array([[0.1, 0.9], [0.2, 0.8]])
    assert len(select_detections(pair, pair_scores)[0]) == 1
    soft_boxes, soft_scores, _ = select_detections(pair, pair_scores, method="soft")
    assert len(soft_boxes) == 2  # soft-NMS keeps the duplicate, its score decayed
    np.testing.assert_allclose(soft_scores, [0.9, 0.8 * np.exp(-((9 / 11) ** 2) / 0.5)], rtol=1e-6)
    few = select_detections(boxes, scores, max_detections=5, method="weighted")
    assert len(few[0]) == 5 and few[1][0] == scores[:, 1:].max()
    fused_boxes, fused_scores, _ = select_detections(pair, pair_scores, method="fusion")
    np.testing.assert_allclose(fused_boxes, [[0.8 / 1.7, 0, 10 + 0.8 / 1.7, 10]], rtol=1e-6)
    np.testing.assert_allclose(fused_scores, [0.85])  # the cluster's mean score
    with pytest.raises(ValueError, match="greedy, soft, weighted, fusion"):
        select_detections(boxes, scores, method="best")


def test_box_fit_scores_the_top_box_and_counts_duplicates_and_misses():
    truth = {
        "image": ["a", "a", "b"],
        "x_min": [0.0, 50, 0], "y_min": [0.0, 50, 0], "x_max": [10.0, 70, 10],
        "y_max": [10.0, 70, 10], "label": ["face"] * 3,
    }  # fmt: skip
    found = {
        "image": ["a", "a", "a", "a"],
        "x_min": [0.0, 0, 50, 60], "y_min": [0.0, 0, 50, 50], "x_max": [5.0, 10, 70, 70],
        "y_max": [10.0, 10, 70, 70], "label": ["face"] * 4, "score": [0.9, 0.8, 0.7, 0.95],
    }  # fmt: skip
    fit = box_fit(found, truth)
    # face 1: top box is the half box (IoU 0.5), face 2: the right half (IoU 0.5), face 3: none
    assert fit == {"objects": 3, "mean_top_iou": pytest.approx(1 / 3), "duplicates": 0,
                   "missed": 1}  # fmt: skip
    found["x_max"][0] = 9.0  # now two confident hits on face 1
    assert box_fit(found, truth)["duplicates"] == 1


# ---------------------------------------------------------------------- the estimator


def test_a_short_training_finds_drawn_faces_better_than_chance(trained):
    detector, images, targets = trained
    held_out = detector.score(images[160:], targets[160:])
    untrained = SSDDetector(max_epochs=1, learning_rate=1e-9, random_state=0)
    untrained.fit(images[:160], targets[:160])
    assert held_out > 0.3 > untrained.score(images[160:], targets[160:])
    found = detector.predict(images[160:164])
    assert [sorted(f) for f in found] == [["boxes", "labels", "scores"]] * 4
    assert all((np.diff(f["scores"]) <= 0).all() and set(f["labels"]) <= {"face"} for f in found)
    table = detector.detect(images[160:164], names=["a", "b", "c", "d"])
    assert set(table["image"]) <= {"a", "b", "c", "d"} and len(table["score"]) == sum(
        len(f["scores"]) for f in found
    )


def test_a_saved_detector_loads_and_detects_the_same(trained, tmp_path):
    detector, images, _ = trained
    detector.save(tmp_path / "detector.thalweg")
    again = load_model(tmp_path / "detector.thalweg")
    assert isinstance(again.module_, nn.SSDNetwork) and again.get_params() == detector.get_params()
    np.testing.assert_array_equal(
        again.network_output(images[:8]), detector.network_output(images[:8])
    )
    np.testing.assert_array_equal(again.anchors_, detector.anchors_)
    assert again.classes_.tolist() == ["face"]
    assert b"pickle" not in (tmp_path / "detector.thalweg").read_bytes()[:4096]


@pytest.mark.parametrize(
    "change, words",
    [(lambda a: a[:-4], "356 anchors"), (lambda a: a[:, :3], "shape (anchors, 4)")],
)
def test_a_detector_file_whose_anchors_do_not_fit_its_network_is_refused(
    trained, tmp_path, change, words
):
    from thalweg.errors import FileFormatError
    from thalweg.files import read_container, write_container

    detector, _, _ = trained
    detector.save(tmp_path / "detector.thalweg")
    arrays, metadata = read_container(tmp_path / "detector.thalweg")
    arrays["anchors_"] = np.ascontiguousarray(change(arrays["anchors_"]))
    metadata = {k: v for k, v in metadata.items() if k not in ("format", "format_version")}
    write_container(tmp_path / "bad.thalweg", arrays, metadata)
    with pytest.raises(FileFormatError, match=re.escape(words)):
        load_model(tmp_path / "bad.thalweg")


def test_validation_early_stopping_partial_fit_and_one_class_boxes_without_labels():
    images, targets = scene_targets(48, seed=5)
    plain = [t["boxes"] for t in targets]  # (G, 4) arrays: one class, "object"
    detector = SSDDetector(max_epochs=2, early_stopping=True, random_state=0)
    detector.fit(images[:40], plain[:40], validation=(images[40:], plain[40:]))
    assert detector.classes_.tolist() == ["object"] and "val_loss" in detector.history_.rows[0]
    before = detector.n_iter_
    detector.partial_fit(images[:8], plain[:8])
    assert detector.n_iter_ == before + 1
    kept = select_detections(*(a[0] for a in detector.anchor_predictions(images[:1])))
    assert kept[0].shape[1] == 4


def test_bad_targets_and_options_are_refused_with_clear_errors():
    images, targets = scene_targets(6, seed=1)
    detector = SSDDetector(max_epochs=1)
    cases = [
        (targets[:5], "X has 6 images but y has 5"),
        ([{"boxes": [[5, 5, 2, 9]], "labels": ["face"]}, *targets[1:]], "zero or negative width"),
        ([{"boxes": [[1, 2, 3]]}, *targets[1:]], "must be (G, 4)"),
        ([{"labels": ["face"]}, *targets[1:]], "has no 'boxes'"),
        ({"image": [0], "x_min": [0]}, "not a table"),
        ([{"boxes": np.zeros((0, 4))}] * 6, "no image has a box"),
    ]
    for y, words in cases:
        with pytest.raises(ThalwegError) as caught:
            detector.fit(images, y)
        assert words in str(caught.value)
    with pytest.raises(ValueError, match="sample_weight is not supported"):
        detector.fit(images, targets, sample_weight=np.ones(6))
    with pytest.raises(ValueError, match="feature_maps must be between 1 and 3"):
        SSDDetector(feature_maps=4).fit(images, targets)
    with pytest.raises(ThalwegError, match="too small for 6 pooling blocks"):
        SSDDetector(channels=(2,) * 7, feature_maps=1).fit(images, targets)
    fitted = SSDDetector(max_epochs=1, random_state=0).fit(images, targets)
    with pytest.raises(ThalwegError, match="trained on images of shape"):
        fitted.predict(images[:, :48, :48])
    with pytest.raises(ThalwegError, match="labelled cat, a class the model does not know"):
        fitted.score(images[:1], [{"boxes": [[1, 1, 9, 9]], "labels": ["cat"]}])
    with pytest.raises(ThalwegError, match="use fit"):
        fitted.fit_stream(None)


def test_average_precision_of_a_perfect_detector_table_is_one(trained):
    """detect() names images and labels so that the VOC evaluation reads them directly."""
    detector, images, targets = trained
    names = [f"img{k}" for k in range(4)]
    truth = {"image": [], "x_min": [], "y_min": [], "x_max": [], "y_max": [], "label": []}
    for name, target in zip(names, targets[:4], strict=True):
        for box in target["boxes"]:
            truth["image"].append(name)
            truth["label"].append("face")
            for j, column in enumerate(("x_min", "y_min", "x_max", "y_max")):
                truth[column].append(box[j])
    perfect = dict(truth, score=np.linspace(1, 0.5, len(truth["image"])))
    assert average_precision(perfect, truth) == {"face": 1.0}
    table = detector.detect(images[:4], names)
    assert 0 <= average_precision(table, truth)["face"] <= 1
