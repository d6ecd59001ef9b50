"""One list of every dataset thalweg offers, and ``load(name)`` to get any of them.

>>> [d.name for d in list_datasets()][:2]
['circle', 'xor']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from thalweg.datasets import bundled, images, playground
from thalweg.errors import DataError

__all__ = ["DatasetInfo", "list_datasets", "load"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, before loading it.

    ``source`` is "generator" (made on demand; ``n_samples`` is the default ``n``),
    "bundled" (a file shipped in the package) or "extra" (a file shipped by an optional
    dependency, named in ``description``). ``n_classes`` is None for regression;
    ``target_names`` names the labels 0, 1, ... of a classification dataset.
    ``image_shape`` is ``(H, W)`` for image datasets (``X`` is then ``(n, H, W)``, and
    the third value ``load`` returns is the class names), ``()`` for tables.
    ``kind == "detection"``: scenes with boxes, generated on demand (``n`` and ``seed``,
    whatever the source: "extra" says the objects come from an optional dependency's
    file); ``load`` returns the images ``(n, H, W)`` uint8, the box table (``image,
    x_min, y_min, x_max, y_max, label``) and the image file names, and ``target_names``
    are the object classes.
    """

    name: str
    kind: str
    source: str
    n_samples: int
    n_features: int
    n_classes: int | None
    description: str
    target_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-serialisable dict."""
        return asdict(self) | {
            "target_names": list(self.target_names),
            "image_shape": list(self.image_shape),
        }


_PLAYGROUND_LABELS = ("negative", "positive")  # the Playground's -1 and +1


def _generator(name: str, fn: Callable[..., Any], n_classes: int | None, about: str):
    kind = "regression" if n_classes is None else "classification"
    labels = _PLAYGROUND_LABELS if n_classes else ()
    return DatasetInfo(name, kind, "generator", 500, 2, n_classes, about, labels), fn


def _bundled(name: str, fn: Callable[..., Any], shape: tuple[int, int], labels, about: str):
    kind = "classification" if labels else "regression"
    n_classes = len(labels) or None
    return DatasetInfo(name, kind, "bundled", *shape, n_classes, about, tuple(labels)), fn


def _detection(name, fn, source, labels, about):
    info = DatasetInfo(
        name, "detection", source, 500, 96 * 96, len(labels), about, tuple(labels), (96, 96)
    )
    return info, fn


def _face_scenes(n: int = 500, seed: int = 0, part: str = "all"):
    from thalweg.datasets.scenes import PARTS, face_scenes

    if part not in PARTS:
        raise DataError(f"part {part!r}: give one of {', '.join(PARTS)}")
    images, boxes = face_scenes(n, part=part, seed=seed)
    return images, boxes, [f"scene_{k:04d}.png" for k in range(len(images))]


def _drawn_scenes(n: int = 500, seed: int = 0):
    from thalweg.datasets.scenes import make_scenes

    images, boxes = make_scenes(n, objects="faces", seed=seed)
    return images, boxes, [f"scene_{k:04d}.png" for k in range(len(images))]


def _image(name, fn, source, n, shape, labels, about):
    info = DatasetInfo(
        name, "classification", source, n, shape[0] * shape[1], len(labels), about,
        tuple(labels), tuple(shape),
    )  # fmt: skip
    return info, fn


_DATASETS: dict[str, tuple[DatasetInfo, Callable[..., Any]]] = {
    info.name: (info, fn)
    for info, fn in [
        _generator("circle", playground.circle, 2, "Playground: a disc inside a ring"),
        _generator("xor", playground.xor, 2, "Playground: class 1 where x1*x2 >= 0"),
        _generator("gaussian", playground.gaussian, 2, "Playground: two Gaussian clusters"),
        _generator("spiral", playground.spiral, 2, "Playground: two interleaved spiral arms"),
        _generator("plane", playground.plane, None, "Playground: y = (x1 + x2) / 10"),
        _generator(
            "gaussian_regression",
            playground.gaussian_regression,
            None,
            "Playground: six alternating +/- bumps",
        ),
        _bundled(
            "diabetes",
            bundled.load_diabetes,
            (442, 10),
            (),
            "Disease progression of 442 diabetes patients (Efron et al. 2004)",
        ),
        _bundled(
            "breast_cancer",
            bundled.load_breast_cancer,
            (569, 30),
            ("malignant", "benign"),
            "Breast Cancer Wisconsin (Diagnostic): malignant or benign tumour",
        ),
        _bundled(
            "wine",
            bundled.load_wine,
            (178, 13),
            ("class_0", "class_1", "class_2"),
            "Wine recognition: chemical analysis of three Italian cultivars",
        ),
        _bundled(
            "iris",
            bundled.load_iris,
            (150, 4),
            ("setosa", "versicolor", "virginica"),
            "Fisher's iris: four flower measurements, three species",
        ),
        _image(
            "digits",
            images.load_digits,
            "bundled",
            1797,
            (8, 8),
            [str(d) for d in range(10)],
            "Handwritten digits, 8x8 grayscale images (UCI, as in scikit-learn)",
        ),
        _image(
            "faces",
            images.load_faces,
            "extra",
            200,
            (25, 25),
            ["not_face", "face"],
            "Faces vs not-faces, 25x25 grayscale (scikit-image's lfw_subset; "
            "pip install 'thalweg[faces]')",
        ),
        _image(
            "shapes",
            images.shapes,
            "generator",
            600,
            (16, 16),
            list(images.SHAPES),
            "Synthetic circles, squares and triangles, 16x16 grayscale images",
        ),
        _image(
            "smiles",
            images.smiles,
            "generator",
            400,
            (24, 24),
            list(images.SMILES),
            "Synthetic faces, smiling or not, 24x24 grayscale; frame= and light= make "
            "uncropped, dim captures",
        ),
        _detection(
            "faces_scenes",
            _face_scenes,
            "extra",
            ["face"],
            "Detection: real faces (lfw_subset) pasted 0-3 per 96x96 scene on clutter of "
            "non-face patches, boxes in boxes.csv (pip install 'thalweg[faces]')",
        ),
        _detection(
            "scenes",
            _drawn_scenes,
            "generator",
            ["face"],
            "Detection: drawn faces pasted 0-3 per 96x96 scene on drawn clutter, boxes in "
            "boxes.csv (needs nothing extra)",
        ),
    ]
}


def dataset_key(name: str) -> str:
    """A dataset's name as the registry spells it: case-insensitive, ``-`` for ``_``.

    >>> dataset_key(" Breast-Cancer")
    'breast_cancer'
    """
    return str(name).strip().lower().replace("-", "_")


def list_datasets() -> list[DatasetInfo]:
    """Every dataset ``load`` knows: generators first, then bundled files.

    >>> sorted({d.kind for d in list_datasets()})
    ['classification', 'detection', 'regression']
    """
    return [info for info, _ in _DATASETS.values()]


def load(name: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load a dataset by name: ``X``, ``y`` and feature names.

    Generators take ``n``, ``noise`` and ``seed``; bundled datasets take no options.
    Names are case-insensitive and ``-`` may stand for ``_``.

    >>> X, y, names = load("xor", n=20, noise=0.1, seed=3)
    >>> X.shape
    (20, 2)
    """
    key = dataset_key(name)
    if key not in _DATASETS:
        available = ", ".join(_DATASETS)
        raise DataError(f"unknown dataset {name!r}; available: {available}")
    info, fn = _DATASETS[key]
    seed = kwargs.get("seed")
    if isinstance(seed, int) and seed < 0:  # NumPy refuses it deep inside, with no name
        raise DataError(f"dataset {info.name!r}: seed must be 0 or more, got {seed}")
    if info.kind == "detection":
        takes = ("n", "seed", "part") if key == "faces_scenes" else ("n", "seed")
        unknown = sorted(set(kwargs) - set(takes))
        if unknown:
            raise DataError(
                f"dataset {info.name!r} takes {', '.join(takes)}; got unknown {', '.join(unknown)}"
            )
        if "n" in kwargs:  # scenes are images: n of them must fit before one is drawn
            _check_generated_memory(info, kwargs)
        return fn(**kwargs)
    if info.source in ("bundled", "extra") and kwargs:
        raise DataError(
            f"dataset {info.name!r} is a bundled file and takes no options; "
            f"got {', '.join(sorted(kwargs))}"
        )
    if info.source == "generator":
        accepted = ("n", "noise", "seed", "size") if info.image_shape else ("n", "noise", "seed")
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise DataError(
                f"dataset {info.name!r} takes {', '.join(accepted)}; got unknown "
                f"{', '.join(unknown)}"
            )
        if "n" in kwargs or "size" in kwargs:
            _check_generated_memory(info, kwargs)
    return fn(**kwargs)


# Memory per generated row: X and y (3 float64) and their CSV cells as Python strings.
ROW_BYTES = 256
# Memory per generated pixel: the shape generator's float64 temporaries (coordinates,
# masks, noise) alive at once.
PIXEL_BYTES = 64


def _check_generated_memory(info: DatasetInfo, kwargs: dict) -> None:
    """Before generating: ``n`` rows (images of ``size``×``size``) fit in memory."""
    from thalweg.limits import check_rows

    n = int(kwargs.get("n", info.n_samples))
    if not info.image_shape:
        # X, y and, when exported, each row as CSV text: about ROW_BYTES a row
        check_rows(n, ROW_BYTES, f"{n:,} rows", "ask for fewer (--n)")
        return
    side = int(kwargs.get("size", info.image_shape[-1]))
    fix = (
        "ask for fewer (--n)"
        if info.kind == "detection"
        else ("ask for fewer (--n) or smaller ones (size=)")
    )  # detection scenes have one size
    check_rows(n, max(ROW_BYTES, PIXEL_BYTES * side * side), f"{n:,} images of {side}×{side}", fix)


def load_table(name: str, **kwargs: Any) -> dict[str, np.ndarray]:
    """A dataset as a table: its feature columns by name, then a ``"target"`` column.

    Takes ``load``'s options; a generator without ``seed`` uses seed 0, so the same
    table comes back every time unless asked otherwise.

    >>> table = load_table("xor", n=10)
    >>> list(table), len(table["target"])
    (['x1', 'x2', 'target'], 10)
    """
    info, _ = _DATASETS.get(dataset_key(name), (None, None))
    if info is not None and info.image_shape:
        raise DataError(
            f"dataset {info.name!r} is images, not a table; write it as a folder of images "
            "(thalweg.datasets.export_images)"
        )
    if info is not None and info.source == "generator":
        kwargs.setdefault("seed", 0)
    X, y, names = load(name, **kwargs)
    table = {column: X[:, j] for j, column in enumerate(names)}
    table["target"] = y
    return table


def is_image_dataset(name: str) -> bool:
    """Whether ``name`` is an image dataset (``export_images`` writes it)."""
    info, _ = _DATASETS.get(dataset_key(name), (None, None))
    return bool(info is not None and info.image_shape)


def is_detection_dataset(name: str) -> bool:
    """Whether ``name`` is a detection dataset (scenes with a ``boxes.csv``)."""
    info, _ = _DATASETS.get(dataset_key(name), (None, None))
    return bool(info is not None and info.kind == "detection")


def export_images(name: str, directory, **kwargs: Any) -> int:
    """Write an image dataset as PNG files, one sub-folder per class (what
    ``thalweg train DIR/`` reads); returns the number of images. Generators default to
    seed 0. The folder must be new or empty; it is filled whole or not at all (the
    files go to a hidden staging folder, renamed into place at the end).

    A detection dataset is written as ``scene_0000.png``, ... and ``boxes.csv`` (what
    ``thalweg train-detector DIR --boxes DIR/boxes.csv`` reads); it takes ``n`` (default
    500) and ``seed``, and ``faces-scenes`` takes ``part`` (``"train"``: the first 80
    photographs of faces and of clutter, ``"test"``: the other 20, ``"all"``).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "shapes"
    >>> export_images("shapes", folder, n=6, size=8)
    6
    """
    from pathlib import Path

    from thalweg.data.images import write_image_folder
    from thalweg.files import atomic_folder

    info, _ = _DATASETS.get(dataset_key(name), (None, None))
    if info is None or not info.image_shape:
        raise DataError(f"dataset {name!r} is not an image dataset; export it as a table")
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise DataError(f"{directory} exists and is not an empty folder; choose a new folder")
    if info.source == "generator":
        kwargs.setdefault("seed", 0)
    if info.kind == "detection":
        from thalweg.datasets.scenes import save_scenes

        images, boxes, _ = load(name, **kwargs)
        with atomic_folder(directory) as staging:
            save_scenes(staging, images, boxes)
        return len(images)
    images, labels, class_names = load(name, **kwargs)
    with atomic_folder(directory) as staging:
        return write_image_folder(staging, images, labels, class_names)
