"""Least squares in closed form: fast on tall data, accurate when it is ill-conditioned.

Minimising ``‖y - Zw‖²/n + l2·‖w‖²`` (Z: the centred, maybe scaled, features) has the
exact solution ``(ZᵀZ/n + l2·I) w = Zᵀy/n`` — the *normal equations*. Everything they
need — means, variances, ``ZᵀZ`` and ``Zᵀy`` — comes out of **one pass** over the data
in chunks, leaving a small ``d×d`` system: that is why this is the fast path for large
n. But the normal equations square the condition number: a design with
``cond(Z) = 1e5`` gives ``cond(ZᵀZ) = 1e10`` and the solution loses 10 of its 16 digits.
So the eigenvalues of ``ZᵀZ`` are checked first, and ill-conditioned problems fall back
to ``numpy.linalg.lstsq`` (an SVD of Z itself, accurate to ``cond(Z)·ε``). The matrix
``XᵀX`` is never inverted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalweg.data.preprocessing import scale_from_variance
from thalweg.errors import DataError
from thalweg.models.checks import check_finite

# Above this condition number of ZᵀZ the normal equations would lose more than ~8 digits.
MAX_GRAM_CONDITION = 1e8
# float32 data is summed in float32 blocks (twice as fast); rounding then perturbs ZᵀZ
# by ~1e-7, which the solve multiplies by the condition number: above this, redo it in
# float64.
MAX_FLOAT32_CONDITION = 1e3
CHUNK_ROWS = {np.dtype(np.float32): 4096, np.dtype(np.float64): 32768}


@dataclass
class LeastSquaresSolution:
    """Coefficients of the standardized problem and the scaling that defines it."""

    weights: np.ndarray  # (d,): y_s ≈ Z w, with Z = (X - x_mean)/x_scale
    x_mean: np.ndarray
    x_var: np.ndarray
    x_scale: np.ndarray
    y_mean: float
    y_var: float
    y_scale: float
    method: str  # "normal_equations" or "lstsq"


def solve_least_squares(
    X: np.ndarray,
    y: np.ndarray,
    standardize: bool = True,
    l2: float = 0.0,
    sample_weight: np.ndarray | None = None,
) -> LeastSquaresSolution:
    """Least squares (ridge when ``l2 > 0``) with an unpenalised intercept.

    With ``sample_weight`` it is weighted least squares, ``Σ wᵢ·rᵢ² / Σ wᵢ``: each row of
    the one pass is multiplied by ``√wᵢ``, so every sum below becomes a weighted sum (a
    row of weight 2 counts exactly as two copies of it).

    Parameters
    ----------
    X : ndarray (n, d), float32 or float64 (never copied whole)
    y : ndarray (n,)
    standardize : bool
        Solve for standardized features and target (``l2`` is then unit-free);
        otherwise only centre them (the intercept absorbs the means).
    l2 : float
        Ridge strength in the mean-squared-error objective above.
    sample_weight : ndarray (n,), optional
        Non-negative row weights.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0]]); y = np.array([1.0, 3.0, 5.0])
    >>> solution = solve_least_squares(X, y, standardize=False)
    >>> solution.weights, solution.method
    (array([2.]), 'normal_equations')
    """
    n, d = X.shape
    # Accumulate around a shift close to the mean (the first rows' mean): sums of
    # (x - shift) stay small, so removing the exact mean at the end loses no digits.
    shift_x = X[:1024].mean(axis=0, dtype=np.float64)
    shift_y = float(y[:1024].mean(dtype=np.float64))
    precision = np.dtype(np.float32) if X.dtype == np.float32 else np.dtype(np.float64)
    root_weight = None if sample_weight is None else np.sqrt(sample_weight)
    while True:
        with np.errstate(over="ignore", invalid="ignore"):  # checked just below
            total = _block_sums(X, y, shift_x, shift_y, precision, root_weight)
        # NaN or infinity in X (unchecked so far), or a value whose square (nearly)
        # overflows: a sum of squares beyond 1e306. Either way, find and name it.
        if not np.isfinite(total).all() or (np.diag(total)[:d] >= 1e306).any():
            check_finite(X, "LinearRegression", "X")  # raises, naming the column
        if not np.isfinite(total).all():
            raise DataError(
                "LinearRegression: the sums of squares overflowed; rescale the features"
            )
        gram, cross, sum_x = total[:d, :d], total[:d, d], total[:d, d + 1]
        sum_yy, sum_y = total[d, d], total[d, d + 1]
        count = total[d + 1, d + 1]  # n, or Σw with weights
        x_mean = shift_x + sum_x / count
        y_mean = shift_y + sum_y / count
        gram -= np.outer(sum_x, sum_x) / count  # Σ (x - mean)(x - mean)ᵀ
        cross -= sum_x * (sum_y / count)  # Σ (x - mean)(y - mean)
        x_var = np.maximum(np.diag(gram) / count, 0.0)
        y_var = max(sum_yy / count - (sum_y / count) ** 2, 0.0)

        if standardize:
            x_scale = scale_from_variance(x_var, x_mean, n)
            y_scale = float(scale_from_variance(np.array([y_var]), np.array([y_mean]), n)[0])
        else:
            x_scale, y_scale = np.ones(d), 1.0
        gram /= count * np.outer(x_scale, x_scale)  # ZᵀZ/n
        cross /= count * x_scale * y_scale  # Zᵀy/n
        if not (np.isfinite(gram).all() and np.isfinite(cross).all()):
            check_finite(X, "LinearRegression", "X")  # a value whose square overflows
            raise DataError(
                "LinearRegression: the sums of squares overflowed; rescale the features"
            )

        eigenvalues = np.linalg.eigvalsh(gram)
        smallest, largest = eigenvalues[0] + l2, eigenvalues[-1] + l2
        condition = largest / smallest if smallest > 0 else np.inf
        if precision == np.float32 and condition >= MAX_FLOAT32_CONDITION:
            precision = np.dtype(np.float64)  # float32 rounding would show: sum again
            continue
        break
    if condition < MAX_GRAM_CONDITION:
        gram[np.diag_indices(d)] += l2
        weights = np.linalg.solve(gram, cross)
        method = "normal_equations"
    else:
        # Ill-conditioned or rank-deficient: solve on Z itself (ridge as extra rows).
        Z = (X - x_mean) / x_scale
        target = (y - y_mean) / y_scale
        if root_weight is not None:
            Z, target = Z * root_weight[:, None], target * root_weight
        if l2 > 0:
            Z = np.vstack([Z, np.sqrt(count * l2) * np.eye(d)])
            target = np.concatenate([target, np.zeros(d)])
        weights, *_ = np.linalg.lstsq(Z, target, rcond=None)
        method = "lstsq"
    return LeastSquaresSolution(weights, x_mean, x_var, x_scale, y_mean, y_var, y_scale, method)


def _block_sums(X, y, shift_x, shift_y, precision: np.dtype, root_weight=None) -> np.ndarray:
    """Every sum the normal equations need, in one pass over the data.

    Each chunk becomes the block ``[x - shift, y - shift, 1]`` (in ``precision``); the
    product of the block with itself holds Σxxᵀ, Σxy, Σx, Σy², Σy and n at once, and
    the blocks' products are added up in float64. With weights each row is multiplied
    by ``√w`` (its last entry becomes ``√w``), so the sums are weighted and n is Σw.
    """
    n, d = X.shape
    chunk = CHUNK_ROWS[precision]
    block = np.empty((min(n, chunk), d + 2), dtype=precision)
    block[:, d + 1] = 1.0
    total = np.zeros((d + 2, d + 2))
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        part = block[:rows]
        np.subtract(X[start : start + rows], shift_x, out=part[:, :d], casting="unsafe")
        np.subtract(y[start : start + rows], shift_y, out=part[:, d], casting="unsafe")
        if root_weight is not None:
            part[:, d + 1] = root_weight[start : start + rows]
            part[:, : d + 1] *= part[:, d + 1 :]
        total += part.T @ part
    return total
