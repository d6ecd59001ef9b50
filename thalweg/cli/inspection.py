"""``thalweg inspect``: what a model file holds, read from its metadata and weights."""

from __future__ import annotations

from thalweg.cli.display import format_number
from thalweg.models.tabular import CATEGORICAL, TabularModel


def architecture(model: TabularModel) -> str:
    """The layers, e.g. ``Linear(2→16) → ReLU → Linear(16→1)``."""
    module = getattr(model.estimator_, "module_", None)
    if module is None:
        coef = model.estimator_.coef_
        outputs = 1 if coef.ndim == 1 else coef.shape[0]
        return f"Linear({len(model.feature_names_out_)}→{outputs})"
    layers = list(module.children()) if hasattr(module, "children") else [module]
    if not layers:
        layers = [module]
    parts = []
    for layer in layers:
        if hasattr(layer, "in_features"):
            parts.append(f"Linear({layer.in_features}→{layer.out_features})")
        else:
            parts.append(type(layer).__name__)
    return " → ".join(parts)


def parameter_count(model: TabularModel) -> int:
    """Number of learned numbers (weights and biases)."""
    module = getattr(model.estimator_, "module_", None)
    if module is not None:
        return int(module.num_parameters())
    estimator = model.estimator_
    return int(estimator.coef_.size + getattr(estimator.intercept_, "size", 1))


def summary(model: TabularModel, path) -> dict:
    """Everything ``inspect`` shows, as JSON-able data."""
    estimator = model.estimator_
    meta = model.metadata_
    training = meta.get("training", {})
    history = getattr(estimator, "history_", None)
    columns = []
    for column in model.columns_:
        entry = dict(column)
        if column["kind"] == CATEGORICAL and model.encoder_ is not None:
            index = [c["name"] for c in model.columns_ if c["kind"] == CATEGORICAL].index(
                column["name"]
            )
            entry["categories"] = model.encoder_.categories_[index].tolist()
        if column["name"] in model.fill_values_:
            entry["fill"] = model.fill_values_[column["name"]]
        columns.append(entry)
    final = {}
    if history is not None and len(history):
        for key in ("loss", "val_loss"):
            value = history.last(key)
            if value is not None:
                final[key] = value
    return {
        "file": str(path),
        "model": type(estimator).__name__,
        "task": "classification" if model.is_classifier else "regression",
        "target": model.target_,
        "classes": model.classes_.tolist() if model.is_classifier else None,
        "architecture": architecture(model),
        "parameters": parameter_count(model),
        "hyperparameters": {k: v for k, v in estimator.get_params().items() if k != "verbose"},
        "preprocessing": {
            "columns": columns,
            "missing": model.missing,
            "unknown_categories": model.unknown,
            "crosses": model.crosses_ is not None,
            "features": list(model.feature_names_out_),
            "standardized_in_model": bool(estimator.get_params().get("standardize", False)),
        },
        "training": training,
        "final_losses": final,
        "metrics": meta.get("metrics", {}),
    }


def show(info: dict, output) -> None:
    """Print the summary as Rich tables."""
    training = info["training"]
    data = training.get("data", {})
    splits = data.get("splits", {})
    output.rows(
        f"model {info['file']}",
        [
            ("model", info["model"]),
            (
                "task",
                info["task"] + (f" ({len(info['classes'])} classes)" if info["classes"] else ""),
            ),
            ("target", str(info["target"])),
            ("architecture", info["architecture"]),
            ("parameters", f"{info['parameters']:,}"),
        ],
    )
    output.table(
        "preprocessing",
        ["column", "kind", "details"],
        [[c["name"], c["kind"], _column_details(c)] for c in info["preprocessing"]["columns"]],
    )
    pre = info["preprocessing"]
    output.line(
        f"missing values: {pre['missing']}; unknown categories: {pre['unknown_categories']}; "
        f"feature crosses: {'yes' if pre['crosses'] else 'no'}; "
        f"{len(pre['features'])} model inputs"
        + ("; standardized inside the model" if pre["standardized_in_model"] else "")
    )
    settings = [(name, format_number(value)) for name, value in info["hyperparameters"].items()]
    output.rows("hyperparameters", settings)
    if training:
        output.rows(
            "training",
            [
                ("data", str(data.get("source", "?"))),
                ("rows", f"{data.get('rows', '?')} ({data.get('dropped_rows', 0)} dropped)"),
                ("splits", ", ".join(f"{k} {v}" for k, v in splits.items())),
                ("task chosen", str(training.get("task_reason", ""))),
                ("seed", str(training.get("seed"))),
                ("epochs run", str(training.get("epochs_run"))),
                ("stopped", str(training.get("stop_reason") or "after the last epoch")),
                ("seconds", format_number(training.get("seconds", 0.0))),
                ("finished", str(training.get("finished", ""))),
                ("thalweg", str(training.get("thalweg_version", ""))),
            ],
        )
    losses = info["final_losses"]
    if losses:
        output.line(
            "final losses: " + ", ".join(f"{k} {format_number(v)}" for k, v in losses.items())
        )
    for split, metrics in info["metrics"].items():
        output.metrics(metrics, f"{split} metrics")


def _column_details(column: dict) -> str:
    parts = []
    if "categories" in column:
        shown = ", ".join(str(c) for c in column["categories"][:6])
        more = f", … ({len(column['categories'])} in all)" if len(column["categories"]) > 6 else ""
        parts.append(f"{shown}{more}")
    if "fill" in column:
        parts.append(f"missing → {format_number(column['fill'])}")
    return "; ".join(parts)
