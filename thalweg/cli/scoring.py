"""Metrics of a table model on labelled rows, computed with :mod:`thalweg.metrics`.

Classification: accuracy, the accuracy of always predicting the majority class
(``baseline_accuracy``: the bar accuracy must clear), precision, recall and F1 (of the
positive class ``classes[1]`` for two classes, macro-averaged over classes for more), ROC
AUC (one-vs-rest for more than two classes) and log loss. A two-class model decides at
probability 0.5 unless given another ``threshold`` (``--threshold``). Regression: MSE,
RMSE, MAE and R². A metric that is undefined on the rows given (ROC AUC when only one
class is present, R² of one row) is left out rather than reported as NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError
from thalweg.models.tabular import TabularModel

# Shown in tables and reports; "higher" or "lower" is better.
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
}


@dataclass
class Scores:
    """Metrics on some rows, with what they were computed from."""

    metrics: dict[str, float]
    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None  # (n, n_classes) probabilities, classifiers only
    threshold: float | None = None  # the decision threshold of a two-class model, if given


def check_threshold(model: TabularModel, threshold: float | None) -> None:
    """``--threshold`` needs a classifier with two classes (one probability to cut)."""
    if threshold is None:
        return
    if not model.is_classifier:
        raise DataError(
            "--threshold applies to classifiers; this model does regression: leave it out"
        )
    classes = model.classes_.tolist()
    if len(classes) != 2:
        raise DataError(
            f"--threshold applies to a model with two classes; this one has {len(classes)} "
            f"({', '.join(map(repr, classes[:5]))}), where the most probable class wins: "
            "leave it out"
        )


def predict_labels(model: TabularModel, probabilities: np.ndarray, threshold: float | None):
    """Labels of a classifier: at ``threshold`` on P(``classes_[1]``), else its own rule."""
    if threshold is None:
        return model.classes_[np.argmax(probabilities, axis=1)]
    return metrics.apply_threshold(probabilities[:, 1], threshold, classes=model.classes_)


def score(
    model: TabularModel, table: dict, y_true: np.ndarray, threshold: float | None = None
) -> Scores:
    """Predict ``table`` with ``model`` and compare with ``y_true`` (labels or values);
    a two-class model decides at ``threshold`` when one is given."""
    if model.is_classifier:
        check_threshold(model, threshold)
        probabilities = model.predict_proba(table)
        if threshold is None:
            predicted = model.estimator_.predict(model.transform(table))
        else:
            predicted = predict_labels(model, probabilities, threshold)
        return Scores(
            _classification(y_true, predicted, probabilities, model.classes_),
            y_true,
            predicted,
            probabilities,
            threshold,
        )
    predicted = model.predict(table)
    return Scores(_regression(y_true, predicted), y_true, predicted, None)


def _classification(y_true, y_pred, probabilities, classes) -> dict[str, float]:
    results = {"accuracy": metrics.accuracy(y_true, y_pred)}
    results["baseline_accuracy"] = metrics.majority_baseline(y_true).accuracy
    labels = np.asarray(classes)
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
        _add(results, name, lambda fn=fn: fn(y_true, y_pred, **options))
    if len(labels) == 2:
        _add(results, "roc_auc", lambda: metrics.roc_auc(y_true == labels[1], probabilities[:, 1]))
    else:
        _add(
            results,
            "roc_auc",
            lambda: metrics.roc_auc(y_true, probabilities, multi_class="ovr", labels=labels),
        )
    _add(results, "log_loss", lambda: metrics.log_loss(y_true, probabilities, labels=labels))
    return results


def _regression(y_true, y_pred) -> dict[str, float]:
    mse = float(metrics.mean_squared_error(y_true, y_pred))
    results = {"mse": mse, "rmse": math.sqrt(mse)}
    results["mae"] = float(metrics.mean_absolute_error(y_true, y_pred))
    _add(results, "r2", lambda: metrics.r2(y_true, y_pred))
    return results


def _add(results: dict, name: str, compute) -> None:
    try:
        value = float(compute())
    except DataError:
        return  # undefined on these rows (e.g. one class only): leave it out
    if math.isfinite(value):
        results[name] = value
