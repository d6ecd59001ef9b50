"""Filling a :class:`thalweg.report.inputs.ReportInput` from a trained table model.

The report itself (figures, HTML, the atomic write) is ``thalweg.report``'s job; this
module only gathers what it shows: the data summary, the settings, the metrics and
predictions on the evaluated rows, the history, the weights, and — when the model reads
exactly two numeric columns — a decision or regression surface.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thalweg.cli.scoring import Scores
from thalweg.models.tabular import NUMERIC, TabularModel


def _weights(model: TabularModel) -> dict[str, np.ndarray]:
    estimator = model.estimator_
    if hasattr(estimator, "coefs_"):
        return {f"layer {i}": w for i, w in enumerate(estimator.coefs_, start=1)}
    if hasattr(estimator, "coef_"):
        return {"coefficients": np.asarray(estimator.coef_)}
    return {}


def _surface(model: TabularModel, parts: dict):
    from thalweg.report.inputs import Surface

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


def report_input(
    model: TabularModel,
    scores: Scores,
    *,
    title: str,
    summary: dict,
    seconds: float,
    seed: int | None,
    split_name: str = "test",
    parts: dict | None = None,
    target_values: np.ndarray | None = None,
    trained_class_counts: dict | None = None,
):
    """A ReportInput for ``model`` evaluated as ``scores`` (on the split ``split_name``)."""
    from thalweg.report.inputs import ReportInput

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
        metrics=scores.metrics,
        y_true=scores.y_true,
        y_pred=scores.y_pred,
        y_score=scores.y_score,
        classes=model.classes_.tolist() if model.is_classifier else None,
        history=getattr(estimator, "history_", None),
        weights=_weights(model),
        feature_names=list(model.feature_names_out_),
        surface=_surface(model, parts or {}),
        split_name=split_name,
        target_values=target_values,
        threshold=scores.threshold,
        trained_class_counts=trained_class_counts,
    )


def write(path: Path, report) -> Path:
    """Write the report (atomically, by ``thalweg.report.write_report``)."""
    from thalweg.report import write_report

    return Path(write_report(path, report))
