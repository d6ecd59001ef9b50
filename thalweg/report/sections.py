"""The report page, section by section, from a :class:`ReportInput` and its figures.

Reading order follows the questions a learner asks: what data was this, which model and
settings, how did training go, how good is it on unseen data, where does it go wrong,
what did it learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from thalweg.report.figures import ReportFigure
from thalweg.report.html import (
    Html,
    element,
    escape,
    figure_grid,
    format_number,
    format_seconds,
    format_value,
    join,
    note,
    page,
    page_header,
    section,
    share_bar,
    table,
)
from thalweg.report.inputs import ReportInput
from thalweg.report.lessons import classification_lessons

# What each metric means, for the metrics table. Keys are lower-case with underscores;
# "macro_", "weighted_" and "micro_" prefixes are looked through.
METRICS = {
    "accuracy": ("Accuracy", "share of samples classified correctly (higher is better)"),
    "balanced_accuracy": ("Balanced accuracy", "mean recall over the classes"),
    "precision": ("Precision", "of the samples predicted positive, the share that are"),
    "recall": ("Recall", "of the positive samples, the share the model finds"),
    "f1": ("F1", "harmonic mean of precision and recall"),
    "roc_auc": (
        "ROC AUC",
        "chance a random positive scores above a random negative (0.5 = guessing)",
    ),
    "auc": ("AUC", "chance a random positive scores above a random negative (0.5 = guessing)"),
    "average_precision": ("Average precision", "area under the precision–recall curve"),
    "log_loss": (
        "Log loss",
        "cross-entropy of the predicted probabilities (lower is better)",
    ),
    "loss": ("Loss", "the training objective on this split (lower is better)"),
    "prediction_bias": (
        "Prediction bias",
        "mean predicted probability minus the positive rate (0 = unbiased)",
    ),
    "baseline_accuracy": (
        "Baseline accuracy",
        "accuracy of always predicting the most frequent class: the bar to clear",
    ),
    "mse": ("MSE", "mean squared error, in squared target units (lower is better)"),
    "mean_squared_error": ("MSE", "mean squared error, in squared target units (lower is better)"),
    "rmse": ("RMSE", "root mean squared error, in target units (lower is better)"),
    "mae": ("MAE", "mean absolute error, in target units (lower is better)"),
    "mean_absolute_error": ("MAE", "mean absolute error, in target units (lower is better)"),
    "r2": ("R²", "share of the target's variance explained (1 = perfect, 0 = the mean)"),
}
# The metrics the header shows first, when present: one summary of each kind.
HEADLINE = ("accuracy", "roc_auc", "f1", "log_loss", "r2", "rmse", "mae", "mse")
SPLIT_COLORS = {"train": "var(--blue)", "validation": "var(--orange)", "test": "var(--slate)"}


def metric_label(name: str) -> tuple[str, str]:
    """``(display name, meaning)`` of a metric key such as ``"roc_auc"`` or ``"macro_f1"``."""
    key = str(name).lower().replace("-", "_").replace(" ", "_")
    for prefix in ("", "macro_", "weighted_", "micro_"):
        if key.startswith(prefix) and key[len(prefix) :] in METRICS:
            display, meaning = METRICS[key[len(prefix) :]]
            if prefix:
                return f"{display} ({prefix[:-1]})", meaning
            return display, meaning
    return str(name), ""


def headline_metrics(scores: dict, limit: int = 4) -> list[str]:
    """Up to ``limit`` metric names for the header: the usual summaries first."""
    preferred = [name for name in HEADLINE if name in scores]
    others = [name for name in scores if name not in preferred]
    return (preferred + others)[:limit]


def _task_label(report: ReportInput) -> str:
    if report.task == "regression":
        return "Regression"
    n_classes = len(report.classes) if report.classes is not None else None
    if n_classes == 2:
        return "Binary classification"
    if n_classes:
        return f"Classification, {n_classes} classes"
    return "Classification"


# --------------------------------------------------------------------------------------
# Header and navigation
# --------------------------------------------------------------------------------------


def header(report: ReportInput) -> Html:
    """Title, one line of context, and the numbers a reader wants first."""
    stats = [
        (metric_label(name)[0], format_number(report.metrics[name]))
        for name in headline_metrics(report.metrics)
    ]
    rows = report.data_summary.get("rows")
    if rows is not None:
        stats.append(("Rows", format_number(rows)))
    stats.append(("Training time", format_seconds(report.seconds)))
    if report.history is not None and len(report.history):
        stats.append(("Epochs", format_number(report.history.epochs_run)))
    subtitle = (
        f"{_task_label(report)} · {report.model_name} · metrics on the {report.split_name} split"
    )
    return page_header(report.title, subtitle, stats, report.seed, report.thalweg_version)


def navigation(entries: Sequence[tuple[str, str]]) -> Html:
    links = join((element("a", title, href=f"#{anchor}") for anchor, title in entries), "")
    return element("nav", element("div", links, class_="wrap"))


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


def _splits(summary: dict) -> Html:
    splits = {str(k): int(v) for k, v in (summary.get("splits") or {}).items()}
    total = sum(splits.values())
    if not total:
        return Html("")
    segments = join(
        element(
            "span",
            f"{name} {size:,}",
            title=f"{name}: {size:,} rows ({size / total:.0%})",
            style=f"width:{100 * size / total:.2f}%;"
            f"background:{SPLIT_COLORS.get(name, 'var(--muted)')}",
        )
        for name, size in splits.items()
        if size
    )
    listing = " · ".join(
        f"{name}: {size:,} rows ({size / total:.0%})" for name, size in splits.items()
    )
    return join(
        [
            element("h3", "Splits"),
            element("div", segments, class_="splits"),
            element("p", listing, class_="intro"),
        ]
    )


def _counts(values: np.ndarray | None, classes: list) -> list[int] | None:
    if values is None:
        return None
    values = np.asarray(values).ravel()
    return [int(np.sum(values == label)) for label in classes]


def _class_balance(report: ReportInput) -> Html:
    """Count and share of each class, over all rows and in the evaluated split."""
    if report.classes is not None:
        classes = list(report.classes)
    else:
        seen = [report.y_true] + (
            [report.target_values] if report.target_values is not None else []
        )
        classes = np.unique(np.concatenate([np.asarray(v).ravel() for v in seen])).tolist()
    split_counts = _counts(report.y_true, classes)
    all_counts = _counts(report.target_values, classes)
    trained = report.trained_class_counts
    trained_counts = None if not trained else [int(trained.get(label, 0)) for label in classes]
    header = ["class"]
    if all_counts is not None:
        header += ["all rows", "share"]
    header += [f"{report.split_name} split", "share"]
    if trained_counts is not None:
        header += ["trained on", "share"]
    rows = []
    for i, label in enumerate(classes):
        row: list[object] = [label]
        for counts in (all_counts, split_counts, trained_counts):
            if counts is None:
                continue
            total = sum(counts) or 1
            share = counts[i] / total
            bar = element("span", join([share_bar(share), f"{share:.1%}"], ""), class_="bar")
            row += [format_number(counts[i]), bar]
        rows.append(row)
    numeric = [i for i in range(1, len(header)) if i % 2 == 1]
    parts = [
        element("h3", "Class balance"),
        element("div", table(header, rows, numeric=numeric), class_="scroll"),
    ]
    if trained_counts is not None:
        parts.append(
            element(
                "p",
                'Training drew balanced batches: "trained on" counts the rows the model '
                "saw over all its epochs, by class.",
                class_="intro",
            )
        )
    return join(parts)


def _target_statistics(report: ReportInput) -> Html:
    """Count, mean, spread and range of a numeric target."""
    columns = []
    if report.target_values is not None:
        columns.append(("all rows", np.asarray(report.target_values, dtype=float).ravel()))
    columns.append((f"{report.split_name} split", np.asarray(report.y_true, dtype=float).ravel()))
    statistics = [
        ("count", lambda v: v.size),
        ("mean", np.mean),
        ("std", np.std),
        ("min", np.min),
        ("median", np.median),
        ("max", np.max),
    ]
    rows = [
        [name, *(format_number(fn(values)) if values.size else "—" for _, values in columns)]
        for name, fn in statistics
    ]
    header = ["statistic", *(name for name, _ in columns)]
    return join(
        [
            element("h3", "Target"),
            table(header, rows, numeric=range(1, len(header))),
        ]
    )


def _columns(summary: dict) -> Html:
    columns = summary.get("columns") or []
    if not columns:
        return Html("")
    target = summary.get("target")
    # What became of each column (a run of `thalweg train` says), else its role.
    became = any("became" in column for column in columns)
    rows = []
    for column in columns:
        missing = int(column.get("missing", 0) or 0)
        missing_cell = element("span", format_number(missing), class_="missing") if missing else "0"
        role = "target" if column.get("name") == target else "feature"
        last = column.get("became", "") if became else role
        rows.append([column.get("name", ""), column.get("type", ""), missing_cell, last])
    header = ["column", "type", "missing", "became" if became else "role"]
    return join(
        [
            element("h3", f"Columns ({len(columns)})"),
            element("div", table(header, rows, numeric=[2]), class_="scroll"),
        ]
    )


def data_section(report: ReportInput, figures: list[ReportFigure]) -> Html:
    summary = report.data_summary
    facts = []
    if summary.get("source"):
        facts.append(Html(f"Read from {element('code', summary['source'])}"))
    if summary.get("rows") is not None:
        facts.append(f"{format_number(summary['rows'])} rows")
    if summary.get("columns"):
        facts.append(f"{len(summary['columns'])} columns")
    if summary.get("target"):
        facts.append(Html(f"target {element('code', summary['target'])}"))
    intro = join(facts, ", ") if facts else None
    balance = (
        _class_balance(report) if report.task == "classification" else _target_statistics(report)
    )
    left = join([_splits(summary), balance])
    body = join(
        [
            element(
                "div",
                join([element("div", left), element("div", _columns(summary))]),
                class_="columns",
            ),
            figure_grid(figures) if figures else "",
        ]
    )
    return section("data", "Data", intro, body)


# --------------------------------------------------------------------------------------
# Model and training
# --------------------------------------------------------------------------------------


def model_section(report: ReportInput) -> Html:
    history = report.history
    facts = [
        ("Model", element("code", report.model_name)),
        ("Task", _task_label(report)),
        ("Seed", format_value(report.seed)),
        ("Training time", format_seconds(report.seconds)),
    ]
    if history is not None and len(history):
        facts.append(("Epochs run", format_number(history.epochs_run)))
        if history.best_epoch is not None:
            facts.append(("Best epoch (weights kept)", format_number(history.best_epoch)))
        facts.append(("Stopped because", history.stop_reason or "it ran every epoch it was given"))
    facts.append(("thalweg version", report.thalweg_version))
    settings = [
        [name, element("code", format_value(value))]
        for name, value in report.hyperparameters.items()
    ]
    body = element(
        "div",
        join(
            [
                element(
                    "div", join([element("h3", "Summary"), table(None, facts, class_="facts")])
                ),
                element(
                    "div",
                    join(
                        [
                            element("h3", "Hyperparameters"),
                            table(["setting", "value"], settings)
                            if settings
                            else element("p", "none given", class_="intro"),
                        ]
                    ),
                ),
            ]
        ),
        class_="columns",
    )
    intro = "What was trained, with which settings; the seed makes the run reproducible."
    return section("model", "Model", intro, body)


def training_section(report: ReportInput, figures: list[ReportFigure]) -> Html:
    history = report.history
    if history is None or len(history) == 0:
        body = note(
            "This model was fitted in closed form (no epochs of gradient descent), so there "
            "is no training curve to show."
        )
        return section("training", "Training", None, body)
    parts: list[object] = []
    if history.stop_reason:
        parts.append(note(Html(f"<strong>Stopped:</strong> {escape(history.stop_reason)}")))
    if "val_loss" not in history.keys():
        parts.append(
            note(
                "No validation loss was recorded, so this curve cannot show overfitting; "
                "train with a validation split (or early stopping) to see the generalization gap.",
                "warning",
            )
        )
    parts.append(figure_grid(figures))
    intro = "Loss per epoch on the training data and on held-out validation data."
    return section("training", "Training", intro, join(parts))


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


def metrics_section(report: ReportInput) -> Html:
    multiclass = report.classes is not None and len(report.classes) > 2
    rows = []
    for name, value in report.metrics.items():
        display, meaning = metric_label(name)
        if multiclass and str(name).lower() in ("precision", "recall", "f1"):
            meaning += ", averaged over the classes"  # one class is not "positive" here
        rows.append([display, format_number(value), meaning])
    body = table(["metric", "value", "what it means"], rows, numeric=[1], class_="meaning")
    if report.task == "classification":
        body = join([body, classification_lessons(report)])
    intro = (
        f"Measured on the {report.split_name} split ({format_number(len(report.y_true))} "
        "samples), which the model never trained on: the honest estimate of how it will do "
        "on new data."
    )
    return section("metrics", f"Metrics on the {report.split_name} split", intro, body)


def diagnostics_section(report: ReportInput, figures: list[ReportFigure]) -> Html:
    if report.task == "classification":
        intro = "Where the model is right and wrong, and how far its probabilities can be trusted."
    else:
        intro = "How far the predictions are from the truth, and whether the errors have a pattern."
    return section("diagnostics", "Diagnostics", intro, figure_grid(figures))


def surface_section(report: ReportInput, figures: list[ReportFigure]) -> Html:
    intro = "With two input features the whole model fits in one picture."
    title = "Regression surface" if report.task == "regression" else "Decision surface"
    return section("surface-section", title, intro, figure_grid(figures))


def weights_section(report: ReportInput, figures: list[ReportFigure]) -> Html:
    intro = "What the model learned, read straight from its parameters."
    return section("weights-section", "Weights", intro, figure_grid(figures))


# --------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------


def render_page(report: ReportInput, figures: dict[str, list[ReportFigure]]) -> Html:
    """The complete HTML document of ``report``."""
    sections: list[tuple[str, str, Html]] = [
        ("data", "Data", data_section(report, figures["data"])),
        ("model", "Model", model_section(report)),
        ("training", "Training", training_section(report, figures["training"])),
        ("metrics", "Metrics", metrics_section(report)),
        ("diagnostics", "Diagnostics", diagnostics_section(report, figures["diagnostics"])),
    ]
    if figures["surface"]:
        title = "Regression surface" if report.task == "regression" else "Decision surface"
        sections.append(("surface-section", title, surface_section(report, figures["surface"])))
    if figures["weights"]:
        sections.append(("weights-section", "Weights", weights_section(report, figures["weights"])))
    if figures.get("images"):
        intro = "The evaluated images the model got wrong: where to look first."
        body = section("mistakes", "Mistakes", intro, figure_grid(figures["images"]))
        sections.append(("mistakes", "Mistakes", body))
    footer = element(
        "footer",
        element(
            "div",
            f"Made with thalweg {report.thalweg_version}. This file is self-contained: it "
            "loads nothing from the network and runs no scripts.",
            class_="wrap",
        ),
    )
    body = join(
        [
            header(report),
            navigation([(anchor, title) for anchor, title, _ in sections]),
            element("main", join(html for _, _, html in sections), class_="wrap"),
            footer,
        ]
    )
    return page(report.title, f"thalweg {report.thalweg_version}", body)
