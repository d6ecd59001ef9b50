"""``SSDDetector``: a single-shot object detector for images, with the scikit-learn contract.

``X`` is images ``(n, H, W)`` or ``(n, C, H, W)``; ``y`` holds each image's boxes, the
way torchvision's detection models take them: a list with, per image, a dict
``{"boxes": (G, 4) xyxy pixels, "labels": (G,)}`` (or just the ``(G, 4)`` array, for
one class of objects, called ``"object"``). ``predict`` returns the same structure with
``"scores"``; :meth:`SSDDetector.detect` a box table (``image, x_min, ..., label,
score``), the CSV format ``thalweg detect`` writes; ``score`` is the mean average
precision at IoU 0.5 (Pascal VOC).

The network (:class:`thalweg.nn.SSDNetwork`): a 3×3 convolution with stride 2, then
blocks of 3×3 convolution, 2×2 max pooling and ReLU (``channels``); the last
``feature_maps`` blocks' outputs are the feature maps, each with a 3×3 convolution head
predicting, for each anchor at each location, four offsets and ``C + 1`` class scores.
Anchors (:func:`thalweg.detection.anchor_grid`) are squares (and ``aspect_ratios``) of
``anchor_sizes`` pixels, by default 1.75 and 2.5 times each map's stride. Training
matches anchors to boxes with SSD's rule (:func:`thalweg.detection.multibox_targets`,
vectorized over the batch) and minimises :func:`thalweg.losses.multibox_loss`, with the
story's ``confidence_weighting`` (``docs/detection.md``).

It is a :class:`~thalweg.models.GradientEstimator`: validation data, callbacks,
checkpoints (``resume=``), early stopping, ``partial_fit`` and ``batches=`` (a batch
source of packed targets: see :class:`thalweg.detection.MatchTargets`) come from there.
Sample and class weights are not offered: the loss is normalised by matched anchors,
not by images.
"""

from __future__ import annotations

import itertools

import numpy as np

from thalweg import nn
from thalweg.data.summary import DataSummary, summarize_arrays
from thalweg.detection import (
    SUPPRESSION_METHODS,
    anchor_grid,
    clip_boxes,
    decode,
    mean_average_precision,
    multibox_targets,
    pack_targets,
    select_detections,
    unpack_targets,
)
from thalweg.errors import DataError, OptionError, ShapeError
from thalweg.losses import multibox_loss
from thalweg.models.cnn import batch_rows, validate_images
from thalweg.models.gradient import GradientEstimator
from thalweg.train import predict_array

__all__ = ["SSDDetector", "detections_table", "feature_map_sizes"]

DEFAULT_CHANNELS = (8, 16, 32, 64)
PREDICT_CHUNK = 64  # images per forward pass when predicting
SINGLE_CLASS = "object"  # the label of boxes given without labels
ANCHOR_MULTIPLES = (1.75, 2.5)  # default anchor sizes, in strides of their feature map
VARIANCES = (0.1, 0.2)
MIN_BOX_SIZE = 1.0  # pixels: narrower or lower predicted boxes are dropped


def feature_map_sizes(image_size, n_blocks: int) -> list[tuple[int, int]]:
    """``(height, width)`` after the stride-2 stem and each of ``n_blocks`` pooling blocks.

    >>> feature_map_sizes((96, 96), 3)
    [(48, 48), (24, 24), (12, 12), (6, 6)]
    """
    height, width = image_size
    sizes = [((height + 1) // 2, (width + 1) // 2)]  # 3×3, stride 2, padding 1
    for _ in range(n_blocks):
        height, width = sizes[-1]
        sizes.append((height // 2, width // 2))
    return sizes


class SSDDetector(GradientEstimator):
    """A single-shot detector (SSD) trained from scratch by gradient descent.

    Parameters
    ----------
    channels : sequence of int
        The backbone: a 3×3 convolution with stride 2 and ``channels[0]`` filters, then
        for each further entry a 3×3 convolution with that many filters, 2×2 max pooling
        and ReLU (each block halves the resolution). Default ``(8, 16, 32, 64)``.
    feature_maps : int
        Predict from the outputs of the last this-many blocks (at least 1; 2 by default:
        strides 8 and 16 for the default backbone).
    anchor_sizes : sequence of sequences of float, optional
        Anchor sides in pixels, one list per feature map, finest first. Default: 1.75
        and 2.5 times each map's stride (14 and 20 px, then 28 and 40 px, on 96×96
        images), for objects from about 12 to 48 px.
    aspect_ratios : sequence of float
        Width/height ratios of the anchors (``(1.0,)``: squares).
    iou_threshold : float
        An anchor is trained on a box it overlaps with IoU ≥ this (and every box on its
        best anchor).
    negatives_per_positive : float
        Hard negative mining in the loss (SSD: 3).
    confidence_weighting : bool
        The story's fix (``docs/detection.md``): multiply the localization loss of a
        matched anchor by ``1 + alpha`` when its predicted probability of its class is
        above ``confidence_threshold``.
    alpha, confidence_threshold : float
    score_threshold : float
        ``predict``: lowest score reported.
    nms : "greedy", "soft", "weighted" or "fusion"
        ``predict``: how duplicate boxes are suppressed
        (:func:`thalweg.detection.select_detections`).
    nms_iou : float
        ``predict``: overlap above which two boxes of a class are duplicates.
    max_detections : int
        ``predict``: most boxes per image.
    optimizer, learning_rate, batch_size, max_epochs, tol, n_iter_no_change,
    early_stopping, validation_fraction, l2, random_state, verbose
        Gradient descent, as for :class:`~thalweg.models.CNNClassifier`.

    Attributes
    ----------
    classes_ : array
        The object classes (sorted labels); class code ``c`` is ``classes_[c]``.
    image_shape_ : (C, H, W)
    anchors_ : float32 array (A, 4)
        Every anchor, xyxy in input pixels, in the network's output order.
    feature_map_sizes_ : list of (h, w)
    pixel_range_, channel_mean_, channel_scale_
        The preprocessing folded into the network's first layer.
    module_ : thalweg.nn.SSDNetwork
    history_, n_iter_, loss_

    Examples
    --------
    >>> from thalweg.datasets.scenes import make_scenes
    >>> from thalweg.detection import boxes_by_image
    >>> images, table = make_scenes(64, seed=0)
    >>> boxes, labels = boxes_by_image(table, [f"scene_{k:04d}.png" for k in range(64)])
    >>> y = [{"boxes": b, "labels": l} for b, l in zip(boxes, labels)]
    >>> detector = SSDDetector(max_epochs=2, random_state=0).fit(images, y)
    >>> found = detector.predict(images[:2])
    >>> sorted(found[0])
    ['boxes', 'labels', 'scores']
    """

    loss_kind = "softmax"
    input_kind = "images"  # model files: image_shape_ and friends are checked as images

    def __init__(
        self,
        channels=DEFAULT_CHANNELS,
        feature_maps: int = 2,
        anchor_sizes=None,
        aspect_ratios=(1.0,),
        iou_threshold: float = 0.5,
        negatives_per_positive: float = 3.0,
        confidence_weighting: bool = False,
        alpha: float = 1.0,
        confidence_threshold: float = 0.5,
        score_threshold: float = 0.01,
        nms: str = "greedy",
        nms_iou: float = 0.45,
        max_detections: int = 100,
        optimizer: str = "adam",
        learning_rate=0.003,
        batch_size=32,
        max_epochs: int = 30,
        tol: float | None = None,
        n_iter_no_change: int = 5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        l2: float = 0.0,
        random_state=None,
        verbose: int = 0,
    ):
        self.channels = channels
        self.feature_maps = feature_maps
        self.anchor_sizes = anchor_sizes
        self.aspect_ratios = aspect_ratios
        self.iou_threshold = iou_threshold
        self.negatives_per_positive = negatives_per_positive
        self.confidence_weighting = confidence_weighting
        self.alpha = alpha
        self.confidence_threshold = confidence_threshold
        self.score_threshold = score_threshold
        self.nms = nms
        self.nms_iou = nms_iou
        self.max_detections = max_detections
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

    # ------------------------------------------------------------------ images in
    def _validate_X(self, X, reset: bool, finite: bool = True) -> np.ndarray:
        """``X`` as float ``(n, C, H, W)``; flattened rows ``(n, C·H·W)`` once fitted."""
        return validate_images(self, X, reset=reset, finite=finite, resize=" (and their boxes)")

    def _validate_y(self, y, n_samples: int, reset: bool, classes=None):
        """Each image's boxes and class codes: a list of ``(boxes (G, 4), codes (G,))``.

        On ``reset`` the classes are learned (sorted labels; ``classes`` when given).
        """
        who = type(self).__name__
        if y is None:
            raise DataError(f"{who}: y is missing; give each image's boxes (see the docstring)")
        if isinstance(y, dict) or hasattr(y, "columns"):
            raise DataError(
                f"{who}: y must be a list with one entry per image, not a table; split a box "
                "table with thalweg.detection.boxes_by_image(table, image_names)"
            )
        entries = list(y)
        if len(entries) != n_samples:
            raise ShapeError(f"{who}: X has {n_samples} images but y has {len(entries)} entries")
        boxes, labels = [], []
        for k, entry in enumerate(entries):
            image_boxes, image_labels = _boxes_and_labels(entry, k, who)
            boxes.append(image_boxes)
            labels.append(image_labels)
        if reset:
            found = np.concatenate([*labels, np.zeros(0, str)]) if labels else []
            if classes is not None:
                self.classes_ = np.asarray(sorted(set(np.asarray(classes).tolist())))
            elif not len(found):
                raise DataError(
                    f"{who}: no image has a box; a detector needs examples of what to find"
                )
            else:
                self.classes_ = np.unique(found)
        known = {label: code for code, label in enumerate(self.classes_.tolist())}
        codes = []
        for k, image_labels in enumerate(labels):
            unknown = sorted({str(v) for v in image_labels.tolist() if v not in known})
            if unknown:
                raise DataError(
                    f"{who}: image {k} has boxes labelled {', '.join(unknown)}, a class the "
                    f"model does not know ({', '.join(map(str, self.classes_))})"
                )
            codes.append(np.array([known[v] for v in image_labels.tolist()], np.int64))
        return list(zip(boxes, codes, strict=True))

    def _validate_sample_weight(self, sample_weight, n_samples: int):
        if sample_weight is not None:
            raise ValueError(
                f"{type(self).__name__}: sample_weight is not supported (the loss is "
                "normalised by the matched anchors of a batch, not by images); leave it out"
            )
        return None

    def summarize(self, X, y, sample_weight) -> DataSummary:
        """Per-pixel moments of the images (the boxes are not summarised) and the
        exact pixel range."""
        summary = summarize_arrays(X.reshape(len(X), -1), None, task=None)
        summary.pixel_range = (float(np.min(X)), float(np.max(X)))
        return summary

    # ------------------------------------------------------------------ the contract
    def learn_encoding(self, summary: DataSummary) -> None:
        """The pixel scaling (as :class:`~thalweg.models.CNNClassifier`'s), the feature
        map sizes and the anchors."""
        sample = summary.sample
        low, high = getattr(summary, "pixel_range", (float(sample.min()), float(sample.max())))
        span = high - low if high > low else 1.0
        self.pixel_range_ = (low, low + span)
        channels = self.image_shape_[0]
        means = np.asarray(summary.x_mean, np.float64).reshape(channels, -1)
        variances = np.asarray(summary.x_var, np.float64).reshape(channels, -1)
        self.channel_mean_ = (means.mean(axis=1) - low) / span
        spread = np.sqrt(variances.mean(axis=1) + means.var(axis=1)) / span
        self.channel_scale_ = np.where(spread > 1e-6, spread, 1.0)
        self._check_architecture()
        height, width = self.image_shape_[1:]
        blocks = len(self.channels) - 1
        maps = feature_map_sizes((height, width), blocks)[-self.feature_maps :]
        if min(min(size) for size in maps) < 1:
            raise ShapeError(
                f"{type(self).__name__}: images of {height}×{width} px are too small for "
                f"{blocks} pooling blocks (channels={tuple(self.channels)}); use fewer"
            )
        self.feature_map_sizes_ = [list(size) for size in maps]
        self.anchors_ = anchor_grid(maps, (height, width), self._anchor_sizes(maps), self._ratios())
        self._check_network_memory(
            batch_rows(self.batch_size, summary.n_samples),
            itemsize=np.dtype(summary.sample.dtype).itemsize,
        )

    def loaded_state_problem(self) -> str | None:
        """What is wrong with a loaded detector's derived state, or None.

        ``feature_map_sizes_`` and ``anchors_`` follow from the parameters and
        ``image_shape_`` (see ``_initialize``); a file whose stored ones differ (edited by
        hand, or from another configuration) would decode every box against the wrong
        anchor, so the loader refuses it (``thalweg.models.persistence``).
        """
        try:
            self._check_architecture()
        except OptionError as error:
            return str(error)
        height, width = self.image_shape_[1:]
        maps = feature_map_sizes((height, width), len(self.channels) - 1)[-self.feature_maps :]
        stored = [list(size) for size in self.feature_map_sizes_]
        if [list(size) for size in maps] != stored:
            return (
                f"feature_map_sizes_ {stored} are not the {self.feature_maps} feature map(s) "
                f"that channels {tuple(self.channels)} make of a {height}×{width} image "
                f"({[list(size) for size in maps]})"
            )
        anchors = anchor_grid(maps, (height, width), self._anchor_sizes(maps), self._ratios())
        if anchors.shape != np.shape(self.anchors_) or not np.allclose(
            anchors, self.anchors_, rtol=1e-6, atol=1e-6
        ):
            counts = f"{len(anchors)} expected, {len(self.anchors_)} stored"
            return (
                "anchors_ are not the anchors its parameters (anchor_sizes, aspect_ratios) "
                "and image size give"
                + (f" ({counts})" if len(anchors) != len(self.anchors_) else "")
                + "; retrain it or use the file it was saved as"
            )
        return None

    def encode(self, X, y=None):
        """Images scaled to [0, 1] by the training range, and the packed targets
        ``(n, A, 5)`` (class + 1 or 0, then the offsets) of SSD's matching."""
        images = self._validate_X(X, reset=False, finite=False)
        low, high = self.pixel_range_
        inputs = ((images - low) / (high - low)).astype(np.float32)
        if y is None:
            return inputs, None
        boxes = [b for b, _ in y]
        codes = [c for _, c in y]
        labels, offsets = multibox_targets(
            self.anchors_, boxes, codes, self.iou_threshold, VARIANCES
        )
        return inputs, pack_targets(labels, offsets)

    def build_module(self, n_features: int, rng: np.random.Generator, dtype) -> nn.SSDNetwork:
        """The network, preprocessing (``Normalize``) first."""
        channels = [int(c) for c in self.channels]
        values = 4 + len(self.classes_) + 1
        layers: list = [
            nn.Normalize(self.channel_mean_, self.channel_scale_, dtype=dtype),
            nn.Conv2d(
                self.image_shape_[0], channels[0], 3, stride=2, padding=1, rng=rng, dtype=dtype
            ),
            nn.ReLU(),
        ]
        blocks = []
        for before, after in itertools.pairwise(channels):
            blocks.append(
                [
                    nn.Conv2d(before, after, 3, padding=1, rng=rng, dtype=dtype),
                    # max pooling before the ReLU: the same values, a quarter of the work
                    nn.MaxPool2d(2),
                    nn.ReLU(),
                ]
            )
        first_map = len(blocks) - self.feature_maps
        for block in blocks[: first_map + 1]:
            layers += block
        stages = [nn.Sequential(*layers)] + [nn.Sequential(*b) for b in blocks[first_map + 1 :]]
        map_channels = channels[-self.feature_maps :]
        sizes = self._anchor_sizes(self.feature_map_sizes_)
        heads = [
            nn.Conv2d(c, len(s) * len(self._ratios()) * values, 3, padding=1, rng=rng, dtype=dtype)
            for c, s in zip(map_channels, sizes, strict=True)
        ]
        return nn.SSDNetwork(stages, heads, values)

    def _check_network_memory(self, batch: int, itemsize: int) -> None:
        """Refuse (``ResourceLimitError``) before any weight is drawn a backbone that cannot
        be trained here (``channels=(100000, 100000, 100000)``: 335 GiB of weights). As
        for a CNN, each weight is held four times (itself, its gradient, two optimizer
        moments) and each image of a batch keeps every convolution's output and 3×3
        columns, and their gradients."""
        from thalweg.limits import check_memory

        channels = [int(c) for c in self.channels]
        values = 4 + len(self.classes_) + 1
        height, width = self.image_shape_[1:]
        height, width = (height + 1) // 2, (width + 1) // 2  # after the stride-2 stem
        inputs = [self.image_shape_[0], *channels]
        weights = 9 * sum(a * b for a, b in itertools.pairwise(inputs))
        per_image = channels[0] * height * width * 10  # the stem: output and columns
        for before, after in itertools.pairwise(channels):
            per_image += (9 * before + after) * height * width
            height, width = max(height // 2, 1), max(width // 2, 1)
        anchors_per_cell = len(self._ratios()) * (
            len(self.anchor_sizes[0]) if self.anchor_sizes is not None else len(ANCHOR_MULTIPLES)
        )
        weights += sum(9 * c * anchors_per_cell * values for c in channels[-self.feature_maps :])
        check_memory(
            (4 * weights + 2 * batch * per_image) * itemsize,
            f"training this detector ({weights:,} weights; batches of {batch} images of "
            f"{'×'.join(map(str, self.image_shape_))})",
            "use fewer or narrower channels (channels=), smaller images (size=) or "
            "smaller batches (batch_size=)",
        )

    def loss(self, output, target, sample_weight=None):
        """:func:`thalweg.losses.multibox_loss` on the network's output ``(B, A, V)``
        split into offsets and class scores, against packed targets ``(B, A, 5)``."""
        labels, offsets = unpack_targets(target)
        return multibox_loss(
            output[:, :, 4:],
            output[:, :, :4],
            labels,
            offsets,
            negatives_per_positive=self.negatives_per_positive,
            confidence_weighting=self.confidence_weighting,
            alpha=self.alpha,
            confidence_threshold=self.confidence_threshold,
        )

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
        """Train from fresh weights on images ``X`` and their boxes ``y``.

        As :meth:`GradientEstimator.fit <thalweg.models.GradientEstimator.fit>`;
        ``validation=(X_val, y_val)`` are held-out images and their boxes (the
        validation loss is the multibox loss), and ``batches(inputs, targets,
        batch_size)`` receives the scaled images and the packed targets.
        """
        if validation is not None:
            X_val, y_val = validation
            X_val = np.asarray(X_val)
            validation = (X_val.reshape(len(X_val), -1), y_val)
        return super().fit(
            X,
            y,
            sample_weight=sample_weight,
            callbacks=callbacks,
            validation=validation,
            resume=resume,
            batches=batches,
        )

    def fit_stream(self, stream, *, epochs=None, validation=None, callbacks=()):
        """Not for images with boxes: use ``fit``, or ``fit(..., batches=...)`` with a
        pipeline (see :class:`thalweg.detection.MatchTargets`)."""
        raise OptionError(
            "SSDDetector.fit_stream: streams of table rows are not images with boxes; use "
            "fit(), with batches= for a custom input pipeline"
        )

    # ------------------------------------------------------------------ predicting
    def network_output(self, X) -> np.ndarray:
        """The network's raw output ``(n, A, 4 + C + 1)``: offsets, then class logits."""
        inputs = self.encode(self._validate_X(X, reset=False))[0]
        return predict_array(self.module_, inputs, chunk=PREDICT_CHUNK)

    def anchor_predictions(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Every anchor's decoded box and class probabilities, before any suppression.

        Returns
        -------
        boxes : float32 array (n, A, 4)
            xyxy in the images' pixels, clipped to the image.
        probabilities : float32 array (n, A, C + 1)
            Softmax over background (column 0) and the classes.
        """
        output = self.network_output(X)
        logits = output[:, :, 4:].astype(np.float64)
        logits -= logits.max(axis=2, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=2, keepdims=True)
        boxes = decode(output[:, :, :4], self.anchors_, VARIANCES)
        height, width = self.image_shape_[1:]
        boxes = clip_boxes(boxes.reshape(-1, 4), (height, width)).reshape(boxes.shape)
        return boxes.astype(np.float32), probabilities.astype(np.float32)

    def predict(self, X) -> list[dict]:
        """Each image's detections: ``{"boxes": (K, 4), "scores": (K,), "labels": (K,)}``,
        by decreasing score (``score_threshold``, ``nms``, ``nms_iou``,
        ``max_detections`` decide which; boxes under a pixel wide or high are dropped)."""
        self._check_settings()
        boxes, probabilities = self.anchor_predictions(X)
        # A box clipped to less than a pixel at the border is no detection (torchvision's
        # remove_small_boxes): it is never reported.
        sizes = boxes[..., 2:] - boxes[..., :2]
        probabilities[(sizes < MIN_BOX_SIZE).any(axis=2), 1:] = 0
        found = []
        for image_boxes, image_probabilities in zip(boxes, probabilities, strict=True):
            kept, scores, codes = select_detections(
                image_boxes,
                image_probabilities,
                score_threshold=self.score_threshold,
                iou_threshold=self.nms_iou,
                max_detections=self.max_detections,
                method=self.nms,
            )
            found.append({"boxes": kept, "scores": scores, "labels": self.classes_[codes]})
        return found

    def detect(self, X, names=None) -> dict:
        """:meth:`predict` as one box table: ``image, x_min, y_min, x_max, y_max, label,
        score`` (``image`` from ``names``, default the image's position in ``X``)."""
        found = self.predict(X)
        names = list(range(len(found))) if names is None else list(names)
        if len(names) != len(found):
            raise ShapeError(f"detect: {len(found)} images but {len(names)} names")
        return detections_table(found, names)

    def score(self, X, y, sample_weight=None) -> float:
        """Mean average precision at IoU 0.5 (Pascal VOC, over the classes of ``y``)."""
        if sample_weight is not None:
            self._validate_sample_weight(sample_weight, len(X))
        truth = self._validate_y(y, len(np.asarray(X)), reset=False)
        names = list(range(len(truth)))
        table = {"image": [], "x_min": [], "y_min": [], "x_max": [], "y_max": [], "label": []}
        for k, (boxes, codes) in enumerate(truth):
            table["image"] += [names[k]] * len(boxes)
            for j, column in enumerate(("x_min", "y_min", "x_max", "y_max")):
                table[column] += boxes[:, j].tolist()
            table["label"] += self.classes_[codes].tolist()
        if not table["image"]:
            raise DataError(f"{type(self).__name__}.score: y has no box; nothing to find")
        return mean_average_precision(self.detect(X, names), table)

    # ------------------------------------------------------------------ helpers
    def _check_architecture(self) -> None:
        who = type(self).__name__
        channels = list(self.channels)
        if len(channels) < 2 or not all(
            isinstance(c, int | np.integer) and c > 0 for c in channels
        ):
            raise OptionError(
                f"{who}: channels must be at least two positive integers (the stem and one "
                f"block), got {self.channels!r}"
            )
        if not 1 <= int(self.feature_maps) <= len(channels) - 1:
            raise OptionError(
                f"{who}: feature_maps must be between 1 and {len(channels) - 1} (the blocks "
                f"after the stem), got {self.feature_maps!r}"
            )
        if self.anchor_sizes is not None and len(self.anchor_sizes) != self.feature_maps:
            raise OptionError(
                f"{who}: anchor_sizes needs one list per feature map ({self.feature_maps}), "
                f"got {len(self.anchor_sizes)}"
            )
        if self.anchor_sizes is not None:
            counts = {len(sizes) for sizes in self.anchor_sizes}
            if len(counts) != 1:
                raise OptionError(
                    f"{who}: every feature map needs the same number of anchor sizes, got "
                    f"{self.anchor_sizes!r}"
                )
        self._check_settings()

    def _check_settings(self) -> None:
        who = type(self).__name__
        if self.nms not in SUPPRESSION_METHODS:
            raise OptionError(
                f"{who}: nms must be one of {', '.join(SUPPRESSION_METHODS)}, got {self.nms!r}"
            )

    def _ratios(self) -> list[float]:
        return [float(r) for r in self.aspect_ratios]

    def _anchor_sizes(self, maps) -> list[list[float]]:
        if self.anchor_sizes is not None:
            return [[float(s) for s in sizes] for sizes in self.anchor_sizes]
        height = self.image_shape_[1]
        return [[m * height / size[0] for m in ANCHOR_MULTIPLES] for size in maps]


def detections_table(found: list[dict], names) -> dict:
    """Per-image detections (``predict``'s output) as one box table with ``score``."""
    table = {"image": [], "x_min": [], "y_min": [], "x_max": [], "y_max": [], "label": []}
    scores = []
    for name, image in zip(names, found, strict=True):
        count = len(image["scores"])
        table["image"] += [name] * count
        for j, column in enumerate(("x_min", "y_min", "x_max", "y_max")):
            table[column] += np.asarray(image["boxes"], np.float64)[:, j].tolist()
        table["label"] += np.asarray(image["labels"]).tolist()
        scores += np.asarray(image["scores"], np.float64).tolist()
    out = {key: np.asarray(values) for key, values in table.items()}
    for column in ("x_min", "y_min", "x_max", "y_max"):
        out[column] = out[column].astype(np.float64)
    out["score"] = np.asarray(scores, np.float64)
    if not len(out["label"]):
        out["label"] = np.zeros(0, str)
        out["image"] = np.zeros(0, str)
    return out


def _boxes_and_labels(entry, k: int, who: str) -> tuple[np.ndarray, np.ndarray]:
    """One image's ``y`` entry -> boxes ``(G, 4)`` float64 and labels ``(G,)``."""
    if isinstance(entry, dict):
        if "boxes" not in entry:
            raise DataError(f"{who}: y[{k}] has no 'boxes'; give {{'boxes': ..., 'labels': ...}}")
        raw_boxes = entry["boxes"]
        labels = entry.get("labels")
    else:
        raw_boxes, labels = entry, None
    try:
        boxes = np.asarray(raw_boxes, np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{who}: the boxes of y[{k}] are not numbers") from None
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ShapeError(
            f"{who}: the boxes of y[{k}] must be (G, 4) x_min, y_min, x_max, y_max; got "
            f"shape {boxes.shape}"
        )
    if not np.isfinite(boxes).all():
        raise DataError(f"{who}: the boxes of y[{k}] have NaN or infinite coordinates")
    if ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])).any():
        raise DataError(
            f"{who}: a box of y[{k}] has zero or negative width or height; boxes are "
            "x_min, y_min, x_max, y_max with x_max > x_min and y_max > y_min"
        )
    if labels is None:
        labels = np.full(len(boxes), SINGLE_CLASS)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(boxes):
        raise ShapeError(f"{who}: y[{k}] has {len(boxes)} boxes but {len(labels)} labels")
    if labels.dtype == object:
        labels = labels.astype(str)
    return boxes, labels
