"""Playground generators, bundled datasets (checked against scikit-learn) and the registry."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets as skd

import thalweg
from thalweg import datasets
from thalweg.backend import manual_seed
from thalweg.errors import DataError

CLASSIFIERS = [datasets.circle, datasets.xor, datasets.gaussian, datasets.spiral]
REGRESSORS = [datasets.plane, datasets.gaussian_regression]
GENERATORS = CLASSIFIERS + REGRESSORS


# -- generators ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", CLASSIFIERS, ids=lambda f: f.__name__)
def test_classification_generator_shapes_dtypes_and_binary_labels(make):
    X, y, names = make(n=101, noise=0.2, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(np.unique(y).tolist()) == {0, 1}
    assert names == ["x1", "x2"]
    assert np.isfinite(X).all()


@pytest.mark.parametrize("make", REGRESSORS, ids=lambda f: f.__name__)
def test_regression_generator_shapes_and_float32_targets(make):
    X, y, names = make(n=50, noise=0.3, seed=0)
    assert X.shape == (50, 2) and X.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.float32
    assert names == ["x1", "x2"]


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_are_deterministic_by_seed(make):
    a = make(n=64, noise=0.25, seed=42)
    b = make(n=64, noise=0.25, seed=42)
    c = make(n=64, noise=0.25, seed=43)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_generators_without_seed_follow_thalweg_manual_seed():
    manual_seed(9)
    a = datasets.spiral(n=20, noise=0.5)
    manual_seed(9)
    b = datasets.spiral(n=20, noise=0.5)
    assert np.array_equal(a[0], b[0])


@pytest.mark.parametrize("make", [datasets.circle, datasets.gaussian, datasets.spiral])
def test_two_class_generators_make_half_of_each_label_without_noise(make):
    _, y, _ = make(n=500, seed=1)
    assert int(y.sum()) == 250
    _, y, _ = make(n=7, seed=1)
    assert int(y.sum()) == 4  # the positive class gets the odd point


def test_xor_labels_are_roughly_balanced():
    _, y, _ = datasets.xor(n=2000, seed=0)
    assert 0.45 < y.mean() < 0.55


def test_rows_are_shuffled_not_grouped_by_class():
    _, y, _ = datasets.spiral(n=200, seed=0)
    assert 0 < y[:100].sum() < 100


def test_circle_without_noise_puts_class_1_inside_radius_2_5_and_class_0_outside_3_5():
    X, y, _ = datasets.circle(n=400, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert (r[y == 1] < 2.5).all()
    assert ((r[y == 0] >= 3.5 - 1e-5) & (r[y == 0] <= 5 + 1e-5)).all()


def test_circle_noise_flips_some_labels_but_not_the_points():
    X0, _, _ = datasets.circle(n=1000, noise=0.0, seed=0)
    X, y, _ = datasets.circle(n=1000, noise=0.5, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.array_equal(X, X0)  # noise never moves a point, it only decides its label
    flipped = ((r < 2.5) & (y == 0)) | ((r >= 3.5) & (y == 1))
    assert 0 < flipped.sum() < 500


def test_xor_without_noise_labels_by_sign_of_product_and_pads_the_axes():
    X, y, _ = datasets.xor(n=500, seed=0)
    assert np.array_equal(y, (X[:, 0] * X[:, 1] >= 0).astype(np.int64))
    assert (np.abs(X) >= 0.3 - 1e-6).all() and (np.abs(X) <= 5.3 + 1e-5).all()


def test_gaussian_clusters_are_centred_at_plus_and_minus_two():
    X, y, _ = datasets.gaussian(n=4000, seed=0)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2, 2], atol=0.1)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-2, -2], atol=0.1)
    np.testing.assert_allclose(X[y == 1].var(axis=0), [0.5, 0.5], rtol=0.1)


def test_gaussian_noise_widens_the_clusters_as_in_the_playground():
    X, y, _ = datasets.gaussian(n=4000, noise=0.5, seed=0)
    np.testing.assert_allclose(X[y == 1].var(axis=0), [4.0, 4.0], rtol=0.1)


def test_spiral_without_noise_has_radius_growing_to_five():
    X, _, _ = datasets.spiral(n=500, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() == 0.0 and 4.9 < r.max() < 5.0


def test_plane_target_is_sum_over_ten_without_noise():
    X, y, _ = datasets.plane(n=200, seed=0)
    np.testing.assert_allclose(y, X.sum(axis=1) / 10, atol=1e-6)
    _, y_noisy, _ = datasets.plane(n=200, noise=0.5, seed=0)
    assert not np.allclose(y_noisy, y)


def test_gaussian_regression_target_peaks_at_the_bump_centres():
    X, y, _ = datasets.gaussian_regression(n=2000, seed=0)
    assert (np.abs(y) <= 1).all()
    # within 0.4 of a centre the bump is above 1 - 0.4 / 2 = 0.8 in magnitude
    near = np.hypot(X[:, 0] - 4, X[:, 1] - 2.5) < 0.4  # the bump at (4, 2.5) is positive
    assert near.any() and (y[near] > 0.79).all()
    near = np.hypot(X[:, 0], X[:, 1] - 2.5) < 0.4  # the bump at (0, 2.5) is negative
    assert near.any() and (y[near] < -0.79).all()


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_reject_noise_outside_zero_to_one(make):
    with pytest.raises(DataError, match="noise is a fraction between 0 and 1"):
        make(n=10, noise=1.5)


@pytest.mark.parametrize("make", GENERATORS, ids=lambda f: f.__name__)
def test_generators_reject_a_non_integer_or_too_small_n(make):
    with pytest.raises(DataError, match="n must be an integer"):
        make(n=0)
    with pytest.raises(DataError, match="n must be an integer"):
        make(n=10.5)


# -- bundled datasets ---------------------------------------------------------------------

BUNDLED = [
    # (our loader, scikit-learn's loader, shape, y dtype, classes or None)
    (datasets.load_diabetes, lambda: skd.load_diabetes(scaled=False), (442, 10), np.float32, None),
    (datasets.load_breast_cancer, skd.load_breast_cancer, (569, 30), np.int64, [212, 357]),
    (datasets.load_wine, skd.load_wine, (178, 13), np.int64, [59, 71, 48]),
    (datasets.load_iris, skd.load_iris, (150, 4), np.int64, [50, 50, 50]),
]


@pytest.mark.parametrize(("load", "oracle", "shape", "y_dtype", "counts"), BUNDLED)
def test_bundled_dataset_shapes_dtypes_and_class_counts(load, oracle, shape, y_dtype, counts):
    X, y, names = load()
    assert X.shape == shape and X.dtype == np.float32
    assert y.shape == (shape[0],) and y.dtype == y_dtype
    assert len(names) == shape[1]
    if counts is not None:
        assert np.bincount(y).tolist() == counts


@pytest.mark.parametrize(("load", "oracle", "shape", "y_dtype", "counts"), BUNDLED)
def test_bundled_dataset_equals_scikit_learn_copy(load, oracle, shape, y_dtype, counts):
    X, y, _ = load()
    reference = oracle()
    np.testing.assert_array_equal(X[:5], reference.data[:5].astype(np.float32))  # first rows
    np.testing.assert_allclose(X, reference.data, rtol=1e-6)  # and every row, to float32
    assert np.array_equal(y, reference.target.astype(y_dtype))


@pytest.mark.parametrize(("load", "oracle", "shape", "y_dtype", "counts"), BUNDLED)
def test_bundled_feature_names_are_scikit_learn_names_in_snake_case(
    load, oracle, shape, y_dtype, counts
):
    _, _, names = load()
    expected = [re.sub(r"[^a-z0-9]+", "_", n.lower()).strip("_") for n in oracle().feature_names]
    assert names == expected
    assert all(name.isidentifier() for name in names)


# -- registry -----------------------------------------------------------------------------


def test_list_datasets_describes_every_generator_and_bundled_file():
    records = {d.name: d for d in datasets.list_datasets()}
    assert set(records) == {
        "circle",
        "xor",
        "gaussian",
        "spiral",
        "plane",
        "gaussian_regression",
        "diabetes",
        "breast_cancer",
        "wine",
        "iris",
        "digits",
        "faces",
        "shapes",
        "faces_scenes",
        "scenes",
        "smiles",
    }
    assert records["scenes"].kind == "detection" and records["faces_scenes"].source == "extra"
    assert records["digits"].image_shape == (8, 8) and records["faces"].source == "extra"
    assert records["wine"].kind == "classification" and records["wine"].n_classes == 3
    assert records["diabetes"].kind == "regression" and records["diabetes"].n_classes is None
    assert records["spiral"].source == "generator" and records["iris"].source == "bundled"
    assert all(d.description and "\n" not in d.description for d in records.values())
    json.dumps([d.to_dict() for d in records.values()])  # small, serialisable records


def test_list_datasets_records_match_what_loading_returns():
    for info in datasets.list_datasets():
        if info.source == "extra" and importlib.util.find_spec("skimage") is None:
            continue
        X, y, names = datasets.load(info.name)
        shape = info.image_shape or (info.n_features,)
        assert X.shape == (info.n_samples, *shape), info.name
        if info.kind == "classification":
            assert len(np.unique(y)) == info.n_classes == len(info.target_names), info.name
        elif info.kind == "detection":  # y: the box table, one row per object
            assert set(y["label"].tolist()) == set(info.target_names), info.name
            assert set(y["image"].tolist()) <= set(names), info.name
        else:
            assert y.dtype == np.float32


def test_load_dispatches_with_options_to_generators():
    X, y, _ = datasets.load("spiral", n=30, noise=0.1, seed=4)
    X2, y2, _ = datasets.spiral(n=30, noise=0.1, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)


def test_load_names_are_case_insensitive_and_accept_hyphens():
    X, _, _ = datasets.load("Breast-Cancer")
    assert X.shape == (569, 30)


def test_load_unknown_name_raises_data_error_listing_available_names():
    with pytest.raises(DataError, match="unknown dataset 'mnist'; available: circle, xor"):
        datasets.load("mnist")


def test_load_rejects_options_for_bundled_files_and_unknown_generator_options():
    with pytest.raises(DataError, match="takes no options; got n"):
        datasets.load("wine", n=10)
    with pytest.raises(DataError, match="unknown radius"):
        datasets.load("circle", radius=3)


def test_importing_data_tools_does_not_import_pandas():
    code = (
        "import sys, thalweg.data, thalweg.datasets;"
        "print([m for m in ('pandas', 'pyarrow', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_data_packages_import_only_numpy_stdlib_errors_and_backend():
    # Layer 2 rule from DESIGN.md: data tools never need the autodiff engine. They may use
    # layer 0 (thalweg.files: atomic writes; thalweg.schema: header checks; thalweg.limits:
    # memory checks), pyarrow (the file reader thalweg depends on), the NumPy-only
    # detection package (its box CSV format, for the detection scenes), Pillow (to write
    # images, imported when writing), and fsspec (object stores, imported only when a URL
    # is read: thalweg.data.filesystems).
    allowed_thalweg = (
        "thalweg.errors",
        "thalweg.backend",
        "thalweg.files",
        "thalweg.schema",
        "thalweg.limits",
        "thalweg.data",
        "thalweg.datasets",
        "thalweg.detection",
    )
    root = Path(thalweg.__file__).parent
    for path in [*root.joinpath("data").glob("*.py"), *root.joinpath("datasets").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top == "thalweg":
                    assert module.startswith(allowed_thalweg), f"{path.name} imports {module}"
                else:
                    # (PIL: Pillow, imported lazily by data/images.py; fsspec: URLs)
                    allowed = ("numpy", "pyarrow", "PIL", "fsspec")
                    assert top in allowed or top in sys.stdlib_module_names, (
                        f"{path.name} imports {module}"
                    )
