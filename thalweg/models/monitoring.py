"""A trained model's data watched in production: skew against its training data, and
served features against the same rows recomputed (layer 4 glue over
:mod:`thalweg.monitoring`, which knows distributions but not models).

>>> import numpy as np
>>> from thalweg.models import LinearRegression
>>> from thalweg.models.tabular import TabularModel
>>> rng = np.random.default_rng(0)
>>> train = {"x": rng.normal(size=500), "y": rng.normal(size=500)}
>>> model = TabularModel(LinearRegression()).fit(train, "y")
>>> model_skew(model, {"x": rng.normal(size=400)}).flagged
[]
>>> model_skew(model, {"x": 5 + rng.normal(size=400)}).flagged
['x', '(predictions)']

An image model (``CNNClassifier``) is compared on image statistics instead (brightness,
contrast, sharpness, subject share; :mod:`thalweg.monitoring.images`): give
:func:`model_skew` images, or a folder of image files.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from thalweg.errors import DataError
from thalweg.monitoring import (
    SkewReport,
    SkewThresholds,
    feature_mismatch,
    image_skew_report,
    skew_report,
)


def is_image_model(model) -> bool:
    """Whether ``model`` takes images (a ``CNNClassifier``) rather than table rows."""
    return getattr(model, "input_kind", "rows") == "images"


def _statistics(model) -> dict:
    statistics = getattr(model, "feature_statistics_", None)
    if not statistics:
        raise DataError(
            "the model file holds no training statistics (it was written by an older thalweg, "
            "or trained with --stream or --dask); retrain it with thalweg train to check skew"
        )
    return statistics


def model_skew(
    model,
    table: Any,
    *,
    predictions: np.ndarray | None = None,
    thresholds: SkewThresholds | None = None,
) -> SkewReport:
    """Compare new rows (a table, or a feature log's inputs) with what ``model`` (a fitted
    :class:`~thalweg.models.tabular.TabularModel`) trained on; for an image model, new
    images (see :func:`image_skew`).

    ``predictions``: the predictions made on these rows (a feature log has them); by
    default the model predicts the rows it can (rows with missing values only when it
    fills them, ``missing="mean"``).
    """
    if is_image_model(model):
        return image_skew(model, table, predictions=predictions, thresholds=thresholds)
    if isinstance(table, str | Path) and Path(table).is_dir() and _holds_images(Path(table)):
        raise DataError(
            f"{table} is a folder of images, but this model reads table rows; compare it "
            "with an image model (thalweg train IMAGES/), or give a table of new rows"
        )
    if isinstance(table, np.ndarray) and table.ndim in (3, 4):
        raise DataError(
            f"images of shape {table.shape} were given to a model that reads table rows; "
            "compare images with an image model, or give a table of new rows"
        )
    statistics = _statistics(model)
    typed = model.typed_columns(table)
    if predictions is None:
        usable = np.ones(len(next(iter(typed.values()))), dtype=bool)
        if model.missing != "mean":
            usable = model.complete_rows(typed)
        rows = {name: values[usable] for name, values in typed.items()}
        predictions = model.predict(rows) if usable.any() else np.asarray([])
    try:
        return skew_report(
            statistics,
            typed,
            predictions=predictions,
            prediction_statistics=getattr(model, "prediction_statistics_", None),
            thresholds=thresholds,
        )
    except KeyError as error:  # a per-feature threshold for a feature the model lacks
        raise DataError(str(error.args[0])) from None


def _holds_images(folder: Path) -> bool:
    from thalweg.data.images import IMAGE_EXTENSIONS

    return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.rglob("*") if p.is_file())


def read_images_for(model, source) -> np.ndarray:
    """The image files at ``source`` (a folder, searched recursively, or one image
    file) decoded as ``model`` reads them: resized to its image size, in its colours,
    ``(n, C, H, W)`` in [0, 1] (what ``thalweg train DIR/`` trained on)."""
    from thalweg.data.images import IMAGE_EXTENSIONS, image_files, load_images

    path = Path(source)
    if path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(
            f"{path} is not an image file, and this is an image model; give a folder of "
            f"images (or one image: {', '.join(IMAGE_EXTENSIONS)})"
        )
    channels, height, width = model.image_shape_
    return load_images(image_files(path), (height, width), "grayscale" if channels == 1 else "rgb")


def image_skew(
    model,
    images: Any,
    *,
    predictions: np.ndarray | None = None,
    thresholds: SkewThresholds | None = None,
) -> SkewReport:
    """Compare new images with the training images of ``model`` (a fitted
    ``CNNClassifier``): brightness, contrast, sharpness and subject share
    (:mod:`thalweg.monitoring.images`), and the predicted classes against those it
    predicted at training time.

    ``images``: ``(n, H, W)`` / ``(n, C, H, W)`` in the pixel units the model trained
    on, or a folder of image files (read as :func:`read_images_for` does).
    ``predictions``: the model's predictions on them (default: the model predicts).

    >>> from thalweg.datasets import smiles
    >>> from thalweg.models import CNNClassifier
    >>> X, y, _ = smiles(n=300, seed=0)
    >>> model = CNNClassifier(layers=("conv4", "pool", "dense8"), max_epochs=2, tol=None,
    ...                       random_state=0).fit(X, y)
    >>> image_skew(model, smiles(n=200, seed=1)[0]).flagged
    []
    >>> image_skew(model, smiles(n=200, frame=2, seed=1)[0]).flagged[:4]
    ['brightness', 'contrast', 'sharpness', 'subject_share']
    """
    statistics = getattr(model, "image_statistics_", None)
    if not statistics:
        raise DataError(
            "the model file holds no training image statistics (it was written by an older "
            "thalweg, or trained with partial_fit only); retrain it with fit or thalweg "
            "train to check skew"
        )
    if isinstance(images, str | Path):
        images = read_images_for(model, images)
    elif isinstance(images, Mapping) or not hasattr(images, "shape"):
        raise DataError(
            "this is an image model: give it images (an array (n, H, W) or (n, C, H, W), "
            "or a folder of image files), not a table"
        )
    images = model._validate_X(images, reset=False, finite=False)
    if predictions is None:
        predictions = model.predict(images) if len(images) else np.asarray([])
    try:
        return image_skew_report(
            statistics,
            images,
            predictions=predictions,
            prediction_statistics=getattr(model, "prediction_statistics_", None),
            thresholds=thresholds,
        )
    except KeyError as error:  # a per-feature threshold for a statistic it lacks
        raise DataError(str(error.args[0])) from None


def served_feature_mismatch(
    model,
    raw_rows: Any,
    served_features: np.ndarray,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
) -> dict:
    """Rule #37: the features a server logged against the same raw rows' features as the
    model computes them offline (``model.transform``), row by row.

    ``served_features``: ``(rows, len(model.feature_names_out_))``, in the order of
    ``raw_rows``. Returns :func:`thalweg.monitoring.feature_mismatch`'s report.
    """
    served_features = np.asarray(served_features, dtype=np.float64)
    recomputed = model.transform(raw_rows)
    if recomputed.shape != served_features.shape:
        raise DataError(
            f"{served_features.shape[0]} served rows with {served_features.shape[1]} features "
            f"cannot be matched with {recomputed.shape[0]} offline rows with "
            f"{recomputed.shape[1]} features; give the same rows (--key matches them by id)"
        )
    return feature_mismatch(
        served_features, recomputed, model.feature_names_out_, rtol=rtol, atol=atol
    )


def align_by_key(
    served_keys: np.ndarray, offline: Mapping[str, np.ndarray], key: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Match served rows with offline rows by a key column: ``(served row positions,
    offline rows in that order)``; served rows whose key is not offline are left out.

    >>> served, rows = align_by_key(np.array([3, 1, 9], dtype=object),
    ...                             {"id": np.array([1, 2, 3]), "x": np.array([10., 20., 30.])},
    ...                             "id")
    >>> served.tolist(), rows["x"].tolist()
    ([0, 1], [30.0, 10.0])
    """
    if key not in offline:
        raise DataError(
            f"the offline data has no key column {key!r}; its columns: {', '.join(offline)}"
        )
    position: dict[str, int] = {}
    for index, value in enumerate(offline[key].tolist()):
        position.setdefault(str(value), index)
    served_positions, offline_positions = [], []
    for index, value in enumerate(served_keys.tolist()):
        if value is not None and str(value) in position:
            served_positions.append(index)
            offline_positions.append(position[str(value)])
    if not served_positions:
        raise DataError(
            f"no served row's {key!r} matches an offline row's; check the key column "
            '(the request rows must carry it, e.g. {"rows": [{"id": 7, ...}]})'
        )
    chosen = np.asarray(offline_positions)
    return np.asarray(served_positions), {name: values[chosen] for name, values in offline.items()}
