"""What a saved table model holds, as JSON-able data (``thalweg inspect`` shows it).

>>> import numpy as np
>>> from thalweg.models import LinearRegression
>>> from thalweg.models.tabular import TabularModel
>>> fitted = LinearRegression().fit(np.array([[0.0], [1.0]]), np.array([1.0, 3.0]))
>>> model = TabularModel.from_fitted(fitted, ["x"], target="y")
>>> info = describe(model, "m.thalweg")
>>> info["architecture"], info["parameters"]
('Linear(1→1)', 2)
"""

from __future__ import annotations

from thalweg.data.columns import CATEGORICAL

__all__ = ["architecture", "describe", "parameter_count"]


def architecture(estimator) -> str:
    """The layers, e.g. ``Linear(2→16) → ReLU → Linear(16→1)``."""
    module = getattr(estimator, "module_", None)
    centers = getattr(estimator, "cluster_centers_", None)
    if centers is not None:
        return f"k-means: {centers.shape[0]} centres × {centers.shape[1]} features"
    if module is None:
        coef = estimator.coef_
        outputs = 1 if coef.ndim == 1 else coef.shape[0]
        inputs = coef.shape[-1]
        return f"Linear({inputs}→{outputs})"
    layers = list(module.children()) or [module]
    parts = []
    for layer in layers:
        if hasattr(layer, "in_features"):
            parts.append(f"Linear({layer.in_features}→{layer.out_features})")
        else:
            parts.append(type(layer).__name__)
    return " → ".join(parts)


def parameter_count(estimator) -> int:
    """Number of learned numbers (weights and biases)."""
    module = getattr(estimator, "module_", None)
    if module is not None:
        return int(module.num_parameters())
    if hasattr(estimator, "cluster_centers_"):
        return int(estimator.cluster_centers_.size)
    return int(estimator.coef_.size + getattr(estimator.intercept_, "size", 1))


def describe(model, path) -> dict:
    """Everything ``thalweg inspect`` shows about a table model read from ``path``."""
    estimator = model.estimator_
    training = (
        model.metadata_.get("training")
        or model.metadata_.get("clustering")
        or model.metadata_.get("embedding")
        or {}
    )
    history = getattr(estimator, "history_", None)
    categorical = [c["name"] for c in model.columns_ if c["kind"] == CATEGORICAL]
    became = {entry["name"]: entry["became"] for entry in model.column_report_}
    columns = []
    for column in model.columns_:
        entry = dict(column)
        entry["became"] = became.get(column["name"], "")
        if column["kind"] == CATEGORICAL and model.encoder_ is not None:
            categories = model.encoder_.categories_[categorical.index(column["name"])]
            entry["categories"] = categories.tolist()
        if column["name"] in model.fill_values_:
            entry["fill"] = model.fill_values_[column["name"]]
        columns.append(entry)
    final = {}
    if history is not None and len(history):
        for key in ("loss", "val_loss"):
            value = history.last(key)
            if value is not None:
                final[key] = value
    params = estimator.get_params()
    return {
        "file": str(path),
        "model": type(estimator).__name__,
        "task": model.task,
        "target": model.target_,
        "classes": model.classes_.tolist() if model.is_classifier else None,
        "architecture": architecture(estimator),
        "parameters": parameter_count(estimator),
        "hyperparameters": {
            k: v for k, v in params.items() if k != "verbose" and not (k == "seed" and v is None)
        },
        # what a setting resolved to in the fit: l2="auto" became a number (l2_)
        "resolved": {"l2": float(estimator.l2_)} if hasattr(estimator, "l2_") else {},
        "preprocessing": {
            "columns": columns,
            "left_out": [dict(entry) for entry in getattr(model, "left_out_", [])],
            "missing": model.missing,
            "unknown_categories": model.unknown,
            "crosses": model.crosses_ is not None,
            "features": list(model.feature_names_out_),
            "standardized_in_model": bool(
                params.get("standardize", False) or getattr(model, "scaler_", None) is not None
            ),
        },
        "training": training,
        "final_losses": final,
        "metrics": model.metadata_.get("metrics", {}),
    }
