"""Image data: datasets, folders of class sub-folders, augmentations, augmented batches."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from thalweg.data import ImageFolder, read_image, write_image, write_image_folder
from thalweg.data.augment import AUGMENTATIONS, Augmenter, warp
from thalweg.datasets import load, load_digits, load_faces, shapes
from thalweg.errors import DataError, FileFormatError, ShapeError
from thalweg.train.augmented import AugmentedBatches

# ---------------------------------------------------------------------- datasets


def test_digits_are_scikit_learns_exactly_scaled_to_one():
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels, names = load_digits()
    reference = sklearn_digits()
    np.testing.assert_array_equal(images * 16, reference.images.astype(np.float32))
    np.testing.assert_array_equal(labels, reference.target)
    assert names == [str(d) for d in range(10)] and images.dtype == np.float32


@pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="thalweg[faces]")
def test_faces_are_scikit_images_lfw_subset_with_faces_labelled_one():
    from skimage.data import lfw_subset

    images, labels, names = load_faces()
    np.testing.assert_array_equal(images, lfw_subset().astype(np.float32))
    assert labels[:100].tolist() == [1] * 100 and labels[100:].tolist() == [0] * 100
    assert names[1] == "face"


def test_shapes_are_reproducible_balanced_and_bounded():
    a, y, names = shapes(n=30, size=10, noise=0.2, seed=3)
    b, _, _ = shapes(n=30, size=10, noise=0.2, seed=3)
    np.testing.assert_array_equal(a, b)
    assert np.bincount(y).tolist() == [10, 10, 10] and names == ["circle", "square", "triangle"]
    assert a.min() >= 0 and a.max() <= 1 and a.shape == (30, 10, 10)
    clean, labels, _ = shapes(n=3, size=16, noise=0.0, seed=0)
    areas = {int(label): (image > 0).mean() for image, label in zip(clean, labels, strict=True)}
    assert 0 < min(areas.values()) < 0.6  # shapes, not empty or full images
    with pytest.raises(DataError, match="size must be at least 8"):
        load("shapes", size=4)


# ---------------------------------------------------------------------- folders


def make_folder(root, classes=("cat", "dog"), per_class=3, size=(6, 5), rgb=False):
    rng = np.random.default_rng(0)
    for name in classes:
        for i in range(per_class):
            shape = (3, *size) if rgb else size
            write_image(root / name / f"{i}.png", rng.random(shape))
    return root


def test_image_folder_reads_classes_files_and_pixels(tmp_path):
    root = make_folder(tmp_path)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / ".cache").mkdir()
    folder = ImageFolder(root)
    assert folder.classes == ["cat", "dog"] and len(folder) == 6
    assert folder.image_shape == (1, 6, 5) and folder.color == "grayscale"
    X, y = folder.load()
    assert X.shape == (6, 1, 6, 5) and y.tolist() == [0, 0, 0, 1, 1, 1]
    np.testing.assert_allclose(X[0], read_image(root / "cat" / "0.png"))
    # PNG keeps 8 bits: what was written comes back to within half a level.
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(X[0, 0], rng.random((6, 5)), atol=0.5 / 255 + 1e-6)


def test_image_folder_resizes_detects_colour_and_pipelines_in_worker_processes(tmp_path):
    root = make_folder(tmp_path, rgb=True)
    folder = ImageFolder(root, size=8)
    assert folder.color == "rgb" and folder.image_shape == (3, 8, 8)
    X, y = folder.load()
    cache = tmp_path / "cache"
    X_workers, y_workers = folder.load(workers=1, cache=cache)
    np.testing.assert_array_equal(X, X_workers)
    np.testing.assert_array_equal(y, y_workers)
    assert (cache / "manifest.json").exists()
    pipe = folder.pipeline(batch_size=4, seed=0)
    batches = list(pipe)
    assert [len(b[0]) for b in batches] == [4, 2]


def test_image_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        ImageFolder(tmp_path / "missing")
    make_folder(tmp_path / "one", classes=("only",))
    with pytest.raises(DataError, match="at least two class sub-folders"):
        ImageFolder(tmp_path / "one")
    root = make_folder(tmp_path / "bad")
    (root / "dog" / "9.png").write_bytes(b"not a png")
    folder = ImageFolder(root)
    with pytest.raises(FileFormatError, match=r"9\.png"):
        folder.load()


def test_write_image_folder_round_trips_through_image_folder(tmp_path):
    images, labels, names = shapes(n=9, size=8, noise=0.0, seed=1)
    assert write_image_folder(tmp_path, images, labels, names) == 9
    X, y = ImageFolder(tmp_path).load()
    order = np.argsort(labels, kind="stable")
    np.testing.assert_allclose(X[:, 0], images[order], atol=0.5 / 255 + 1e-6)
    assert y.tolist() == labels[order].tolist()
    with pytest.raises(ShapeError, match=r"\(n, H, W\) or \(n, C, H, W\)"):
        write_image_folder(tmp_path, np.zeros((2, 3)), [0, 1], names)


# ---------------------------------------------------------------------- augmentations


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentations_are_pure_reproducible_and_keep_shape_and_range(name):
    fn = AUGMENTATIONS[name]
    images = np.random.default_rng(0).random((5, 2, 9, 7), dtype=np.float32)
    before = images.copy()
    a = fn(images, np.random.default_rng(1))
    b = fn(images, np.random.default_rng(1))
    np.testing.assert_array_equal(images, before)  # the input is untouched
    np.testing.assert_array_equal(a, b)  # same generator state, same result
    assert a.shape == images.shape and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    assert not np.array_equal(fn(images, np.random.default_rng(2)), a) or name == "flip"
    single = fn(images[0], np.random.default_rng(1))
    assert single.shape == images[0].shape


def test_geometric_warp_is_exact_for_the_identity_and_whole_pixel_shifts():
    images = np.random.default_rng(0).random((2, 1, 6, 6), dtype=np.float32)
    identity = np.zeros((2, 2, 3))
    identity[:, 0, 0] = identity[:, 1, 1] = 1
    np.testing.assert_allclose(warp(images, identity), images, atol=1e-6)
    shift = identity.copy()
    shift[:, 0, 2] = -1  # read one pixel to the left: the picture moves right
    moved = warp(images, shift)
    np.testing.assert_allclose(moved[..., 1:], images[..., :-1], atol=1e-6)
    np.testing.assert_allclose(moved[..., 0], images[..., 0], atol=1e-6)  # edge replicated


def test_hard_camera_conditions_do_what_their_names_say():
    rng = np.random.default_rng(0)
    images = rng.random((16, 1, 16, 16), dtype=np.float32)
    assert AUGMENTATIONS["low_contrast"](images, rng).std() < 0.7 * images.std()
    crushed = AUGMENTATIONS["crushed_shadows"](images, rng)
    assert (crushed == 0).mean() > 0.1 and crushed.mean() < images.mean()
    grey = np.full((8, 1, 17, 17), 0.5, np.float32)
    lit = AUGMENTATIONS["backlit"](grey, rng)
    assert np.all(lit[:, 0, 6:11, 6:11].mean(axis=(1, 2)) < lit[:, 0, 0, :].mean(axis=1))
    stripes = np.zeros((4, 1, 16, 16), np.float32)
    stripes[..., ::2] = 1.0
    blurred = AUGMENTATIONS["motion_blur"](stripes, rng)
    assert np.abs(np.diff(blurred, axis=-1)).mean() < np.abs(np.diff(stripes, axis=-1)).mean()
    dark, bright = np.full((64, 1, 8, 8), 0.1, np.float32), np.full((64, 1, 8, 8), 0.8, np.float32)
    noisy_dark = AUGMENTATIONS["sensor_noise"](dark, np.random.default_rng(5))
    noisy_bright = AUGMENTATIONS["sensor_noise"](bright, np.random.default_rng(5))
    assert noisy_bright[noisy_bright < 1].std() > noisy_dark[noisy_dark < 1].std()  # shot noise


def test_augmenter_presets_names_and_errors():
    assert Augmenter("none").names == [] and not Augmenter("none")
    assert "backlit" in Augmenter("robust").names
    assert Augmenter("flip,noise").names == ["flip", "noise"]
    with pytest.raises(ValueError, match="unknown augmentation 'sepia'"):
        Augmenter(["sepia"])
    images = np.random.default_rng(0).random((6, 1, 5, 5), dtype=np.float32)
    unchanged = Augmenter("noise", probability=0)(images, np.random.default_rng(0))
    np.testing.assert_array_equal(unchanged, images)


def test_augmented_batches_resume_mid_epoch_exactly_and_report_their_time():
    X = np.random.default_rng(0).random((10, 1, 6, 6), dtype=np.float32)
    y = np.arange(10)
    source = AugmentedBatches(X, y, augmenter=Augmenter(["rotate", "noise"]), batch_size=3)
    whole = list(source.epoch_batches(np.random.default_rng(7)))
    resumed = list(source.epoch_batches(np.random.default_rng(7), skip=2))
    assert len(whole) == 4 and len(resumed) == 2
    for (Xa, ya), (Xb, yb) in zip(whole[2:], resumed, strict=True):
        np.testing.assert_array_equal(Xa, Xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.allclose(whole[0][0], X[whole[0][1]])  # augmented, labels kept with rows
    stats = source.input_stats()
    assert stats["examples"] == 10 + 4 and stats["seconds"] > 0  # a whole epoch, then 3 + 1
