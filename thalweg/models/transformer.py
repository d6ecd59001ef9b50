"""What unsupervised estimators share: no target, ``fit_transform``, scikit-learn tags.

A transformer learns from ``X`` alone (``fit(X, y=None)``; ``y`` is accepted and
ignored, so it sits anywhere in a ``Pipeline``) and maps rows to a new representation
with ``transform``: distances to cluster centres, an autoencoder's code.
"""

from __future__ import annotations

import numpy as np


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
