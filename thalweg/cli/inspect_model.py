"""``thalweg inspect``: what a model file holds (:func:`thalweg.models.inspection.describe`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.common import JSON, example
from thalweg.cli.main import EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        "inspect",
        epilog=example("thalweg inspect model.thalweg", "thalweg inspect model.thalweg --json"),
    )(inspect_model)


def inspect_model(
    model_file: Annotated[
        Path,
        typer.Argument(help="A model file written by thalweg train, cluster, or embed --save."),
    ],
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Show what a model file holds: architecture, parameters, preprocessing, training
    settings and final metrics."""
    from thalweg.cli import images
    from thalweg.cli.display import Output
    from thalweg.models.inspection import describe
    from thalweg.models.tabular import TabularModel

    if images.is_image_model(model_file):
        return images.inspect(model_file, json_output=json_output)
    if images.is_detector_model(model_file):
        return images.inspect_detector(model_file, json_output=json_output)
    info = describe(TabularModel.load(model_file), model_file)
    output = Output(json_mode=json_output)
    show(info, output)
    output.json(info)
    return EXIT_OK


def show(info: dict, output) -> None:
    """Print the summary as Rich tables."""
    from thalweg.cli.display import format_number

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
    from thalweg.cli.flags import as_flags

    pre = info["preprocessing"]
    output.table(
        "preprocessing",
        ["column", "kind", "became", "details"],
        [
            [c["name"], c["kind"], as_flags(c.get("became", "")), _column_details(c)]
            for c in pre["columns"]
        ]
        + [
            [c["name"], "left out", as_flags(c["reason"]) + f" (--keep {c['name']} uses it)", ""]
            for c in pre.get("left_out", [])
        ],
    )
    output.line(
        f"missing values: {pre['missing']}; unknown categories: {pre['unknown_categories']}; "
        f"feature crosses: {'yes' if pre['crosses'] else 'no'}; "
        f"{len(pre['features'])} model inputs"
        + ("; standardized inside the model" if pre["standardized_in_model"] else "")
    )
    resolved = info.get("resolved", {})
    settings = [
        (
            name,
            format_number(value)
            + (
                f" ({format_number(resolved[name])})"
                if value == "auto" and name in resolved
                else ""
            ),
        )
        for name, value in info["hyperparameters"].items()
    ]
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
    from thalweg.cli.display import format_number

    parts = []
    if "categories" in column:
        shown = ", ".join(str(c) for c in column["categories"][:6])
        more = f", … ({len(column['categories'])} in all)" if len(column["categories"]) > 6 else ""
        parts.append(f"{shown}{more}")
    if "fill" in column:
        parts.append(f"missing → {format_number(column['fill'])}")
    return "; ".join(parts)
