"""``thalweg skew model.thalweg DATA``: is the data a model sees now the data it trained on?

DATA is a CSV, Parquet or NPZ file, or the ``--log`` folder of ``thalweg serve``; for an
image model, a folder of images (compared on brightness, contrast, sharpness and the
subject's share of the frame). For a
feature log, the served features are also recomputed from the logged inputs (and, with
``--offline RAW``, from the same rows as stored offline) and compared: Rule #37's
feature mismatch. Exit code 0, or 3 with ``--fail-on-skew`` when anything is flagged,
so it can gate a deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.common import writing
from thalweg.cli.main import EXIT_OK, UserError

EXIT_SKEW = 3
EXAMPLE = (
    "Example:\n\n  $ thalweg skew model.thalweg served/ --report skew.html\n\n"
    "  $ thalweg skew model.thalweg new.csv --fail-on-skew --threshold 0.2\n\n"
    "  $ thalweg skew smiles.thalweg captures/ --fail-on-skew"
)


def _feature_thresholds(values: list[str] | None) -> dict[str, float]:
    thresholds = {}
    for value in values or []:
        name, equals, number = value.rpartition("=")
        try:
            thresholds[name] = float(number)
        except ValueError:
            name = ""
        if not equals or not name:
            raise UserError(
                f"--feature-threshold {value!r}: write NAME=VALUE, e.g. --feature-threshold "
                "city=0.1"
            )
    return thresholds


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLE)(skew)


def skew(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[
        Path,
        typer.Argument(
            metavar="LOG_OR_DATA",
            help="A thalweg serve --log folder, or a CSV, Parquet or NPZ file of new rows; "
            "for an image model, a folder of images.",
        ),
    ],
    report: Annotated[Path | None, typer.Option(help="HTML report to write.")] = None,
    fail_on_skew: Annotated[
        bool, typer.Option("--fail-on-skew", help="Exit with code 3 when anything is flagged.")
    ] = False,
    threshold: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="TFDV distance threshold (Jensen–Shannon numeric, L-infinity categorical).",
        ),
    ] = 0.3,
    feature_threshold: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE", help="A feature's own TFDV distance threshold (repeatable)."
        ),
    ] = None,
    offline: Annotated[
        Path | None,
        typer.Option(
            metavar="RAW",
            help="With a feature log: the same raw rows as stored offline, to recompute "
            "their features and compare them with the served ones.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="With --offline: the id column that matches served rows with offline rows "
            "(default: the same order).",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on standard output.")
    ] = False,
) -> int:
    """Compare new or served data with the training data recorded in the model file:
    per feature TFDV's distance, PSI, KS, mean/std shift, missing rate, unseen categories,
    and the predictions' distribution; flags what passes its threshold."""
    import numpy as np

    from thalweg.cli.common import check_paths
    from thalweg.cli.images import input_name, is_image_model, refuse_detector
    from thalweg.io import read_table
    from thalweg.models import load_model
    from thalweg.models.monitoring import align_by_key, model_skew, served_feature_mismatch
    from thalweg.models.tabular import TabularModel
    from thalweg.monitoring import SkewThresholds
    from thalweg.serving.featurelog import is_feature_log, read_feature_log

    if report is not None and report.is_dir():
        raise UserError(f"--report {report} is a folder; give a file name like skew.html")
    # Before any work: the report may not land on the model, the data or the offline rows.
    check_paths(
        {"--report": report},
        {"the model file": model_file, input_name(data): data, "the --offline data": offline},
    )
    refuse_detector(model_file, "thalweg skew")
    if key is not None and offline is None:
        raise UserError("--key matches served rows with --offline rows; give --offline RAW too")
    thresholds = SkewThresholds(distance=threshold, features=_feature_thresholds(feature_threshold))
    logged = is_feature_log(data) or (
        data.suffix == ".parquet" and data.name.startswith("features-")
    )
    if is_image_model(model_file):
        if offline is not None:
            raise UserError(
                "--offline compares a feature log's features; an image model is compared "
                "with a folder of images"
            )
        model = load_model(model_file)
        result = model_skew(model, data, thresholds=thresholds)
        return _finish(result, model_file, data, report, fail_on_skew, json_output)
    if not logged and _images_given(data):
        raise UserError(
            f"{data} holds images, but {model_file} is a table model; compare images with "
            "an image model (thalweg train IMAGES/), or give a table of new rows"
        )
    model = TabularModel.load(model_file)
    mismatch = None
    if logged:
        log = read_feature_log(data)
        result = model_skew(model, log.inputs, predictions=log.predictions, thresholds=thresholds)
        if offline is None:
            mismatch = served_feature_mismatch(model, log.inputs, log.features)
            mismatch["source"] = "recomputed from the logged inputs"
        else:
            raw = read_table(offline)
            if key is None:
                served, rows = np.arange(len(log)), raw
            else:
                keys = log.inputs[key] if key in log.inputs else log.extra_column(key)
                served, rows = align_by_key(keys, raw, key)
            mismatch = served_feature_mismatch(model, rows, log.features[served])
            mismatch["source"] = f"recomputed from {offline}"
        result.mismatch = mismatch
    else:
        if offline is not None:
            raise UserError("--offline compares a feature log's features; DATA is not a log")
        result = model_skew(model, read_table(data), thresholds=thresholds)
    return _finish(result, model_file, data, report, fail_on_skew, json_output)


def _images_given(data: Path) -> bool:
    """An image file, or a local folder with image files in it (not a table's)."""
    from thalweg.cli.images import looks_like_image_folder
    from thalweg.data.images import IMAGE_EXTENSIONS

    if data.is_file():
        return data.suffix.lower() in IMAGE_EXTENSIONS
    return looks_like_image_folder(data) and any(
        p.suffix.lower() in IMAGE_EXTENSIONS for p in data.rglob("*") if p.is_file()
    )


def _finish(result, model_file: Path, data: Path, report, fail_on_skew, json_output) -> int:
    """Show the report, write the page, and pick the exit code."""
    from thalweg.cli.display import Output
    from thalweg.files import atomic_write

    document = result.to_dict()

    output = Output(json_mode=json_output)
    if output.human:
        _show(output, document, data)
    written = {}
    if report is not None:
        from thalweg.report.skew import skew_page

        with writing(report, "--report", "the report"), atomic_write(report, "w") as handle:
            handle.write(skew_page(document, model=str(model_file), data=str(data)))
        written["report"] = report
        output.written(written)
    output.json({"model": str(model_file), "data": str(data), **document, "written": written})
    return EXIT_SKEW if fail_on_skew and result.flagged else EXIT_OK


def _number(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def _show(output, document: dict, data: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    unit = document.get("unit", "rows")
    table = Table(title=f"skew: {document['rows']:,} {unit} of {data}", title_justify="left")
    for column in ("feature", "kind", "distance", "PSI", "KS", "mean shift", "std shift"):
        table.add_column(column, justify="left" if column in ("feature", "kind") else "right")
    for column in ("missing Δ", "unseen", "verdict"):
        table.add_column(column)
    rows = [*document["features"]]
    if document["predictions"]:
        rows.append(document["predictions"])
    for feature in rows:
        flags = set(feature["flags"])

        def cell(metric: str, text: str, flags=flags) -> str:
            return f"[bold red]{text}[/]" if metric in flags else text

        metric = "JS" if feature["metric"] == "jensen_shannon" else "L∞"
        distance = feature["distance"]
        unseen = ", ".join(feature["unseen"][:3])
        table.add_row(
            escape(feature["name"]),
            feature["kind"],
            cell("distance", f"{_number(distance)} {metric}" if distance is not None else "—"),
            cell("psi", _number(feature["psi"])),
            cell("ks", _number(feature["ks"])),
            cell("mean_shift", _number(feature["mean_shift"])),
            cell("std_shift", _number(feature["std_shift"])),
            cell("missing_change", _number(feature["missing_change"])),
            cell("unseen_share", escape(f"{_number(feature['unseen_share'])} {unseen}".strip())),
            "[bold red]flagged[/]" if flags else "[green]ok[/]",
        )
    output.console.print(table)
    mismatch = document.get("mismatch")
    if mismatch:
        output.line(
            f"feature mismatch ({mismatch['source']}): {mismatch['rows_mismatched']:,} of "
            f"{mismatch['rows']:,} rows ({mismatch['row_mismatch_rate']:.1%}) differ"
        )
        for feature in mismatch["features"][:10]:
            if feature["mismatch_rate"]:
                output.line(
                    f"  {feature['name']}: {feature['mismatch_rate']:.1%} of rows, mean "
                    f"|difference| {feature['mean_abs_difference']:.4g}"
                )
    for text in document["notes"]:
        output.line(f"note: {text}")
    flagged = document["flagged"]
    output.line(f"skew found in: {', '.join(flagged)}" if flagged else "no skew found")
