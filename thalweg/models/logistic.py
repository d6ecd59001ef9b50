"""Logistic regression: binary (sigmoid) and multinomial (softmax).

The model is a linear layer whose outputs are read as log-odds: one logit and the
sigmoid for two classes, one logit per class and the softmax for more. It minimises
the (weighted) mean cross-entropy (log loss) plus the penalties::

    mean(log loss) + l2·‖W‖² + l1·‖W‖₁              (the intercepts are never penalised)

with ``W`` in standardized units. scikit-learn's ``C`` corresponds to
``l2 = 1 / (2·C·n_samples)``; the default ``l2="auto"`` is ``1 / (2·n_samples)``,
scikit-learn's default ``C=1`` on standardized features (``StandardScaler`` then
``LogisticRegression()``). Without a penalty, data that a line separates drives the
weights to infinity and the probabilities to 0 and 1: confident, and wrong on new rows
(see ``docs/models.md``, "Defaults"). ``l2=0`` asks for the unpenalized fit.

Two solvers: ``"lbfgs"`` — the quasi-Newton method L-BFGS (SciPy's implementation)
driven by loss values and gradients from thalweg's engine; and ``"gd"`` — gradient
descent through :class:`~thalweg.models.GradientEstimator`, the one that handles ``l1``
(by proximal steps), mini-batches, early stopping and ``partial_fit``.
"""

from __future__ import annotations

import warnings

import numpy as np

from thalweg import losses
from thalweg.autograd import engine
from thalweg.autograd.creation import from_numpy
from thalweg.errors import ConvergenceWarning
from thalweg.models.base import ClassifierMixin
from thalweg.models.compat import sklearn_compatible
from thalweg.models.gradient import classification_loss, label_targets, logit_count
from thalweg.models.linear import StandardizedLinearModel

LBFGS_CHUNK_BYTES = 4 * 1024 * 1024  # rows per L-BFGS evaluation chunk: fits in cache


class LogisticRegression(ClassifierMixin, StandardizedLinearModel):
    """Logistic (binary) and softmax (multinomial) regression.

    Parameters
    ----------
    solver : "lbfgs" or "gd"
        ``"lbfgs"`` (default) is fast and exact for smooth objectives; ``"gd"`` is
        gradient descent and is required for ``l1``.
    l1 : float
        Lasso strength (see the module docstring).
    l2 : float or "auto"
        Ridge strength. ``"auto"`` (default): ``1 / (2·n_samples)`` (with sample
        weights, their sum), the same fit as scikit-learn's ``LogisticRegression(C=1)``
        on standardized features; it keeps the weights finite when the classes are
        separable. ``0``: unpenalized (scikit-learn's ``penalty=None``). The value used
        is ``l2_``.
    threshold : float
        Binary only: predict the positive class when its probability is at least this.
    standardize : bool
        Fit on standardized features (coefficients reported in raw units either way).
    class_weight : None, "balanced" or dict
        Weights of the classes in the loss (see :class:`~thalweg.models.base.ClassifierMixin`).
    learning_rate, batch_size, optimizer, tol, n_iter_no_change, early_stopping,
    validation_fraction, random_state, verbose
        Gradient-descent settings, as in :class:`~thalweg.models.LinearRegression`
        (``tol`` is also L-BFGS' gradient tolerance).
    max_epochs : int
        Epochs of gradient descent, or iterations of L-BFGS.
    seed : int, optional
        Deprecated name of ``random_state``.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, (n_classes, n_features) for more
    intercept_ : ndarray (1,) or (n_classes,)
    l2_ : float
        The ridge strength the fit used.
    scaler_ : Standardizer
    module_ : thalweg.nn.Standardized
    n_iter_ : int
    history_ : History or None (``"gd"`` only)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array(["no", "no", "yes", "yes"])
    >>> model = LogisticRegression().fit(X, y)
    >>> model.predict([[-3.0], [3.0]]).tolist()
    ['no', 'yes']
    >>> model.predict_proba([[0.0]]).round(3).tolist()
    [[0.5, 0.5]]
    """

    def __init__(
        self,
        solver: str = "lbfgs",
        l1: float = 0.0,
        l2: float | str = "auto",
        threshold: float = 0.5,
        standardize: bool = True,
        class_weight=None,
        learning_rate="auto",
        batch_size: int | None = None,
        optimizer: str = "sgd",
        max_epochs: int = 1000,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        random_state=None,
        verbose: int = 0,
        seed: int | None = None,
    ):
        self.solver = solver
        self.l1 = l1
        self.l2 = l2
        self.threshold = threshold
        self.standardize = standardize
        self.class_weight = class_weight
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose
        self.seed = seed

    @property
    def loss_kind(self) -> str:
        """How the loss curves (for the automatic learning rate)."""
        return "logistic" if self.n_outputs() == 1 else "softmax"

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        X,
        y,
        *,
        sample_weight=None,
        callbacks=(),
        validation=None,
        resume=None,
        batches=None,
    ):
        """Learn the coefficients from ``X`` (n, d) and class labels ``y`` (n,).

        See :meth:`GradientEstimator.fit <thalweg.models.GradientEstimator.fit>` for
        ``sample_weight``, ``callbacks``, ``validation``, ``resume`` and ``batches``
        (``callbacks``, ``validation`` and ``resume`` apply to ``solver="gd"``; L-BFGS
        ignores them; ``batches`` needs ``solver="gd"``).
        """
        if self.solver not in ("lbfgs", "gd"):
            raise ValueError(f"solver must be 'lbfgs' or 'gd', got {self.solver!r}")
        if batches is not None and self.solver != "gd":
            raise ValueError(
                "LogisticRegression: batches= replaces the mini-batches of gradient descent; "
                "L-BFGS takes every row at each step: use solver='gd'"
            )
        if self.l1 and self.solver == "lbfgs":
            raise ValueError(
                "LogisticRegression: l1 is not differentiable at 0, which L-BFGS needs; "
                "use solver='gd' (proximal gradient descent)"
            )
        if self.solver == "gd":
            return super().fit(
                X,
                y,
                sample_weight=sample_weight,
                callbacks=callbacks,
                validation=validation,
                resume=resume,
                batches=batches,
            )
        X, y, weight = self._validate_training_data(X, y, sample_weight, reset=True)
        self.learn_encoding(self.summarize(X, y, weight))
        return self._fit_lbfgs(X, self.encode_labels(y), weight)

    # ------------------------------------------------------------------ the contract
    def n_outputs(self) -> int:
        return logit_count(len(self.classes_))

    def learn_encoding(self, summary) -> None:
        self.learn_feature_scaling(summary)

    def encode(self, X, y=None):
        """Raw features (the module standardizes them through its weights) and the class
        codes as the loss takes them."""
        if y is None:
            return X, None
        return X, label_targets(self.encode_labels(y), len(self.classes_), X.dtype)

    def loss(self, output, target, sample_weight=None):
        return classification_loss(output, target, sample_weight)

    def finish(self, module, history) -> None:
        self._set_coefficients(module.layer.weight.data, module.layer.bias.data)

    def _set_coefficients(self, weights: np.ndarray, bias: np.ndarray) -> None:
        coef, intercept = self.raw_coefficients(weights, bias)
        self.coef_ = coef.T.copy()  # scikit-learn's layout: (n_outputs, n_features)
        self.intercept_ = intercept

    # ------------------------------------------------------------------ L-BFGS
    def _fit_lbfgs(self, X: np.ndarray, codes: np.ndarray, weight) -> LogisticRegression:
        """Minimise the objective with SciPy's L-BFGS, fed thalweg's loss and gradients.

        Each evaluation runs over the data in chunks of a few megabytes, so the two
        products with a chunk (logits forward, gradient backward) find it still in cache:
        one trip through memory instead of two. The arithmetic is in the data's dtype
        (float32 data stays float32, as in scikit-learn), on raw features: the layer
        standardizes through its weights (``nn.Standardized``).
        """
        from scipy.optimize import minimize

        n, d = X.shape
        k = self.n_outputs()
        model = self.build_module(d, dtype=X.dtype)
        weight_param, bias_param = model.layer.weight, model.layer.bias
        target = label_targets(codes, len(self.classes_), dtype=X.dtype)
        chunk = max(4096, LBFGS_CHUNK_BYTES // (d * X.itemsize))
        summed = losses.binary_cross_entropy_with_logits if k == 1 else losses.cross_entropy
        l2 = self.l2_strength()

        def loss_and_gradient(theta):
            weight_param.data[...] = theta[: d * k].reshape(d, k)
            bias_param.data[...] = theta[d * k :]
            total = 0.0
            grad_weight, grad_bias = np.zeros((d, k)), np.zeros(k)
            for start in range(0, n, chunk):
                rows = slice(start, start + chunk)
                loss = summed(
                    model(from_numpy(X[rows])),
                    target[rows],
                    weight=None if weight is None else weight[rows],
                    reduction="sum",
                )
                chunk_weight, chunk_bias = engine.grad(loss, [weight_param, bias_param])
                total += loss.item()
                grad_weight += chunk_weight
                grad_bias += chunk_bias
            # Mean loss plus the penalty (its gradient 2·l2·W written out: one line). The
            # row weights average 1, so a sum over n is the weighted mean.
            loss_value = total / n + l2 * float(np.sum(theta[: d * k] ** 2))
            grad_weight = grad_weight / n + 2 * l2 * theta[: d * k].reshape(d, k)
            return loss_value, np.concatenate([grad_weight.ravel(), grad_bias / n])

        result = minimize(
            loss_and_gradient,
            np.zeros(d * k + k),
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": self.max_epochs,
                "maxls": 50,
                "gtol": self.tol if self.tol is not None else 1e-4,
                # Stop when the loss stops moving by more than its own rounding (float32
                # sums carry ~1e-7 of it): beyond that, line searches only chase noise.
                "ftol": 64 * np.finfo(X.dtype).eps,
            },
        )
        if not result.success and result.nit >= self.max_epochs:
            warnings.warn(
                f"LogisticRegression: L-BFGS did not converge in {self.max_epochs} "
                "iterations; increase max_epochs or standardize the features",
                sklearn_compatible(ConvergenceWarning, "ConvergenceWarning"),
                stacklevel=3,
            )
        theta = result.x
        weight_param.data[...] = theta[: d * k].reshape(d, k)
        bias_param.data[...] = theta[d * k :]
        self.module_, self.optimizer_ = model, None  # partial_fit continues from here
        self.n_iter_ = int(result.nit)
        self.history_ = None
        self.loss_ = float(result.fun)
        self._set_coefficients(theta[: d * k].reshape(d, k), theta[d * k :])
        return self

    # ------------------------------------------------------------------ predicting
    def decision_function(self, X) -> np.ndarray:
        """Logits: ``(n,)`` (log-odds of ``classes_[1]``) for two classes, else ``(n, k)``."""
        X = self._validate_X(X, reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted class labels (binary: probability of ``classes_[1]`` ≥ ``threshold``)."""
        probabilities = self.predict_proba(X)
        if len(self.classes_) == 2:
            return self.classes_[(probabilities[:, 1] >= self.threshold).astype(int)]
        return self.classes_[np.argmax(probabilities, axis=1)]
