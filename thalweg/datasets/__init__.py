"""Datasets: TensorFlow-Playground generators, small real tables shipped in the package, and
small image sets (digits, faces, shapes, smiles).

Every dataset comes back as ``(X, y, feature_names)``; see ``docs/datasets.md``.

>>> from thalweg.datasets import load
>>> X, y, names = load("circle", n=100, noise=0.1, seed=0)
"""

from thalweg.datasets.bundled import load_breast_cancer, load_diabetes, load_iris, load_wine
from thalweg.datasets.images import load_digits, load_faces, shapes, smiles
from thalweg.datasets.playground import (
    circle,
    gaussian,
    gaussian_regression,
    plane,
    spiral,
    xor,
)
from thalweg.datasets.registry import (
    DatasetInfo,
    dataset_key,
    export_images,
    is_detection_dataset,
    is_image_dataset,
    list_datasets,
    load,
    load_table,
)

__all__ = [
    "DatasetInfo",
    "circle",
    "dataset_key",
    "export_images",
    "gaussian",
    "gaussian_regression",
    "is_detection_dataset",
    "is_image_dataset",
    "list_datasets",
    "load",
    "load_breast_cancer",
    "load_diabetes",
    "load_digits",
    "load_faces",
    "load_iris",
    "load_table",
    "load_wine",
    "plane",
    "shapes",
    "smiles",
    "spiral",
    "xor",
]
