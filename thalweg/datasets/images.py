"""Small image datasets: handwritten digits (bundled), faces (scikit-image), shapes and
smiles (generated).

Every loader returns ``(images, labels, class_names)``:

* ``images``: float32, ``(n, H, W)`` for grayscale, values in [0, 1];
* ``labels``: int64 class indices ``0 .. k-1``;
* ``class_names``: what each label means (images have no feature names, so the third
  element names the classes instead).

See ``docs/datasets.md`` for sources and licences.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from thalweg.backend import as_generator
from thalweg.datasets.bundled import _read_csv
from thalweg.errors import DataError, FileFormatError

__all__ = ["load_digits", "load_faces", "shapes", "smiles"]

ImageDataset = tuple[np.ndarray, np.ndarray, list[str]]


def load_digits() -> ImageDataset:
    """Optical recognition of handwritten digits: 1,797 images of 8×8 pixels, 10 classes.

    The UCI test set that scikit-learn ships as ``load_digits``: each pixel counts the
    "on" pixels of a 4×4 block of a 32×32 bitmap (0 to 16); here divided by 16, so
    values are in [0, 1]. About 180 images per digit.

    Returns
    -------
    images : ndarray of shape (1797, 8, 8), float32 in [0, 1]
    labels : ndarray of shape (1797,), int64, the digit
    class_names : ``["0", "1", ..., "9"]``

    >>> images, labels, names = load_digits()
    >>> images.shape, int(labels[0]), names[:3]
    ((1797, 8, 8), 0, ['0', '1', '2'])
    """
    pixels, target, _ = _read_csv("digits.csv.gz")
    images = (pixels / 16.0).astype(np.float32).reshape(-1, 8, 8)
    return images, target.astype(np.int64), [str(d) for d in range(10)]


def load_faces() -> ImageDataset:
    """Faces and non-faces: 200 grayscale images of 25×25 pixels (scikit-image's
    ``lfw_subset``): 100 faces from Labeled Faces in the Wild, 100 background patches
    from the same photographs.

    Needs scikit-image (``pip install 'thalweg[faces]'``), whose wheel ships the file;
    it is read directly (scikit-image itself is not imported) and nothing is downloaded.

    Returns
    -------
    images : ndarray of shape (200, 25, 25), float32 in [0, 1]
    labels : ndarray of shape (200,), int64: 1 face, 0 not a face
    class_names : ``["not_face", "face"]``
    """
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the faces dataset comes from scikit-image, which is not installed; install it "
            "with: pip install 'thalweg[faces]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "lfw_subset.npy"
    try:
        images = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise FileFormatError(f"cannot read scikit-image's {path} ({error})") from None
    if images.shape != (200, 25, 25):
        raise FileFormatError(f"{path} holds shape {images.shape}, expected (200, 25, 25)")
    labels = np.r_[np.ones(100, np.int64), np.zeros(100, np.int64)]  # faces come first
    return images.astype(np.float32), labels, ["not_face", "face"]


SHAPES = ("circle", "square", "triangle")


def shapes(n: int = 600, size: int = 16, noise: float = 0.1, seed=None) -> ImageDataset:
    """Synthetic shapes: a circle, a square or a triangle at a random place and scale.

    Drawn with NumPy alone (nothing to install or download), bright on a dark
    background with Gaussian pixel noise; the classes are balanced (``n // 3`` each,
    the remainder going to the first classes) and shuffled.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Height and width in pixels (at least 8).
    noise : float
        Standard deviation of the Gaussian noise added to every pixel (then clipped to
        [0, 1]).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    images : ndarray of shape (n, size, size), float32 in [0, 1]
    labels : ndarray of shape (n,), int64: 0 circle, 1 square, 2 triangle
    class_names : ``["circle", "square", "triangle"]``

    >>> images, labels, names = shapes(n=6, size=12, seed=0)
    >>> images.shape, sorted(labels.tolist())
    ((6, 12, 12), [0, 0, 1, 1, 2, 2])
    """
    if int(n) < 1:
        raise DataError(f"shapes: n must be at least 1, got {n}")
    if int(size) < 8:
        raise DataError(f"shapes: size must be at least 8 pixels, got {size}")
    if not 0 <= noise <= 1:
        raise DataError(f"shapes: noise must be in [0, 1], got {noise}")
    rng = as_generator(seed)
    labels = np.arange(int(n)) % len(SHAPES)
    rng.shuffle(labels)
    # Shape centre and half-width, in pixels; every shape stays inside the image.
    half = rng.uniform(0.2, 0.35, n) * size
    centre = rng.uniform(half[:, None] + 0.5, size - half[:, None] - 0.5, (n, 2))
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    dy = (rows[None] - centre[:, 0, None, None]) / half[:, None, None]
    dx = (cols[None] - centre[:, 1, None, None]) / half[:, None, None]
    circle = dx**2 + dy**2 <= 1
    square = np.maximum(np.abs(dx), np.abs(dy)) <= 0.8
    triangle = (dy <= 0.8) & (dy >= 2 * np.abs(dx) - 1.1)  # apex up, flat base
    masks = np.where(
        (labels == 0)[:, None, None],
        circle,
        np.where((labels == 1)[:, None, None], square, triangle),
    )
    brightness = rng.uniform(0.6, 1.0, (n, 1, 1))
    images = masks * brightness
    if noise:
        images = images + rng.normal(0.0, noise, masks.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64), list(SHAPES)


SMILES = ("neutral", "smile")


def smiles(
    n: int = 400,
    size: int = 24,
    frame: float = 1.0,
    light: float = 1.0,
    noise: float = 0.02,
    seed=None,
) -> ImageDataset:
    """Synthetic faces, smiling or not: the smile bot's photos, drawn with NumPy.

    A light oval face with two dark eyes and a mouth (curved up for a smile, straight
    otherwise) on a plain background, each with a random size, position, shading and
    background level, plus Gaussian pixel noise. By default the photos are cropped to
    the face, as training photos are; ``frame`` and ``light`` make the device's
    captures of the same faces: uncropped (the face small in a bigger frame) and dim.

    Parameters
    ----------
    n : int
        Number of images (balanced classes, shuffled).
    size : int
        Height and width in pixels (at least 12).
    frame : float
        The frame's side over the face's (at least 1): 1 is a crop to the face, 2 a
        face half as wide as the picture.
    light : float
        Multiplies every pixel (0.4: a dim room), before the noise.
    noise : float
        Standard deviation of the Gaussian noise (then clipped to [0, 1]).
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    images : ndarray of shape (n, size, size), float32 in [0, 1]
    labels : ndarray of shape (n,), int64: 0 neutral, 1 smile
    class_names : ``["neutral", "smile"]``

    >>> images, labels, names = smiles(n=4, size=16, seed=0)
    >>> images.shape, sorted(labels.tolist()), names
    ((4, 16, 16), [0, 0, 1, 1], ['neutral', 'smile'])
    """
    if int(n) < 1:
        raise DataError(f"smiles: n must be at least 1, got {n}")
    if int(size) < 12:
        raise DataError(f"smiles: size must be at least 12 pixels, got {size}")
    if not frame >= 1:
        raise DataError(
            f"smiles: frame is the frame's side over the face's, at least 1; got {frame}"
        )
    if not 0 <= light <= 1 or not 0 <= noise <= 1:
        raise DataError(f"smiles: light and noise must be in [0, 1], got {light} and {noise}")
    rng = as_generator(seed)
    n, size = int(n), int(size)
    labels = np.arange(n) % len(SMILES)
    rng.shuffle(labels)
    # The face's side in pixels, its centre, and (u, v): pixel positions in face units.
    face = size / frame * rng.uniform(0.9, 1.0, (n, 1, 1))
    centre = size / 2 + rng.uniform(-0.05, 0.05, (n, 2, 1, 1)) * face[:, None]
    rows, cols = np.mgrid[0:size, 0:size] + 0.5
    u = (cols[None] - centre[:, 1]) / face
    v = (rows[None] - centre[:, 0]) / face
    oval = (u / 0.42) ** 2 + (v / 0.5) ** 2 <= 1
    eyes = np.minimum((u - 0.17) ** 2, (u + 0.17) ** 2) + (v + 0.1) ** 2 <= 0.06**2
    smile = (np.abs(u) <= 0.2) & (np.abs(v - (0.18 + 1.5 * u**2)) <= 0.045)
    straight = (np.abs(u) <= 0.16) & (np.abs(v - 0.24) <= 0.045)
    mouth = np.where((labels == 1)[:, None, None], smile, straight)
    background = rng.uniform(0.3, 0.5, (n, 1, 1)) + 0.1 * v / frame  # a soft gradient
    skin = rng.uniform(0.7, 0.9, (n, 1, 1)) - 0.15 * (u + v)  # light from the top left
    images = np.where(oval, skin, background)
    images = np.where(oval & (eyes | mouth), 0.15, images) * light
    if noise:
        images = images + rng.normal(0.0, noise, images.shape)
    return np.clip(images, 0, 1).astype(np.float32), labels.astype(np.int64), list(SMILES)
