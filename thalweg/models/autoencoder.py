"""Autoencoders: a neural network trained to predict its own input through a narrow code.

An autoencoder is an MLP whose target is its input. The **encoder** (``hidden``
layers, then a linear layer of ``code_size`` units) squeezes each row into a short
*code*; the **decoder** (the hidden widths in reverse, then a linear layer as wide as
the input) rebuilds the row from it. Trained to make the rebuilt row equal the
original (squared error), the network must keep in the code what matters most about
the rows, since nothing else gets through — unsupervised learning by gradient descent,
on the same engine and training loop as every other model here::

    code = encoder(x)            # (n, code_size): transform
    x̂ = decoder(code)            # (n, n_features): inverse_transform
    loss = mean((x̂ − x)²)        # "predict your own input"

With a linear activation and one code layer it learns the same subspace as PCA; with
nonlinear hidden layers it can follow curved structure PCA cannot. A row unlike the
training rows is rebuilt badly: its **reconstruction error** (:meth:`Autoencoder.
reconstruction_error`) is an anomaly score. With ``noise > 0`` it is a *denoising*
autoencoder: Gaussian noise is added to the inputs while training, and the target stays
the clean row, so the network must learn the structure rather than copy its input.

It is a :class:`~thalweg.models.GradientEstimator` with no target: ``encode`` returns the
standardized rows as both the input and the target, and the base class does the rest
(``fit``, ``partial_fit``, ``fit_stream``, sample weights, callbacks, checkpoints,
early stopping, the optimizer and the learning rate).
"""

from __future__ import annotations

import numpy as np

from thalweg import losses, nn
from thalweg.errors import OptionError
from thalweg.models.gradient import GradientEstimator, standardize
from thalweg.models.mlp import build_mlp, hidden_widths
from thalweg.models.transformer import TransformerMixin
from thalweg.train import predict_array


class Autoencoder(TransformerMixin, GradientEstimator):
    """A neural network that learns a short code for each row by rebuilding its input.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the encoder's hidden layers (the decoder mirrors them), e.g. ``(64,)``.
    code_size : int
        Width of the code: the number of columns :meth:`transform` returns.
    activation : "relu", "tanh", "sigmoid" or "linear"
        Nonlinearity between layers (the code and the output layers are linear).
    optimizer : str
        ``"adam"`` (default), ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adamw"``.
    learning_rate : "auto" or float
        ``"auto"``: 0.01 for Adam/RMSProp, 0.1 for Adagrad, a curvature-based step for SGD.
    batch_size : "auto", int or None
        ``"auto"`` is ``min(200, n_samples)``; None is full batch.
    max_epochs, tol, n_iter_no_change, early_stopping, validation_fraction
        Stopping rules, as for :class:`~thalweg.models.MLPRegressor`: at most
        ``max_epochs`` passes; stop when the loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; with ``early_stopping``, hold out
        ``validation_fraction`` of the rows and keep the weights that rebuild them best.
    l1, l2 : float
        Penalties on the weight matrices.
    noise : float
        Standard deviation of the Gaussian noise added to the (standardized) inputs
        while training, the target staying the clean row: a denoising autoencoder.
        0 (default): a plain one.
    standardize : bool
        Standardize the columns first (saved in ``scaler_``); the reconstruction error
        is then measured in standard deviations of each column, so every column counts
        alike whatever its unit.
    random_state : None, int or numpy Generator
        Seeds initialisation, shuffling and noise: the same int gives the same model.
    verbose : int
        1: a progress bar while training.

    Attributes
    ----------
    module_ : thalweg.nn.Sequential
        ``Sequential(encoder, decoder)``; also as ``encoder_`` and ``decoder_``.
    scaler_, history_, n_iter_, loss_

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = rng.uniform(-1, 1, (300, 1))                    # one hidden factor...
    >>> X = np.hstack([t, t**2, np.sin(3 * t), -t])          # ...behind four columns
    >>> model = Autoencoder(hidden=(16,), code_size=1, activation="tanh", random_state=0)
    >>> model.fit(X).transform(X).shape
    (300, 1)
    >>> bool(model.reconstruction_error(X).mean() < 0.05)
    True
    """

    _estimator_type = ""
    loss_kind = "squared"

    def __init__(
        self,
        hidden=(64,),
        code_size: int = 8,
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
        noise: float = 0.0,
        standardize: bool = True,
        random_state=None,
        verbose: int = 0,
    ):
        self.hidden = hidden
        self.code_size = code_size
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
        self.noise = noise
        self.standardize = standardize
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ the contract
    def learn_encoding(self, summary) -> None:
        on = self.standardize
        self.scaler_ = summary.feature_scaler(with_mean=on, with_std=on)

    def encode(self, X, y=None):
        """The standardized rows, as the network's input and as its target (``y`` is
        ignored: the target of an autoencoder is its input)."""
        rows = standardize(X, *self.scaler_.shift_and_scale())
        return rows, rows

    def build_module(self, n_features: int, rng, dtype) -> nn.Sequential:
        """``Sequential(encoder, decoder)``; with ``noise``, the encoder starts with a
        ``GaussianNoise`` layer (active only while training: the loss still compares
        the output with the clean rows)."""
        if not isinstance(self.code_size, int | np.integer) or self.code_size < 1:
            raise ValueError(
                f"Autoencoder: code_size must be a positive int, got {self.code_size!r}"
            )
        if not (np.isfinite(self.noise) and self.noise >= 0):  # inf: every input is NaN
            raise OptionError(
                f"Autoencoder: noise must be a finite number >= 0, got {self.noise!r}"
            )
        hidden = hidden_widths(self.hidden)
        encoder = build_mlp(n_features, hidden, self.code_size, self.activation, rng, dtype)
        if self.noise > 0:
            noise = nn.GaussianNoise(self.noise, rng=np.random.default_rng(rng.integers(2**63)))
            encoder = nn.Sequential(noise, *encoder.layers)
        decoder = build_mlp(self.code_size, hidden[::-1], n_features, self.activation, rng, dtype)
        return nn.Sequential(encoder, decoder)

    def loss(self, output, target, sample_weight=None):
        """Mean squared reconstruction error over rows and columns; with weights, each
        row's mean squared error weighted (``Σ wᵢ·mseᵢ / n``)."""
        if sample_weight is None:
            return losses.mse(output, target)
        total = losses.mse(output, target, weight=sample_weight, reduction="sum")
        return total * (1.0 / target.size)

    def _features(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        return standardize(X, *self.scaler_.shift_and_scale(), dtype)

    # ------------------------------------------------------------------ using
    @property
    def encoder_(self) -> nn.Sequential:
        """The trained encoder: ``(n, n_features) -> (n, code_size)``, standardized input."""
        return self.module_[0]

    @property
    def decoder_(self) -> nn.Sequential:
        """The trained decoder: ``(n, code_size) -> (n, n_features)``, standardized output."""
        return self.module_[1]

    def transform(self, X) -> np.ndarray:
        """The code of every row: ``(n_samples, code_size)`` float64."""
        X = self._validate_X(X, reset=False)
        # Float64 through float32 weights: a row's code does not depend on its batch.
        return predict_array(self.encoder_, self._features(X)).astype(np.float64)

    def inverse_transform(self, codes) -> np.ndarray:
        """Rows rebuilt from codes ``(n_samples, code_size)``: ``(n_samples, n_features)``
        in the units of the training data."""
        self._check_fitted()
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != self.code_size:
            from thalweg.errors import ShapeError

            raise ShapeError(
                f"{type(self).__name__}.inverse_transform: codes must have shape (n, "
                f"{self.code_size}), got {codes.shape}"
            )
        rebuilt = predict_array(self.decoder_, codes).astype(np.float64)
        return self.scaler_.inverse_transform(rebuilt)

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared error of each row's reconstruction, ``(n_samples,)``: the anomaly
        score (large: a row unlike the training rows). Measured in standardized units
        (``standardize=True``), so every column counts alike."""
        X = self._validate_X(X, reset=False)
        rows = self._features(X)
        rebuilt = predict_array(self.module_, rows).astype(np.float64)
        return np.mean((rebuilt - rows) ** 2, axis=1)

    def score_samples(self, X) -> np.ndarray:
        """Minus each row's reconstruction error, ``(n_samples,)``: higher is more typical
        (scikit-learn's convention for ``score_samples``)."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None) -> float:
        """Minus the mean reconstruction error of ``X`` (higher is better)."""
        return float(np.mean(self.score_samples(X)))


def _linear_layers(module: nn.Module) -> list[nn.Linear]:
    """Every ``Linear`` layer inside ``module``, nested ``Sequential``s included."""
    found = []
    for child in module.children():
        if isinstance(child, nn.Linear):
            found.append(child)
        else:
            found.extend(_linear_layers(child))
    return found
