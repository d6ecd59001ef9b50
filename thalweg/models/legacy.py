"""Reading model files written before the estimator contract (thalweg 0.1 before issue 11).

Linear and logistic regression then kept their scaling in a ``scaling_`` object
(``Scaling``: ``x_mean``, ``x_scale``, ``y_mean``, ``y_scale``) and a plain ``Linear``
layer. :func:`upgrade` turns that into today's ``scaler_`` (a Standardizer),
``y_mean_``/``y_scale_`` and an ``nn.Standardized`` module, so an old file predicts as
it did and can continue training with ``partial_fit``.
"""

from __future__ import annotations

import numpy as np

from thalweg import nn
from thalweg.data import Standardizer


class LegacyScaling:
    """The ``Scaling`` object of an old model file, as plain data."""

    def __init__(self, state: dict):
        self.state = state

    @classmethod
    def from_state(cls, state: dict) -> LegacyScaling:
        return cls(state)


def upgrade(estimator):
    """An estimator loaded from an old file, with today's fitted attributes."""
    legacy = estimator.__dict__.pop("scaling_", None)
    if not isinstance(legacy, LegacyScaling):
        return estimator
    state = legacy.state
    x_mean = np.asarray(state["x_mean"], np.float64)
    x_scale = np.asarray(state["x_scale"], np.float64)
    scaler = Standardizer.from_statistics(x_mean, x_scale**2, n_samples=1)
    scaler.scale_ = x_scale  # exactly the old scale (a constant column kept its 1)
    estimator.scaler_ = scaler
    if "y_mean" in state and type(estimator).__name__ == "LinearRegression":
        estimator.y_mean_, estimator.y_scale_ = float(state["y_mean"]), float(state["y_scale"])
    layer = getattr(estimator, "module_", None)
    if isinstance(layer, nn.Linear):
        estimator.module_ = nn.Standardized(layer, x_mean, x_scale)
    return estimator
