"""Training an estimator's network by gradient descent: the parts all models share.

Each estimator builds a small ``thalweg.nn`` module (a ``Linear`` layer for linear and
logistic regression, a stack of them for an MLP), a loss, and hands them to
:func:`train_module`, which picks the optimizer and the learning rate, adds the
callbacks the estimator's parameters ask for (convergence, early stopping, the L1
proximal step) and calls :func:`thalweg.train.fit`.
"""

from __future__ import annotations

import numpy as np

from thalweg import optim
from thalweg.optim.transforms import proximal_l1
from thalweg.train import Callback, Convergence, EarlyStopping, fit

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

# Good first learning rates for the adaptive methods (their steps are roughly scale-free).
ADAPTIVE_DEFAULT_LR = {"adagrad": 0.1, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}


def make_optimizer(name: str, params, lr) -> optim.Optimizer:
    """An optimizer by name: ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
    ``"rmsprop"``, ``"adam"`` or ``"adamw"``."""
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    if name == "adagrad":
        return optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSProp(params, lr=lr)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "adamw":
        return optim.AdamW(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {list(OPTIMIZERS)}")


CURVATURE_SAMPLE = 20_000  # rows used to estimate the curvature: plenty for one eigenvalue


def sample_rows(X: np.ndarray, rows: int = CURVATURE_SAMPLE) -> np.ndarray:
    """About ``rows`` rows of ``X`` spread evenly over it (all of them if fewer).

    Every k-th row: a view (no copy), and it covers sorted data from end to end.
    """
    return X[:: max(1, len(X) // rows)]


def largest_curvature(X: np.ndarray, seed: int = 0) -> float:
    """Largest eigenvalue of ``[X, 1]ᵀ[X, 1] / n``, estimated on a sample of rows.

    It bounds how sharply a linear model's squared loss curves, which bounds the
    learning rate full-batch gradient descent can take without diverging. An average
    over 20,000 random rows estimates it well, so large data costs no more than that.
    """
    sample = sample_rows(X).astype(np.float64)
    design = np.column_stack([sample, np.ones(len(sample))])
    n, d = design.shape
    if d <= 512:  # small enough to form the d×d matrix and ask for its top eigenvalue
        return float(np.linalg.eigvalsh(design.T @ design / n)[-1])
    vector = np.random.default_rng(seed).standard_normal(d)  # power iteration, matvecs only
    value = 1.0
    for _ in range(30):
        vector = design.T @ (design @ vector) / n
        value = float(np.linalg.norm(vector))
        if value == 0:
            return 1.0
        vector /= value
    return value


def auto_learning_rate(
    X: np.ndarray, loss: str, optimizer: str, batch_size: int | None, l2: float
) -> float:
    """A learning rate that makes gradient descent converge without tuning.

    For plain gradient descent the best constant step is ``1/L``, where ``L`` bounds the
    curvature of the loss: ``2·λmax(XᵀX/n)`` for the squared error, ``λmax/4`` for the
    logistic loss (σ' ≤ ¼), ``λmax/2`` for softmax cross-entropy, plus ``2·l2``. With
    small batches each step sees a noisy gradient with larger curvature (up to
    ``‖x‖²`` for one example), so ``L`` grows accordingly. Momentum takes a smaller
    step (it accumulates ~10 of them). Adaptive optimizers get their usual default.
    """
    if optimizer in ADAPTIVE_DEFAULT_LR:
        return ADAPTIVE_DEFAULT_LR[optimizer]
    curvature = largest_curvature(X)
    n = X.shape[0]
    if batch_size is not None and batch_size < n:
        sample = sample_rows(X)
        per_example = float(np.mean(np.einsum("ij,ij->i", sample, sample))) + 1.0
        curvature = max(curvature, per_example / batch_size)
    factor = {"squared": 2.0, "logistic": 0.25, "softmax": 0.5}[loss]
    lr = 1.0 / (factor * curvature + 2.0 * l2)
    return lr * (0.1 if optimizer in ("momentum", "nesterov") else 1.0)


class L1Proximal(Callback):
    """After every step, soft-threshold the weights by ``step size · l1``.

    Gradient step on the smooth part of the loss, then the proximal step of
    ``l1·Σ|w|``: proximal gradient descent (ISTA). It drives irrelevant weights to
    exactly 0, where a subgradient would leave them jittering around it. With an
    adaptive optimizer the step size is per weight (``lr/(√v̂+ε)`` for Adam), so the
    threshold is too: the proximal step is taken in the optimizer's own geometry.
    """

    def __init__(self, weights, l1: float):
        self.weights = weights
        self.l1 = l1

    def on_batch_end(self, state, loss):
        optimizer = state.optimizer
        lr = optimizer.learning_rate_at(optimizer.global_step - 1)
        for weight in self.weights:
            proximal_l1([weight], optimizer.effective_learning_rate(weight, lr) * self.l1)


def with_l2_penalty(loss_fn, weights, l2: float):
    """``loss_fn`` plus ``l2·Σ w²`` over ``weights`` (never the biases)."""
    if not l2:
        return loss_fn

    def penalized(output, target):
        loss = loss_fn(output, target)
        for w in weights:
            loss = loss + l2 * (w * w).sum()
        return loss

    return penalized


def train_module(
    estimator,
    module,
    loss_fn,
    weights,
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss_kind: str,
    epochs: int,
    batch_size: int | None,
    optimizer=None,
    curvature_sample: np.ndarray | None = None,
    validation: tuple | None = None,
):
    """Train ``module`` on ``(X, y)`` with the estimator's gradient-descent settings
    (``learning_rate``, ``optimizer``, ``l1``, ``l2``, ``tol``, ``n_iter_no_change``,
    ``early_stopping``, ``validation_fraction``, ``seed``, ``verbose``).

    Returns ``(history, optimizer)``; pass the optimizer back in to continue training
    (``partial_fit``).

    A caller that wraps the estimator (``thalweg.models.tabular.TabularModel``) may set
    ``estimator._fit_extras`` for one fit: ``{"callbacks": [...]}`` (run first, e.g. a
    ``Checkpoint``), ``"validation"``: a function ``estimator -> (X_val, y_val)`` giving
    held-out rows transformed like ``X`` and ``y``, ``"resume"``: a checkpoint path, and
    ``"batches"``: a function ``(X, y, batch_size) -> batch source`` that replaces the
    shuffled mini-batches of ``(X, y)`` (class-balanced batches,
    ``Pipeline.from_arrays(X, y).balance().batch(B)``). It is not a constructor
    parameter, so ``get_params`` and model files never see it.

    ``X`` may also be a batch source (a stream; ``y`` None, see ``fit_stream``): then
    ``curvature_sample``, some rows of its prepared features, stands in for ``X`` when
    ``learning_rate="auto"`` measures the curvature, and early stopping needs
    ``validation=(X_val, y_val)``, prepared the same way.
    """
    extras = getattr(estimator, "_fit_extras", None) or {}
    if optimizer is None:
        lr = estimator.learning_rate
        if lr == "auto":
            rows = X if curvature_sample is None else curvature_sample
            lr = auto_learning_rate(rows, loss_kind, estimator.optimizer, batch_size, estimator.l2)
        optimizer = make_optimizer(estimator.optimizer, module.parameters(), lr)
    callbacks = list(extras.get("callbacks", ()))
    if estimator.l1:
        callbacks.append(L1Proximal(weights, estimator.l1))
    early = getattr(estimator, "early_stopping", False)
    if early:
        callbacks.append(
            EarlyStopping("val_loss", patience=estimator.n_iter_no_change, restore_best=True)
        )
    if estimator.tol is not None:
        callbacks.append(Convergence(tol=estimator.tol, patience=estimator.n_iter_no_change))
    if extras.get("validation"):
        validation = extras["validation"](estimator)
    if extras.get("batches") is not None and y is not None:
        X, y = extras["batches"](X, y, batch_size or len(X)), None
    history = fit(
        module,
        with_l2_penalty(loss_fn, weights, estimator.l2),
        optimizer,
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=estimator.seed,
        validation=validation,
        validation_fraction=estimator.validation_fraction if early and not validation else None,
        callbacks=callbacks,
        verbose=estimator.verbose,
        resume=extras.get("resume"),
    )
    return history, optimizer
