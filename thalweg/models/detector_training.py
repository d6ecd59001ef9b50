"""Training a detector on a folder of images and a box CSV, and detecting in a folder.

What ``thalweg train-detector`` and ``thalweg detect`` do, as library calls::

    run = train_detector_on_folder("scenes/", "scenes/boxes.csv", max_epochs=30,
                                   random_state=0)
    run.model.save("detector.thalweg")
    run.evaluation.metrics["ap50"]        # on the held-out test images

    found = detect_folder(run.model, "new/", boxes="new/boxes.csv")
    found.detections                      # box table with scores, in each file's pixels
    found.evaluation.per_class            # AP@0.5 per class (ground truth given)

The images are split into train, validation and test parts at random (by the seed),
decoded once, and an :class:`~thalweg.models.SSDDetector` trains on the training part,
watching the validation loss for early stopping; the test part is evaluated at the end
with Pascal VOC AP@0.5 and the COCO metrics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.data.detection_images import DetectionImages, load_detection_folder
from thalweg.detection import (
    average_precision,
    coco_evaluate,
    precision_recall_curve,
)
from thalweg.errors import DataError, OptionError
from thalweg.models.detector import SSDDetector, detections_table
from thalweg.models.persistence import save_model
from thalweg.train import Checkpoint, checkpoint_fingerprint

__all__ = [
    "DetectionEvaluation",
    "DetectionRun",
    "DetectorTraining",
    "detect_folder",
    "detector_fingerprint",
    "evaluate_detections",
    "split_images",
    "train_detector",
    "train_detector_on_folder",
]


@dataclass
class DetectionEvaluation:
    """Detections scored against ground truth.

    ``metrics``: ``ap50`` (Pascal VOC AP@0.5, mean over classes), ``coco_ap``
    (AP@[.50:.95]), ``coco_ap50``, ``coco_ap75``, ``images``, ``boxes``,
    ``detections``. ``per_class``: VOC AP@0.5 of each class. ``curves``: each class's
    precision and recall after each detection by decreasing score (VOC matching).
    """

    metrics: dict
    per_class: dict
    curves: dict = field(default_factory=dict)


@dataclass
class DetectorTraining:
    """What :func:`train_detector_on_folder` made."""

    model: SSDDetector
    data: DetectionImages
    parts: dict  # part name -> int array of image indices into data
    seconds: float
    evaluation: DetectionEvaluation | None = None
    detections: dict | None = None  # on the test part, in the files' pixels

    def training_record(self, command: str = "") -> dict:
        """The ``training`` entry of the model file's metadata (``thalweg inspect``)."""
        history = self.model.history_
        return {
            "command": command,
            "mode": "memory",
            "data": {
                "source": str(self.data.root),
                "rows": len(self.data),
                "target": None,
                "splits": {name: len(part) for name, part in self.parts.items()},
                "boxes": int(sum(len(b) for b in self.data.boxes)),
                "classes": [str(c) for c in self.model.classes_],
                "image_shape": list(self.data.image_shape),
            },
            "seed": self.model.random_state,
            "seconds": round(self.seconds, 3),
            "epochs_run": int(self.model.n_iter_),
            "stop_reason": history.stop_reason,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "thalweg_version": __version__,
        }

    def save(self, path, command: str = "") -> Path:
        """Write the model file (atomically), with the training record and test metrics."""
        metadata = {"training": self.training_record(command)}
        if self.evaluation is not None:
            metadata["metrics"] = {"test": dict(self.evaluation.metrics)}
        save_model(self.model, path, metadata)
        return Path(path)


@dataclass
class DetectionRun:
    """What :func:`detect_folder` found: detections in the files' pixels, and their
    evaluation when ground truth was given."""

    data: DetectionImages
    detections: dict
    seconds: float
    evaluation: DetectionEvaluation | None = None
    found: list = field(default_factory=list)  # per image, in the decoded images' pixels


def split_images(n: int, fractions, seed: int) -> dict[str, np.ndarray]:
    """Random parts ``train``, ``validation``, ``test`` (as many as ``fractions``) of
    ``n`` images: index arrays, every part non-empty.

    >>> {k: len(v) for k, v in split_images(10, (0.6, 0.2, 0.2), seed=0).items()}
    {'train': 6, 'validation': 2, 'test': 2}
    """
    names = ("train", "validation", "test") if len(fractions) == 3 else ("train", "test")
    if len(fractions) not in (2, 3) or abs(sum(fractions) - 1) > 1e-6 or min(fractions) <= 0:
        raise ValueError(f"fractions must be 2 or 3 positive numbers summing to 1, got {fractions}")
    if n < len(fractions):
        raise DataError(f"{n} image(s) cannot be split into {len(fractions)} parts")
    order = np.random.default_rng(seed).permutation(n)
    counts = np.maximum(1, np.round(np.asarray(fractions) * n).astype(int))
    counts[0] = n - counts[1:].sum()
    if counts[0] < 1:
        raise DataError(f"{n} image(s) leave no training image with fractions {fractions}")
    bounds = np.cumsum(counts)[:-1]
    return {name: np.sort(part) for name, part in zip(names, np.split(order, bounds), strict=True)}


def evaluate_detections(
    detections: dict, truth: dict, n_images: int | None = None
) -> DetectionEvaluation:
    """VOC AP@0.5 per class (and its curves) and the COCO metrics of ``detections``
    (a box table with ``score``) against ``truth`` (a box table) on ``n_images`` images
    (default: those named in either table)."""
    if not len(truth["image"]):
        raise DataError("evaluate: the ground truth has no box; nothing to score against")
    per_class = average_precision(detections, truth)
    curves = {}
    for label in per_class:
        precision, recall, _ = precision_recall_curve(detections, truth, label=label)
        curves[label] = (precision, recall)
    coco = coco_evaluate(detections, truth)
    metrics = {
        "ap50": float(np.mean(list(per_class.values()))),
        "coco_ap": float(coco["ap"]),
        "coco_ap50": float(coco["ap50"]),
        "coco_ap75": float(coco["ap75"]),
        "images": len(set(np.asarray(truth["image"]).tolist())),
        "boxes": len(truth["image"]),
        "detections": len(detections["image"]),
    }
    return DetectionEvaluation(metrics, {str(k): float(v) for k, v in per_class.items()}, curves)


def detector_fingerprint(data: DetectionImages, params: dict, fractions) -> str:
    """A hash of the images, their boxes and every setting but the epoch count (a
    resumed run may train for longer): what a checkpoint is checked against."""
    digest = hashlib.sha256(np.ascontiguousarray(data.images).tobytes())
    for boxes, labels in zip(data.boxes, data.labels, strict=True):
        digest.update(np.ascontiguousarray(boxes).tobytes())
        digest.update("\0".join(map(str, labels.tolist())).encode())
    settings = {k: v for k, v in params.items() if k not in ("max_epochs", "verbose")}
    text = json.dumps(
        {"settings": settings, "fractions": list(fractions)}, sort_keys=True, default=str
    )
    digest.update(text.encode())
    return digest.hexdigest()[:32]


def train_detector_on_folder(
    root, boxes, *, size=None, color: str = "auto", workers: int = 0, **options
) -> DetectorTraining:
    """Decode ``root``'s images with the boxes of the CSV ``boxes``
    (:func:`~thalweg.data.load_detection_folder`), then :func:`train_detector`."""
    data = load_detection_folder(root, boxes, size=size, color=color, workers=workers)
    return train_detector(data, **options)


def train_detector(
    data: DetectionImages,
    *,
    fractions=(0.7, 0.1, 0.2),
    checkpoint=None,
    fingerprint: str | None = None,
    resume: bool = False,
    callbacks=(),
    **params,
) -> DetectorTraining:
    """Split ``data`` and train an :class:`SSDDetector` (``params``) on it.

    ``fractions`` are train, validation and test (or train and test); the validation
    part is passed to ``fit`` (``early_stopping=True`` unless ``params`` say otherwise)
    and the test part is evaluated at the end. The split's seed is ``random_state``.
    ``checkpoint``: where Ctrl-C (SIGTERM, SIGHUP) saves the training state
    (``TrainingInterrupted`` is raised after saving), tagged with ``fingerprint``
    (default :func:`detector_fingerprint`); ``resume=True`` continues from it.
    """
    seed = params.get("random_state", 0)
    seed = 0 if seed is None else seed
    parts = split_images(len(data), fractions, seed)
    params.setdefault("early_stopping", "validation" in parts)
    model = SSDDetector(**params)
    train = data.subset(parts["train"])
    if not any(len(b) for b in train.boxes):
        raise DataError("no box falls in the training images; a detector needs some")
    validation = None
    if "validation" in parts:
        held_out = data.subset(parts["validation"])
        validation = (held_out.images, held_out.targets())
    callbacks = list(callbacks)
    if fingerprint is None:
        fingerprint = detector_fingerprint(data, model.get_params(), fractions)
    if resume:
        if checkpoint is None or not Path(checkpoint).exists():
            raise OptionError(f"there is no checkpoint {checkpoint} to resume from")
        if checkpoint_fingerprint(checkpoint) != fingerprint:
            raise OptionError(
                f"the checkpoint {checkpoint} was saved by a run with other images, boxes or "
                "settings; resume with the same ones (only epochs may change), or delete it"
            )
    if checkpoint is not None:  # saved on Ctrl-C only
        callbacks.append(Checkpoint(checkpoint, every=sys.maxsize, fingerprint=fingerprint))
    started = time.perf_counter()
    model.fit(
        train.images,
        train.targets(),
        validation=validation,
        callbacks=callbacks,
        resume=checkpoint if resume else None,
    )
    run = DetectorTraining(model, data, parts, time.perf_counter() - started)
    if "test" in parts:
        test = data.subset(parts["test"])
        found = data.to_file_coordinates(model.detect(test.images, test.names))
        run.detections = found
        truth = test.ground_truth()
        if len(truth["image"]):
            run.evaluation = evaluate_detections(found, truth, len(test))
    return run


def detect_folder(
    model: SSDDetector,
    root,
    *,
    boxes=None,
    min_score: float | None = None,
    workers: int = 0,
) -> DetectionRun:
    """Detect objects in every image under ``root`` (decoded at the model's input size).

    ``boxes``: ground truth (a box CSV or table) to evaluate against; ``min_score``:
    keep only detections scoring at least this. Detections are in each file's own
    pixels.
    """
    channels, height, width = model.image_shape_
    data = load_detection_folder(
        root,
        boxes,
        size=(height, width),
        color="grayscale" if channels == 1 else "rgb",
        workers=workers,
    )
    started = time.perf_counter()
    found = model.predict(data.images)
    seconds = time.perf_counter() - started
    detections = data.to_file_coordinates(detections_table(found, data.names))
    for column in ("x_min", "y_min", "x_max", "y_max"):  # a hundredth of a pixel is plenty
        detections[column] = np.round(detections[column], 2)
    detections["score"] = np.round(detections["score"], 6)
    if min_score is not None:
        keep = detections["score"] >= min_score
        detections = {key: np.asarray(values)[keep] for key, values in detections.items()}
    run = DetectionRun(data, detections, seconds, found=found)
    if boxes is not None:
        truth = data.ground_truth()
        if len(truth["image"]):
            run.evaluation = evaluate_detections(detections, truth, len(data))
    return run
