"""What a report is drawn from: plain data, filled in by whoever trained the model.

The CLI fills a :class:`ReportInput` after training (or evaluating) and passes it to
``thalweg.report.write_report``. Everything here is arrays, numbers and strings, so a
report can also be built from Python for any model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from thalweg import __version__
from thalweg.train.history import History


@dataclass
class Surface:
    """A model over two raw input features, for a Playground-style decision surface.

    ``predict`` maps raw feature values ``(m, 2)`` to ``(m,)``: the probability of the
    positive class (binary: ``classes[1]`` of the report), the index of the predicted class
    in the report's ``classes`` (multi-class), or the predicted value (regression). The
    points are drawn on top of the surface.
    """

    feature_names: tuple[str, str]
    predict: Callable[[np.ndarray], np.ndarray]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass
class ImageExamples:
    """Images to show in a grid, each with its true and predicted label (the test images
    a classifier got wrong, say).

    ``images`` is ``(k, C, H, W)`` or ``(k, H, W)`` with values in [0, 1] (C = 1 or 3);
    ``captions`` (e.g. file names) are optional, one per image. ``total`` is how many
    there were before the grid was cut to ``k``.
    """

    images: np.ndarray
    true_labels: list
    predicted_labels: list
    captions: list = field(default_factory=list)
    total: int = 0


@dataclass
class ReportInput:
    """Everything one HTML report shows.

    Attributes
    ----------
    title : str
    task : "classification" or "regression"
    model_name : str
        e.g. ``"MLPClassifier(hidden=(8, 2), activation='tanh')"``.
    hyperparameters : dict
    seed : int or None
    seconds : float
        Training time.
    data_summary : dict
        ``{"source": str, "rows": int, "columns": [{"name", "type", "missing"} (and
        "became", what the model made of it), ...],
        "target": str, "splits": {"train": int, "validation": int, "test": int}}``.
    metrics : dict of str -> float
        Metrics on the evaluated split (the test split after ``train``).
    y_true, y_pred : ndarray (n,)
        Labels / targets and predictions on that split.
    y_score : ndarray (n, n_classes) or None
        Predicted class probabilities (classification).
    classes : list or None
        Class labels, in the column order of ``y_score``.
    history : History or None
        Training history (per-epoch losses) when the model trained by gradient descent.
    weights : dict of str -> ndarray
        Learned weights to show: ``{"coefficients": (n_features,) or (k, n_features)}``
        for linear models, ``{"layer 1": (fan_in, fan_out), ...}`` for networks.
    feature_names : list of str
        Names of the model's input features (after preprocessing), for coefficients.
    surface : Surface or None
        Present when the data has exactly two numeric input features.
    split_name : str
        Which split the metrics are from ("test", or the file given to ``evaluate``).
    target_values : ndarray (n_rows,) or None
        The target column over all rows, before splitting: the report shows its class
        balance or distribution. When None, only the evaluated split's ``y_true`` is shown.
    misclassified : ImageExamples or None
        For image classifiers: the evaluated images the model got wrong, shown as a grid.
    threshold : float or None
        Two classes: the probability of ``classes[1]`` from which ``y_pred`` says
        ``classes[1]``; None for the model's own rule (the most probable class, 0.5).
        The report's threshold table marks it.
    trained_class_counts : dict or None
        Class -> rows the model trained on, when training resampled the classes
        (balanced batches): the report shows that mix beside the data's.
    """

    title: str
    task: str
    model_name: str
    hyperparameters: dict
    seed: int | None
    seconds: float
    data_summary: dict
    metrics: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None = None
    classes: list | None = None
    history: History | None = None
    weights: dict = field(default_factory=dict)
    feature_names: list = field(default_factory=list)
    surface: Surface | None = None
    split_name: str = "test"
    thalweg_version: str = __version__
    target_values: np.ndarray | None = None
    misclassified: ImageExamples | None = None
    threshold: float | None = None
    trained_class_counts: dict | None = None


def check_report(report: ReportInput) -> None:
    """Raise ValueError if the parts of ``report`` do not fit together.

    These are mistakes of the code that built the report (not of its user's data), so
    they are plain ``ValueError``s, raised before anything is drawn or written.
    """
    if report.task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {report.task!r}")
    n_true, n_pred = len(np.ravel(report.y_true)), len(np.ravel(report.y_pred))
    if n_true != n_pred:
        raise ValueError(f"y_true has {n_true} values but y_pred has {n_pred}")
    if report.threshold is not None and not 0.0 <= float(report.threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {report.threshold}")
    if report.y_score is not None:
        scores = np.asarray(report.y_score)
        if scores.shape[0] != n_true:
            raise ValueError(f"y_score has {scores.shape[0]} rows but y_true has {n_true} values")
        columns = 1 if scores.ndim == 1 else scores.shape[1]
        if report.classes is not None and columns > 1 and columns != len(report.classes):
            raise ValueError(
                f"y_score has {columns} columns but classes lists {len(report.classes)} labels"
            )
