"""Detection AP: COCO numbers equal pycocotools'; VOC AP equals the devkit's algorithm."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from detection_reference import voc_ap_loop

from thalweg.detection import (
    average_precision,
    coco_evaluate,
    mean_average_precision,
    precision_recall_curve,
)
from thalweg.errors import DataError

COCO_KEYS = [
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
]
GT_COLUMNS = ["image", "x_min", "y_min", "x_max", "y_max", "label"]


def scene(seed: int, n_images: int = 25, n_classes: int = 3, many_on_one: int = 0):
    """Ground truth of varied sizes (small to large) and noisy detections: jittered
    copies (some with the wrong class), false positives, tied scores."""
    rng = np.random.default_rng(seed)
    gt = {k: [] for k in GT_COLUMNS}
    det = {k: [] for k in [*GT_COLUMNS, "score"]}
    for image in range(n_images):
        for _ in range(rng.integers(0, 6)):
            size = np.exp(rng.uniform(np.log(8), np.log(200)))
            x, y = rng.uniform(0, 400, 2)
            w, h = size * rng.uniform(0.7, 1.3, 2)
            label = int(rng.integers(0, n_classes))
            for key, value in zip(GT_COLUMNS, [image, x, y, x + w, y + h, label], strict=True):
                gt[key].append(value)
            for _ in range(rng.integers(0, 4)):
                jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
                box = [x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]]
                if box[2] < box[0] or box[3] < box[1]:
                    continue
                guess = label if rng.random() > 0.1 else int(rng.integers(0, n_classes))
                score = float(np.round(rng.random(), 1))  # ties on purpose
                for key, value in zip(det, [image, *box, guess, score], strict=True):
                    det[key].append(value)
        for _ in range(rng.integers(0, 4)):  # false positives
            size = rng.uniform(5, 150)
            x, y = rng.uniform(0, 400, 2)
            values = [
                image,
                x,
                y,
                x + size,
                y + size,
                int(rng.integers(0, n_classes)),
                rng.random(),
            ]
            for key, value in zip(det, values, strict=True):
                det[key].append(value)
    gt = {k: np.array(v) for k, v in gt.items()}
    det = {k: np.array(v) for k, v in det.items()}
    if many_on_one:  # more than maxDets=100 detections on one image
        for key in det:
            det[key] = np.concatenate([det[key], np.repeat(det[key][:1], many_on_one)])
        det["score"][-many_on_one:] = rng.random(many_on_one)
        det["x_min"][-many_on_one:] -= rng.uniform(0, 3, many_on_one)
    # an image with detections only, and two identical ground-truth boxes (IoU ties)
    for key, value in zip(det, [n_images, 0.0, 0.0, 50.0, 50.0, 0, 0.7], strict=True):
        det[key] = np.append(det[key], value)
    for key in GT_COLUMNS:
        gt[key] = np.append(gt[key], [gt[key][0]] * 2)
    return det, gt


def pycocotools_stats(det, gt):
    """The COCO json built from the tables, evaluated by pycocotools."""
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = sorted(set(gt["image"].tolist()) | set(det["image"].tolist()))
    image_id = {image: k + 1 for k, image in enumerate(images)}
    category_id = {c: k + 1 for k, c in enumerate(sorted(set(gt["label"].tolist())))}

    def xywh(table, r):
        x, y = float(table["x_min"][r]), float(table["y_min"][r])
        return [x, y, float(table["x_max"][r]) - x, float(table["y_max"][r]) - y]

    annotations = []
    for r in range(len(gt["image"])):
        box = xywh(gt, r)
        annotations.append(
            {
                "id": r + 1,  # pycocotools needs ids > 0
                "image_id": image_id[gt["image"][r].item()],
                "category_id": category_id[gt["label"][r].item()],
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
        )
    results = [
        {
            "image_id": image_id[det["image"][r].item()],
            "category_id": category_id[det["label"][r].item()],
            "bbox": xywh(det, r),
            "score": float(det["score"][r]),
        }
        for r in range(len(det["image"]))
        if det["label"][r].item() in category_id
    ]
    dataset = {
        "images": [{"id": i} for i in image_id.values()],
        "annotations": annotations,
        "categories": [{"id": c} for c in category_id.values()],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = dataset
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats


@pytest.mark.parametrize("seed, many", [(0, 0), (1, 0), (2, 150), (3, 0)])
def test_coco_evaluate_equals_pycocotools(seed, many):
    det, gt = scene(seed, many_on_one=many)
    ours = coco_evaluate(det, gt)
    expected = pycocotools_stats(det, gt)
    np.testing.assert_allclose([ours[k] for k in COCO_KEYS], expected, rtol=0, atol=1e-4)
    assert 0 < ours["ap"] < 1  # a case that tests something
    assert set(ours["per_class"]) == {0, 1, 2}


def test_coco_evaluate_accepts_pandas_and_pyarrow_tables_with_string_names():
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    det, gt = scene(4)
    expected = coco_evaluate(det, gt)
    named = {k: v for k, v in gt.items()}
    named["image"] = np.array([f"img{i:03d}.png" for i in gt["image"]])
    named["label"] = np.where(gt["label"] == 0, "cat", np.where(gt["label"] == 1, "dog", "eel"))
    named_det = dict(det)
    named_det["image"] = np.array([f"img{i:03d}.png" for i in det["image"]])
    named_det["label"] = np.where(
        det["label"] == 0, "cat", np.where(det["label"] == 1, "dog", "eel")
    )
    from_pandas = coco_evaluate(pd.DataFrame(named_det), pd.DataFrame(named))
    from_arrow = coco_evaluate(pa.table(named_det), pa.table(named))
    for key in COCO_KEYS:
        assert from_pandas[key] == pytest.approx(expected[key], abs=1e-12)
        assert from_arrow[key] == pytest.approx(expected[key], abs=1e-12)
    assert set(from_pandas["per_class"]) == {"cat", "dog", "eel"}


def test_perfect_detections_score_one_and_a_duplicate_costs_precision():
    gt = {"image": ["a", "b"], "x_min": [0, 5], "y_min": [0, 5], "x_max": [40, 90],
          "y_max": [40, 90], "label": ["face", "face"]}  # fmt: skip
    det = dict(gt, score=[0.9, 0.8])
    assert coco_evaluate(det, gt)["ap"] == 1.0
    assert mean_average_precision(det, gt) == 1.0
    duplicate = {k: np.append(v, v[0]) for k, v in det.items()}
    duplicate["score"][-1] = 0.95  # the duplicate outranks the second face
    assert mean_average_precision(duplicate, gt) < 1.0


@pytest.mark.parametrize("method", ["continuous", "11point"])
def test_average_precision_equals_the_voc_devkit_algorithm(method):
    det, gt = scene(5, n_images=30)
    ours = average_precision(det, gt, method=method)
    for label, value in ours.items():
        expected = voc_ap_loop(det, gt, label, 0.5, eleven_point=method == "11point")
        assert value == pytest.approx(expected, abs=1e-12)
    assert mean_average_precision(det, gt, method=method) == pytest.approx(
        np.mean(list(ours.values()))
    )


def test_precision_recall_curve_walks_down_the_ranking():
    gt = {"image": ["a", "a"], "x_min": [0, 50], "y_min": [0, 50], "x_max": [10, 60],
          "y_max": [10, 60], "label": [0, 0]}  # fmt: skip
    det = {"image": ["a"] * 3, "x_min": [0, 0, 50], "y_min": [0, 0, 50], "x_max": [10, 10, 60],
           "y_max": [10, 10, 60], "label": [0, 0, 0], "score": [0.9, 0.8, 0.7]}  # fmt: skip
    precision, recall, scores = precision_recall_curve(det, gt)
    np.testing.assert_allclose(precision, [1, 0.5, 2 / 3])  # the second is a duplicate
    np.testing.assert_allclose(recall, [0.5, 0.5, 1.0])
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7])


def test_evaluation_errors_name_the_table_and_the_problem():
    gt = {"image": ["a"], "x_min": [0], "y_min": [0], "x_max": [10], "y_max": [10], "label": [0]}
    with pytest.raises(DataError, match=r"detections: missing column.*score"):
        coco_evaluate(gt, gt)
    with pytest.raises(DataError, match="strings in one, numbers in the other"):
        coco_evaluate(dict(gt, score=[1.0], image=[1]), gt)
    with pytest.raises(DataError, match="ground_truth, row 0: x_max"):
        coco_evaluate(dict(gt, score=[1.0]), dict(gt, x_max=[-1]))
    two_classes = {k: [v[0], v[0]] for k, v in gt.items()} | {"label": [0, 1]}
    with pytest.raises(DataError, match="say which with label="):
        precision_recall_curve(dict(gt, score=[1.0]), two_classes)
