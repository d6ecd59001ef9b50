"""``thalweg detect``: a detector's boxes for every image of a folder, as CSV (and a report).

The work is :func:`thalweg.models.detector_training.detect_folder`; this module parses
the flags, writes the CSV and the report, and prints the metrics when ground truth is
given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import JSON, QUIET, check_paths, example
from thalweg.cli.main import EXIT_OK, UserError

Suppression = Literal["greedy", "soft", "weighted", "fusion"]


def register(app: typer.Typer) -> None:
    app.command(
        "detect",
        epilog=example(
            "thalweg detect detector.thalweg photos/ -o detections.csv --report detections.html",
            "thalweg detect detector.thalweg test/ --boxes test/boxes.csv --report eval.html",
            "thalweg detect detector.thalweg unlabelled/ --min-score 0.5 -o kindled.csv",
        ),
    )(detect)


def detect(
    model_file: Annotated[
        Path, typer.Argument(help="A detector written by thalweg train-detector.")
    ],
    images: Annotated[Path, typer.Argument(help="An image, or a folder of them (recursive).")],
    output_path: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="CSV to write: image,x_min,y_min,x_max,y_max,label,score (default: standard "
            "output).",
        ),
    ] = None,
    boxes: Annotated[
        Path | None,
        typer.Option(
            "--boxes",
            "-b",
            help="Ground truth (the training CSV format): adds the AP table, the PR curve and "
            "the true boxes to the report, and prints the metrics.",
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="HTML report: the images with their boxes drawn.")
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Keep boxes scoring at least this and write them in the training CSV format "
            "(no score column): one model's detections become another's training boxes.",
            show_default=False,
        ),
    ] = None,
    nms: Annotated[
        Suppression | None,
        typer.Option(help="How duplicate boxes are suppressed (default: the model's, greedy)."),
    ] = None,
    nms_iou: Annotated[
        float | None,
        typer.Option(
            min=0.0, max=1.0, help="IoU above which boxes are duplicates (default: 0.45)."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=0, callback=parse.workers, help="Processes decoding images.")
    ] = 0,
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Find objects in images with a detector: one CSV row per box, in each file's pixels.

    With --boxes the detections are scored against the ground truth (AP@0.5 per class,
    COCO AP) and the report shows the true boxes too; with --min-score the CSV is a
    training CSV ("kindling": train another detector on it with thalweg train-detector).
    """
    from thalweg.cli.common import write_report_with
    from thalweg.cli.display import Output
    from thalweg.detection import print_boxes_csv, write_boxes_csv
    from thalweg.files import write_together
    from thalweg.models import load_model
    from thalweg.models.detector import SSDDetector
    from thalweg.models.detector_training import detect_folder
    from thalweg.report.detection import write_detection_report

    check_paths(
        {"--output": output_path, "--report": report},
        {"the model file": model_file, "the images": images, "the boxes file": boxes},
    )
    model = load_model(model_file)
    if not isinstance(model, SSDDetector):
        raise UserError(
            f"{model_file} is a {type(model).__name__}, not a detector; train one with "
            "thalweg train-detector (thalweg predict runs other models)"
        )
    if nms is not None:
        model.set_params(nms=nms)
    if nms_iou is not None:
        model.set_params(nms_iou=nms_iou)
    if json_output and output_path is None:
        raise UserError("--json prints a summary on standard output; give the CSV with -o")
    run = detect_folder(model, images, boxes=boxes, min_score=min_score, workers=workers)
    table = run.detections
    if min_score is not None:  # kindling: the training CSV format, no score
        table = {key: value for key, value in table.items() if key != "score"}
    # The report is built before anything is written: if it fails, nothing is.
    built = _report(model, run, images, model_file) if report is not None else None
    written = {} if output_path is None else {"detections": output_path}
    with write_together():  # the detections and the report: both, or neither
        if output_path is not None:
            try:
                write_boxes_csv(output_path, table)
            except OSError as error:
                raise UserError(
                    f"cannot write {output_path} ({error.strerror}); choose another -o"
                ) from None
        if built is not None:
            written["report"] = write_report_with(write_detection_report, report, built)
    if output_path is None:
        print_boxes_csv(table, sys.stdout)
        sys.stdout.flush()
        output = Output(quiet=True)
    else:
        output = Output(quiet=quiet, json_mode=json_output)
    n_found = len(table["image"])
    kind = "boxes (training format)" if min_score is not None else "detections"
    output.line(f"{n_found} {kind} in {len(run.data)} images")
    metrics = run.evaluation.metrics if run.evaluation is not None else {}
    if metrics:
        output.metrics(
            {k: v for k, v in metrics.items() if k.startswith(("ap", "coco"))},
            f"against {boxes.name} ({metrics['boxes']} boxes)",
        )
    output.written(written)
    output.json(
        {
            "command": "detect",
            "model": str(model_file),
            "images": len(run.data),
            "detections": n_found,
            "min_score": min_score,
            "metrics": metrics,
            "per_class": run.evaluation.per_class if run.evaluation is not None else {},
            "written": written,
        }
    )
    return EXIT_OK


def _report(model, run, images: Path, model_file: Path):
    """The report's input: the images with their boxes (and the truth, AP, PR curve)."""
    from thalweg.report.detection import detection_report

    data = run.data
    return detection_report(
        model,
        data.images,
        data.names,
        found=run.found,
        truth=data.boxes if data.has_boxes else None,
        evaluation=run.evaluation,
        title=f"{images.name}: {model_file.name}",
        source=str(images),
        seconds=run.seconds,
        split_name="",
    )
