"""``CNNClassifier``: a convolutional network for images, with the scikit-learn contract.

``X`` is ``(n, H, W)`` (grayscale) or ``(n, C, H, W)``; the network is a stack described
by short strings (``layers=``), trained by mini-batch gradient descent through
:func:`thalweg.train.fit`, optionally on freshly augmented batches every epoch
(``augment=``). The fitted network starts with its own preprocessing (pixels scaled to
[0, 1] by the training range, then each channel standardized: an ``nn.Normalize``
layer), so the saved model, ``thalweg predict`` and the ONNX export all take raw
pixels.

The estimator is a :class:`~thalweg.models.GradientEstimator` (``learn_encoding``,
``encode``, ``build_module``, ``loss``; see ``docs/models.md``): sample and class
weights, callbacks, validation data, checkpoints and early stopping come from there.
Its rows are images; flattened rows of ``C·H·W`` pixels are accepted too, which is how
the trainer hands over held-out rows and data summaries.
"""

from __future__ import annotations

import re

import numpy as np

from thalweg import nn
from thalweg.data.augment import Augmenter
from thalweg.data.images import as_image_batch
from thalweg.data.split import train_val_test_split
from thalweg.data.summary import DataSummary
from thalweg.errors import ShapeError
from thalweg.models import checks
from thalweg.models.base import ClassifierMixin
from thalweg.models.gradient import (
    GradientEstimator,
    classification_loss,
    label_targets,
    logit_count,
)
from thalweg.monitoring.images import image_profile
from thalweg.monitoring.profile import prediction_profile
from thalweg.train import predict_array
from thalweg.train.augmented import AugmentedBatches

DEFAULT_LAYERS = ("conv16", "pool", "conv32", "pool", "dense64")
PREDICT_CHUNK = 256  # images per forward pass when predicting
# Training images predicted for the prediction profile when there is no validation part.
PROFILED_PREDICTIONS = 2000

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
    ``n_outputs`` ends the stack. (:func:`layer_plan` is the same network as configs,
    nothing allocated.)

    >>> import numpy as np
    >>> layers = build_layers(["conv8", "pool", "dense16"], (1, 8, 8), 3, np.random.default_rng(0))
    >>> [type(layer).__name__ for layer in layers]
    ['Conv2d', 'MaxPool2d', 'ReLU', 'Flatten', 'Linear', 'ReLU', 'Linear']
    """
    return [_build(spec, rng, dtype) for spec in layer_plan(specs, input_shape, n_outputs)]


def _build(spec: dict, rng, dtype) -> nn.Module:
    """One layer of a plan; the weighted ones initialised from ``rng``, in ``dtype``."""
    cls, config = getattr(nn, spec["class"]), spec["config"]
    if cls in (nn.Conv2d, nn.Linear):
        return cls(**config, rng=rng, dtype=dtype)
    if cls in (nn.BatchNorm1d, nn.BatchNorm2d):
        return cls(**config, dtype=dtype)
    if cls is nn.Dropout:
        return cls(**config, rng=rng)
    return cls(**config)


def layer_plan(specs, input_shape, n_outputs: int) -> list[dict]:
    """The network :func:`build_layers` makes, as layer configs (``{"class", "config"}``,
    what ``thalweg.nn.layer_to_config`` writes): its sizes are known before anything is
    allocated. ValueError for specs that do not fit the images.

    >>> [spec["class"] for spec in layer_plan(["conv8", "pool"], (1, 8, 8), 3)]
    ['Conv2d', 'MaxPool2d', 'ReLU', 'Flatten', 'Linear']
    """
    channels, height, width = input_shape
    flat = None  # the feature count once flattened
    plan: list[dict] = []

    def add(name: str, **config) -> None:
        plan.append({"class": name, "config": config})

    for spec in specs:
        kind, number, kernel = parse_layer(spec)
        if kind in ("conv", "pool", "avgpool", "gap") and flat is not None:
            raise ValueError(f"layers=: {spec!r} comes after a dense layer; put it before")
        if kind == "conv":
            size = int(kernel or 3)
            add(
                "Conv2d",
                in_channels=channels,
                out_channels=int(number),
                kernel_size=size,
                padding=size // 2,
            )
            add("ReLU")
            channels = int(number)
            height, width = height + 2 * (size // 2) - size + 1, width + 2 * (size // 2) - size + 1
        elif kind in ("pool", "avgpool"):
            size = int(number or 2)
            if min(height, width) >= size:  # a pool bigger than the image would fail
                pool = {"class": "MaxPool2d" if kind == "pool" else "AvgPool2d"}
                pool["config"] = {"kernel_size": size}
                if kind == "pool" and plan and plan[-1]["class"] == "ReLU":
                    # max(relu(x)) = relu(max(x)): pool first, and the ReLU (forward and
                    # backward) runs on a quarter of the values. Same outputs, same
                    # gradients.
                    plan.insert(len(plan) - 1, pool)
                else:
                    plan.append(pool)
                height, width = height // size, width // size
        elif kind == "gap":
            add("AdaptiveAvgPool2d", output_size=1)
            height = width = 1
        elif kind == "bn":
            if flat is None:
                add("BatchNorm2d", num_features=channels)
            else:
                add("BatchNorm1d", num_features=flat)
        elif kind == "dropout":
            add("Dropout", p=float(number))
        else:  # dense
            if flat is None:
                add("Flatten")
                flat = channels * height * width
            add("Linear", in_features=flat, out_features=int(number), weight_init="he_uniform")
            add("ReLU")
            flat = int(number)
        if min(height, width) < 1:
            raise ValueError(f"layers=: the image is too small for {spec!r} ({input_shape})")
    if flat is None:
        add("Flatten")
        flat = channels * height * width
    add("Linear", in_features=flat, out_features=n_outputs)
    return plan


def check_network_memory(
    specs, input_shape, n_outputs: int, batch_rows: int, itemsize: int = 4
) -> None:
    """Refuse (``ResourceLimitError``), before anything is allocated, a network that
    cannot be trained here: each weight is held four times (itself, its gradient, two
    optimizer moments), and each image of a batch holds every layer's output and its
    gradient (a convolution's im2col columns too).

    >>> check_network_memory(["conv8", "pool", "dense16"], (1, 8, 8), 3, batch_rows=32)
    """
    from thalweg.limits import check_memory
    from thalweg.nn.layers import output_shape, parameter_shapes

    network = {
        "class": "Sequential",
        "config": {"layers": layer_plan(specs, input_shape, n_outputs)},
    }
    trained = parameter_shapes(network, buffers=False).values()  # running statistics: tiny
    weights = sum(int(np.prod(s, dtype=object)) for s, _ in trained)
    sizes: list[int] = []
    output_shape(network, input_shape, sizes)
    per_image = int(np.prod(input_shape, dtype=object)) + sum(sizes)
    check_memory(
        (4 * weights + 2 * batch_rows * per_image) * itemsize,
        f"training this CNN ({weights:,} weights; batches of {batch_rows} images of "
        f"{'×'.join(map(str, input_shape))})",
        "use fewer or narrower layers (layers=), smaller images (size=) or smaller "
        "batches (batch_size=)",
    )


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


class CNNClassifier(ClassifierMixin, GradientEstimator):
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
    learning_rate : float or "auto"
    batch_size : int, "auto" or None
    max_epochs, tol, n_iter_no_change, early_stopping, validation_fraction
        Stopping rules, as for :class:`~thalweg.models.MLPClassifier`; with
        ``early_stopping`` the best epoch's weights are kept.
    l2 : float
        Penalty on every weight (never the biases).
    class_weight : None, "balanced" or dict
    random_state : int, optional
        Seeds initialisation, shuffling and augmentation: the same seed gives the same
        model.
    verbose : int
    compile : bool
        Trace each training step once per batch shape and replay it (``thalweg.compile``,
        ``docs/compile.md``): the same model bit for bit, less Python per step.

    Attributes
    ----------
    classes_, n_features_in_ (pixels per image), image_shape_ ``(C, H, W)``,
    module_ (the trained ``nn.Sequential``, preprocessing first), history_, n_iter_,
    loss_, pixel_range_ ``(low, high)``, channel_mean_, channel_scale_,
    image_statistics_ (the distributions of the training images' brightness, contrast,
    sharpness and subject share: :func:`thalweg.monitoring.image_profile`, what
    ``thalweg skew`` compares new images with), prediction_statistics_ (the class
    shares predicted on the validation images, else on up to 2,000 training images)

    Examples
    --------
    >>> from thalweg.datasets import shapes
    >>> X, y, names = shapes(n=400, size=12, noise=0.05, seed=0)
    >>> model = CNNClassifier(layers=("conv8", "pool", "dense16"), learning_rate=0.01,
    ...                       max_epochs=15, tol=None, random_state=0).fit(X[:300], y[:300])
    >>> model.score(X[300:], y[300:]) > 0.9
    True
    """

    loss_kind = "softmax"
    #: rows are images: model files store image_shape_ and are checked with a black image
    input_kind = "images"

    def __init__(
        self,
        layers=DEFAULT_LAYERS,
        augment=None,
        augment_probability: float = 0.5,
        optimizer: str = "adam",
        learning_rate=0.003,
        batch_size=32,
        max_epochs: int = 30,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        l2: float = 0.0,
        class_weight=None,
        random_state=None,
        verbose: int = 0,
        compile: bool = False,
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
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose
        self.compile = compile

    # ------------------------------------------------------------------ images in
    def _validate_X(self, X, reset: bool, finite: bool = True) -> np.ndarray:
        """``X`` as float ``(n, C, H, W)``; on ``reset`` remember the image shape
        (:func:`validate_images`)."""
        return validate_images(self, X, reset=reset, finite=finite)

    def summarize(self, X, y, sample_weight) -> DataSummary:
        """The base summary (per-pixel moments, some rows), plus the exact pixel range."""
        summary = super().summarize(X, y, sample_weight)
        summary.pixel_range = (float(np.min(X)), float(np.max(X)))
        return summary

    # ------------------------------------------------------------------ the contract
    def learn_encoding(self, summary: DataSummary) -> None:
        """Pixel range (-> [0, 1]), then each channel's mean and spread of the scaled
        pixels (from the per-pixel moments: the law of total variance)."""
        sample = summary.sample
        low, high = getattr(summary, "pixel_range", (float(sample.min()), float(sample.max())))
        span = high - low if high > low else 1.0
        self.pixel_range_ = (low, low + span)
        channels = self.image_shape_[0]
        means = np.asarray(summary.x_mean, np.float64).reshape(channels, -1)
        variances = np.asarray(summary.x_var, np.float64).reshape(channels, -1)
        channel_mean = means.mean(axis=1)
        channel_var = variances.mean(axis=1) + means.var(axis=1)
        self.channel_mean_ = (channel_mean - low) / span
        spread = np.sqrt(channel_var) / span
        self.channel_scale_ = np.where(spread > 1e-6, spread, 1.0)
        check_network_memory(
            self.layers,
            self.image_shape_,
            logit_count(len(self.classes_)),
            batch_rows(self.batch_size, summary.n_samples),
            itemsize=np.dtype(summary.sample.dtype).itemsize,
        )

    def _scaled(self, images: np.ndarray) -> np.ndarray:
        low, high = self.pixel_range_
        return ((images - low) / (high - low)).astype(np.float32)

    def encode(self, X, y=None):
        """Images scaled to [0, 1] by the training range (what augmentations expect), and
        the labels as the loss takes them (a 0/1 column for two classes, else codes)."""
        images = self._validate_X(X, reset=False, finite=False)
        inputs = self._scaled(images)
        if y is None:
            return inputs, None
        return inputs, label_targets(self.encode_labels(y), len(self.classes_), inputs.dtype)

    def build_module(self, n_features: int, rng: np.random.Generator, dtype) -> nn.Sequential:
        """The network, preprocessing first: ``Normalize`` then the ``layers``."""
        n_outputs = logit_count(len(self.classes_))
        body = build_layers(self.layers, self.image_shape_, n_outputs, rng, dtype=dtype)
        return nn.Sequential(
            nn.Normalize(self.channel_mean_, self.channel_scale_, dtype=dtype), *body
        )

    def loss(self, output, target, sample_weight=None):
        """Mean cross-entropy: binary on one logit for two classes, softmax otherwise."""
        return classification_loss(output, target, sample_weight)

    def curvature_rows(self, X) -> np.ndarray:
        """Scaled pixels as rows, for ``learning_rate="auto"``."""
        inputs = self.encode(X)[0]
        return inputs.reshape(len(inputs), -1)

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
        """Train from fresh weights on images ``X`` and labels ``y`` ``(n,)``.

        As :meth:`GradientEstimator.fit <thalweg.models.GradientEstimator.fit>`; with
        ``augment`` the training batches are augmented copies (new every epoch), and
        ``early_stopping`` without ``validation`` holds out ``validation_fraction`` of
        the images (stratified) before anything is augmented.
        """
        augmenter = Augmenter(self.augment or "none", self.augment_probability)
        if validation is not None:
            X_val, y_val = validation
            validation = (_rows(X_val), y_val)
        if augmenter:
            if batches is not None or sample_weight is not None or self.class_weight is not None:
                raise ValueError(
                    f"{type(self).__name__}: augment= trains on augmented batches, in which "
                    "every image counts once; leave out sample_weight, class_weight and "
                    "batches, or set augment=None"
                )
            if self.early_stopping and validation is None:
                X, X_val, y, y_val = train_val_test_split(
                    np.asarray(X),
                    np.asarray(y),
                    fractions=(1 - self.validation_fraction, self.validation_fraction),
                    stratify=np.asarray(y),
                    seed=self.training_seed(),
                )
                validation = (_rows(X_val), y_val)

            def batches(inputs, targets, batch_size):
                return AugmentedBatches(inputs, targets, augmenter=augmenter, batch_size=batch_size)

        super().fit(
            X,
            y,
            sample_weight=sample_weight,
            callbacks=callbacks,
            validation=validation,
            resume=resume,
            batches=batches,
        )
        self._profile(X, validation)
        return self

    def _profile(self, X, validation) -> None:
        """What skew checks compare new images with: the training images' statistics
        (before augmentation: the photos as they were given) and the predictions on the
        validation images (else on a sample of the training images)."""
        images = self._validate_X(X, reset=False, finite=False)
        self.image_statistics_ = image_profile(images)
        if validation is not None:
            source, rows = "validation", self._validate_X(validation[0], reset=False)
        else:
            source, rows = "training", images
            if len(rows) > PROFILED_PREDICTIONS:
                chosen = np.random.default_rng(0).choice(len(rows), PROFILED_PREDICTIONS, False)
                rows = rows[np.sort(chosen)]
        self.prediction_statistics_ = prediction_profile(self.predict(rows), True, source)

    def fit_stream(self, stream, *, epochs=None, validation=None, callbacks=()):
        """Train from fresh weights on a stream of image batches too big for memory.

        ``stream`` is any batch source of ``(images, labels)`` batches, images ``(b, H,
        W)`` or ``(b, C, H, W)``: ``thalweg.data.ImageFolder(...).pipeline(batch_size)``
        (labels are then class indices), or a :class:`~thalweg.data.Pipeline` of your own.
        A first pass learns the pixel range, the channel statistics and the classes; then
        ``epochs`` passes (default: the stream's ``epochs``, else 1) of mini-batch descent
        in the stream's batch size, augmented with ``augment``. ``validation=(X_val,
        y_val)`` (images in memory) is needed for ``early_stopping``. As
        :meth:`GradientEstimator.fit_stream <thalweg.models.GradientEstimator.fit_stream>`.

        >>> from thalweg.data import Pipeline
        >>> from thalweg.datasets import shapes
        >>> X, y, names = shapes(n=120, size=8, seed=0)
        >>> stream = Pipeline(list(zip(X, y, strict=True)), seed=0).batch(20)
        >>> model = CNNClassifier(layers=("conv4", "pool"), random_state=0)
        >>> model.fit_stream(stream, epochs=2).image_shape_, model.n_iter_
        ((1, 8, 8), 2)
        """
        if validation is not None:
            X_val, y_val = validation
            validation = (_rows(X_val), y_val)
        return super().fit_stream(stream, epochs=epochs, validation=validation, callbacks=callbacks)

    def stream_summary(self, stream, seed: int) -> DataSummary:
        """One pass over a stream of image batches: per-pixel moments, the exact pixel
        range, and the image shape (every batch must have the same)."""
        images = _ImageRows(stream, type(self).__name__)
        summary = super().stream_summary(images, seed)
        self.image_shape_ = images.image_shape
        summary.pixel_range = (images.low, images.high)
        return summary

    def _encoded_batches(self, source):
        batches, reader = super()._encoded_batches(source)
        augmenter = Augmenter(self.augment or "none", self.augment_probability)
        if augmenter:  # augments the encoded (scaled to [0, 1]) images, new ones every epoch
            batches = AugmentedBatches(batches, augmenter=augmenter)
        return batches, reader

    # ------------------------------------------------------------------ predicting
    def decision_function(self, X) -> np.ndarray:
        """Logits: ``(n,)`` for two classes, ``(n, n_classes)`` otherwise."""
        # In float64, so that an image's scores never depend on the rest of its batch.
        inputs = self.encode(self._validate_X(X, reset=False))[0].astype(np.float64)
        # A few hundred images per pass: the im2col columns of a pass are ~kH·kW times
        # the size of its activations.
        scores = predict_array(self.module_, inputs, chunk=PREDICT_CHUNK)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """The most probable class of each image."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _ImageRows:
    """A stream of image batches seen as rows of pixels (for the data summary), noting
    the image shape and the pixel range on the way."""

    def __init__(self, source, who: str):
        if not hasattr(source, "epoch_batches"):
            raise TypeError(
                f"{who}.fit_stream: expected a batch source of (images, labels) batches, such "
                f"as ImageFolder(...).pipeline(); got {type(source).__name__}"
            )
        self.source, self.who = source, who
        self.image_shape: tuple[int, ...] | None = None
        self.low, self.high = np.inf, -np.inf

    @property
    def n_samples(self):
        return getattr(self.source, "n_samples", None)

    @property
    def batch_size(self):
        return getattr(self.source, "batch_size", None)

    def epoch_batches(self, rng, skip: int = 0):
        for X, y in self.source.epoch_batches(rng, skip):
            images = as_image_batch(X, f"{self.who}.fit_stream")
            shape = tuple(int(s) for s in images.shape[1:])
            if self.image_shape is None:
                self.image_shape = shape
            elif shape != self.image_shape:
                raise ShapeError(
                    f"{self.who}.fit_stream: every image must have one shape (C, H, W); got "
                    f"{self.image_shape} then {shape}; resize them the same way"
                )
            rows = images.reshape(len(images), -1)
            checks.check_finite(rows, self.who, "X")
            if len(rows):
                self.low = min(self.low, float(rows.min()))
                self.high = max(self.high, float(rows.max()))
            yield rows, y


def validate_images(model, X, *, reset: bool, finite: bool = True, resize="") -> np.ndarray:
    """``X`` as float images ``(n, C, H, W)`` for an image estimator ``model``.

    On ``reset`` (fitting) the image shape is remembered in ``model.image_shape_`` and
    ``n_features_in_``; afterwards images must have that shape, and flattened rows
    ``(n, C·H·W)`` are accepted too (held-out rows and data summaries arrive that way).
    ``resize``: what else to resize with the images, named in the error (e.g. boxes).
    """
    who = type(model).__name__
    array = np.asarray(X)
    if not reset and array.ndim == 2 and hasattr(model, "image_shape_"):
        if array.shape[1] == model.n_features_in_:
            array = array.reshape(len(array), *model.image_shape_)
    images = as_image_batch(array, who)
    if images.dtype not in (np.float32, np.float64):
        images = images.astype(np.float32)
    if finite:
        checks.check_finite(images.reshape(len(images), -1), who, "X")
    if reset:
        model.image_shape_ = tuple(int(s) for s in images.shape[1:])
        model.n_features_in_ = int(np.prod(model.image_shape_))
        model.__dict__.pop("feature_names_in_", None)
        return images
    model._check_fitted()
    if images.shape[1:] != tuple(model.image_shape_):
        raise ShapeError(
            f"{who}: this model was trained on images of shape {tuple(model.image_shape_)} "
            f"(C, H, W), got {images.shape[1:]}; resize them the same way{resize}"
        )
    return images


def batch_rows(batch_size, n_samples: int) -> int:
    """Images per training step: ``batch_size`` as the trainer resolves it."""
    if batch_size is None:
        return n_samples
    if batch_size == "auto":
        return min(200, n_samples)
    return min(int(batch_size), n_samples)


def _rows(images) -> np.ndarray:
    """Images ``(n, H, W)`` / ``(n, C, H, W)`` as rows of pixels (how the trainer passes
    held-out data on to :meth:`CNNClassifier.encode`)."""
    array = np.asarray(images)
    return array.reshape(len(array), -1)
