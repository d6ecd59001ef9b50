"""Metrics of a table model on labelled rows, computed with :mod:`thalweg.metrics`.

Classification: accuracy, precision, recall and F1 (of the positive class ``classes[1]``
for two classes, macro-averaged over classes for more), ROC AUC (one-vs-rest for more
than two classes) and log loss. Regression: MSE, RMSE, MAE and R². A metric that is
undefined on the rows given (ROC AUC when only one class is present, R² of one row, ROC
AUC and log loss when some labels were never seen in training) is left out rather than
reported as NaN, and :attr:`Scores.notes` says which and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError
from thalweg.models.tabular import TabularModel

# Shown in tables and reports; "higher" or "lower" is better.
BETTER = {
    "accuracy": "higher",
    "precision": "higher",
    "recall": "higher",
    "f1": "higher",
    "roc_auc": "higher",
    "log_loss": "lower",
    "mse": "lower",
    "rmse": "lower",
    "mae": "lower",
    "r2": "higher",
}


@dataclass
class Scores:
    """Metrics on some rows, with what they were computed from."""

    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None  # (n, n_classes) probabilities, classifiers only
    notes: list[str] = field(default_factory=list)  # metrics left out, and why


def score(model: TabularModel, table: dict, y_true: np.ndarray) -> Scores:
    """Predict ``table`` with ``model`` and compare with ``y_true`` (labels or values)."""
    if model.is_classifier:
        probabilities = model.predict_proba(table)
        predicted = model.estimator_.predict(model.transform(table))
        notes: list[str] = []
        results = _classification(y_true, predicted, probabilities, model.classes_, notes)
        return Scores(results, y_true, predicted, probabilities, notes)
    predicted = model.predict(table)
    notes = []
    return Scores(_regression(y_true, predicted, notes), y_true, predicted, None, notes)


def unseen_labels(y_true: np.ndarray, classes) -> tuple[int, list]:
    """How many rows have a label not in ``classes``, and those labels (sorted)."""
    known = set(np.asarray(classes).tolist())
    values = np.asarray(y_true).tolist()
    unknown = [v for v in values if v not in known]
    return len(unknown), sorted(set(unknown), key=str)


def _classification(y_true, y_pred, probabilities, classes, notes) -> dict[str, float]:
    results = {"accuracy": metrics.accuracy(y_true, y_pred)}
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
    for name, fn in (
        ("precision", metrics.precision),
        ("recall", metrics.recall),
        ("f1", metrics.f1),
    ):
        _add(results, name, lambda fn=fn: fn(y_true, y_pred, **options), notes)
    if unseen:
        return results
    if len(labels) == 2:
        _add(
            results,
            "roc_auc",
            lambda: metrics.roc_auc(y_true == labels[1], probabilities[:, 1]),
            notes,
        )
    else:
        _add(
            results,
            "roc_auc",
            lambda: metrics.roc_auc(y_true, probabilities, multi_class="ovr", labels=labels),
            notes,
        )
    _add(results, "log_loss", lambda: metrics.log_loss(y_true, probabilities, labels=labels), notes)
    return results


def _regression(y_true, y_pred, notes) -> dict[str, float]:
    mse = float(metrics.mean_squared_error(y_true, y_pred))
    results = {"mse": mse, "rmse": math.sqrt(mse)}
    results["mae"] = float(metrics.mean_absolute_error(y_true, y_pred))
    _add(results, "r2", lambda: metrics.r2(y_true, y_pred), notes)
    return results


def _add(results: dict, name: str, compute, notes: list[str]) -> None:
    try:
        value = float(compute())
    except DataError as error:  # undefined on these rows (e.g. one class only)
        notes.append(f"{name} is left out: {error}")
        return
    if math.isfinite(value):
        results[name] = value
    else:
        notes.append(f"{name} is left out: it is {value} on these rows")
