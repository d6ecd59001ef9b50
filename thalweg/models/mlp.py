"""Multilayer perceptrons: ``MLPClassifier`` and ``MLPRegressor``.

A stack of ``Linear`` layers with a nonlinearity between them, trained by mini-batch
gradient descent (Adam by default) through :func:`thalweg.train.fit`. Hidden layers let
the model bend its decision boundary: an MLP learns XOR and the spiral, which no linear
model on the raw features can.

The objective is the mean loss (cross-entropy, or squared error on the standardized
target) plus ``l2·Σ‖W‖²`` and ``l1·Σ‖W‖₁`` over the weight matrices (never the biases).
"""

from __future__ import annotations

import numpy as np

from thalweg import losses, nn
from thalweg.data import Standardizer
from thalweg.models import validation
from thalweg.models.base import ClassifierMixin, Estimator, RegressorMixin
from thalweg.models.gradient_descent import train_module
from thalweg.models.streaming import (
    EncodeLabels,
    ScaleTarget,
    Standardize,
    remember_features,
    summarize,
    train_on_stream,
)
from thalweg.train import predict_array

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def build_mlp(n_inputs: int, hidden, n_outputs: int, activation: str, rng) -> nn.Sequential:
    """``Linear -> activation -> ... -> Linear``; He init for ReLU, Glorot otherwise."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    widths = [n_inputs, *hidden, n_outputs]
    weight_init = "he_uniform" if activation == "relu" else "glorot_uniform"
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1], weight_init=weight_init, rng=rng))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class _MLP(Estimator):
    """What the classifier and the regressor share."""

    def __init__(
        self,
        hidden=(8, 2),
        activation: str = "relu",
        optimizer: str = "adam",
        learning_rate="auto",
        batch_size="auto",
        max_epochs: int = 200,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        l1: float = 0.0,
        l2: float = 0.0,
        standardize: bool = True,
        seed: int | None = None,
        verbose: int = 0,
    ):
        self.hidden = hidden
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.l1 = l1
        self.l2 = l2
        self.standardize = standardize
        self.seed = seed
        self.verbose = verbose

    # Subclasses define: _n_outputs(), _loss(output, target), _prepare_target(y, reset)
    loss_kind = "squared"

    def _hidden(self) -> tuple[int, ...]:
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        if any(int(h) < 1 for h in hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")
        return tuple(int(h) for h in hidden)

    def _fit(self, X, y, epochs: int, first: bool):
        if first:
            self.scaler_ = Standardizer(with_mean=self.standardize, with_std=self.standardize)
            self.scaler_.fit(X)
            rng = np.random.default_rng(self.seed)
            self.module_ = build_mlp(
                X.shape[1], self._hidden(), self._n_outputs(), self.activation, rng
            )
            self.optimizer_ = None
        batch_size = self.batch_size
        if batch_size == "auto":
            batch_size = min(200, X.shape[0])
        history, self.optimizer_ = train_module(
            self,
            self.module_,
            self._loss,
            [layer.weight for layer in self.module_.children() if isinstance(layer, nn.Linear)],
            self._features(X),
            y,
            loss_kind=self.loss_kind,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=None if first else getattr(self, "optimizer_", None),
        )
        self.history_ = history
        self.n_iter_ = (0 if first else self.n_iter_) + len(history)
        self.loss_ = history.last("loss")
        return self

    def fit_stream(self, stream, epochs: int | None = None, validation=None):
        """Learn from a stream of ``(X, y)`` batches too big for memory (``thalweg.data.stream``).

        A first pass over the stream learns the standardization (and the classes, or
        the target's scale); then ``epochs`` passes (default: the stream's ``epochs``)
        of mini-batch gradient descent from fresh weights, with this model's optimizer,
        learning rate and penalties. The stream's ``batch_size`` replaces
        ``batch_size``; ``validation=(X_val, y_val)`` is needed for ``early_stopping``.
        See :mod:`thalweg.models.streaming`.

        >>> import numpy as np, os, tempfile
        >>> from thalweg.data import stream
        >>> path = os.path.join(tempfile.mkdtemp(), "points.npy")
        >>> x = np.linspace(-1, 1, 400)
        >>> np.save(path, np.column_stack([x, np.abs(x) > 0.5]))  # last column: label
        >>> data = stream(path, target=-1, batch_size=20, seed=0, epochs=60)
        >>> model = MLPClassifier(hidden=(8,), seed=0).fit_stream(data)
        >>> model.predict([[-0.9], [0.0], [0.9]]).tolist()
        [1.0, 0.0, 1.0]
        """
        summary = summarize(stream, task=self._estimator_type, seed=self.seed)
        remember_features(self, summary)
        self._learn_target(summary)
        self.scaler_ = summary.features.set_params(
            with_mean=self.standardize, with_std=self.standardize
        )
        rng = np.random.default_rng(self.seed)
        self.module_ = build_mlp(
            self.n_features_in_, self._hidden(), self._n_outputs(), self.activation, rng
        )
        history, self.optimizer_ = train_on_stream(
            self,
            self.module_,
            self._loss,
            [layer.weight for layer in self.module_.children() if isinstance(layer, nn.Linear)],
            stream,
            features=Standardize(
                self.scaler_.mean_ if self.standardize else 0.0,
                self.scaler_.scale_ if self.standardize else 1.0,
            ),
            target=self._target_preparer(),
            loss_kind=self.loss_kind,
            epochs=epochs,
            summary=summary,
            validation=validation,
        )
        self.history_ = history
        self.n_iter_ = len(history)
        self.loss_ = history.last("loss")
        return self

    def _features(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        return self.scaler_.transform(X).astype(dtype)

    def _forward(self, X) -> np.ndarray:
        # Predict in float64: each row's output then does not depend on which other rows
        # share its batch (float32 BLAS kernels round differently by batch shape).
        X = self._validate_X(X, reset=False)
        return predict_array(self.module_, self._features(X, np.float64))

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, layer by layer, each ``(fan_in, fan_out)`` (scikit-learn's name)."""
        return [m.weight.data for m in self.module_.children() if isinstance(m, nn.Linear)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, layer by layer."""
        return [m.bias.data for m in self.module_.children() if isinstance(m, nn.Linear)]


class MLPClassifier(ClassifierMixin, _MLP):
    """A neural-network classifier: softmax (or sigmoid) on top of hidden layers.

    Parameters
    ----------
    hidden : tuple of int
        Width of each hidden layer, e.g. ``(8, 2)``.
    activation : "relu", "tanh", "sigmoid" or "linear"
    optimizer : str
        ``"adam"`` (default), ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adamw"``.
    learning_rate : "auto" or float
        ``"auto"``: 0.01 for Adam/RMSProp, 0.1 for Adagrad, a curvature-based step for SGD.
    batch_size : "auto", int or None
        ``"auto"`` is ``min(200, n_samples)``; None is full batch.
    max_epochs, tol, n_iter_no_change, early_stopping, validation_fraction
        Stopping rules (see :class:`~thalweg.models.LinearRegression`).
    l1, l2 : float
        Penalties on the weight matrices.
    standardize : bool
        Standardize the features (the fitted ``scaler_`` is applied at predict time).
    seed : int, optional
        Seeds initialisation and shuffling: the same seed gives the same model.

    Attributes
    ----------
    classes_, module_ (the trained ``thalweg.nn.Sequential``), coefs_, intercepts_,
    history_, n_iter_, loss_, scaler_

    Examples
    --------
    >>> from thalweg.datasets import xor
    >>> X, y, _ = xor(n=400, noise=0.0, seed=0)
    >>> model = MLPClassifier(hidden=(8,), activation="tanh", max_epochs=300, seed=0)
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    loss_kind = "softmax"

    def _n_outputs(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _loss(self, output, codes):
        if self._n_outputs() == 1:
            return losses.binary_cross_entropy_with_logits(output, codes.reshape(-1, 1))
        return losses.cross_entropy(output, codes)

    def _target(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(np.float32) if self._n_outputs() == 1 else codes

    def _learn_target(self, summary) -> None:
        self.classes_ = summary.classes

    def _target_preparer(self) -> EncodeLabels:
        return EncodeLabels(self.classes_, binary=self._n_outputs() == 1)

    def fit(self, X, y) -> MLPClassifier:
        """Train on ``X`` (n, d) and labels ``y`` (n,) from fresh random weights."""
        X = self._validate_X(X, reset=True)
        codes = self._encode_labels(y, X.shape[0], reset=True)
        return self._fit(X, self._target(codes), self.max_epochs, first=True)

    def partial_fit(self, X, y, classes=None) -> MLPClassifier:
        """One epoch on this batch, continuing training (``classes`` needed on the first
        call)."""
        first = not self._is_fitted()
        X = self._validate_X(X, reset=first)
        if first:
            if classes is None:
                raise ValueError("partial_fit: pass classes= (all class labels) on the first call")
            codes = self._encode_labels(y, X.shape[0], reset=True, classes=np.unique(classes))
        else:
            codes = self._encode_labels(y, X.shape[0], reset=False)
        return self._fit(X, self._target(codes), 1, first=first)

    def decision_function(self, X) -> np.ndarray:
        """Logits: ``(n,)`` for two classes, ``(n, n_classes)`` otherwise."""
        scores = self._forward(X).astype(np.float64)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """The most probable class for each sample."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class MLPRegressor(RegressorMixin, _MLP):
    """A neural-network regressor (squared error on the standardized target).

    Parameters are those of :class:`MLPClassifier`. With ``standardize=True`` the target
    is standardized too (``y_mean_``, ``y_scale_``) and predictions are mapped back.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-2, 2, 200).reshape(-1, 1); y = X[:, 0] ** 2
    >>> model = MLPRegressor(hidden=(16,), activation="tanh", max_epochs=500, seed=0)
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    loss_kind = "squared"

    def _n_outputs(self) -> int:
        return 1

    def _loss(self, output, target):
        return losses.mse(output, target)

    def _learn_target(self, summary) -> None:
        self.y_mean_ = float(summary.target.mean_[0]) if self.standardize else 0.0
        self.y_scale_ = float(summary.target.scale_[0]) if self.standardize else 1.0

    def _target_preparer(self) -> ScaleTarget:
        return ScaleTarget(self.y_mean_, self.y_scale_)

    def fit(self, X, y) -> MLPRegressor:
        """Train on ``X`` (n, d) and targets ``y`` (n,) from fresh random weights."""
        X = self._validate_X(X, reset=True)
        y = validation.check_y_regression(y, X.shape[0], type(self).__name__)
        self.y_mean_ = float(y.mean()) if self.standardize else 0.0
        spread = float(y.std())
        self.y_scale_ = spread if self.standardize and spread > 0 else 1.0
        return self._fit(X, self._target(y), self.max_epochs, first=True)

    def partial_fit(self, X, y) -> MLPRegressor:
        """One epoch on this batch, continuing training (the first call fixes the
        standardization from its batch)."""
        first = not self._is_fitted()
        X = self._validate_X(X, reset=first)
        y = validation.check_y_regression(y, X.shape[0], type(self).__name__)
        if first:
            self.y_mean_ = float(y.mean()) if self.standardize else 0.0
            spread = float(y.std())
            self.y_scale_ = spread if self.standardize and spread > 0 else 1.0
        return self._fit(X, self._target(y), 1, first=first)

    def _target(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32).reshape(-1, 1)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n_samples,)."""
        output = self._forward(X)[:, 0].astype(np.float64)
        return output * self.y_scale_ + self.y_mean_
