"""Image augmentations: pure functions of ``(images, rng)``, and the batch source that applies them.

Every augmentation takes images of shape ``(C, H, W)`` or a batch ``(n, C, H, W)``,
values in [0, 1], and a ``numpy.random.Generator``; it draws its random parameters
(one set per image) from that generator and returns **new** images, leaving its input
untouched. The same generator state gives the same result, so a training run can be
repeated bit for bit. All are vectorized over the batch.

Geometry: :func:`flip`, :func:`translate`, :func:`rotate`, :func:`scale`, :func:`crop`
(a random crop resized back). Photometry: :func:`brightness`, :func:`contrast`,
:func:`gamma`, :func:`blur`, :func:`noise`. And the conditions a detector trained on
sharp, well-lit photographs meets on a cheap camera in a real room — the smile bot's
lesson: :func:`low_contrast`, :func:`crushed_shadows`, :func:`backlit` (a bright
window behind a dark subject), :func:`motion_blur`, :func:`sensor_noise` (shot noise
that grows with the signal, read noise, hot pixels).

:class:`Augmenter` applies a list of them, each to a random subset of every batch;
:class:`thalweg.train.augmented.AugmentedBatches` wraps any batch source (arrays, a
pipeline) with one, so :func:`thalweg.train.fit` trains on freshly augmented batches
every epoch.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> images = np.random.default_rng(1).random((4, 1, 8, 8), dtype=np.float32)
>>> augment = Augmenter(["rotate", "brightness", "motion_blur"])
>>> augment(images, rng).shape
(4, 1, 8, 8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = [
    "AUGMENTATIONS",
    "Augmenter",
    "backlit",
    "blur",
    "brightness",
    "contrast",
    "crop",
    "crushed_shadows",
    "flip",
    "gamma",
    "low_contrast",
    "motion_blur",
    "noise",
    "rotate",
    "scale",
    "sensor_noise",
    "translate",
]


def _batch(images) -> tuple[np.ndarray, bool]:
    """``(n, C, H, W)`` float, and whether the input was a single ``(C, H, W)`` image."""
    array = np.asarray(images)
    if array.ndim == 3:
        return array[None].astype(np.float32, copy=False), True
    if array.ndim != 4:
        raise ValueError(f"augmentations take (C, H, W) or (n, C, H, W) images, got {array.shape}")
    return array.astype(np.float32, copy=False), False


def _done(batch: np.ndarray, single: bool) -> np.ndarray:
    out = np.clip(batch, 0.0, 1.0, out=batch if batch.flags.writeable else None)
    return out[0] if single else out


def _per_image(rng, low, high, n: int) -> np.ndarray:
    """One uniform draw per image, shaped ``(n, 1, 1, 1)`` to broadcast over pixels."""
    return rng.uniform(low, high, n).astype(np.float32).reshape(n, 1, 1, 1)


# ---------------------------------------------------------------------- geometry


def warp(images: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Resample each image through an affine map: bilinear, edges replicated.

    ``inverse`` ``(n, 2, 3)`` maps an output pixel ``(x, y, 1)`` (measured from the
    image centre) to where it is read from in the input (also from the centre).
    """
    n, _, h, w = images.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    xs, ys = xs - cx, ys - cy
    a = inverse.astype(np.float32)[:, :, :, None, None]  # (n, 2, 3, 1, 1)
    src_x = a[:, 0, 0] * xs + a[:, 0, 1] * ys + a[:, 0, 2] + cx  # (n, H, W)
    src_y = a[:, 1, 0] * xs + a[:, 1, 1] * ys + a[:, 1, 2] + cy
    x0, y0 = np.floor(src_x), np.floor(src_y)
    fx, fy = (src_x - x0)[:, None], (src_y - y0)[:, None]  # (n, 1, H, W)
    x0 = np.clip(x0.astype(np.intp), 0, w - 1)
    x1 = np.clip(x0 + 1, 0, w - 1)
    y0 = np.clip(y0.astype(np.intp), 0, h - 1)
    y1 = np.clip(y0 + 1, 0, h - 1)
    batch = np.arange(n)[:, None, None]

    def at(y, x):  # (n, C, H, W) values of every image at its own coordinates
        return images[batch, :, y, x].transpose(0, 3, 1, 2)

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def _affine(n: int, angle=None, zoom=None, shift_x=None, shift_y=None) -> np.ndarray:
    """Inverse maps ``(n, 2, 3)`` for a rotation (radians), zoom and shift (pixels)."""
    angle = np.zeros(n) if angle is None else angle
    zoom = np.ones(n) if zoom is None else zoom
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    inverse = np.zeros((n, 2, 3))
    inverse[:, 0, 0], inverse[:, 0, 1] = cos, sin
    inverse[:, 1, 0], inverse[:, 1, 1] = -sin, cos
    if shift_x is not None:
        inverse[:, 0, 2] = -shift_x
    if shift_y is not None:
        inverse[:, 1, 2] = -shift_y
    return inverse


def flip(images, rng: np.random.Generator, horizontal: bool = True, vertical: bool = False):
    """Mirror each image left-right (and/or top-bottom) with probability 1/2 each."""
    batch, single = _batch(images)
    out = batch.copy()
    n = len(out)
    if horizontal:
        chosen = rng.random(n) < 0.5
        out[chosen] = out[chosen, :, :, ::-1]
    if vertical:
        chosen = rng.random(n) < 0.5
        out[chosen] = out[chosen, :, ::-1, :]
    return _done(out, single)


def translate(images, rng: np.random.Generator, fraction: float = 0.1):
    """Shift each image by up to ``fraction`` of its size in x and y (edges replicated)."""
    batch, single = _batch(images)
    n, _, h, w = batch.shape
    shift_x = rng.uniform(-fraction, fraction, n) * w
    shift_y = rng.uniform(-fraction, fraction, n) * h
    return _done(warp(batch, _affine(n, shift_x=shift_x, shift_y=shift_y)), single)


def rotate(images, rng: np.random.Generator, degrees: float = 15.0):
    """Rotate each image by an angle drawn from ±``degrees`` about its centre."""
    batch, single = _batch(images)
    angle = np.radians(rng.uniform(-degrees, degrees, len(batch)))
    return _done(warp(batch, _affine(len(batch), angle=angle)), single)


def scale(images, rng: np.random.Generator, low: float = 0.85, high: float = 1.15):
    """Zoom each image by a factor drawn from [low, high] about its centre."""
    batch, single = _batch(images)
    zoom = rng.uniform(low, high, len(batch))
    return _done(warp(batch, _affine(len(batch), zoom=zoom)), single)


def crop(images, rng: np.random.Generator, smallest: float = 0.75):
    """A random square-ish crop covering ``smallest``..1 of each side, resized back."""
    batch, single = _batch(images)
    n, _, h, w = batch.shape
    side = rng.uniform(smallest, 1.0, n)
    room = (1 - side) / 2  # how far the crop's centre may move, as a fraction of the size
    shift_x = rng.uniform(-room, room) * w
    shift_y = rng.uniform(-room, room) * h
    inverse = _affine(n, zoom=1 / side)
    inverse[:, 0, 2], inverse[:, 1, 2] = shift_x, shift_y  # read around the crop's centre
    return _done(warp(batch, inverse), single)


# ---------------------------------------------------------------------- photometry


def brightness(images, rng: np.random.Generator, delta: float = 0.2):
    """Add a value drawn from ±``delta`` to every pixel of each image."""
    batch, single = _batch(images)
    return _done(batch + _per_image(rng, -delta, delta, len(batch)), single)


def contrast(images, rng: np.random.Generator, low: float = 0.7, high: float = 1.3):
    """Stretch each image about its mean by a factor drawn from [low, high]."""
    batch, single = _batch(images)
    mean = batch.mean(axis=(1, 2, 3), keepdims=True)
    factor = _per_image(rng, low, high, len(batch))
    return _done((batch - mean) * factor + mean, single)


def gamma(images, rng: np.random.Generator, low: float = 0.7, high: float = 1.5):
    """``x ** γ`` with γ drawn from [low, high] (γ > 1 darkens the mid-tones)."""
    batch, single = _batch(images)
    return _done(np.power(np.clip(batch, 0, 1), _per_image(rng, low, high, len(batch))), single)


def _shift(batch: np.ndarray, offset: int, axis: int) -> np.ndarray:
    """Shift along ``axis`` by ``offset`` pixels, replicating the edge."""
    size = batch.shape[axis]
    index = np.clip(np.arange(size) - offset, 0, size - 1)
    return np.take(batch, index, axis=axis)


def blur(images, rng: np.random.Generator, low: float = 0.3, high: float = 1.2):
    """Gaussian blur, σ drawn from [low, high] pixels per image (separable, edges replicated)."""
    batch, single = _batch(images)
    sigma = rng.uniform(low, high, len(batch))
    radius = max(1, math.ceil(3 * high))
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
    for axis in (2, 3):
        blurred = np.zeros_like(batch)
        for k, offset in enumerate(offsets):
            blurred += weights[:, k, None, None, None] * _shift(batch, offset, axis)
        batch = blurred
    return _done(batch, single)


def noise(images, rng: np.random.Generator, sigma: float = 0.05):
    """Add Gaussian noise of standard deviation up to ``sigma`` (drawn per image)."""
    batch, single = _batch(images)
    level = _per_image(rng, 0.0, sigma, len(batch))
    return _done(batch + level * rng.standard_normal(batch.shape, dtype=np.float32), single)


def low_contrast(images, rng: np.random.Generator, low: float = 0.3, high: float = 0.6):
    """A washed-out picture: pixel values squeezed towards mid-grey (keeping ``low``..
    ``high`` of the range), blacks lifted — a dim room, a cheap sensor, haze."""
    batch, single = _batch(images)
    keep = _per_image(rng, low, high, len(batch))
    level = _per_image(rng, 0.3, 0.6, len(batch))  # the grey everything drifts towards
    return _done(level + (batch - level) * keep, single)


def crushed_shadows(images, rng: np.random.Generator, low: float = 0.15, high: float = 0.4):
    """Underexposure: the picture darkened and everything below a threshold drawn from
    [low, high] pushed to black, so detail in the shadows (a face in shade) is lost."""
    batch, single = _batch(images)
    n = len(batch)
    threshold = _per_image(rng, low, high, n)
    exposure = _per_image(rng, 0.5, 0.9, n)
    return _done(np.maximum(batch - threshold, 0) / (1 - threshold) * exposure, single)


def backlit(images, rng: np.random.Generator, strength: float = 0.7):
    """A bright window behind the subject: the centre (where the subject is) darkened by
    up to ``strength``, the surround washed towards white."""
    batch, single = _batch(images)
    n, _, h, w = batch.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cy = rng.uniform(0.35, 0.65, n)[:, None, None] * h
    cx = rng.uniform(0.35, 0.65, n)[:, None, None] * w
    radius = rng.uniform(0.25, 0.45, n)[:, None, None] * max(h, w)
    subject = np.exp(-(((ys - cy) ** 2 + (xs - cx) ** 2) / radius**2))[:, None]  # 1 centre
    dim = _per_image(rng, 0.3, strength, n)
    glare = _per_image(rng, 0.3, 0.8, n)
    lit = batch * (1 - dim * subject) + glare * (1 - subject) * (1 - batch)
    return _done(lit.astype(np.float32), single)


def motion_blur(images, rng: np.random.Generator, longest: int = 5):
    """Camera or subject motion: each image averaged along a line of 3..``longest``
    pixels at a random angle."""
    batch, single = _batch(images)
    n = len(batch)
    length = rng.integers(3, max(3, longest) + 1, n)
    angle = rng.uniform(0, np.pi, n)
    steps = int(length.max())
    total = np.zeros_like(batch)
    for t in np.linspace(-0.5, 0.5, steps):  # positions along each image's line
        distance = t * (length - 1)
        along = _affine(n, shift_x=distance * np.cos(angle), shift_y=distance * np.sin(angle))
        total += warp(batch, along)
    return _done(total / steps, single)


def sensor_noise(images, rng: np.random.Generator, shot: float = 0.01, read: float = 0.02):
    """A small camera sensor in poor light: shot noise whose variance grows with the
    signal (up to ``shot``·x), read noise (up to ``read``), and a few hot pixels."""
    batch, single = _batch(images)
    n = len(batch)
    variance = _per_image(rng, 0, shot, n) * batch + _per_image(rng, 0, read, n) ** 2
    out = batch + np.sqrt(variance) * rng.standard_normal(batch.shape, dtype=np.float32)
    hot = rng.random(batch.shape) < 0.002
    out[hot] = 1.0
    return _done(out, single)


AUGMENTATIONS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        flip,
        translate,
        rotate,
        scale,
        crop,
        brightness,
        contrast,
        gamma,
        blur,
        noise,
        low_contrast,
        crushed_shadows,
        backlit,
        motion_blur,
        sensor_noise,
    )
}

#: what ``thalweg train DIR/`` applies unless told otherwise (no flip: a mirrored digit
#: is another symbol; pass ``flip`` for faces and scenes)
DEFAULT = ("translate", "rotate", "scale", "brightness", "contrast", "noise")
#: the default plus the hard conditions of real cameras
ROBUST = (*DEFAULT, "low_contrast", "crushed_shadows", "backlit", "motion_blur", "sensor_noise")


class Augmenter:
    """Apply augmentations to a batch, each to a random share of its images.

    Parameters
    ----------
    augmentations : sequence of names or callables, or "default" / "robust" / "none"
        Names from :data:`AUGMENTATIONS`; a callable ``fn(images, rng)`` works too.
    probability : float
        Chance that an image gets each augmentation (default 0.5).

    ``augmenter(images, rng)`` returns new images of the same shape.
    """

    def __init__(self, augmentations: Sequence | str = "default", probability: float = 0.5):
        if isinstance(augmentations, str):
            preset = {"default": DEFAULT, "robust": ROBUST, "none": ()}.get(augmentations)
            augmentations = preset if preset is not None else augmentations.split(",")
        self.augmentations = []
        for item in augmentations:
            if callable(item):
                self.augmentations.append(item)
                continue
            name = str(item).strip()
            if name not in AUGMENTATIONS:
                raise ValueError(
                    f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}"
                )
            self.augmentations.append(AUGMENTATIONS[name])
        if not 0 <= probability <= 1:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        self.probability = probability

    @property
    def names(self) -> list[str]:
        return [fn.__name__ for fn in self.augmentations]

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(images, dtype=np.float32)
        for fn in self.augmentations:
            chosen = np.flatnonzero(rng.random(len(out)) < self.probability)
            if len(chosen):
                out[chosen] = fn(out[chosen], rng)
        return out

    def __bool__(self) -> bool:
        return bool(self.augmentations)

    def __repr__(self) -> str:
        return f"Augmenter({self.names}, probability={self.probability})"
