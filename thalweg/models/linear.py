"""Linear regression: by closed-form least squares, or by gradient descent.

Both solvers minimise the same objective, so they reach the same coefficients::

    mean((y - Xw - b)²) + l2·‖w‖² + l1·‖w‖₁         (the intercept b is never penalised)

With ``standardize=True`` (the default) it is solved on standardized features and
target, which makes gradient descent converge quickly and makes ``l1``/``l2`` unit-free
(the same strength means the same thing on every dataset); ``coef_`` and
``intercept_`` are always reported in the original units.
"""

from __future__ import annotations

import numpy as np

from thalweg import losses, nn
from thalweg.data import Standardizer
from thalweg.data.preprocessing import column_moments, scale_from_variance
from thalweg.models import validation
from thalweg.models.base import Estimator, RegressorMixin
from thalweg.models.gradient_descent import sample_rows, train_module
from thalweg.models.least_squares import solve_least_squares
from thalweg.models.streaming import (
    ScaleTarget,
    Standardize,
    remember_features,
    summarize,
    train_on_stream,
)


class Scaling:
    """Centring and scaling of features and target, and the way back to raw units."""

    def __init__(self, x_mean, x_scale, y_mean, y_scale):
        self.x_mean, self.x_scale, self.y_mean, self.y_scale = x_mean, x_scale, y_mean, y_scale

    @classmethod
    def fit(
        cls, X: np.ndarray, y: np.ndarray | None, standardize: bool, sampled: bool = False
    ) -> Scaling:
        """Statistics of ``X`` (and ``y``). ``sampled=True`` estimates the features'
        from about 20,000 rows: enough when the scaling only conditions the optimisation
        (no penalty, so the solution does not depend on it)."""
        rows = sample_rows(X) if sampled else X
        x_mean, x_var = column_moments(rows)
        if standardize:
            x_scale = scale_from_variance(x_var, x_mean, len(rows))
        else:
            x_scale = np.ones(X.shape[1])
        y_mean, y_scale = 0.0, 1.0
        if y is not None:
            y_mean = float(y.mean())
            spread = float(y.std())
            y_scale = spread if standardize and spread > 0 else 1.0
        return cls(x_mean, x_scale, y_mean, y_scale)

    @classmethod
    def from_statistics(
        cls, x_stats: Standardizer, y_stats: Standardizer | None, standardize: bool
    ) -> Scaling:
        """The same scaling from statistics gathered batch by batch (``partial_fit``)."""
        x_mean = x_stats.mean_.astype(np.float64)
        x_scale = x_stats.scale_.astype(np.float64) if standardize else np.ones(len(x_mean))
        y_mean, y_scale = 0.0, 1.0
        if y_stats is not None:
            y_mean = float(y_stats.mean_[0])
            y_scale = float(y_stats.scale_[0]) if standardize else 1.0
        return cls(x_mean, x_scale, y_mean, y_scale)

    def to_state(self) -> dict:
        return {
            "x_mean": self.x_mean,
            "x_scale": self.x_scale,
            "y_mean": self.y_mean,
            "y_scale": self.y_scale,
        }

    @classmethod
    def from_state(cls, state: dict) -> Scaling:
        return cls(state["x_mean"], state["x_scale"], state["y_mean"], state["y_scale"])

    def model_on_raw_inputs(self, layer: nn.Linear) -> nn.Standardized:
        """``layer`` (weights in standardized units) wrapped to take raw features."""
        return nn.Standardized(layer, self.x_mean, self.x_scale)

    def features(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        return ((X - self.x_mean) / self.x_scale).astype(dtype)

    def target(self, y: np.ndarray, dtype=np.float32) -> np.ndarray:
        return ((y - self.y_mean) / self.y_scale).astype(dtype)

    def raw_coefficients(self, weights: np.ndarray, bias: np.ndarray):
        """Standardized-space ``(d, k)`` weights and ``(k,)`` bias -> raw-unit ``coef``
        ``(d, k)`` and ``intercept`` ``(k,)``."""
        coef = weights * (self.y_scale / self.x_scale)[:, None]
        intercept = self.y_mean + self.y_scale * bias - self.x_mean @ coef
        return coef, intercept


class LinearRegression(RegressorMixin, Estimator):
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
        Stop when the training loss changes by less than this (relative) for
        ``n_iter_no_change`` epochs.
    n_iter_no_change : int
    early_stopping : bool
        Hold out ``validation_fraction`` of the data and stop when its loss stops
        improving, keeping the best weights.
    validation_fraction : float
    seed : int, optional
        Makes shuffling (and so the whole fit) reproducible.
    verbose : int
        1 shows a progress bar in a terminal.

    Attributes
    ----------
    coef_ : ndarray (n_features,)
    intercept_ : float
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
    >>> gd = LinearRegression(solver="gd", seed=0).fit(X, y)
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
        seed: int | None = None,
        verbose: int = 0,
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
        self.seed = seed
        self.verbose = verbose

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

    def fit(self, X, y) -> LinearRegression:
        """Learn ``coef_`` and ``intercept_`` from ``X`` (n, d) and ``y`` (n,)."""
        solver = self._chosen_solver()
        # The closed form's one pass over X would carry any NaN into its sums, so it
        # checks those afterwards instead of scanning X first.
        X = self._validate_X(X, reset=True, finite=solver != "ols")
        y = validation.check_y_regression(y, X.shape[0], type(self).__name__)
        if solver == "ols":
            # One pass over the data gives the scaling and the normal equations together.
            solution = solve_least_squares(X, y, self.standardize, self.l2)
            self.scaling_ = Scaling(
                solution.x_mean, solution.x_scale, solution.y_mean, solution.y_scale
            )
            weights, self.solver_ = solution.weights, solution.method
            # Keep the solution as a layer too, so partial_fit can continue from it.
            self.module_ = nn.Linear(X.shape[1], 1, weight_init="zeros")
            self.module_.weight.data[:, 0] = weights
            self.optimizer_ = None
            self._set_coefficients(weights[:, None], np.zeros(1))
            self.history_, self.n_iter_ = None, 0
            return self
        # Without a penalty the scaling only conditions the descent (see Scaling.fit).
        unpenalized = not (self.l1 or self.l2)
        self.scaling_ = Scaling.fit(X, y, self.standardize, sampled=unpenalized)
        self.module_ = None
        return self._fit_gd(X, y, epochs=self.max_epochs)

    def partial_fit(self, X, y) -> LinearRegression:
        """One epoch of gradient descent on this batch, continuing from the current
        weights. The first call fixes the standardization from its batch (use
        ``fit_stream`` to standardize from a full first pass instead)."""
        first = not self._is_fitted()
        X = self._validate_X(X, reset=first)
        y = validation.check_y_regression(y, X.shape[0], type(self).__name__)
        if first:
            self.scaling_ = Scaling.fit(X, y, self.standardize)
            self.module_ = None
        return self._fit_gd(X, y, epochs=1, continue_training=not first)

    def fit_stream(self, stream, epochs: int | None = None, validation=None) -> LinearRegression:
        """Learn from a stream of ``(X, y)`` batches too big for memory (``thalweg.data.stream``).

        A first pass over the stream learns the standardization of features and target;
        then ``epochs`` passes (default: the stream's ``epochs``) of mini-batch gradient
        descent with this model's optimizer, learning rate and penalties. ``solver`` is
        ignored (the closed form needs all the data at once) and the stream's
        ``batch_size`` replaces ``batch_size``. ``validation=(X_val, y_val)`` is needed
        for ``early_stopping``. See :mod:`thalweg.models.streaming`.

        >>> import numpy as np, os, tempfile
        >>> from thalweg.data import stream
        >>> path = os.path.join(tempfile.mkdtemp(), "line.npy")
        >>> x = np.linspace(0, 1, 400)
        >>> np.save(path, np.column_stack([x, 2 * x + 1]))  # last column: the target
        >>> data = stream(path, target=-1, batch_size=20, seed=0, epochs=40)
        >>> model = LinearRegression(seed=0).fit_stream(data)
        >>> round(float(model.coef_[0]), 2), round(model.intercept_, 2)
        (2.0, 1.0)
        """
        summary = summarize(stream, task="regressor", seed=self.seed)
        remember_features(self, summary)
        self.scaling_ = Scaling.from_statistics(summary.features, summary.target, self.standardize)
        self.module_ = nn.Linear(self.n_features_in_, 1, weight_init="zeros")
        history, self.optimizer_ = train_on_stream(
            self,
            self.module_,
            losses.mse,
            [self.module_.weight],
            stream,
            features=Standardize(self.scaling_.x_mean, self.scaling_.x_scale),
            target=ScaleTarget(self.scaling_.y_mean, self.scaling_.y_scale),
            loss_kind="squared",
            epochs=epochs,
            summary=summary,
            validation=validation,
        )
        return self._trained(history, continue_training=False)

    def _fit_gd(self, X, y, epochs: int, continue_training: bool = False):
        if self.module_ is None:
            self.module_ = nn.Linear(X.shape[1], 1, weight_init="zeros")
            self.optimizer_ = None
        history, self.optimizer_ = train_module(
            self,
            self.scaling_.model_on_raw_inputs(self.module_),  # no standardized copy of X
            losses.mse,
            [self.module_.weight],
            X,
            self.scaling_.target(y)[:, None],
            loss_kind="squared",
            epochs=epochs,
            batch_size=self.batch_size,
            optimizer=getattr(self, "optimizer_", None) if continue_training else None,
            curvature_sample=self.scaling_.features(sample_rows(X)),
        )
        return self._trained(history, continue_training)

    def _training_pair(self, X: np.ndarray, y) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, targets)`` as gradient descent consumes them: raw features (the
        model standardizes through its weights) and the standardized target ``(n, 1)``."""
        y = validation.check_y_regression(y, X.shape[0], type(self).__name__)
        return X, self.scaling_.target(y)[:, None]

    def _trained(self, history, continue_training: bool) -> LinearRegression:
        self.solver_ = "gd"
        self.history_ = history
        self.n_iter_ = (self.n_iter_ if continue_training else 0) + len(history)
        self._set_coefficients(
            self.module_.weight.data.astype(np.float64), self.module_.bias.data.astype(np.float64)
        )
        return self

    def _set_coefficients(self, weights: np.ndarray, bias: np.ndarray) -> None:
        coef, intercept = self.scaling_.raw_coefficients(weights, bias)
        self.coef_ = coef[:, 0]
        self.intercept_ = float(intercept[0])

    def predict(self, X) -> np.ndarray:
        """Predicted targets ``X @ coef_ + intercept_``, shape (n_samples,)."""
        X = self._validate_X(X, reset=False)
        return X @ self.coef_ + self.intercept_
