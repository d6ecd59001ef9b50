"""Small real tabular datasets shipped inside the package as gzipped CSV.

Each file in ``thalweg/datasets/data/`` has a header of feature names followed by a
``target`` column, and holds the values exactly as scikit-learn's own copies do (see
``docs/datasets.md`` for sources, citations and licences). Loaders read them with
:mod:`importlib.resources`, so they work from a wheel, a zip or a source checkout.
"""

from __future__ import annotations

import gzip
import io
from importlib import resources

import numpy as np

from thalweg.errors import FileFormatError

__all__ = ["load_breast_cancer", "load_diabetes", "load_iris", "load_wine"]

Dataset = tuple[np.ndarray, np.ndarray, list[str]]


def _read_csv(filename: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features (float64), target column (float64) and feature names of a bundled file."""
    resource = resources.files("thalweg.datasets").joinpath("data", filename)
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as text:
        content = text.read()
    header, _, body = content.partition("\n")
    names = header.strip().split(",")
    if not names or names[-1] != "target":
        raise FileFormatError(f"bundled file {filename} is damaged: no 'target' column")
    table = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape[1] != len(names):
        raise FileFormatError(f"bundled file {filename} is damaged: ragged rows")
    return table[:, :-1], table[:, -1], names[:-1]


def _classification(filename: str) -> Dataset:
    X, y, names = _read_csv(filename)
    return X.astype(np.float32), y.astype(np.int64), names


def load_diabetes() -> Dataset:
    """Diabetes progression (Efron et al. 2004): 442 patients, 10 features, regression.

    Features are in their original units (age in years, sex coded 1/2, BMI, blood
    pressure, six serum measurements s1..s6); scikit-learn's ``load_diabetes`` scales them
    by default, ``load_diabetes(scaled=False)`` gives these values. The target is a
    measure of disease progression one year after baseline (25 to 346).

    Returns
    -------
    X : ndarray of shape (442, 10), float32
    y : ndarray of shape (442,), float32
    feature_names : list of 10 str

    >>> X, y, names = load_diabetes()
    >>> X.shape, y.dtype.name, names[:3]
    ((442, 10), 'float32', ['age', 'sex', 'bmi'])
    """
    X, y, names = _read_csv("diabetes.csv.gz")
    return X.astype(np.float32), y.astype(np.float32), names


def load_breast_cancer() -> Dataset:
    """Breast Cancer Wisconsin (Diagnostic): 569 tumours, 30 features, binary.

    Labels as in scikit-learn: 0 = malignant (212), 1 = benign (357).

    Returns
    -------
    X : ndarray of shape (569, 30), float32
    y : ndarray of shape (569,), int64
    feature_names : list of 30 str (``mean_radius``, ..., ``worst_fractal_dimension``)

    >>> X, y, names = load_breast_cancer()
    >>> X.shape, sorted(set(y.tolist()))
    ((569, 30), [0, 1])
    """
    return _classification("breast_cancer.csv.gz")


def load_wine() -> Dataset:
    """Wine recognition: 178 wines from three cultivars, 13 chemical features, 3 classes.

    Class sizes 59, 71, 48 (labels 0, 1, 2).

    Returns
    -------
    X : ndarray of shape (178, 13), float32
    y : ndarray of shape (178,), int64
    feature_names : list of 13 str

    >>> X, y, names = load_wine()
    >>> X.shape, int(y.max())
    ((178, 13), 2)
    """
    return _classification("wine.csv.gz")


def load_iris() -> Dataset:
    """Fisher's iris: 150 flowers, 4 measurements in cm, 3 species of 50.

    Labels 0 = setosa, 1 = versicolor, 2 = virginica.

    Returns
    -------
    X : ndarray of shape (150, 4), float32
    y : ndarray of shape (150,), int64
    feature_names : list of 4 str

    >>> X, y, names = load_iris()
    >>> names
    ['sepal_length_cm', 'sepal_width_cm', 'petal_length_cm', 'petal_width_cm']
    """
    return _classification("iris.csv.gz")
