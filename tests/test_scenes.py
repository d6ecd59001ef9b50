"""Synthetic detection scenes: objects where the boxes say, sizes and counts as asked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from thalweg.datasets.scenes import compose_scenes, make_scenes, write_scenes
from thalweg.detection import read_boxes_csv


@pytest.mark.parametrize("objects", ["faces", "shapes"])
def test_scenes_have_zero_to_three_objects_of_the_asked_sizes_inside_the_image(objects):
    images, boxes = make_scenes(60, objects=objects, seed=1)
    assert images.shape == (60, 96, 96) and images.dtype == np.uint8
    counts = np.unique(boxes["image"], return_counts=True)[1]
    assert counts.max() <= 3 and len(counts) < 60  # some scenes have no object at all
    sides = np.maximum(boxes["x_max"] - boxes["x_min"], boxes["y_max"] - boxes["y_min"])
    assert sides.min() >= 12 and sides.max() <= 48
    assert boxes["x_min"].min() >= 0 and boxes["x_max"].max() <= 96
    expected = {"face"} if objects == "faces" else {"circle", "square", "triangle"}
    assert set(boxes["label"].tolist()) <= expected
    again, again_boxes = make_scenes(60, objects=objects, seed=1)
    np.testing.assert_array_equal(images, again)  # deterministic for a seed
    np.testing.assert_array_equal(boxes["x_min"], again_boxes["x_min"])


def test_pasted_pixels_are_exactly_inside_the_boxes():
    crops = np.ones((1, 10, 10))
    backgrounds = np.zeros((1, 40, 40))
    images, boxes = compose_scenes(
        crops, ["thing"], 20, np.random.default_rng(0), backgrounds=backgrounds,
        image_size=40, sizes=(5, 15),
    )  # fmt: skip
    for k in range(20):
        inside = np.zeros((40, 40), bool)
        for r in np.flatnonzero(boxes["image"] == f"scene_{k:04d}.png"):
            x0, y0, x1, y1 = (int(boxes[c][r]) for c in ("x_min", "y_min", "x_max", "y_max"))
            inside[y0:y1, x0:x1] = True
        assert (images[k][inside] > 200).all() and (images[k][~inside] < 55).all()


def test_write_scenes_writes_pngs_and_a_boxes_csv_that_reads_back(tmp_path):
    csv_path = write_scenes(tmp_path / "scenes", 5, seed=2)
    table = read_boxes_csv(csv_path)
    images, boxes = make_scenes(5, seed=2)
    np.testing.assert_array_equal(table["x_min"], boxes["x_min"])
    assert sorted(p.name for p in (tmp_path / "scenes").glob("*.png")) == [
        f"scene_{k:04d}.png" for k in range(5)
    ]
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "scenes/scene_0003.png")), images[3]
    )


def test_face_scenes_paste_the_asked_part_of_the_photographs(monkeypatch):
    """part="train" draws faces and clutter from the first 80 photographs, "test" from the
    last 20: every pasted pixel comes from its part's photographs (marked by value)."""
    from thalweg.datasets import images as image_datasets
    from thalweg.datasets.scenes import face_scenes

    photos = np.concatenate([np.full((100, 25, 25), 0.9), np.full((100, 25, 25), 0.1)])
    photos[80:100], photos[180:200] = 0.6, 0.3  # the test part's faces and clutter
    photos = photos.astype(np.float32)
    labels = np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]
    monkeypatch.setattr(image_datasets, "load_faces", lambda: (photos, labels, ["n", "f"]))
    for part, face, clutter in (("train", 0.9, 0.1), ("test", 0.6, 0.3)):
        scenes, boxes = face_scenes(12, part=part, seed=4)
        pixels = scenes / 255  # with N(0, 0.03) noise: within 0.15 of the pasted value
        for k in range(12):
            inside = np.zeros((96, 96), bool)
            for r in np.flatnonzero(boxes["image"] == f"scene_{k:04d}.png"):
                x0, y0, x1, y1 = (int(boxes[c][r]) for c in ("x_min", "y_min", "x_max", "y_max"))
                inside[y0:y1, x0:x1] = True
            if inside.any():
                assert np.mean(np.abs(pixels[k][inside] - face) < 0.15) > 0.999
            assert np.mean(np.abs(pixels[k][~inside] - clutter) < 0.15) > 0.999
        sides = boxes["x_max"] - boxes["x_min"]
        assert 12 <= sides.min() and sides.max() <= 48 and set(boxes["label"]) == {"face"}
    again, _ = face_scenes(12, part="test", seed=4)
    np.testing.assert_array_equal(scenes, again)
    with pytest.raises(ValueError, match="part must be one of all, train, test"):
        face_scenes(2, part="validation")
