"""Skew for image models: image statistics recorded at training, compared by `thalweg skew`.

The smile bot's story: sharp photos cropped to the face at training, dim uncropped
device captures in use. Shifts are injected (darkened, blurred, uncropped images) and
must be flagged on the statistic that moved; unshifted samples must not be flagged.
"""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error
from scipy import ndimage

from thalweg.data.images import write_image_folder
from thalweg.datasets import smiles
from thalweg.errors import DataError, FileFormatError
from thalweg.files import read_container
from thalweg.io import write_csv
from thalweg.models import CNNClassifier, LinearRegression, load_model
from thalweg.models.monitoring import model_skew
from thalweg.models.tabular import TabularModel
from thalweg.monitoring import IMAGE_STATISTICS, image_profile, image_statistics
from thalweg.monitoring.images import intensity, laplacian_variance, subject_share

LAYERS = ("conv4", "pool", "dense8")


@pytest.fixture(scope="module")
def model():
    X, y, _ = smiles(n=400, seed=0)
    X_val, y_val, _ = smiles(n=100, seed=100)
    return CNNClassifier(layers=LAYERS, max_epochs=3, tol=None, random_state=0).fit(
        X, y, validation=(X_val, y_val)
    )


def blurred(images):
    """A 3×3 box blur (edges repeated): an out-of-focus camera."""
    return ndimage.uniform_filter(images, size=(1, 3, 3), mode="nearest")


# ----------------------------------------------------------------- the statistics themselves


def test_statistics_match_independent_computations():
    rng = np.random.default_rng(0)
    images = rng.random((5, 3, 9, 11))
    gray = intensity(images)
    # BT.601 luma, as Pillow converts RGB to L (Pillow rounds to whole 0-255 values).
    from PIL import Image

    pixels = (images[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    pillow = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.float64)
    ours = intensity(pixels.transpose(2, 0, 1)[None].astype(np.float64))[0]
    assert np.abs(pillow - ours).max() <= 0.5 + 1e-9
    stats = image_statistics(images)
    np.testing.assert_allclose(stats["brightness"], gray.mean(axis=(1, 2)))
    np.testing.assert_allclose(stats["contrast"], [g.std() for g in gray])
    # scipy's Laplacian uses the same 4-neighbour kernel; its border pixels are dropped.
    reference = [ndimage.laplace(g)[1:-1, 1:-1].var() for g in gray]
    np.testing.assert_allclose(stats["sharpness"], reference, rtol=1e-12)
    np.testing.assert_allclose(laplacian_variance(gray), reference, rtol=1e-12)


def test_subject_share_is_the_box_holding_the_middle_of_the_edge_energy():
    frame = np.zeros((3, 20, 20))
    frame[0, 5:15, 5:15] = 1.0  # a square in the middle: edges on rows/cols 4..14 of 19
    frame[1, 8:12, 2:18] = 1.0  # a wide bar: rows 7..11, columns 1..17
    share = subject_share(frame)
    assert share[0] == pytest.approx((11 / 19) ** 2)
    assert share[1] == pytest.approx((5 / 19) * (17 / 19))
    assert np.isnan(share[2])  # a flat image has no edges: missing, never a number
    # Darkening scales every edge alike: the box does not move.
    faces = smiles(n=50, seed=3)[0]
    np.testing.assert_allclose(subject_share(0.4 * faces), subject_share(faces), rtol=1e-9)
    # The same faces small in a bigger frame: a smaller subject.
    far = smiles(n=50, frame=2.5, seed=3)[0]
    assert np.median(subject_share(far)) < 0.5 * np.median(subject_share(faces))


def test_smiles_draws_cropped_or_uncropped_dim_faces_and_refuses_nonsense():
    faces, labels, names = smiles(n=40, size=16, seed=0)
    assert (
        faces.shape == (40, 16, 16) and faces.dtype == np.float32 and names == ["neutral", "smile"]
    )
    assert np.bincount(labels).tolist() == [20, 20]
    np.testing.assert_array_equal(faces, smiles(n=40, size=16, seed=0)[0])  # reproducible
    dim = smiles(n=40, size=16, light=0.4, noise=0.0, seed=0)[0]
    assert dim.max() <= 0.4 + 1e-6
    for bad in ({"size": 8}, {"frame": 0.5}, {"light": 2.0}, {"n": 0}):
        with pytest.raises(DataError):
            smiles(**bad)


def test_the_profile_is_bounded_whatever_the_image_count():
    small = json.dumps(image_profile(smiles(n=100, seed=1)[0]))
    large = json.dumps(image_profile(smiles(n=2000, seed=2)[0]))
    assert len(large) < 20_000 and len(large) < 1.3 * len(small)


# ----------------------------------------------------------------- shifts, through the model


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_unshifted_samples_of_the_training_distribution_are_not_flagged(model, seed):
    report = model_skew(model, smiles(n=200, seed=seed)[0])
    assert report.flagged == [] and report.unit == "images"
    assert [f.name for f in report.features] == list(IMAGE_STATISTICS)


def test_injected_shifts_are_flagged_on_the_statistic_that_moved(model):
    held_out = smiles(n=200, seed=21)[0]
    dark = model_skew(model, 0.4 * held_out).flagged
    assert "brightness" in dark and "subject_share" not in dark
    blur = model_skew(model, blurred(held_out)).flagged
    assert "sharpness" in blur and "brightness" not in blur
    uncropped = model_skew(model, smiles(n=200, frame=2.0, light=1.0, seed=21)[0])
    assert "subject_share" in uncropped.flagged
    by_name = {f.name: f for f in uncropped.features}
    assert by_name["subject_share"].mean_shift < -1  # the face takes less of the frame


def test_the_model_file_keeps_the_image_statistics_and_refuses_damaged_ones(model, tmp_path):
    model.save(tmp_path / "smiles.thalweg")
    loaded = load_model(tmp_path / "smiles.thalweg")
    assert loaded.image_statistics_ == model.image_statistics_
    assert loaded.prediction_statistics_["source"] == "validation"
    assert loaded.prediction_statistics_["count"] == 100
    arrays, meta = read_container(tmp_path / "smiles.thalweg")
    profile = meta["state"]["image_statistics_"]["value"]["sharpness"]
    profile["histogram"]["counts"] = profile["histogram"]["counts"][:-1]
    from safetensors.numpy import save

    damaged = tmp_path / "damaged.thalweg"
    damaged.write_bytes(save(arrays, metadata={"thalweg": json.dumps(meta)}))
    with pytest.raises(FileFormatError, match=r"image_statistics_\.sharpness"):
        load_model(damaged)


def test_images_and_tables_are_not_mixed_up(model):
    rng = np.random.default_rng(0)
    table = TabularModel(LinearRegression()).fit(
        {"x": rng.normal(size=50), "y": rng.normal(size=50)}, "y"
    )
    with pytest.raises(DataError, match="table rows"):
        model_skew(table, smiles(n=10, seed=0)[0])
    with pytest.raises(DataError, match="image model"):
        model_skew(model, {"x": np.zeros(3)})
    untrained_stats = CNNClassifier(layers=LAYERS, max_epochs=1, tol=None)
    untrained_stats.partial_fit(smiles(n=20, seed=0)[0], np.arange(20) % 2, classes=[0, 1])
    with pytest.raises(DataError, match="no training image statistics"):
        model_skew(untrained_stats, smiles(n=20, seed=1)[0])


# ----------------------------------------------------------------- thalweg skew MODEL IMAGES/


def test_skew_command_compares_folders_of_images(cli, tmp_path, model):
    model.save(tmp_path / "smiles.thalweg")
    same, labels, names = smiles(n=150, seed=31)
    write_image_folder(tmp_path / "same", same, labels, names)
    captures, labels, names = smiles(n=150, frame=2.0, light=0.4, seed=32)
    write_image_folder(tmp_path / "captures", captures, labels, names)

    calm = cli("skew", "smiles.thalweg", "same", "--fail-on-skew", "--json")
    assert calm.code == 0 and calm.json["flagged"] == [] and calm.json["unit"] == "images"
    assert calm.json["rows"] == 150
    alarm = cli("skew", "smiles.thalweg", "captures", "--fail-on-skew", "--report", "skew.html")
    assert alarm.code == 3 and "150 images of captures" in alarm.out
    assert "brightness" in alarm.out and "subject_share" in alarm.out
    page = (tmp_path / "skew.html").read_text()
    assert "subject_share (flagged)" in page and "150 images of" in page
    bright = cli(
        "skew", "smiles.thalweg", "captures", "--feature-threshold", "brightness=1", "--json"
    )
    assert bright.code == 0
    features = {f["name"]: f for f in bright.json["features"]}
    assert features["brightness"]["threshold"] == 1.0
    shown = cli("inspect", "smiles.thalweg", "--json").json["image_statistics"]
    assert shown["brightness"]["count"] == 400
    assert shown["brightness"]["median"] == model.image_statistics_["brightness"]["quantiles"][50]


def test_skew_command_answers_mixed_up_inputs_in_one_line(cli, tmp_path, model):
    model.save(tmp_path / "smiles.thalweg")
    rng = np.random.default_rng(0)
    rows = {"x": rng.normal(size=50), "y": rng.normal(size=50)}
    TabularModel(LinearRegression()).fit(rows, "y").save(tmp_path / "table.thalweg")
    write_csv(tmp_path / "rows.csv", rows)
    images, labels, names = smiles(n=6, seed=0)
    write_image_folder(tmp_path / "photos", images, labels, names)

    assert_one_line_error(cli("skew", "smiles.thalweg", "rows.csv"), "rows.csv", "image model")
    assert_one_line_error(cli("skew", "table.thalweg", "photos"), "photos", "table model")
    one = str(next((tmp_path / "photos" / "smile").iterdir()))
    assert_one_line_error(cli("skew", "table.thalweg", one), "table model")
    offline = ("--offline", "rows.csv")
    assert_one_line_error(cli("skew", "smiles.thalweg", "photos", *offline), "--offline")
    nope = ("--feature-threshold", "nope=0.1")
    assert_one_line_error(cli("skew", "smiles.thalweg", "photos", *nope), "nope")
    few = cli("skew", "smiles.thalweg", "photos")
    assert few.code == 0 and "only 6 images" in few.out
