"""Datasets: TensorFlow-Playground generators and small real tables shipped in the package.

Every dataset comes back as ``(X, y, feature_names)``; see ``docs/datasets.md``.

>>> from thalweg.datasets import load
>>> X, y, names = load("circle", n=100, noise=0.1, seed=0)
"""

from thalweg.datasets.bundled import load_breast_cancer, load_diabetes, load_iris, load_wine
from thalweg.datasets.playground import (
    circle,
    gaussian,
    gaussian_regression,
    plane,
    spiral,
    xor,
)
from thalweg.datasets.registry import DatasetInfo, dataset_key, list_datasets, load, load_table

__all__ = [
    "DatasetInfo",
    "circle",
    "dataset_key",
    "gaussian",
    "gaussian_regression",
    "list_datasets",
    "load",
    "load_breast_cancer",
    "load_diabetes",
    "load_iris",
    "load_table",
    "load_wine",
    "plane",
    "spiral",
    "xor",
]
