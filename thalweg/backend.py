"""Layer 0: the array module, dtypes and the random generator.

Every other layer gets NumPy from here, so there is exactly one place that decides
which array library backs thalweg and which dtype a new tensor gets.
"""

from __future__ import annotations

import numpy as np

xp = np  # the array module; NumPy on every machine thalweg supports today

float32 = np.float32
float64 = np.float64

_default_dtype: np.dtype = np.dtype(np.float32)
_generator: np.random.Generator = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The dtype new floating tensors get: float32 unless changed."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype new floating tensors get (``float32`` or ``float64``).

    >>> set_default_dtype("float64"); set_default_dtype("float32")
    """
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"default dtype must be float32 or float64, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int | None) -> np.random.Generator:
    """Reseed the generator behind ``randn``/``rand`` and layer initialisation.

    The same seed gives the same numbers, bit for bit, on the same machine.

    >>> _ = manual_seed(0)
    """
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a function is given no ``seed`` or ``rng``."""
    return _generator


def as_generator(seed_or_rng=None) -> np.random.Generator:
    """A ``Generator`` from an int seed, an existing generator, or None (the global one)."""
    if seed_or_rng is None:
        return _generator
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, int) and seed_or_rng < 0:  # NumPy says only "non-negative"
        from thalweg.errors import OptionError

        raise OptionError(f"a seed must be 0 or more, got {seed_or_rng}")
    return np.random.default_rng(seed_or_rng)
