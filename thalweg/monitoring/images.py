"""Image statistics: what an image model records of its training photos, to compare later.

A table model keeps each column's distribution (:mod:`thalweg.monitoring.profile`); an
image model keeps the distribution of four numbers measured on every training image,
the things that differed between the smile bot's sharp, cropped training photos and
its dim, uncropped device captures:

``brightness``
    the mean intensity of the image.
``contrast``
    RMS contrast: the (population) standard deviation of the intensity.
``sharpness``
    the variance of the image's discrete Laplacian (the 4-neighbour kernel
    ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``, over the interior pixels, no padding):
    Pech-Pacheco et al.'s "variance of the Laplacian" focus measure (OpenCV's
    ``cv2.Laplacian(image, cv2.CV_64F).var()``). A blurred or out-of-focus image has
    weaker second derivatives, so a smaller value.
``subject_share``
    the share of the frame taken by the box that holds the middle 90 % of the image's
    edge energy along each axis. The edge energy of a pixel is its squared gradient
    (forward differences, ``dI/dx² + dI/dy²``); along the rows, the box runs from the
    row where the running total passes 5 % of the energy to the row where it reaches
    95 % (and likewise along the columns); the share is the box's height times its
    width, as fractions of the ``H - 1`` rows and ``W - 1`` columns of differences
    (an outline counts the pixels on both of its sides). A frame full of detail scores
    about 0.8 (0.9 per axis), a face cropped to its edges about 0.7, the same face
    small in a plain, bigger frame its own smaller share. With no boxes in the data
    this is a stand-in for "the face box's share of the frame": it measures where the
    detail is, so a cluttered background around a small face reads as a large subject
    (NaN, counted as missing, for an image without any edge: a flat colour).

Intensity is the image itself for one channel, ITU-R BT.601 luma
(``0.299 R + 0.587 G + 0.114 B``, what Pillow's ``convert("L")`` computes) for three,
and the mean of the channels otherwise; in the pixel units the model was given (a
model trained on [0, 1] pixels and sent 0-255 ones sees a brightness shift, as it
should). Each statistic is profiled as a numeric column, so the same TFDV distances,
PSI, KS and thresholds apply (:func:`image_skew_report`).

>>> import numpy as np
>>> images = np.zeros((2, 8, 8))
>>> images[1, 2:6, 2:6] = 1.0                      # a bright square in the middle
>>> stats = image_statistics(images)
>>> stats["brightness"].tolist(), stats["contrast"].tolist()
([0.0, 0.25], [0.0, 0.4330127018922193])
>>> np.isnan(stats["subject_share"][0]), round(float(stats["subject_share"][1]), 4)
(np.True_, 0.5102)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from thalweg.monitoring.profile import COLUMN_PROFILE, NUMERIC, column_profile
from thalweg.monitoring.skew import SkewReport, SkewThresholds, skew_report
from thalweg.schema import Record

#: The statistics measured on every image, in the order reports show them.
IMAGE_STATISTICS = ("brightness", "contrast", "sharpness", "subject_share")
#: What :func:`image_profile` writes (checked when a model file is read).
IMAGE_PROFILE = Record(
    required=dict.fromkeys(IMAGE_STATISTICS, COLUMN_PROFILE), name="image statistics"
)
SUBJECT_ENERGY = 0.9  # the subject box holds the middle 90 % of the edge energy per axis
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's convert("L")
CHUNK = 256  # images measured at once (float64 copies stay small)


def intensity(images) -> np.ndarray:
    """Images ``(n, H, W)`` or ``(n, C, H, W)`` as float64 intensity ``(n, H, W)``: the
    channel itself, BT.601 luma for three channels, the channel mean otherwise.

    >>> intensity(np.ones((1, 3, 2, 2))).shape
    (1, 2, 2)
    """
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 3:
        return array
    if array.ndim != 4:
        raise ValueError(f"expected images (n, H, W) or (n, C, H, W), got shape {array.shape}")
    if array.shape[1] == 3:
        return np.tensordot(LUMA, array, axes=([0], [1]))
    return array.mean(axis=1)


def laplacian_variance(gray: np.ndarray) -> np.ndarray:
    """Sharpness of intensity images ``(n, H, W)``: the variance of the 4-neighbour
    Laplacian over the interior pixels, ``(n,)`` (NaN below 3×3 pixels).

    >>> laplacian_variance(np.zeros((1, 5, 5))).tolist()
    [0.0]
    """
    n, height, width = gray.shape
    if height < 3 or width < 3:
        return np.full(n, np.nan)
    centre = gray[:, 1:-1, 1:-1]
    laplacian = (
        gray[:, :-2, 1:-1] + gray[:, 2:, 1:-1] + gray[:, 1:-1, :-2] + gray[:, 1:-1, 2:] - 4 * centre
    )
    return laplacian.reshape(n, -1).var(axis=1)


def _middle_extent(energy: np.ndarray) -> np.ndarray:
    """Per row of ``energy`` ``(n, m)`` (non-negative, positive totals): the share of
    the ``m`` positions from where the running total passes ``(1 - SUBJECT_ENERGY) / 2``
    of the total to where it reaches ``(1 + SUBJECT_ENERGY) / 2`` of it, ends included."""
    cumulative = np.cumsum(energy, axis=1)
    cumulative /= cumulative[:, -1:]
    tail = (1 - SUBJECT_ENERGY) / 2
    first = np.argmax(cumulative > tail, axis=1)
    last = np.argmax(cumulative >= 1 - tail - 1e-12, axis=1)
    return (last - first + 1) / energy.shape[1]


def subject_share(gray: np.ndarray) -> np.ndarray:
    """The share of the frame holding the middle 90 % of each image's edge energy per
    axis (see the module docstring), ``(n,)``; NaN for an image without edges or
    smaller than 2×2 pixels.

    A 4×4 square in a 10×10 frame: its outline's edges lie on rows 2 to 6 of the 9
    rows of differences (and columns 2 to 6), so 5/9 of each axis:

    >>> frame = np.zeros((1, 10, 10)); frame[0, 3:7, 3:7] = 1
    >>> round(float(subject_share(frame)[0]), 4)
    0.3086
    """
    n, height, width = gray.shape
    if height < 2 or width < 2:
        return np.full(n, np.nan)
    across = np.diff(gray, axis=2)[:, :-1, :]  # (n, H-1, W-1): d/dx at each pixel
    down = np.diff(gray, axis=1)[:, :, :-1]  # d/dy
    energy = across**2 + down**2
    total = energy.sum(axis=(1, 2))
    share = np.full(n, np.nan)
    edged = total > 0
    if edged.any():
        rows = _middle_extent(energy[edged].sum(axis=2))
        columns = _middle_extent(energy[edged].sum(axis=1))
        share[edged] = rows * columns
    return share


def image_statistics(images) -> dict[str, np.ndarray]:
    """Brightness, contrast, sharpness and subject share of each image (the module
    docstring defines them): ``{name: (n,) float64}``, computed a chunk of images at a
    time.

    ``images``: ``(n, H, W)`` or ``(n, C, H, W)`` numbers.
    """
    array = np.asarray(images)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in IMAGE_STATISTICS}
    for start in range(0, len(array), CHUNK):
        gray = intensity(array[start : start + CHUNK])
        flat = gray.reshape(len(gray), -1)
        parts["brightness"].append(flat.mean(axis=1))
        parts["contrast"].append(flat.std(axis=1))
        parts["sharpness"].append(laplacian_variance(gray))
        parts["subject_share"].append(subject_share(gray))
    return {
        name: np.concatenate(values) if values else np.zeros(0) for name, values in parts.items()
    }


def image_profile(images) -> dict[str, dict]:
    """The training profile of ``images``: one numeric column profile per statistic
    (:func:`thalweg.monitoring.column_profile`), a few KB whatever the image count.

    >>> profile = image_profile(np.random.default_rng(0).random((50, 8, 8)))
    >>> sorted(profile), profile["brightness"]["count"]
    (['brightness', 'contrast', 'sharpness', 'subject_share'], 50)
    """
    statistics = image_statistics(images)
    return {name: column_profile(statistics[name], NUMERIC) for name in IMAGE_STATISTICS}


def image_skew_report(
    statistics: Mapping[str, Mapping],
    images,
    *,
    predictions: np.ndarray | None = None,
    prediction_statistics: Mapping | None = None,
    thresholds: SkewThresholds | None = None,
) -> SkewReport:
    """Compare new ``images`` with the training ``statistics`` (:func:`image_profile`),
    statistic by statistic, and their ``predictions`` with the training-time
    ``prediction_statistics``: :func:`thalweg.monitoring.skew_report`, each image a row.

    >>> rng = np.random.default_rng(0)
    >>> training = image_profile(rng.random((300, 8, 8)))
    >>> image_skew_report(training, rng.random((200, 8, 8))).flagged
    []
    >>> image_skew_report(training, 0.3 * rng.random((200, 8, 8))).flagged
    ['brightness', 'contrast', 'sharpness']
    """
    report = skew_report(
        statistics,
        image_statistics(images),
        predictions=predictions,
        prediction_statistics=prediction_statistics,
        thresholds=thresholds,
        unit="images",
    )
    for feature in report.features:
        feature.kind = "image"
    return report
