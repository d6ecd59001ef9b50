"""The TensorFlow Playground's input features of two columns, as a transformer.

The Playground feeds its network any subset of seven features of a point ``(x1, x2)``:

=========  =============  ==========================
name       value          name in ``get_feature_names_out``
=========  =============  ==========================
``x1``     x1             ``x1``
``x2``     x2             ``x2``
``x1sq``   x1²            ``x1^2``
``x2sq``   x2²            ``x2^2``
``x1x2``   x1·x2          ``x1*x2``
``sinx1``  sin(x1)        ``sin(x1)``
``sinx2``  sin(x2)        ``sin(x2)``
=========  =============  ==========================

(the output names are those of :class:`~thalweg.data.FeatureCrosses`). The two columns
may first be moved and scaled, ``x ← (x - offset) / scale`` per column, so that data in
any units lands where the Playground's features make sense (about [-6, 6]); a model file
that carries this transformer then takes the raw columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from thalweg.data.preprocessing import PREPROCESSOR_SCHEMAS, _as_2d, _float_dtype, _Transformer
from thalweg.errors import DataError
from thalweg.schema import Integer, ListOf, Number, Optional, Record, Text

__all__ = ["PLAYGROUND_FEATURES", "PlaygroundFeatures"]

# name -> (output name template, function of the two scaled columns a and b)
PLAYGROUND_FEATURES = {
    "x1": ("{a}", lambda a, b: a),
    "x2": ("{b}", lambda a, b: b),
    "x1sq": ("{a}^2", lambda a, b: a * a),
    "x2sq": ("{b}^2", lambda a, b: b * b),
    "x1x2": ("{a}*{b}", lambda a, b: a * b),
    "sinx1": ("sin({a})", lambda a, b: np.sin(a)),
    "sinx2": ("sin({b})", lambda a, b: np.sin(b)),
}


class PlaygroundFeatures(_Transformer):
    """Some of the Playground's seven features of two columns (see the module docstring).

    Parameters
    ----------
    features : sequence of str
        Which features, in output order: names from ``x1, x2, x1sq, x2sq, x1x2, sinx1,
        sinx2``. Default: all seven.
    offset, scale : pair of float
        Each input column becomes ``(x - offset) / scale`` before the features are
        computed. Default: unchanged.

    Shapes: ``X`` ``(n, 2)`` -> ``(n, len(features))``, float32 input stays float32.

    >>> import numpy as np
    >>> f = PlaygroundFeatures(["x1x2", "sinx1"]).fit(np.zeros((1, 2)))
    >>> f.transform(np.array([[2.0, 3.0]])).round(3).tolist()
    [[6.0, 0.909]]
    >>> f.get_feature_names_out()
    ['x1*x2', 'sin(x1)']
    >>> PlaygroundFeatures(["x1"], offset=[10, 0], scale=[5, 1]).fit_transform([[20.0, 0]])
    array([[2.]])
    """

    _param_names = ("features", "offset", "scale")

    def __init__(
        self,
        features: Sequence[str] = tuple(PLAYGROUND_FEATURES),
        offset: Sequence[float] = (0.0, 0.0),
        scale: Sequence[float] = (1.0, 1.0),
    ) -> None:
        self.features = features
        self.offset = offset
        self.scale = scale

    def _checked(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        features = [self.features] if isinstance(self.features, str) else list(self.features)
        unknown = [f for f in features if f not in PLAYGROUND_FEATURES]
        if unknown or not features or len(set(features)) != len(features):
            raise DataError(
                f"PlaygroundFeatures: features must be distinct names from "
                f"{', '.join(PLAYGROUND_FEATURES)}; got {list(features)}"
            )
        offset = np.asarray(self.offset, dtype=np.float64)
        scale = np.asarray(self.scale, dtype=np.float64)
        if offset.shape != (2,) or scale.shape != (2,):
            raise DataError("PlaygroundFeatures: offset and scale are pairs, one per column")
        if not (np.isfinite(offset).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise DataError(
                "PlaygroundFeatures: offset must be finite and scale finite and positive; "
                f"got offset {offset.tolist()}, scale {scale.tolist()}"
            )
        return features, offset, scale

    def fit(self, X: Any, y: Any = None) -> Self:
        """Check ``X`` has two columns (nothing is learned: the scaling is a parameter)."""
        self._checked()
        array = _as_2d(X, "PlaygroundFeatures", numeric=True)
        if array.shape[1] != 2:
            raise DataError(f"PlaygroundFeatures takes two columns (x1, x2); got {array.shape[1]}")
        self._remember_names(X, 2)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``(n, len(features))``: each chosen feature of the rescaled columns."""
        self._check_fitted()
        features, offset, scale = self._checked()
        array = _as_2d(X, "PlaygroundFeatures", numeric=True)
        self._check_n_features(array, X)
        dtype = _float_dtype(array)
        x = array.astype(dtype)
        if (offset != 0).any() or (scale != 1).any():
            x = ((x - offset) / scale).astype(dtype)
        a, b = x[:, 0], x[:, 1]
        out = np.empty((len(x), len(features)), dtype=dtype)
        for j, name in enumerate(features):
            out[:, j] = PLAYGROUND_FEATURES[name][1](a, b)
        return out

    def get_feature_names_out(self, input_names: Sequence[str] | None = None) -> list[str]:
        """Output names like ``x1``, ``x1^2``, ``x1*x2``, ``sin(x1)`` (with the input names)."""
        a, b = self._input_names(input_names)
        features, _, _ = self._checked()
        return [PLAYGROUND_FEATURES[name][0].format(a=a, b=b) for name in features]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as plain lists (so the model file's JSON holds them)."""
        return {
            "features": list(self.features),
            "offset": [float(v) for v in self.offset],
            "scale": [float(v) for v in self.scale],
        }


_PAIR = ListOf(Number(finite=True), min_items=2, max_items=2)
# What to_config writes, checked when a model file is read (see thalweg.schema).
PREPROCESSOR_SCHEMAS["PlaygroundFeatures"] = Record(
    required={
        "class": Text(),
        "params": Record(
            optional={
                "features": ListOf(
                    Text(choices=tuple(PLAYGROUND_FEATURES)),
                    min_items=1,
                    max_items=len(PLAYGROUND_FEATURES),
                ),
                "offset": _PAIR,
                "scale": ListOf(Number(finite=True, minimum=1e-300), min_items=2, max_items=2),
            }
        ),
        "state": Optional(
            Record(
                required={"n_features_in_": Integer(minimum=2, maximum=2)},
                optional={"feature_names_in_": Optional(ListOf(Text()))},
            )
        ),
    }
)
