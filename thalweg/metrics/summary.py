"""The usual metrics of a model at once, with the predictions they came from.

Classification: accuracy, the accuracy of always predicting the majority class
(``baseline_accuracy``: the bar accuracy must clear), precision, recall and F1 (of the
positive class ``classes[1]`` for two classes, macro-averaged over classes for more), ROC
AUC (one-vs-rest for more than two classes) and log loss; the predictions may have been
decided at a ``threshold`` other than 0.5 (recorded in the :class:`Evaluation`).
Regression: MSE, RMSE, MAE and R². A metric that is undefined on the rows given (ROC AUC
when only one class is present, R² of one row, ROC AUC and log loss when some labels
were never seen in training) is left out rather than reported as NaN, and
:attr:`Evaluation.notes` says which and why.

>>> import numpy as np
>>> evaluation = evaluate_predictions(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
>>> round(evaluation.metrics["mae"], 4), BETTER["mae"]
(0.3333, 'lower')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from thalweg.errors import DataError
from thalweg.metrics.classification import accuracy, f1, majority_baseline, precision, recall
from thalweg.metrics.probability import log_loss
from thalweg.metrics.ranking import roc_auc
from thalweg.metrics.regression import mean_absolute_error, mean_squared_error, r2

__all__ = ["BETTER", "METRIC_NAMES", "Evaluation", "evaluate_predictions", "unseen_labels"]

# Which way each metric is better: shown beside it in tables and reports.
BETTER = {
    "accuracy": "higher",
    "baseline_accuracy": "(majority class: accuracy's bar)",
    "precision": "higher",
    "recall": "higher",
    "f1": "higher",
    "roc_auc": "higher",
    "log_loss": "lower",
    "mse": "lower",
    "rmse": "lower",
    "mae": "lower",
    "r2": "higher",
    "ap50": "higher",
    "coco_ap": "higher",
    "coco_ap50": "higher",
    "coco_ap75": "higher",
}


# How each metric is named in words (tables, command-line output).
METRIC_NAMES = {
    "accuracy": "accuracy",
    "baseline_accuracy": "baseline accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "mse": "mean squared error",
    "rmse": "root mean squared error",
    "mae": "mean absolute error",
    "r2": "R²",
    "ap50": "AP@0.5 (VOC)",
    "coco_ap": "COCO AP@[.5:.95]",
    "coco_ap50": "COCO AP50",
    "coco_ap75": "COCO AP75",
}


@dataclass
class Evaluation:
    """Metrics on some rows, with what they were computed from."""

    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None  # (n, n_classes) probabilities, classifiers only
    threshold: float | None = None  # a two-class model's decision threshold, if not 0.5
    notes: list[str] = field(default_factory=list)  # metrics left out, and why


def evaluate_predictions(
    y_true, y_pred, probabilities=None, classes=None, threshold: float | None = None
) -> Evaluation:
    """The metrics of predictions ``y_pred`` against ``y_true``: a classifier's when
    ``probabilities`` ``(n, n_classes)`` and ``classes`` are given, else a regressor's.
    ``threshold`` records the probability of ``classes[1]`` at which ``y_pred`` was
    decided (None: the most probable class)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    notes: list[str] = []
    if probabilities is None:
        return Evaluation(_regression(y_true, y_pred, notes), y_true, y_pred, None, notes=notes)
    metrics = _classification(y_true, y_pred, probabilities, classes, notes)
    return Evaluation(metrics, y_true, y_pred, probabilities, threshold, notes)


def unseen_labels(y_true, classes) -> tuple[int, list]:
    """How many of ``y_true`` are not among ``classes``, and which labels those are.

    >>> unseen_labels(np.array(["a", "z", "z"]), ["a", "b"])
    (2, ['z'])
    """
    known = set(np.asarray(classes).tolist())
    unknown = [v for v in np.asarray(y_true).tolist() if v not in known]
    return len(unknown), sorted(set(unknown), key=str)


def _classification(y_true, y_pred, probabilities, classes, notes) -> dict[str, float]:
    results = {"accuracy": accuracy(y_true, y_pred)}
    results["baseline_accuracy"] = majority_baseline(y_true).accuracy
    labels = np.asarray(classes)
    rows, unseen = unseen_labels(y_true, labels)
    if unseen:
        shown = ", ".join(repr(v) for v in unseen[:5]) + (", ..." if len(unseen) > 5 else "")
        notes.append(
            f"{rows} row(s) have labels the model never saw in training ({shown}): they "
            "count as wrong predictions; ROC AUC and log loss are left out (they need the "
            "model's probability of the true label)"
        )
    if len(labels) == 2:
        # tolist(): a plain Python label from any array (text labels of a stream are objects)
        options = {"pos_label": labels.tolist()[1], "average": "binary"}
    else:
        options = {"labels": labels, "average": "macro"}
    for name, fn in (("precision", precision), ("recall", recall), ("f1", f1)):
        _add(results, name, lambda fn=fn: fn(y_true, y_pred, **options), notes)
    if unseen:
        return results
    if len(labels) == 2:
        _add(results, "roc_auc", lambda: roc_auc(y_true == labels[1], probabilities[:, 1]), notes)
    else:
        _add(
            results,
            "roc_auc",
            lambda: roc_auc(y_true, probabilities, multi_class="ovr", labels=labels),
            notes,
        )
    _add(results, "log_loss", lambda: log_loss(y_true, probabilities, labels=labels), notes)
    return results


def _regression(y_true, y_pred, notes) -> dict[str, float]:
    mse = float(mean_squared_error(y_true, y_pred))
    results = {"mse": mse, "rmse": math.sqrt(mse)}
    results["mae"] = float(mean_absolute_error(y_true, y_pred))
    _add(results, "r2", lambda: r2(y_true, y_pred), notes)
    return results


def _add(results: dict, name: str, compute, notes: list[str]) -> None:
    try:
        value = float(compute())
    except DataError as error:  # undefined on these rows (e.g. one class only)
        notes.append(f"{METRIC_NAMES.get(name, name)} is left out: {error}")
        return
    if math.isfinite(value):
        results[name] = value
    else:
        notes.append(f"{METRIC_NAMES.get(name, name)} is left out: it is {value} on these rows")
