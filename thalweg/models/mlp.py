"""Multilayer perceptrons: ``MLPClassifier`` and ``MLPRegressor``.

A stack of ``Linear`` layers with a nonlinearity between them, trained by mini-batch
gradient descent (Adam by default) through :class:`~thalweg.models.GradientEstimator`.
Hidden layers let the model bend its decision boundary: an MLP learns XOR and the
spiral, which no linear model on the raw features can.

The objective is the (weighted) mean loss (cross-entropy, or squared error on the
standardized target) plus ``l2·Σ‖W‖²`` and ``l1·Σ‖W‖₁`` over the weight matrices (never
the biases).
"""

from __future__ import annotations

import numpy as np

from thalweg import losses, nn
from thalweg.limits import check_network_size
from thalweg.models.base import ClassifierMixin, RegressorMixin
from thalweg.models.gradient import (
    GradientEstimator,
    classification_loss,
    label_targets,
    logit_count,
    standardize,
    weighted_mean,
)
from thalweg.train import predict_array

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def build_mlp(
    n_inputs: int, hidden, n_outputs: int, activation: str, rng, dtype=None
) -> nn.Sequential:
    """``Linear -> activation -> ... -> Linear``; He init for ReLU, Glorot otherwise.

    >>> build_mlp(2, (8,), 1, "tanh", rng=0)
    Sequential(
      (0): Linear(in_features=2, out_features=8, bias=True)
      (1): Tanh()
      (2): Linear(in_features=8, out_features=1, bias=True)
    )
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    widths = [n_inputs, *hidden_widths(hidden), n_outputs]
    check_network_size(widths)  # before allocating: --hidden 100000,100000 is 37 GiB
    weight_init = "he_uniform" if activation == "relu" else "glorot_uniform"
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(
            nn.Linear(widths[i], widths[i + 1], weight_init=weight_init, rng=rng, dtype=dtype)
        )
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def hidden_widths(hidden) -> tuple[int, ...]:
    """``hidden`` (an int or a sequence of ints) as a tuple of positive widths."""
    widths = (hidden,) if isinstance(hidden, int | np.integer) else tuple(hidden)
    if any(int(h) < 1 for h in widths):
        raise ValueError(f"hidden layer sizes must be positive, got {hidden}")
    return tuple(int(h) for h in widths)


class _MLP(GradientEstimator):
    """What the classifier and the regressor share."""

    def __init__(
        self,
        hidden=(100,),
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
        random_state=None,
        verbose: int = 0,
        seed: int | None = None,
        compile: bool = False,
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
        self.random_state = random_state
        self.verbose = verbose
        self.seed = seed
        self.compile = compile  # trace each training step once, replay it (docs/compile.md)

    def n_outputs(self) -> int:
        return 1

    def learn_encoding(self, summary) -> None:
        on = self.standardize
        self.scaler_ = summary.feature_scaler(with_mean=on, with_std=on)

    def build_module(self, n_features: int, rng, dtype) -> nn.Sequential:
        return build_mlp(n_features, self.hidden, self.n_outputs(), self.activation, rng, dtype)

    def features(self, X: np.ndarray) -> np.ndarray:
        """The network's input: ``X`` standardized by ``scaler_``."""
        return standardize(X, *self.scaler_.shift_and_scale())

    def _forward(self, X) -> np.ndarray:
        # Predict in float64: each row's output then does not depend on which other rows
        # share its batch (float32 BLAS kernels round differently by batch shape).
        X = self._validate_X(X, reset=False)
        return predict_array(
            self.module_, standardize(X, *self.scaler_.shift_and_scale(), np.float64)
        )

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
        Width of each hidden layer. The default ``(100,)`` (scikit-learn's) suits real
        tables: on scikit-learn's digits it reaches 0.97 5-fold accuracy where the
        Playground's ``(8, 2)`` picture, with its 2-unit bottleneck, reaches 0.84 (see
        ``docs/models.md``, "Defaults").
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
    class_weight : None, "balanced" or dict
        Weights of the classes in the loss.
    random_state : None, int or numpy Generator
        Seeds initialisation and shuffling: the same seed gives the same model.
    seed : int, optional
        Deprecated name of ``random_state``.

    Attributes
    ----------
    classes_, module_ (the trained ``thalweg.nn.Sequential``), coefs_, intercepts_,
    history_, n_iter_, loss_, scaler_

    Examples
    --------
    >>> from thalweg.datasets import xor
    >>> X, y, _ = xor(n=400, noise=0.0, seed=0)
    >>> model = MLPClassifier(hidden=(8,), activation="tanh", max_epochs=1000, random_state=0)
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    loss_kind = "softmax"

    def __init__(
        self,
        hidden=(100,),
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
        class_weight=None,
        random_state=None,
        verbose: int = 0,
        seed: int | None = None,
        compile: bool = False,
    ):
        super().__init__(
            hidden=hidden,
            activation=activation,
            optimizer=optimizer,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_epochs=max_epochs,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            l1=l1,
            l2=l2,
            standardize=standardize,
            random_state=random_state,
            verbose=verbose,
            seed=seed,
            compile=compile,
        )
        self.class_weight = class_weight

    def n_outputs(self) -> int:
        return logit_count(len(self.classes_))

    def encode(self, X, y=None):
        """Standardized features, and the class codes as the loss takes them."""
        features = self.features(X)
        if y is None:
            return features, None
        return features, label_targets(self.encode_labels(y), len(self.classes_), features.dtype)

    def loss(self, output, target, sample_weight=None):
        return classification_loss(output, target, sample_weight)

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

    Parameters are those of :class:`MLPClassifier` (but ``class_weight``). With
    ``standardize=True`` the target is standardized too (``y_mean_``, ``y_scale_``) and
    predictions are mapped back.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-2, 2, 200).reshape(-1, 1); y = X[:, 0] ** 2
    >>> model = MLPRegressor(hidden=(16,), activation="tanh", max_epochs=500, tol=None,
    ...                      random_state=0)
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    def learn_encoding(self, summary) -> None:
        super().learn_encoding(summary)
        mean, scale = summary.target_scale(self.standardize)
        self.y_mean_, self.y_scale_ = (mean, scale) if self.standardize else (0.0, 1.0)

    def encode(self, X, y=None):
        """Standardized features and standardized target ``(n, 1)``."""
        features = self.features(X)
        if y is None:
            return features, None
        target = standardize(np.asarray(y)[:, None], self.y_mean_, self.y_scale_, features.dtype)
        return features, target

    def loss(self, output, target, sample_weight=None):
        return weighted_mean(losses.mse, output, target, sample_weight)

    def partial_fit(self, X, y, sample_weight=None, *, callbacks=()):
        """One epoch on this batch, continuing training (the first call fixes the
        standardization from its batch)."""
        return self._partial_fit(X, y, None, sample_weight, callbacks)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape (n_samples,)."""
        output = self._forward(X)[:, 0].astype(np.float64)
        return output * self.y_scale_ + self.y_mean_
