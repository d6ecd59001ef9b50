"""Filling a :class:`~thalweg.report.inputs.ReportInput` from a trained table model.

The report itself (figures, HTML, the atomic write) is this package's job; this module
only gathers what it shows of a :class:`~thalweg.models.tabular.TabularModel`: the data
summary, the settings, the metrics and predictions on the evaluated rows, the history,
the weights, and — when the model reads exactly two numeric columns — a decision or
regression surface.
"""

from __future__ import annotations

import numpy as np

from thalweg.data.columns import NUMERIC
from thalweg.metrics.summary import Evaluation
from thalweg.report.inputs import ReportInput, Surface

__all__ = ["table_model_report"]


def _weights(estimator) -> dict[str, np.ndarray]:
    if hasattr(estimator, "coefs_"):
        return {f"layer {i}": w for i, w in enumerate(estimator.coefs_, start=1)}
    if hasattr(estimator, "coef_"):
        return {"coefficients": np.asarray(estimator.coef_)}
    return {}


def _surface(model, parts: dict) -> Surface | None:
    numeric = [c["name"] for c in model.columns_ if c["kind"] == NUMERIC]
    if len(numeric) != 2 or len(model.columns_) != 2 or "train" not in parts:
        return None
    first, second = numeric

    def predict(points: np.ndarray) -> np.ndarray:
        table = {first: points[:, 0].astype(np.float64), second: points[:, 1].astype(np.float64)}
        if not model.is_classifier:
            return model.predict(table)
        probabilities = model.predict_proba(table)
        if probabilities.shape[1] == 2:
            return probabilities[:, 1]
        return np.argmax(probabilities, axis=1)

    def points(name: str):
        table, labels = parts[name]
        return np.column_stack([table[first], table[second]]), labels

    X_train, y_train = points("train")
    X_test, y_test = points("test") if "test" in parts else (X_train[:0], y_train[:0])
    return Surface((first, second), predict, X_train, y_train, X_test, y_test)


def table_model_report(
    model,
    evaluation: Evaluation,
    *,
    title: str,
    summary: dict,
    seconds: float,
    seed: int | None,
    split_name: str = "test",
    parts: dict | None = None,
    target_values: np.ndarray | None = None,
    trained_class_counts: dict | None = None,
) -> ReportInput:
    """A ReportInput for a fitted TabularModel measured as ``evaluation`` (on the split
    ``split_name``). ``parts`` maps split names to ``(table, labels)`` (a two-column
    model draws its surface over the ``train`` and ``test`` points).
    ``trained_class_counts`` (class -> rows) is the mix trained on when training drew
    balanced batches."""
    estimator = model.estimator_
    params = {k: v for k, v in estimator.get_params().items() if k != "verbose"}
    shown = type(estimator)(**{**estimator.get_params(), "verbose": 0})
    hyperparameters = {
        **params,
        "missing": model.missing,
        "unknown categories": model.unknown,
        "feature crosses": bool(model.crosses),
    }
    return ReportInput(
        title=title,
        task="classification" if model.is_classifier else "regression",
        model_name=repr(shown),
        hyperparameters=hyperparameters,
        seed=seed,
        seconds=seconds,
        data_summary=summary,
        metrics=evaluation.metrics,
        y_true=evaluation.y_true,
        y_pred=evaluation.y_pred,
        y_score=evaluation.y_score,
        classes=model.classes_.tolist() if model.is_classifier else None,
        history=getattr(estimator, "history_", None),
        weights=_weights(estimator),
        feature_names=list(model.feature_names_out_),
        surface=_surface(model, parts or {}),
        split_name=split_name,
        target_values=target_values,
        threshold=evaluation.threshold,
        trained_class_counts=trained_class_counts,
    )
