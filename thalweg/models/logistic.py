"""Logistic regression: binary (sigmoid) and multinomial (softmax).

The model is a linear layer whose outputs are read as log-odds: one logit and the
sigmoid for two classes, one logit per class and the softmax for more. It minimises
the mean cross-entropy (log loss) plus the penalties::

    mean(log loss) + l2·‖W‖² + l1·‖W‖₁              (the intercepts are never penalised)

(scikit-learn's ``C`` corresponds to ``l2 = 1 / (2·C·n_samples)``.)

Two solvers: ``"lbfgs"`` — the quasi-Newton method L-BFGS (SciPy's implementation)
driven by loss values and gradients from thalweg's engine; and ``"gd"`` — gradient
descent through :func:`thalweg.train.fit`, the one that handles ``l1`` (by proximal
steps), mini-batches and early stopping.
"""

from __future__ import annotations

import warnings

import numpy as np

from thalweg import losses, nn
from thalweg.autograd import engine
from thalweg.autograd.creation import from_numpy
from thalweg.models.base import ClassifierMixin, Estimator
from thalweg.models.gradient_descent import sample_rows, train_module
from thalweg.models.linear import Scaling
from thalweg.models.streaming import (
    EncodeLabels,
    Standardize,
    remember_features,
    summarize,
    train_on_stream,
)

LBFGS_CHUNK_BYTES = 4 * 1024 * 1024  # rows per L-BFGS evaluation chunk: fits in cache


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped at its iteration limit before converging."""


class LogisticRegression(ClassifierMixin, Estimator):
    """Logistic (binary) and softmax (multinomial) regression.

    Parameters
    ----------
    solver : "lbfgs" or "gd"
        ``"lbfgs"`` (default) is fast and exact for smooth objectives; ``"gd"`` is
        gradient descent and is required for ``l1``.
    l1, l2 : float
        Lasso and ridge strengths (see the module docstring).
    threshold : float
        Binary only: predict the positive class when its probability is at least this.
    standardize : bool
        Fit on standardized features (coefficients reported in raw units either way).
    learning_rate, batch_size, optimizer, tol, n_iter_no_change, early_stopping,
    validation_fraction, seed, verbose
        Gradient-descent settings, as in :class:`~thalweg.models.LinearRegression`
        (``tol`` is also L-BFGS' gradient tolerance).
    max_epochs : int
        Epochs of gradient descent, or iterations of L-BFGS.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    coef_ : ndarray (1, n_features) for two classes, (n_classes, n_features) for more
    intercept_ : ndarray (1,) or (n_classes,)
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
        l2: float = 0.0,
        threshold: float = 0.5,
        standardize: bool = True,
        learning_rate="auto",
        batch_size: int | None = None,
        optimizer: str = "sgd",
        max_epochs: int = 1000,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        seed: int | None = None,
        verbose: int = 0,
    ):
        self.solver = solver
        self.l1 = l1
        self.l2 = l2
        self.threshold = threshold
        self.standardize = standardize
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> LogisticRegression:
        """Learn the coefficients from ``X`` (n, d) and class labels ``y`` (n,)."""
        if self.solver not in ("lbfgs", "gd"):
            raise ValueError(f"solver must be 'lbfgs' or 'gd', got {self.solver!r}")
        if self.l1 and self.solver == "lbfgs":
            raise ValueError(
                "LogisticRegression: l1 is not differentiable at 0, which L-BFGS needs; "
                "use solver='gd' (proximal gradient descent)"
            )
        X = self._validate_X(X, reset=True)
        codes = self._encode_labels(y, X.shape[0], reset=True)
        # Without a penalty the solution does not depend on the scaling, which then only
        # conditions the optimisation: statistics from a sample of rows are enough.
        unpenalized = not (self.l1 or self.l2)
        self.scaling_ = Scaling.fit(X, None, self.standardize, sampled=unpenalized)
        if self.solver == "lbfgs":
            return self._fit_lbfgs(X, codes)
        self.module_ = None
        return self._fit_gd(X, codes, epochs=self.max_epochs)

    def partial_fit(self, X, y, classes=None) -> LogisticRegression:
        """One epoch of gradient descent on this batch. Pass every class in ``classes``
        on the first call (later batches may lack some)."""
        first = not self._is_fitted()
        X = self._validate_X(X, reset=first)
        if first:
            if classes is None:
                raise ValueError("partial_fit: pass classes= (all class labels) on the first call")
            codes = self._encode_labels(y, X.shape[0], reset=True, classes=np.unique(classes))
            self.scaling_ = Scaling.fit(X, None, self.standardize)
            self.module_ = None
        else:
            codes = self._encode_labels(y, X.shape[0], reset=False)
        return self._fit_gd(X, codes, epochs=1, continue_training=not first)

    def fit_stream(self, stream, epochs: int | None = None, validation=None) -> LogisticRegression:
        """Learn from a stream of ``(X, y)`` batches too big for memory (``thalweg.data.stream``).

        A first pass over the stream learns the standardization and the classes; then
        ``epochs`` passes (default: the stream's ``epochs``) of mini-batch gradient
        descent with this model's optimizer, learning rate and penalties. ``solver`` is
        ignored (L-BFGS needs the full gradient at every step) and the stream's
        ``batch_size`` replaces ``batch_size``. ``validation=(X_val, y_val)`` is needed
        for ``early_stopping``. See :mod:`thalweg.models.streaming`.

        >>> import numpy as np, os, tempfile
        >>> from thalweg.data import stream
        >>> path = os.path.join(tempfile.mkdtemp(), "points.npy")
        >>> x = np.linspace(-1, 1, 200)
        >>> np.save(path, np.column_stack([x, x > 0]))  # last column: the label
        >>> data = stream(path, target=-1, batch_size=20, seed=0, epochs=20)
        >>> model = LogisticRegression(seed=0).fit_stream(data)
        >>> model.predict([[-0.5], [0.5]]).tolist()
        [0.0, 1.0]
        """
        summary = summarize(stream, task="classifier", seed=self.seed)
        remember_features(self, summary)
        self.classes_ = summary.classes
        self.scaling_ = Scaling.from_statistics(summary.features, None, self.standardize)
        self.module_ = nn.Linear(self.n_features_in_, self._n_outputs(), weight_init="zeros")
        history, self.optimizer_ = train_on_stream(
            self,
            self.module_,
            self._loss,
            [self.module_.weight],
            stream,
            features=Standardize(self.scaling_.x_mean, self.scaling_.x_scale),
            target=EncodeLabels(self.classes_, binary=self._n_outputs() == 1),
            loss_kind=self._loss_kind(),
            epochs=epochs,
            summary=summary,
            validation=validation,
        )
        return self._trained(history, continue_training=False)

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _loss(self, output, codes, reduction: str = "mean"):
        if self._n_outputs() == 1:
            return losses.binary_cross_entropy_with_logits(
                output, codes.reshape(-1, 1), reduction=reduction
            )
        return losses.cross_entropy(output, codes, reduction=reduction)

    def _fit_gd(self, X, codes, epochs: int, continue_training: bool = False):
        if getattr(self, "module_", None) is None:
            self.module_ = nn.Linear(X.shape[1], self._n_outputs(), weight_init="zeros")
            self.optimizer_ = None
        history, self.optimizer_ = train_module(
            self,
            self.scaling_.model_on_raw_inputs(self.module_),  # no standardized copy of X
            self._loss,
            [self.module_.weight],
            X,
            self._target(codes),
            loss_kind=self._loss_kind(),
            epochs=epochs,
            batch_size=self.batch_size,
            optimizer=getattr(self, "optimizer_", None) if continue_training else None,
            curvature_sample=self.scaling_.features(sample_rows(X)),
        )
        return self._trained(history, continue_training)

    def _training_pair(self, X: np.ndarray, y) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` as gradient descent consumes them: raw features (the
        model standardizes through its weights) and encoded labels."""
        return X, self._target(self._encode_labels(y, X.shape[0], reset=False))

    def _target(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(np.float32) if self._n_outputs() == 1 else codes

    def _loss_kind(self) -> str:
        return "logistic" if self._n_outputs() == 1 else "softmax"

    def _trained(self, history, continue_training: bool) -> LogisticRegression:
        self.history_ = history
        self.n_iter_ = (self.n_iter_ if continue_training else 0) + len(history)
        self._set_coefficients(self.module_.weight.data, self.module_.bias.data)
        return self

    def _fit_lbfgs(self, X: np.ndarray, codes: np.ndarray) -> LogisticRegression:
        """Minimise the objective with SciPy's L-BFGS, fed thalweg's loss and gradients.

        Each evaluation runs over the data in chunks of a few megabytes, so the two
        products with a chunk (logits forward, gradient backward) find it still in cache:
        one trip through memory instead of two. The arithmetic is in the data's dtype
        (float32 data stays float32, as in scikit-learn), on raw features: the layer
        standardizes through its weights (``nn.Standardized``).
        """
        from scipy.optimize import minimize

        n, d = X.shape
        k = self._n_outputs()
        layer = nn.Linear(d, k, weight_init="zeros", dtype=X.dtype)
        model = self.scaling_.model_on_raw_inputs(layer)
        weight, bias = layer.weight, layer.bias
        target = self._target(codes)
        chunk = max(4096, LBFGS_CHUNK_BYTES // (d * X.itemsize))

        def loss_and_gradient(theta):
            weight.data[...] = theta[: d * k].reshape(d, k)
            bias.data[...] = theta[d * k :]
            total = 0.0
            grad_weight, grad_bias = np.zeros((d, k)), np.zeros(k)
            for start in range(0, n, chunk):
                rows = slice(start, start + chunk)
                loss = self._loss(model(from_numpy(X[rows])), target[rows], reduction="sum")
                chunk_weight, chunk_bias = engine.grad(loss, [weight, bias])
                total += loss.item()
                grad_weight += chunk_weight
                grad_bias += chunk_bias
            # Mean loss plus the penalty (its gradient 2·l2·W written out: one line).
            loss_value = total / n + self.l2 * float(np.sum(theta[: d * k] ** 2))
            grad_weight = grad_weight / n + 2 * self.l2 * theta[: d * k].reshape(d, k)
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
                ConvergenceWarning,
                stacklevel=3,
            )
        theta = result.x
        weight.data[...] = theta[: d * k].reshape(d, k)
        bias.data[...] = theta[d * k :]
        self.module_, self.optimizer_ = layer, None  # partial_fit continues from here
        self.n_iter_ = int(result.nit)
        self.history_ = None
        self.loss_ = float(result.fun)
        self._set_coefficients(theta[: d * k].reshape(d, k), theta[d * k :])
        return self

    def _set_coefficients(self, weights: np.ndarray, bias: np.ndarray) -> None:
        coef, intercept = self.scaling_.raw_coefficients(
            weights.astype(np.float64), bias.astype(np.float64)
        )
        self.coef_ = coef.T.copy()  # scikit-learn's layout: (n_outputs, n_features)
        self.intercept_ = intercept

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
