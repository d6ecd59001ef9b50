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

import time
from dataclasses import dataclass, field

import numpy as np

from thalweg import metrics
from thalweg.data.images import ImageFolder, ImageSplit
from thalweg.errors import DataError
from thalweg.models.cnn import CNNClassifier

__all__ = ["FolderTraining", "classification_scores", "misclassified", "train_on_folder"]


@dataclass
class FolderTraining:
    """What :func:`train_on_folder` made: the model, the folder, its parts and scores."""

    model: CNNClassifier
    folder: ImageFolder
    parts: dict[str, ImageSplit]
    seconds: float
    scores: dict[str, dict[str, float]] = field(default_factory=dict)


def train_on_folder(
    root,
    *,
    size=None,
    color: str = "auto",
    fractions=(0.7, 0.1, 0.2),
    workers: int = 0,
    cache=None,
    callbacks=(),
    **params,
) -> FolderTraining:
    """Split, decode and train a :class:`CNNClassifier` (``params``) on ``root``.

    ``fractions`` are train, validation and test; the validation part is passed to
    ``fit`` (``early_stopping=True`` unless ``params`` say otherwise), the test part is
    scored at the end (``scores["test"]``). The split's seed is ``random_state``.
    """
    folder = ImageFolder(root, size=size, color=color)
    seed = params.get("random_state", 0)
    counts = np.bincount(folder.labels)
    if counts.min() < len(fractions):
        raise DataError(
            f"{root}: every class needs at least {len(fractions)} images to be split into "
            f"{len(fractions)} parts; {folder.classes[int(np.argmin(counts))]!r} has "
            f"{counts.min()}"
        )
    parts = folder.split(fractions, seed=seed, workers=workers, cache=cache)
    params.setdefault("early_stopping", "validation" in parts)
    model = CNNClassifier(**params)
    train = parts["train"]
    validation = (parts["validation"].X, parts["validation"].y) if "validation" in parts else None
    started = time.perf_counter()
    model.fit(train.X, train.y, validation=validation, callbacks=callbacks)
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
