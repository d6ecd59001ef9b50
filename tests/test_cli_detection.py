"""Detection on the command line and the folders it reads: datasets export, train-detector,
detect (report, ground truth, kindling), and load_detection_folder."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from conftest import assert_one_line_error
from PIL import Image

from thalweg.data import load_detection_folder
from thalweg.detection import read_boxes_csv, write_boxes_csv
from thalweg.errors import DataError
from thalweg.models import load_model


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """24 drawn scenes and their boxes.csv, written by the command line."""
    from thalweg.cli import main

    root = tmp_path_factory.mktemp("detection") / "scenes"
    assert main(["datasets", "export", "scenes", str(root), "--n", "24"]) == 0
    return root


@pytest.fixture(scope="module")
def trained(scenes):
    """One short train-detector run shared by the tests below (the slow part)."""
    import contextlib
    import json

    from thalweg.cli import main

    out, report = scenes.parent / "detector.thalweg", scenes.parent / "training.html"
    args = [
        "train-detector", scenes, "--boxes", scenes / "boxes.csv", "-o", out, "--report",
        report, "--epochs", "2", "--channels", "4,8,8,8", "--json", "--runs", "off",
    ]  # fmt: skip
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in args])
    assert code == 0
    return out, report, json.loads(printed.getvalue())


def test_datasets_export_writes_scenes_and_their_boxes(scenes):
    table = read_boxes_csv(scenes / "boxes.csv")
    files = sorted(p.name for p in scenes.glob("*.png"))
    assert files == [f"scene_{k:04d}.png" for k in range(24)]
    assert set(table["image"]) <= set(files) and set(table["label"]) == {"face"}
    assert np.asarray(Image.open(scenes / "scene_0000.png")).shape == (96, 96)


def test_faces_scenes_export_takes_a_part_and_fills_its_folder_whole(cli, monkeypatch, tmp_path):
    """--part test pastes only the last 20 photographs (marked by value here); a failed
    export leaves no folder behind; --part on another dataset is a one-line mistake."""
    from thalweg.datasets import images as image_datasets
    from thalweg.datasets import scenes as scene_module

    photos = np.full((200, 25, 25), 0.1, np.float32)
    photos[:100], photos[80:100] = 0.9, 0.6  # faces; the test part's faces
    labels = np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]
    monkeypatch.setattr(image_datasets, "load_faces", lambda: (photos, labels, ["n", "f"]))
    assert cli("datasets", "export", "faces-scenes", "held", "--n", "6", "--part", "test").code == 0
    table = read_boxes_csv(tmp_path / "held" / "boxes.csv")
    row = int(np.argmax(table["x_max"] - table["x_min"]))
    x0, y0, x1, y1 = (int(table[c][row]) for c in ("x_min", "y_min", "x_max", "y_max"))
    face = np.asarray(Image.open(tmp_path / "held" / table["image"][row]))[y0:y1, x0:x1] / 255
    assert abs(np.median(face) - 0.6) < 0.1
    assert_one_line_error(cli("datasets", "export", "scenes", "s", "--part", "test"), "--part")
    assert_one_line_error(
        cli("datasets", "export", "faces-scenes", "p", "--part", "dev"), "all, train, test"
    )

    def full_disk(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(scene_module, "save_scenes", full_disk)
    assert_one_line_error(
        cli("datasets", "export", "faces-scenes", "broken", "--n", "4"), "No space left"
    )
    assert not (tmp_path / "broken").exists()


def test_train_detector_writes_a_detector_a_report_and_test_metrics(cli, trained):
    out, report, summary = trained
    assert summary["model"] == "SSDDetector" and summary["classes"] == ["face"]
    assert summary["splits"] == {"train": 17, "validation": 2, "test": 5}
    assert summary["epochs_run"] == 2
    metrics = summary["metrics"]["test"]
    assert 0 <= metrics["ap50"] <= 1 and 0 <= metrics["coco_ap"] <= metrics["coco_ap50"] <= 1
    model = load_model(out)
    assert model.channels == (4, 8, 8, 8) and tuple(model.image_shape_) == (1, 96, 96)
    _check_report(report.read_text(), "Average precision", "Learning curve")
    shown = cli("inspect", out)
    assert shown.code == 0 and "\\n" not in shown.out
    assert "SSDDetector" in shown.out and "  (heads): Sequential(" in shown.out.splitlines()


def _check_report(page: str, *sections: str) -> None:
    """One self-contained page: a strict CSP, every image an embedded PNG that decodes."""
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert images and "http://" not in page and "<script" not in page
    for encoded in images:
        Image.open(io.BytesIO(base64.b64decode(encoded))).verify()
    for words in sections:
        assert words in page


def test_detect_scores_against_ground_truth_and_writes_detections_in_file_pixels(
    cli, trained, scenes, tmp_path
):
    out, _, _ = trained
    result = cli(
        "detect", out, scenes, "-o", tmp_path / "found.csv", "--boxes", scenes / "boxes.csv",
        "--report", tmp_path / "found.html", "--json", "--nms", "weighted",
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = result.json
    assert summary["images"] == 24 and set(summary["per_class"]) == {"face"}
    found = read_boxes_csv(tmp_path / "found.csv")
    assert "score" in found and len(found["image"]) == summary["detections"]
    assert found["x_max"].max() <= 96 and found["x_min"].min() >= 0
    _check_report((tmp_path / "found.html").read_text(), "Average precision", "Detections")
    to_stdout = cli("detect", out, scenes / "scene_0001.png", "--nms", "weighted")
    assert to_stdout.out.startswith("image,x_min,y_min,x_max,y_max,label,score\nscene_0001.png,")
    one_file = tmp_path / "one.csv"
    assert (
        cli("detect", out, scenes / "scene_0001.png", "--nms", "weighted", "-o", one_file).code == 0
    )
    assert to_stdout.out == one_file.read_text()  # the same text, to the digit


def test_kindled_boxes_are_a_training_csv_another_detector_trains_on(
    cli, trained, scenes, tmp_path
):
    out, _, _ = trained
    kindled = tmp_path / "kindled.csv"
    result = cli("detect", out, scenes, "--min-score", "0.05", "-o", kindled)
    assert result.code == 0, result.err
    header = kindled.read_text().splitlines()[0]
    assert header == "image,x_min,y_min,x_max,y_max,label"
    table = read_boxes_csv(kindled)
    assert len(table["image"]) > 0
    again = cli(
        "train-detector", scenes, "--boxes", kindled, "-o", tmp_path / "student.thalweg",
        "--epochs", "1", "--channels", "4,8,8,8", "-q",
    )  # fmt: skip
    assert again.code == 0, again.err
    assert load_model(tmp_path / "student.thalweg").n_iter_ == 1


def test_detection_commands_refuse_mistakes_in_one_line(cli, trained, scenes, tmp_path):
    out, _, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("image,x_min,y_min,x_max,y_max,label\nmissing.png,1,1,5,5,face\n")
    assert_one_line_error(
        cli("train-detector", scenes, "--boxes", bad, "-o", tmp_path / "d.thalweg"),
        "names 1 image(s) not found", "missing.png",
    )  # fmt: skip
    assert_one_line_error(cli("detect", out, tmp_path / "nowhere"), "no such file or folder")
    assert_one_line_error(
        cli("train-detector", scenes, "--boxes", scenes / "boxes.csv", "--channels", "8"),
        "--channels",
    )
    cli("datasets", "export", "iris", tmp_path / "iris.csv")
    cli("train", tmp_path / "iris.csv", "--target", "target", "-o", tmp_path / "iris.thalweg")
    assert_one_line_error(cli("detect", tmp_path / "iris.thalweg", scenes), "not a detector")


def test_a_detection_folder_scales_boxes_with_its_images_and_back(tmp_path):
    Image.fromarray(np.zeros((40, 80), np.uint8)).save(tmp_path / "wide.png")
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "empty.png")
    write_boxes_csv(
        tmp_path / "boxes.csv",
        {"image": ["wide.png"], "x_min": [10.0], "y_min": [4.0], "x_max": [30.0],
         "y_max": [44.0], "label": ["face"]},
    )  # fmt: skip
    data = load_detection_folder(tmp_path, tmp_path / "boxes.csv", size=20)
    assert data.names == ["empty.png", "wide.png"] and data.images.shape == (2, 1, 20, 20)
    assert len(data.boxes[0]) == 0  # an image without a row: background only
    np.testing.assert_allclose(data.boxes[1], [[2.5, 2.0, 7.5, 20.0]])  # y_max cut at 40
    truth = data.ground_truth()
    np.testing.assert_allclose([truth[c][0] for c in ("x_min", "y_max")], [10.0, 40.0])
    back = data.to_file_coordinates(
        {"image": np.array(["wide.png"]), "x_min": [2.5], "y_min": [2.0], "x_max": [7.5],
         "y_max": [20.0]}
    )  # fmt: skip
    np.testing.assert_allclose(back["x_max"], [30.0])
    write_boxes_csv(
        tmp_path / "outside.csv",
        {"image": ["wide.png"], "x_min": [90.0], "y_min": [4.0], "x_max": [95.0],
         "y_max": [8.0], "label": ["face"]},
    )  # fmt: skip
    with pytest.raises(DataError, match="outside the image"):
        load_detection_folder(tmp_path, tmp_path / "outside.csv")


def test_ctrl_c_saves_a_checkpoint_and_resuming_finishes_the_same_training(scenes, tmp_path):
    """An interrupted train_detector_on_folder (SIGINT between two steps) resumes from its
    checkpoint to exactly the weights of a run never interrupted."""
    import os
    import signal

    from thalweg.models.detector_training import train_detector_on_folder
    from thalweg.train import Callback, TrainingInterrupted

    class CtrlC(Callback):
        def on_batch_end(self, state, loss):
            if state.epoch == 1 and state.batch_in_epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    options = {"channels": (4, 8, 8, 8), "max_epochs": 3, "random_state": 0}
    straight = train_detector_on_folder(scenes, scenes / "boxes.csv", **options)
    checkpoint = tmp_path / "detector.checkpoint"
    with pytest.raises(TrainingInterrupted, match="interrupted at epoch 2, step 1"):
        train_detector_on_folder(
            scenes, scenes / "boxes.csv", checkpoint=checkpoint, callbacks=[CtrlC()], **options
        )
    resumed = train_detector_on_folder(
        scenes, scenes / "boxes.csv", checkpoint=checkpoint, resume=True, **options
    )
    for mine, theirs in zip(
        resumed.model.module_.parameters(), straight.model.module_.parameters(), strict=True
    ):
        np.testing.assert_array_equal(mine.data, theirs.data)
    assert resumed.model.n_iter_ == straight.model.n_iter_ == 3
    with pytest.raises(Exception, match="other images, boxes or settings"):
        train_detector_on_folder(
            scenes, scenes / "boxes.csv", checkpoint=checkpoint, resume=True,
            **{**options, "channels": (4, 8, 8)},
        )  # fmt: skip


def test_detection_reports_render_in_headless_chromium(trained, tmp_path):
    from test_report import DevTools, check_page, find_chromium, open_in_chromium

    binary = find_chromium()
    if binary is None:
        pytest.fail("the detection report test needs Chromium (see tests/test_report.py)")
    _, report, _ = trained
    browser = DevTools(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        page = open_in_chromium(browser, report)
    finally:
        browser.close()
    images = re.findall(r'<img src="data:image/png', report.read_text())
    check_page("training report", page, len(images))  # detections, PR curve, learning curve
    assert len(images) == 3
