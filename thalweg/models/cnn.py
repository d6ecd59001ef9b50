"""``CNNClassifier``: a convolutional network for images, with the scikit-learn contract.

``X`` is ``(n, H, W)`` (grayscale) or ``(n, C, H, W)``; the network is a stack described
by short strings (``layers=``), trained by mini-batch gradient descent through
:func:`thalweg.train.fit`, optionally on freshly augmented batches every epoch
(``augment=``). The fitted network starts with its own preprocessing (pixels scaled to
[0, 1] by the training range, then each channel standardized: an ``nn.Normalize``
layer), so the saved model, ``thalweg predict`` and the ONNX export all take raw
pixels.

The estimator follows the public estimator contract (``learn_encoding``, ``encode``,
``build_module``, ``loss``, ``finish``; see ``docs/models.md``).
"""

from __future__ import annotations

import re

import numpy as np

from thalweg import losses, nn
from thalweg.data.augment import Augmenter
from thalweg.data.images import as_image_batch
from thalweg.errors import DataError, ShapeError
from thalweg.models import validation
from thalweg.models.base import ClassifierMixin, Estimator
from thalweg.models.gradient_descent import make_optimizer, with_l2_penalty
from thalweg.train import Convergence, EarlyStopping, fit, predict_array
from thalweg.train.augmented import AugmentedBatches

DEFAULT_LAYERS = ("conv16", "pool", "conv32", "pool", "dense64")
PREDICT_CHUNK = 256  # images per forward pass when predicting

LAYER_GRAMMAR = (
    "convN[xK] (K×K convolution, N filters, same padding, then ReLU; K defaults to 3), "
    "bn (batch norm), pool[K] (K×K max pooling, default 2), avgpool[K], gap (global "
    "average pooling), dropoutP (e.g. dropout0.25), denseN (N ReLU units)"
)


def build_layers(specs, input_shape, n_outputs: int, rng, dtype=None) -> list[nn.Module]:
    """Layers from short specs, sized for ``(C, H, W)`` inputs and ``n_outputs`` logits.

    ``"conv16"`` is a 3×3 convolution with 16 filters (same padding) followed by ReLU;
    ``"conv32x5"`` a 5×5 one; ``"pool"`` 2×2 max pooling (skipped once the image is
    smaller than the window; right after a ReLU it goes before it, which computes the
    same thing on a quarter of the values); ``"avgpool2"``, ``"gap"`` (global average pooling),
    ``"bn"`` (batch norm), ``"dropout0.25"``, ``"dense64"`` (64 ReLU units). A
    ``Flatten`` goes in before the first dense layer, and a final ``Linear`` to
    ``n_outputs`` ends the stack.

    >>> import numpy as np
    >>> layers = build_layers(["conv8", "pool", "dense16"], (1, 8, 8), 3, np.random.default_rng(0))
    >>> [type(layer).__name__ for layer in layers]
    ['Conv2d', 'MaxPool2d', 'ReLU', 'Flatten', 'Linear', 'ReLU', 'Linear']
    """
    channels, height, width = input_shape
    flat = None  # the feature count once flattened
    layers: list[nn.Module] = []
    for spec in specs:
        kind, number, kernel = parse_layer(spec)
        if kind in ("conv", "pool", "avgpool", "gap") and flat is not None:
            raise ValueError(f"layers=: {spec!r} comes after a dense layer; put it before")
        if kind == "conv":
            size = int(kernel or 3)
            layers += [
                nn.Conv2d(channels, int(number), size, padding=(size // 2), rng=rng, dtype=dtype),
                nn.ReLU(),
            ]
            channels = int(number)
            height, width = height + 2 * (size // 2) - size + 1, width + 2 * (size // 2) - size + 1
        elif kind in ("pool", "avgpool"):
            size = int(number or 2)
            if min(height, width) >= size:  # a pool bigger than the image would fail
                pool = (nn.MaxPool2d if kind == "pool" else nn.AvgPool2d)(size)
                if kind == "pool" and isinstance(layers[-1], nn.ReLU):
                    # max(relu(x)) = relu(max(x)): pool first, and the ReLU (forward and
                    # backward) runs on a quarter of the values. Same outputs, same
                    # gradients.
                    layers.insert(len(layers) - 1, pool)
                else:
                    layers.append(pool)
                height, width = height // size, width // size
        elif kind == "gap":
            layers.append(nn.AdaptiveAvgPool2d(1))
            height = width = 1
        elif kind == "bn":
            layers.append(
                nn.BatchNorm2d(channels, dtype=dtype)
                if flat is None
                else nn.BatchNorm1d(flat, dtype=dtype)
            )
        elif kind == "dropout":
            layers.append(nn.Dropout(float(number), rng=rng))
        else:  # dense
            if flat is None:
                layers.append(nn.Flatten())
                flat = channels * height * width
            layers += [
                nn.Linear(flat, int(number), weight_init="he_uniform", rng=rng, dtype=dtype),
                nn.ReLU(),
            ]
            flat = int(number)
        if min(height, width) < 1:
            raise ValueError(f"layers=: the image is too small for {spec!r} ({input_shape})")
    if flat is None:
        layers.append(nn.Flatten())
        flat = channels * height * width
    layers.append(nn.Linear(flat, n_outputs, rng=rng, dtype=dtype))
    return layers


def parse_layer(spec) -> tuple[str, str, str | None]:
    """``"conv32x5"`` -> ``("conv", "32", "5")``; an unknown layer raises ValueError.

    >>> parse_layer("dropout0.25"), parse_layer("pool")
    (('dropout', '0.25', None), ('pool', '', None))
    """
    token = str(spec).strip().lower()
    match = re.fullmatch(r"([a-z]+)(\d*\.?\d*)(?:x(\d+))?", token)
    kind, number, kernel = match.groups() if match else (None, "", None)
    valid = {
        "conv": number.isdigit() and int(number) > 0 and (kernel is None or int(kernel) > 0),
        "pool": kernel is None and (not number or (number.isdigit() and int(number) > 0)),
        "gap": not number and kernel is None,
        "bn": not number and kernel is None,
        "dropout": bool(number) and kernel is None and _fraction(number),
        "dense": number.isdigit() and int(number) > 0 and kernel is None,
    }
    valid["avgpool"] = valid["pool"]
    if not valid.get(kind, False):
        raise ValueError(f"unknown layer {spec!r} in layers=; use {LAYER_GRAMMAR}")
    return kind, number, kernel


def _fraction(text: str) -> bool:
    try:
        return 0 <= float(text) < 1
    except ValueError:
        return False


def default_layers(input_shape, n_outputs: int, rng) -> list[nn.Module]:
    """:func:`build_layers` with ``CNNClassifier``'s default ``layers``."""
    return build_layers(DEFAULT_LAYERS, input_shape, n_outputs, rng)


class CNNClassifier(ClassifierMixin, Estimator):
    """A convolutional neural-network classifier for images.

    Parameters
    ----------
    layers : sequence of str
        The network, e.g. ``("conv16", "pool", "conv32", "pool", "dense64")`` (the
        default); see :func:`build_layers`. The output layer is added for you.
    augment : None, "default", "robust" or a list of augmentation names
        Train on randomly augmented copies of each batch (new ones every epoch); see
        :mod:`thalweg.data.augment`. Off (None) by default.
    augment_probability : float
        Chance that an image gets each augmentation.
    optimizer : str
        ``"adam"`` (default), ``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``,
        ``"rmsprop"``, ``"adamw"``.
    learning_rate : float
    batch_size : int
    max_epochs, tol, n_iter_no_change, early_stopping, validation_fraction
        Stopping rules, as for :class:`~thalweg.models.MLPClassifier`; with
        ``early_stopping`` the best epoch's weights are kept.
    l2 : float
        Penalty on every weight (never the biases).
    random_state : int, optional
        Seeds initialisation, shuffling and augmentation: the same seed gives the same
        model.
    verbose : int

    Attributes
    ----------
    classes_, n_features_in_ (pixels per image), image_shape_ ``(C, H, W)``,
    module_ (the trained ``nn.Sequential``, preprocessing first), history_, n_iter_,
    loss_, pixel_range_ ``(low, high)``, channel_mean_, channel_scale_

    Examples
    --------
    >>> from thalweg.datasets import shapes
    >>> X, y, names = shapes(n=400, size=12, noise=0.05, seed=0)
    >>> model = CNNClassifier(layers=("conv8", "pool", "dense16"), learning_rate=0.01,
    ...                       max_epochs=15, random_state=0).fit(X[:300], y[:300])
    >>> model.score(X[300:], y[300:]) > 0.9
    True
    """

    loss_kind = "softmax"

    def __init__(
        self,
        layers=DEFAULT_LAYERS,
        augment=None,
        augment_probability: float = 0.5,
        optimizer: str = "adam",
        learning_rate: float = 0.003,
        batch_size: int = 32,
        max_epochs: int = 30,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        l2: float = 0.0,
        random_state=None,
        verbose: int = 0,
    ):
        self.layers = layers
        self.augment = augment
        self.augment_probability = augment_probability
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.l2 = l2
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ input checks
    def _images(self, X, reset: bool) -> np.ndarray:
        """``X`` as float ``(n, C, H, W)``; on ``reset`` remember the image shape."""
        who = type(self).__name__
        images = as_image_batch(X, who)
        if images.dtype not in (np.float32, np.float64):
            images = images.astype(np.float32)
        validation.check_finite(images.reshape(len(images), -1), who, "X")
        if reset:
            self.image_shape_ = tuple(int(s) for s in images.shape[1:])
            self.n_features_in_ = int(np.prod(self.image_shape_))
            return images
        self._check_fitted()
        if images.shape[1:] != tuple(self.image_shape_):
            raise ShapeError(
                f"{who}: this model was trained on images of shape {tuple(self.image_shape_)} "
                f"(C, H, W), got {images.shape[1:]}; resize them the same way"
            )
        return images

    # ------------------------------------------------------------------ the contract
    def learn_encoding(self, images: np.ndarray) -> None:
        """Pixel range (-> [0, 1]) and per-channel mean and scale of the scaled pixels."""
        low, high = float(images.min()), float(images.max())
        self.pixel_range_ = (low, high if high > low else low + 1.0)
        scaled = self._scaled(images[:: max(1, len(images) // 2000)])  # a sample suffices
        self.channel_mean_ = scaled.mean(axis=(0, 2, 3)).astype(np.float64)
        spread = scaled.std(axis=(0, 2, 3)).astype(np.float64)
        self.channel_scale_ = np.where(spread > 1e-6, spread, 1.0)

    def _scaled(self, images: np.ndarray) -> np.ndarray:
        low, high = self.pixel_range_
        return ((images - low) / (high - low)).astype(np.float32)

    def encode(self, X: np.ndarray, y=None):
        """Images scaled to [0, 1] by the training range (what augmentations expect), and
        the labels as the loss takes them (0/1 floats for two classes, else codes)."""
        inputs = self._scaled(X)
        if y is None:
            return inputs, None
        codes = self._encode_labels(y, len(X), reset=False)
        return inputs, codes.astype(np.float32).reshape(-1, 1) if self._binary else codes

    @property
    def _binary(self) -> bool:
        return len(self.classes_) == 2

    def build_module(self, rng: np.random.Generator) -> nn.Sequential:
        """The network, preprocessing first: ``Normalize`` then the ``layers``."""
        n_outputs = 1 if self._binary else len(self.classes_)
        body = build_layers(self.layers, self.image_shape_, n_outputs, rng)
        return nn.Sequential(nn.Normalize(self.channel_mean_, self.channel_scale_), *body)

    def loss(self, output, target):
        """Mean cross-entropy: binary on one logit for two classes, softmax otherwise."""
        if self._binary:
            return losses.binary_cross_entropy_with_logits(output, target)
        return losses.cross_entropy(output, target)

    @staticmethod
    def penalized(module) -> list:
        """The weights ``l2`` applies to: every ``weight`` (never a bias or a buffer)."""
        return [p for name, p in module.named_parameters() if name.endswith("weight")]

    def finish(self, module, history) -> None:
        self.loss_ = history.last("loss")

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, *, validation=None, callbacks=()) -> CNNClassifier:
        """Train from fresh weights on images ``X`` and labels ``y`` ``(n,)``.

        ``validation=(X_val, y_val)``: held-out images, scored every epoch (``val_loss``,
        ``val_accuracy``) and watched by ``early_stopping`` instead of holding out
        ``validation_fraction`` of ``X``. ``callbacks``: extra ``thalweg.train``
        callbacks, run first.
        """
        images = self._images(X, reset=True)
        self._encode_labels(y, len(images), reset=True)
        if len(self.classes_) < 2:
            raise DataError(f"{type(self).__name__}: y has one class; need at least two")
        self.learn_encoding(images)
        inputs, targets = self.encode(images, y)
        if validation is not None:
            X_val, y_val = validation
            validation = self.encode(self._images(X_val, reset=False), y_val)
        rng = np.random.default_rng(self.random_state)
        module = self.build_module(rng)
        optimizer = make_optimizer(self.optimizer, module.parameters(), float(self.learning_rate))
        callbacks = list(callbacks)
        if self.early_stopping:
            callbacks.append(
                EarlyStopping("val_loss", patience=self.n_iter_no_change, restore_best=True)
            )
        if self.tol is not None:
            callbacks.append(Convergence(tol=self.tol, patience=self.n_iter_no_change))
        batch_size = min(int(self.batch_size), len(inputs))
        data, labels = inputs, targets
        seed = int(rng.integers(2**63))
        if self.early_stopping and validation is None:
            # Hold out the validation rows before augmentation sees the training rows.
            from thalweg.data.split import train_val_test_split

            fractions = (1 - self.validation_fraction, self.validation_fraction)
            data, X_val, labels, y_val = train_val_test_split(
                data, labels, fractions=fractions, seed=seed
            )
            validation = (X_val, y_val)
        augmenter = Augmenter(self.augment or "none", self.augment_probability)
        if augmenter:
            data = AugmentedBatches(data, labels, augmenter=augmenter, batch_size=batch_size)
            labels = None
        history = fit(
            module,
            with_l2_penalty(self.loss, self.penalized(module), self.l2),
            optimizer,
            data,
            labels,
            epochs=int(self.max_epochs),
            batch_size=batch_size,
            seed=seed,
            validation=validation,
            callbacks=callbacks,
            metrics={"accuracy": self._accuracy} if validation is not None else (),
            verbose=self.verbose,
        )
        self.module_ = module.eval()
        self.history_ = history
        self.n_iter_ = len(history)
        self.finish(module, history)
        return self

    def _accuracy(self, target, output) -> float:
        predicted = (output[:, 0] > 0) if self._binary else np.argmax(output, axis=1)
        return float(np.mean(predicted == np.asarray(target).reshape(len(output), -1)[:, 0]))

    # ------------------------------------------------------------------ predicting
    def decision_function(self, X) -> np.ndarray:
        """Logits: ``(n,)`` for two classes, ``(n, n_classes)`` otherwise."""
        images = self._images(X, reset=False)
        # In float64, so that an image's scores never depend on the rest of its batch.
        inputs = self.encode(images)[0].astype(np.float64)
        # A few hundred images per pass: the im2col columns of a pass are ~kH·kW times
        # the size of its activations.
        scores = predict_array(self.module_, inputs, chunk=PREDICT_CHUNK)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """The most probable class of each image."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
