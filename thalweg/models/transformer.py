"""What unsupervised estimators share: no target, ``fit_transform``, scikit-learn tags.

A transformer learns from ``X`` alone (``fit(X, y=None)``; ``y`` is accepted and
ignored, so it sits anywhere in a ``Pipeline``) and maps rows to a new representation
with ``transform``: distances to cluster centres, an autoencoder's code.
"""

from __future__ import annotations

import numpy as np

from thalweg.errors import DataError


class TransformerMixin:
    """``fit_transform`` and the tags that tell scikit-learn this needs no target."""

    # Dtypes that come out of transform as they went in (scikit-learn's preserves_dtype).
    _preserves_dtype: tuple[str, ...] = ("float64",)

    def fit_transform(self, X, y=None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X, y).transform(X)

    def __sklearn_tags__(self):
        # Imported only when scikit-learn itself asks, so it is never a run-time dependency.
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=self._estimator_type or None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=list(self._preserves_dtype)),
        )


def check_random_state(random_state) -> np.random.Generator:
    """A generator from ``random_state``: None (fresh entropy), an int seed, a NumPy
    ``Generator`` (used as is) or a legacy ``RandomState`` (seeds a new generator).

    >>> bool(check_random_state(0).integers(10) == check_random_state(0).integers(10))
    True
    """
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    raise DataError(f"random_state must be None, an int or a numpy Generator, got {random_state!r}")


def seed_from(random_state) -> int | None:
    """An int seed for code that takes one (the training loop), drawn from ``random_state``."""
    if random_state is None or isinstance(random_state, int | np.integer):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).integers(2**31))
