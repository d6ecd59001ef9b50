"""``thalweg evaluate``: a trained model measured on new labelled rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import (
    ENCODING,
    JSON,
    QUIET,
    THRESHOLD,
    check_paths,
    example,
    say,
    write_report,
)
from thalweg.cli.main import EXIT_OK, UserError


def register(app: typer.Typer) -> None:
    app.command(
        epilog=example(
            "thalweg evaluate model.thalweg wine.csv",
            "thalweg evaluate model.thalweg new-wines.csv --report new-wines.html --json",
            "thalweg evaluate model.thalweg cancer.csv --threshold 0.3",
        )
    )(evaluate)


def evaluate(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="Labelled data with the model's target column (a path or a URL).",
        ),
    ],
    report: Annotated[Path | None, typer.Option(help="HTML report to write.")] = None,
    threshold: Annotated[float | None, THRESHOLD] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Measure a trained model on new labelled data (same columns, target included; for an
    image model, a folder of class sub-folders)."""
    from thalweg.cli import images

    check_paths({"--report": report}, {"the model file": model_file, images.input_name(data): data})
    images.refuse_detector(model_file, "thalweg evaluate")
    if images.is_image_model(model_file):
        if threshold is not None:
            raise UserError("--threshold is for table models; an image model predicts classes")
        return images.evaluate(
            model_file, data, report=report, quiet=quiet, json_output=json_output
        )
    from thalweg.cli.display import Output
    from thalweg.cli.recording import record_metrics
    from thalweg.data.columns import column_summary
    from thalweg.io import read_table
    from thalweg.models.tabular import TabularModel
    from thalweg.report import table_model_report

    model = TabularModel.load(model_file)
    model.check_threshold(threshold)  # before reading the data
    table = read_table(data, encoding)
    rows, labels, kept = model.rows_with_targets(table)
    evaluation = model.evaluate(rows, labels, threshold=threshold)

    output = Output(quiet=quiet, json_mode=json_output)
    skipped = int((~kept).sum())
    output.line(
        f"evaluated {int(kept.sum())} rows of {parse.shown(data)}"
        + (f" ({skipped} skipped: missing values)" if skipped else "")
    )
    for note in evaluation.notes:
        say(f"warning: {note}")
    at = "" if threshold is None else f" (threshold {threshold:g})"
    output.metrics(evaluation.metrics, f"metrics on {data.name}{at}")
    record_metrics(evaluation.metrics)
    written = {}
    if report is not None:
        training = model.metadata_.get("training", {})
        kinds = {c["name"]: c["kind"] for c in model.columns_}
        summary = {
            "source": parse.shown(data),
            "rows": len(kept),
            "columns": column_summary({name: table[name] for name in kinds}, kinds),
            "target": model.target_,
            "splits": {"evaluated": int(kept.sum())},
        }
        built = table_model_report(
            model,
            evaluation,
            title=f"{data.name}: evaluating {Path(model_file).name}",
            summary=summary,
            seconds=float(training.get("seconds", 0.0)),
            seed=training.get("seed"),
            split_name=data.name,
            parts={"test": (rows, labels)},
            target_values=labels,
        )
        written["report"] = write_report(report, built)
    output.written(written)
    output.json(
        {
            "command": "evaluate",
            "model": str(model_file),
            "data": parse.shown(data),
            "rows": int(kept.sum()),
            "skipped_rows": skipped,
            "threshold": threshold,
            "metrics": evaluation.metrics,
            "notes": evaluation.notes,
            "written": written,
        }
    )
    return EXIT_OK
