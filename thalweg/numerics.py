"""Layer 0: small NumPy formulas every layer may use, written once, stable in float32.

>>> import numpy as np
>>> stable_sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
[0.0, 0.5, 1.0]
"""

from __future__ import annotations

import numpy as np


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow and accurate in both tails.

    ``exp(-x)`` overflows for very negative x, so use ``e = exp(-|x|)`` (always in
    (0, 1]): sigmoid is ``1/(1+e)`` for x ≥ 0 and ``e/(1+e)`` for x < 0.
    """
    e = np.exp(-np.abs(x))
    s = 1 / (1 + e)
    return np.where(x >= 0, s, e * s)
