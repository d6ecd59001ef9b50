"""Choosing the optimizer and a learning rate that needs no tuning.

An estimator names its optimizer with a string (``optimizer="adam"``) and may leave the
step size to thalweg (``learning_rate="auto"``). This module turns those two settings
into an :class:`~thalweg.optim.Optimizer`:

* :func:`make_optimizer` — the optimizer by name;
* :func:`auto_learning_rate` — a pure function of a few numbers about the data (its
  largest curvature, the mean squared norm of a row), so a single process and a Dask
  cluster, which measure those numbers differently, choose the same step;
* :func:`largest_curvature` and :func:`mean_squared_norm` — those numbers, measured on
  some rows in memory (:func:`evenly_spaced_rows` picks them).
"""

from __future__ import annotations

import numpy as np

from thalweg import optim

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

# Good first learning rates for the adaptive methods (their steps are roughly scale-free).
ADAPTIVE_DEFAULT_LR = {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}

# How sharply each loss can curve, per unit of λmax(XᵀX/n): 2 for the squared error,
# ¼ for the logistic loss (σ' ≤ ¼), ½ for softmax cross-entropy.
CURVATURE_FACTOR = {"squared": 2.0, "logistic": 0.25, "softmax": 0.5}

CURVATURE_SAMPLE = 20_000  # rows used to estimate the curvature: plenty for one eigenvalue


# Models with at most this many weights are updated in one flat pass (``packed=True``):
# the same numbers, fewer NumPy calls. Bigger ones gain nothing from it.
PACKED_MAX_WEIGHTS = 65_536


def make_optimizer(name: str, params, lr: float) -> optim.Optimizer:
    """An optimizer by name: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
    ``"rmsprop"``, ``"adam"`` or ``"adamw"``; packed (one flat update, the same numbers)
    when the model has at most :data:`PACKED_MAX_WEIGHTS` weights of one dtype.

    >>> from thalweg import nn
    >>> type(make_optimizer("adam", nn.Linear(2, 1).parameters(), lr=0.01)).__name__
    'Adam'
    """
    params = list(params)
    packed = (
        len(params) > 1
        and len({p.dtype for p in params}) == 1
        and sum(p.size for p in params) <= PACKED_MAX_WEIGHTS
    )
    if name == "sgd":
        return optim.SGD(params, lr=lr, packed=packed)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, packed=packed)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, packed=packed)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr, packed=packed)
    if name == "rmsprop":
        return optim.RMSProp(params, lr=lr, packed=packed)
    if name == "adam":
        return optim.Adam(params, lr=lr, packed=packed)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, packed=packed)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}")


def auto_learning_rate(
    optimizer: str,
    loss_kind: str,
    *,
    curvature: float,
    per_example: float,
    batch_size: int | None,
    n_samples: int,
    l2: float = 0.0,
) -> float:
    """A learning rate that makes gradient descent converge without tuning.

    For plain gradient descent the best constant step is ``1/L``, where ``L`` bounds the
    curvature of the loss: ``factor · λmax(XᵀX/n) + 2·l2`` (``factor`` from
    :data:`CURVATURE_FACTOR`). With small batches each step sees a noisy gradient whose
    curvature can reach ``‖x‖²`` for one example, so ``L`` grows to at least
    ``per_example / batch_size``. Momentum takes a tenth of that step (it accumulates
    about ten of them). Adaptive optimizers get their usual default.

    Parameters
    ----------
    optimizer : str
        A name from :data:`OPTIMIZERS`.
    loss_kind : "squared", "logistic" or "softmax"
    curvature : float
        ``λmax([X, 1]ᵀ[X, 1] / n)`` (see :func:`largest_curvature`).
    per_example : float
        The mean of ``‖[x, 1]‖²`` over rows (see :func:`mean_squared_norm`).
    batch_size : int or None
        Rows per step (None: every row).
    n_samples : int
        Rows per epoch.
    l2 : float
        The ridge penalty's strength.

    >>> auto_learning_rate("sgd", "squared", curvature=1.0, per_example=2.0,
    ...                    batch_size=None, n_samples=100)
    0.5
    >>> auto_learning_rate("adam", "squared", curvature=1.0, per_example=2.0,
    ...                    batch_size=None, n_samples=100)
    0.01
    """
    if optimizer in ADAPTIVE_DEFAULT_LR:
        return ADAPTIVE_DEFAULT_LR[optimizer]
    if batch_size is not None and batch_size < n_samples:
        curvature = max(curvature, per_example / batch_size)
    lr = 1.0 / (CURVATURE_FACTOR[loss_kind] * curvature + 2.0 * l2)
    return lr * (0.1 if optimizer in ("momentum", "nesterov") else 1.0)


def evenly_spaced_rows(X: np.ndarray, count: int = CURVATURE_SAMPLE) -> np.ndarray:
    """About ``count`` rows of ``X`` spread evenly over it (all of them if fewer).

    Every k-th row: a view (no copy), and it covers sorted data from end to end.

    >>> evenly_spaced_rows(np.arange(10).reshape(10, 1), count=4).ravel().tolist()
    [0, 2, 4, 6, 8]
    """
    return X[:: max(1, len(X) // count)]


def largest_curvature(rows: np.ndarray, sample_weight=None, seed: int = 0) -> float:
    """Largest eigenvalue of ``[X, 1]ᵀ W [X, 1] / Σw`` for the rows given (``W``: the
    rows' weights, 1 without ``sample_weight``).

    It bounds how sharply a linear model's squared loss curves, which bounds the
    learning rate full-batch gradient descent can take without diverging. A sample of
    rows (:func:`evenly_spaced_rows`) estimates it well, so big data costs no more.

    >>> round(largest_curvature(np.array([[1.0], [-1.0]])), 6)
    1.0
    """
    rows = np.asarray(rows, dtype=np.float64)
    ones = np.ones(len(rows))  # the intercept's column of [X, 1]
    if sample_weight is not None:  # a row of weight w counts as w rows
        weight = np.asarray(sample_weight, np.float64)
        ones = np.sqrt(weight / weight.mean())
        rows = rows * ones[:, None]
    n, d = len(rows), rows.shape[1] + 1
    if d <= 512:  # small enough to form the d×d matrix and ask for its top eigenvalue
        # [X, 1]ᵀ[X, 1] by blocks (XᵀX, Xᵀ1, n), without building [X, 1]
        gram = np.empty((d, d))
        gram[:-1, :-1] = rows.T @ rows
        gram[:-1, -1] = gram[-1, :-1] = ones @ rows
        gram[-1, -1] = ones @ ones
        return float(np.linalg.eigvalsh(gram / n)[-1])
    design = np.column_stack([rows, ones])
    vector = np.random.default_rng(seed).standard_normal(d)  # power iteration, matvecs only
    value = 1.0
    for _ in range(30):
        vector = design.T @ (design @ vector) / n
        value = float(np.linalg.norm(vector))
        if value == 0:
            return 1.0
        vector /= value
    return value


def mean_squared_norm(rows: np.ndarray, sample_weight=None) -> float:
    """The (weighted) mean of ``‖[x, 1]‖² = ‖x‖² + 1`` over the rows: the curvature one
    example adds.

    >>> mean_squared_norm(np.array([[1.0, 1.0], [0.0, 0.0]]))
    2.0
    """
    rows = np.asarray(rows)
    norms = np.einsum("ij,ij->i", rows, rows, dtype=np.float64)
    return float(np.average(norms, weights=sample_weight)) + 1.0
