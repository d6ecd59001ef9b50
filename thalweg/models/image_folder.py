"""Training a CNN on a folder of class sub-folders: split, decode, fit, score.

What ``thalweg train photos/`` does, as a library call a Python user can make too::

    run = train_on_folder("photos/", max_epochs=30, augment="default", random_state=0)
    run.model.save("photos.thalweg")
    run.scores["test"]            # accuracy, precision, recall, f1, log_loss

The files are split into train, validation and test parts (stratified by class, by a
seed), decoded once through the input pipeline (worker processes, optional disk cache),
and a :class:`~thalweg.models.CNNClassifier` trains on the training part, watching the
validation part for early stopping.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import __version__, metrics
from thalweg.data.images import ImageFolder, ImageSplit, check_decoded_memory
from thalweg.errors import DataError
from thalweg.models.cnn import CNNClassifier, batch_rows, check_network_memory
from thalweg.models.gradient import logit_count
from thalweg.models.persistence import save_model
from thalweg.models.table_training import check_resumable
from thalweg.train import Checkpoint

__all__ = [
    "FolderTraining",
    "classification_scores",
    "folder_fingerprint",
    "misclassified",
    "train_on_folder",
]


@dataclass
class FolderTraining:
    """What :func:`train_on_folder` made: the model, the folder, its parts and scores."""

    model: CNNClassifier
    folder: ImageFolder
    parts: dict[str, ImageSplit]
    seconds: float
    scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def training_record(self, command: str = "") -> dict:
        """The ``training`` entry of the model file's metadata (``thalweg inspect``)."""
        history = self.model.history_
        return {
            "command": command,
            "mode": "memory",
            "data": {
                "source": str(self.folder.root),
                "rows": len(self.folder),
                "target": None,
                "splits": {name: len(part.y) for name, part in self.parts.items()},
                "classes": list(self.folder.classes),
                "image_shape": list(self.folder.image_shape),
            },
            "task": "classification",
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
        if "test" in self.scores:
            metadata["metrics"] = {"test": self.scores["test"]}
        save_model(self.model, path, metadata)
        return Path(path)


def folder_fingerprint(folder: ImageFolder, settings: dict) -> str:
    """A hash of the folder's images (their paths, sizes and modification times: the
    files are not read) and of the ``settings`` that shape training, so a checkpoint
    is resumed only by the run that saved it."""
    files = []
    for path in folder.paths:
        info = os.stat(path)
        files.append([path.relative_to(folder.root).as_posix(), info.st_size, info.st_mtime_ns])
    text = json.dumps(
        {"files": files, "shape": folder.image_shape, "settings": settings},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def train_on_folder(
    root,
    *,
    size=None,
    color: str = "auto",
    fractions=(0.7, 0.1, 0.2),
    workers: int = 0,
    cache=None,
    callbacks=(),
    checkpoint=None,
    fingerprint: str | None = None,
    resume: bool = False,
    on_line: Callable[[str], None] = lambda line: None,
    **params,
) -> FolderTraining:
    """Split, decode and train a :class:`CNNClassifier` (``params``) on ``root`` (a path,
    or an :class:`~thalweg.data.ImageFolder`, whose ``size`` and ``color`` then apply).

    ``fractions`` are train, validation and test; the validation part is passed to
    ``fit`` (``early_stopping=True`` unless ``params`` say otherwise), the test part is
    scored at the end (``scores["test"]``). The split's seed is ``random_state``.
    ``checkpoint``: where Ctrl-C (SIGTERM, SIGHUP) saves the training state
    (``thalweg.train.TrainingInterrupted`` is raised after saving), stamped with
    ``fingerprint`` (:func:`folder_fingerprint`); with ``resume=True``, the checkpoint
    to continue from, which must carry the same fingerprint. ``on_line`` receives a
    line describing the images once they are decoded, before training starts.
    """
    folder = root if isinstance(root, ImageFolder) else ImageFolder(root, size=size, color=color)
    if resume:
        check_resumable(checkpoint, fingerprint)
    seed = params.get("random_state", 0)
    counts = np.bincount(folder.labels)
    if counts.min() < len(fractions):
        raise DataError(
            f"{folder.root}: every class needs at least {len(fractions)} images to be split into "
            f"{len(fractions)} parts; {folder.classes[int(np.argmin(counts))]!r} has "
            f"{counts.min()}"
        )
    params.setdefault("early_stopping", len(fractions) == 3)  # on the validation part
    model = CNNClassifier(**params)
    # Before any image is decoded: the images and the network fit in memory.
    check_decoded_memory(len(folder), folder.image_shape)
    check_network_memory(
        model.layers,
        folder.image_shape,
        logit_count(len(folder.classes)),
        batch_rows(model.batch_size, len(folder)),
    )
    parts = folder.split(fractions, seed=seed, workers=workers, cache=cache)
    on_line(
        f"{len(folder)} images of {len(folder.classes)} classes ({', '.join(folder.classes)}), "
        f"{'×'.join(map(str, folder.image_shape))}; "
        + ", ".join(f"{name} {len(part.y)}" for name, part in parts.items())
    )
    train = parts["train"]
    validation = (parts["validation"].X, parts["validation"].y) if "validation" in parts else None
    started = time.perf_counter()
    callbacks = list(callbacks)
    if checkpoint is not None:  # saved on Ctrl-C only
        callbacks.append(Checkpoint(checkpoint, every=sys.maxsize, fingerprint=fingerprint))
    model.fit(
        train.X,
        train.y,
        validation=validation,
        callbacks=callbacks,
        resume=checkpoint if resume else None,
    )
    seconds = time.perf_counter() - started
    run = FolderTraining(model, folder, parts, seconds)
    if "test" in parts:
        run.scores["test"] = classification_scores(model, parts["test"].X, parts["test"].y)
    return run


def classification_scores(model, X, y) -> dict[str, float]:
    """Accuracy, precision, recall and F1 (of ``classes_[1]`` for two classes, averaged
    over classes otherwise) and log loss of ``model`` on images ``X`` labelled ``y``."""
    y = np.asarray(y)
    probabilities = model.predict_proba(X)
    predicted = model.classes_[np.argmax(probabilities, axis=1)]
    labels = model.classes_
    if len(labels) == 2:
        options = {"pos_label": labels.tolist()[1], "average": "binary"}
    else:
        options = {"labels": labels, "average": "macro"}
    scores = {"accuracy": float(metrics.accuracy(y, predicted))}
    for name, fn in (
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("f1", metrics.f1),
    ):
        scores[name] = float(fn(y, predicted, **options))
    try:
        scores["log_loss"] = float(metrics.log_loss(y, probabilities, labels=labels))
    except DataError:
        pass  # undefined on these images (one class only)
    return scores


def misclassified(model, X, y, captions=None, limit: int = 48):
    """The images ``model`` gets wrong: ``(images, true, predicted, captions, total)``,
    at most ``limit`` of them (the most confidently wrong first)."""
    y = np.asarray(y)
    probabilities = model.predict_proba(X)
    predicted = model.classes_[np.argmax(probabilities, axis=1)]
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-probabilities[wrong].max(axis=1), kind="stable")][:limit]
    captions = [] if captions is None else [str(captions[i]) for i in wrong]
    return (
        X[wrong],
        y[wrong].tolist(),
        predicted[wrong].tolist(),
        captions,
        int((predicted != y).sum()),
    )
