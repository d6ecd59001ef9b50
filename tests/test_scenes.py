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
