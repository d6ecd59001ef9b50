"""Linear regression: by closed-form least squares, or by gradient descent.

Both solvers minimise the same objective, so they reach the same coefficients::

    Σ wᵢ·(yᵢ - xᵢw - b)² / Σ wᵢ + l2·‖w‖² + l1·‖w‖₁     (the intercept b is never penalised;
                                                        wᵢ = 1 without sample weights)

With ``standardize=True`` (the default) it is solved on standardized features and
target, which makes gradient descent converge quickly and makes ``l1``/``l2`` unit-free
(the same strength means the same thing on every dataset); ``coef_`` and
``intercept_`` are always reported in the original units.

:class:`StandardizedLinearModel` holds what linear and logistic regression share: one
``Linear`` layer whose weights are in standardized units, fed the raw features through
``nn.Standardized`` (no standardized copy of the data is ever made).
"""

from __future__ import annotations

import numpy as np

from thalweg import losses, nn
from thalweg.data import Standardizer
from thalweg.data.summary import summarize_arrays
from thalweg.models.base import RegressorMixin
from thalweg.models.gradient import GradientEstimator, standardize, weighted_mean
from thalweg.models.least_squares import solve_least_squares


class StandardizedLinearModel(GradientEstimator):
    """One ``Linear`` layer on standardized features, trained on raw ones.

    The fitted ``scaler_`` (a :class:`~thalweg.data.Standardizer`) always centres the
    features (the intercept absorbs the means) and divides by their standard deviations
    when ``standardize=True``. Subclasses say how many outputs (:meth:`n_outputs`) and
    set ``coef_``/``intercept_`` from :meth:`raw_coefficients`.
    """

    def n_outputs(self) -> int:
        return 1

    def summarize(self, X, y, sample_weight):
        # Without a penalty the solution does not depend on the scaling, which then only
        # conditions the optimisation: moments of evenly spaced rows are enough.
        return summarize_arrays(
            X,
            y,
            task=self._estimator_type,
            sample_weight=sample_weight,
            moments_from_sample=not (self.l1 or self.l2),
            classes=getattr(self, "classes_", None),
        )

    def learn_feature_scaling(self, summary) -> None:
        self.scaler_ = summary.feature_scaler(with_mean=True, with_std=self.standardize)

    def build_module(self, n_features: int, rng=None, dtype=None) -> nn.Standardized:
        """``Linear(n_features, n_outputs)`` from zeros (the objective is convex), wrapped
        to take raw features."""
        layer = nn.Linear(n_features, self.n_outputs(), weight_init="zeros", dtype=dtype)
        return nn.Standardized(layer, *self.scaler_.shift_and_scale())

    def curvature_rows(self, X: np.ndarray) -> np.ndarray:
        return standardize(X, *self.scaler_.shift_and_scale())

    def raw_coefficients(self, weights: np.ndarray, bias: np.ndarray, y_mean=0.0, y_scale=1.0):
        """Standardized-space ``(d, k)`` weights and ``(k,)`` bias -> raw-unit ``coef``
        ``(d, k)`` and ``intercept`` ``(k,)`` (for a target standardized by ``y_mean``
        and ``y_scale``)."""
        shift, scale = self.scaler_.shift_and_scale()
        coef = np.asarray(weights, np.float64) * (y_scale / scale)[:, None]
        intercept = y_mean + y_scale * np.asarray(bias, np.float64) - shift @ coef
        return coef, intercept


class LinearRegression(RegressorMixin, StandardizedLinearModel):
    """Least-squares linear regression, solved exactly or by gradient descent.

    Parameters
    ----------
    solver : "auto", "ols" or "gd"
        ``"ols"``: exact least squares (ridge when ``l2 > 0``) via the normal equations,
        falling back to an SVD when the data is ill-conditioned. ``"gd"``: gradient
        descent. ``"auto"``: ``"ols"`` unless ``l1 > 0`` (which has no closed form).
    l1, l2 : float
        Lasso and ridge strengths (see the module docstring for the objective).
    standardize : bool
        Solve on standardized features and target (results in raw units either way).
    learning_rate : "auto" or float
        ``"auto"`` computes the largest safe step from the data's curvature.
    batch_size : int or None
        None: batch gradient descent; 1: stochastic; k: mini-batch.
    optimizer : str
        ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``.
    max_epochs : int
        Upper bound on passes over the data (``"gd"``).
    tol : float or None
        Stop when the training loss has not improved by more than this for
        ``n_iter_no_change`` epochs (None: always run ``max_epochs``).
    n_iter_no_change : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the data and stop when its loss stops
        improving, keeping the best weights.
    validation_fraction : float
    random_state : None, int or numpy Generator
        Makes shuffling (and so the whole fit) reproducible.
    verbose : int
        1 shows a progress bar in a terminal.
    seed : int, optional
        Deprecated name of ``random_state``.

    ``fit`` takes ``sample_weight``; the closed form ignores ``callbacks``,
    ``validation`` and ``resume``, which are for gradient descent.

    Attributes
    ----------
    coef_ : ndarray (n_features,)
    intercept_ : float
    scaler_ : Standardizer
        The features' centring and scaling; ``y_mean_`` and ``y_scale_``, the target's.
    module_ : thalweg.nn.Standardized
        The trained layer (weights in standardized units).
    history_ : History or None
        Per-epoch losses (``"gd"``); None for the closed form.
    n_iter_ : int
        Epochs run (0 for the closed form).
    solver_ : str
        ``"normal_equations"``, ``"lstsq"`` or ``"gd"``: what actually solved it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = 2 * X[:, 0] + 1
    >>> model = LinearRegression().fit(X, y)
    >>> round(float(model.coef_[0]), 6), round(float(model.intercept_), 6)
    (2.0, 1.0)
    >>> gd = LinearRegression(solver="gd", random_state=0).fit(X, y)
    >>> bool(np.allclose(gd.coef_, model.coef_, rtol=1e-4))
    True
    """

    def __init__(
        self,
        solver: str = "auto",
        l1: float = 0.0,
        l2: float = 0.0,
        standardize: bool = True,
        learning_rate="auto",
        batch_size: int | None = None,
        optimizer: str = "sgd",
        max_epochs: int = 1000,
        tol: float | None = 1e-7,
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
        self.standardize = standardize
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

    def _chosen_solver(self) -> str:
        if self.solver not in ("auto", "ols", "gd"):
            raise ValueError(f"solver must be 'auto', 'ols' or 'gd', got {self.solver!r}")
        if self.l1 and self.solver == "ols":
            raise ValueError(
                "LinearRegression: l1 has no closed-form solution; use solver='gd' "
                "(or solver='auto')"
            )
        if self.solver == "auto":
            return "gd" if self.l1 else "ols"
        return self.solver

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
        """Learn ``coef_`` and ``intercept_`` from ``X`` (n, d) and ``y`` (n,).

        See :meth:`GradientEstimator.fit <thalweg.models.GradientEstimator.fit>` for
        ``sample_weight``, ``callbacks``, ``validation``, ``resume`` and ``batches``
        (``batches`` needs gradient descent: ``solver="gd"``).
        """
        if batches is not None and self._chosen_solver() != "gd":
            raise ValueError(
                "LinearRegression: batches= replaces the mini-batches of gradient descent; "
                "the closed form takes every row at once: use solver='gd'"
            )
        if self._chosen_solver() == "gd":
            return super().fit(
                X,
                y,
                sample_weight=sample_weight,
                callbacks=callbacks,
                validation=validation,
                resume=resume,
                batches=batches,
            )
        # The closed form's one pass over X would carry any NaN into its sums, so it
        # checks those afterwards instead of scanning X first.
        X = self._validate_X(X, reset=True, finite=False)
        y = self._validate_y(y, X.shape[0], reset=True)
        weight = self._validate_sample_weight(sample_weight, X.shape[0])
        l2 = self.resolve_l2(X.shape[0] if weight is None else float(np.sum(weight)))
        # One pass over the data gives the scaling and the normal equations together.
        solution = solve_least_squares(X, y, self.standardize, l2, sample_weight=weight)
        self.scaler_ = Standardizer.from_statistics(
            solution.x_mean, solution.x_var, X.shape[0], with_std=self.standardize
        )
        self.y_mean_, self.y_scale_ = solution.y_mean, solution.y_scale
        # Keep the solution as a layer too, so partial_fit can continue from it.
        self.module_ = self.build_module(X.shape[1], dtype=X.dtype)
        self.module_.layer.weight.data[:, 0] = solution.weights
        self.optimizer_, self.history_, self.n_iter_ = None, None, 0
        self.solver_ = solution.method
        self._set_coefficients(solution.weights[:, None], np.zeros(1))
        return self

    def partial_fit(self, X, y, sample_weight=None, *, callbacks=()):
        """One epoch of gradient descent on this batch, continuing from the current
        weights. The first call fixes the standardization from its batch (use
        ``fit_stream`` to standardize from a full first pass instead)."""
        return self._partial_fit(X, y, None, sample_weight, callbacks)

    # ------------------------------------------------------------------ the contract
    def learn_encoding(self, summary) -> None:
        self.learn_feature_scaling(summary)
        self.y_mean_, self.y_scale_ = summary.target_scale(self.standardize)

    def encode(self, X, y=None):
        """Raw features (the module standardizes them through its weights) and the
        standardized target ``(n, 1)``."""
        if y is None:
            return X, None
        return X, standardize(np.asarray(y)[:, None], self.y_mean_, self.y_scale_, X.dtype)

    def loss(self, output, target, sample_weight=None):
        return weighted_mean(losses.mse, output, target, sample_weight)

    def finish(self, module, history) -> None:
        self.solver_ = "gd"
        self._set_coefficients(module.layer.weight.data, module.layer.bias.data)

    def _set_coefficients(self, weights: np.ndarray, bias: np.ndarray) -> None:
        coef, intercept = self.raw_coefficients(weights, bias, self.y_mean_, self.y_scale_)
        self.coef_ = coef[:, 0]
        self.intercept_ = float(intercept[0])

    # ------------------------------------------------------------------ predicting
    def predict(self, X) -> np.ndarray:
        """Predicted targets ``X @ coef_ + intercept_``, shape (n_samples,)."""
        X = self._validate_X(X, reset=False)
        return X @ self.coef_ + self.intercept_
