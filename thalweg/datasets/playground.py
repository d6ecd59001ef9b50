"""The two-feature toy datasets of TensorFlow Playground, as NumPy generators.

Each generator follows ``src/dataset.ts`` of github.com/tensorflow/playground (Apache-2.0)
point for point, with three deliberate differences:

* labels are 0/1 instead of the Playground's -1/+1 (1 is the Playground's positive class);
* exactly ``n`` points come back, the two classes as ``n // 2`` and ``n - n // 2``;
* randomness comes from a NumPy Generator, so a seed gives the same data every time.

As in the Playground (which shuffles what a generator returns) the rows are shuffled.
``noise`` is the Playground's noise slider as a fraction: its 0-50 % is ``noise=0.0..0.5``
here, and up to 1.0 is accepted. Like the Playground, ``circle``, ``xor``, ``plane`` and
``gaussian_regression`` apply the noise to the position used for the *label*, not to the
point itself (so noise shows up as mislabelled points), ``spiral`` moves the points, and
``gaussian`` widens the two clusters (variance ``0.5 + 7 * noise``).

Every generator returns ``(X, y, feature_names)``: ``X`` float32 of shape (n, 2), ``y`` of
shape (n,) (int64 0/1 for classification, float32 for regression) and ``["x1", "x2"]``.
"""

from __future__ import annotations

import numpy as np

from thalweg.backend import as_generator
from thalweg.errors import DataError

__all__ = ["circle", "gaussian", "gaussian_regression", "plane", "spiral", "xor"]

Dataset = tuple[np.ndarray, np.ndarray, list[str]]
FEATURE_NAMES = ("x1", "x2")


def _check(name: str, n: int, noise: float, min_n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < min_n:
        raise DataError(f"{name}: n must be an integer >= {min_n}; got {n!r}")
    if not 0.0 <= float(noise) <= 1.0:
        raise DataError(
            f"{name}: noise is a fraction between 0 and 1 (Playground's 0-50 % is 0.0-0.5); "
            f"got {noise!r}"
        )


def _finish(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, label_dtype: type) -> Dataset:
    order = rng.permutation(len(x))
    return (
        x[order].astype(np.float32),
        y[order].astype(label_dtype),
        list(FEATURE_NAMES),
    )


def _class_sizes(n: int) -> tuple[int, int]:
    return n - n // 2, n // 2  # (positive, negative); the positive class gets the odd one


def circle(
    n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> Dataset:
    """A disc of class 1 (radius < 2.5) inside a ring of class 0 (radius 3.5 to 5).

    A point's label is decided at its position plus uniform noise ``U(-5, 5) * noise`` per
    axis, so noise flips labels near the boundary.

    >>> X, y, names = circle(n=10, seed=0)
    >>> X.shape, y.dtype.name, names
    ((10, 2), 'int64', ['x1', 'x2'])
    """
    _check("circle", n, noise, min_n=2)
    rng = as_generator(seed)
    radius = 5.0
    n_pos, n_neg = _class_sizes(n)
    r = np.concatenate(
        [rng.uniform(0, radius * 0.5, n_pos), rng.uniform(radius * 0.7, radius, n_neg)]
    )
    angle = rng.uniform(0, 2 * np.pi, n)
    x = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    noisy = x + rng.uniform(-radius, radius, (n, 2)) * noise
    y = np.hypot(noisy[:, 0], noisy[:, 1]) < radius * 0.5
    return _finish(rng, x, y, np.int64)


def xor(n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None) -> Dataset:
    """Four quadrants: class 1 where ``x1 * x2 >= 0``, class 0 elsewhere.

    Points are uniform in [-5, 5]^2 pushed 0.3 away from the axes; the label is taken at
    the position plus ``U(-5, 5) * noise`` per axis.

    >>> X, y, _ = xor(n=8, seed=0)
    >>> sorted(set(y.tolist())) <= [0, 1]
    True
    """
    _check("xor", n, noise, min_n=1)
    rng = as_generator(seed)
    x = rng.uniform(-5, 5, (n, 2))
    x += np.where(x > 0, 0.3, -0.3)  # the Playground's padding keeps points off the axes
    noisy = x + rng.uniform(-5, 5, (n, 2)) * noise
    y = noisy[:, 0] * noisy[:, 1] >= 0
    return _finish(rng, x, y, np.int64)


def gaussian(
    n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> Dataset:
    """Two Gaussian clusters: class 1 around (2, 2), class 0 around (-2, -2).

    The variance grows linearly with noise, 0.5 at ``noise=0`` to 4 at ``noise=0.5``.

    >>> X, y, _ = gaussian(n=6, seed=0)
    >>> int(y.sum())
    3
    """
    _check("gaussian", n, noise, min_n=2)
    rng = as_generator(seed)
    variance = 0.5 + 7.0 * noise  # Playground: linear scale from [0, 0.5] to [0.5, 4]
    n_pos, n_neg = _class_sizes(n)
    centres = np.repeat(np.array([[2.0, 2.0], [-2.0, -2.0]]), [n_pos, n_neg], axis=0)
    x = centres + rng.normal(0.0, np.sqrt(variance), (n, 2))
    y = np.repeat([1, 0], [n_pos, n_neg])
    return _finish(rng, x, y, np.int64)


def spiral(
    n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> Dataset:
    """Two interleaved spiral arms (1.75 turns each), class 1 and class 0.

    Each point moves by ``U(-1, 1) * noise`` per axis.

    >>> X, y, _ = spiral(n=100, seed=0)
    >>> X.shape
    (100, 2)
    """
    _check("spiral", n, noise, min_n=2)
    rng = as_generator(seed)
    arms = []
    for size, delta_t in zip(_class_sizes(n), (0.0, np.pi), strict=True):
        i = np.arange(size)
        r = i / size * 5
        t = 1.75 * i / size * 2 * np.pi + delta_t
        arms.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    x = np.concatenate(arms) + rng.uniform(-1, 1, (n, 2)) * noise
    y = np.repeat([1, 0], _class_sizes(n))
    return _finish(rng, x, y, np.int64)


def plane(
    n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> Dataset:
    """Regression on a tilted plane: ``y = (x1 + x2) / 10``, in [-1.2, 1.2] without noise.

    Points are uniform in [-6, 6]^2; the target is taken at the position plus
    ``U(-6, 6) * noise`` per axis.

    >>> X, y, _ = plane(n=5, seed=0)
    >>> y.dtype.name
    'float32'
    """
    _check("plane", n, noise, min_n=1)
    rng = as_generator(seed)
    radius = 6.0
    x = rng.uniform(-radius, radius, (n, 2))
    noisy = x + rng.uniform(-radius, radius, (n, 2)) * noise
    y = noisy.sum(axis=1) / 10.0  # Playground: linear scale from [-10, 10] to [-1, 1]
    return _finish(rng, x, y, np.float32)


# (centre x, centre y, sign) of the six bumps of the Playground's "regress gaussian"
_BUMPS = np.array(
    [[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]],
    dtype=np.float64,
)


def gaussian_regression(
    n: int = 500, noise: float = 0.0, seed: int | np.random.Generator | None = None
) -> Dataset:
    """Regression on six alternating +/- bumps (the Playground's "regress gaussian").

    Each bump is ``sign * max(0, 1 - distance / 2)``; the target is the bump with the
    largest magnitude at the position plus ``U(-6, 6) * noise`` per axis, so y is in [-1, 1].

    >>> X, y, _ = gaussian_regression(n=5, seed=0)
    >>> bool((abs(y) <= 1).all())
    True
    """
    _check("gaussian_regression", n, noise, min_n=1)
    rng = as_generator(seed)
    radius = 6.0
    x = rng.uniform(-radius, radius, (n, 2))
    noisy = x + rng.uniform(-radius, radius, (n, 2)) * noise
    distance = np.hypot(
        noisy[:, 0:1] - _BUMPS[None, :, 0], noisy[:, 1:2] - _BUMPS[None, :, 1]
    )  # (n, 6)
    values = _BUMPS[None, :, 2] * np.clip(1.0 - distance / 2.0, 0.0, 1.0)
    # the first bump of largest magnitude wins, as in the Playground's strict '>' scan
    y = values[np.arange(n), np.abs(values).argmax(axis=1)]
    return _finish(rng, x, y, np.float32)
