"""``thalweg train-detector``: an SSD object detector trained on a folder of images and a box CSV.

The work is :func:`thalweg.models.detector_training.train_detector_on_folder`; this
module parses the flags, prints what happened and writes the model and the report.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import JSON, QUIET, command_line, example
from thalweg.cli.main import EXIT_OK, UserError

Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
ImageColor = Literal["auto", "grayscale", "rgb"]


def register(app: typer.Typer) -> None:
    app.command(
        "train-detector",
        epilog=example(
            "thalweg datasets export faces-scenes scenes/",
            "thalweg train-detector scenes/ --boxes scenes/boxes.csv -o detector.thalweg "
            "--report training.html",
            "thalweg train-detector photos/ --boxes kindled.csv --epochs 40 --patience 8",
        ),
    )(train_detector)


def train_detector(
    images: Annotated[
        Path,
        typer.Argument(help="A folder of images (searched recursively)."),
    ],
    boxes: Annotated[
        Path,
        typer.Option(
            "--boxes",
            "-b",
            help="CSV of the objects: image,x_min,y_min,x_max,y_max,label (image: the file's "
            "path relative to IMAGES; pixels). Images without a row have no object.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        "detector.thalweg"
    ),
    report: Annotated[
        Path | None,
        typer.Option(help="HTML report: test images with boxes drawn, AP table, PR curve."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            callback=parse.split_fractions,
            help="Train,validation,test fractions of the images (or train,test).",
            show_default="0.7,0.1,0.2",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Most passes over the training images.")] = 30,
    patience: Annotated[
        int,
        typer.Option(min=1, help="Epochs without validation improvement before stopping."),
    ] = 5,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per step.")] = 32,
    learning_rate: Annotated[
        float | None,
        typer.Option(callback=parse.learning_rate, help="Step size.", show_default="0.003"),
    ] = None,
    optimizer: Annotated[Optimizer, typer.Option(help="Gradient-descent method.")] = "adam",
    channels: Annotated[
        str | None,
        typer.Option(
            help="The backbone's filters: a stride-2 convolution, then conv+pool blocks, e.g. "
            "8,16,32,64 (the default).",
            show_default=False,
        ),
    ] = None,
    feature_maps: Annotated[
        int, typer.Option(min=1, help="Predict from the last this-many blocks.")
    ] = 2,
    confidence_weighting: Annotated[
        bool,
        typer.Option(
            "--confidence-weighting/--no-confidence-weighting",
            help="Weigh the box loss of confidently classified anchors by 1 + alpha (see "
            "docs/detection.md).",
        ),
    ] = False,
    alpha: Annotated[float, typer.Option(min=0.0, help="The confidence weighting's alpha.")] = 1.0,
    size: Annotated[
        str | None,
        typer.Option(help="Resize every image to H,W (boxes too); default: the first image's."),
    ] = None,
    color: Annotated[ImageColor, typer.Option(help="Image channels.")] = "auto",
    workers: Annotated[
        int, typer.Option(min=0, callback=parse.workers, help="Processes decoding images.")
    ] = 0,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the split, initialisation and order.")
    ] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the checkpoint Ctrl-C saved.")
    ] = False,
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Train a single-shot detector (SSD) on IMAGES and the boxes of --boxes.

    The images are split into train, validation and test parts; training shows a
    progress bar per epoch and stops early when the validation loss stops improving
    (keeping the best epoch); the test images are then scored (AP@0.5, COCO AP). Ctrl-C
    (SIGTERM, SIGHUP) saves a checkpoint; run the same command with --resume to continue.
    """
    from thalweg.cli.common import check_paths, write_report_with
    from thalweg.cli.display import Output
    from thalweg.cli.recording import record_metrics
    from thalweg.cli.train import checkpoint_path, interrupted
    from thalweg.data import load_detection_folder
    from thalweg.files import write_together
    from thalweg.models.detector_training import detector_fingerprint, train_detector
    from thalweg.models.table_training import checkpoint_for, settle_checkpoints
    from thalweg.report.detection import write_detection_report
    from thalweg.train import TrainingInterrupted

    if not images.is_dir():
        raise UserError(f"{images} is not a folder; give the folder holding the images")
    check_paths(
        {"--out": out, "--report": report},
        {"the image folder": images, "the boxes file": boxes},
    )
    output = Output(quiet=quiet, json_mode=json_output)
    params = {
        "max_epochs": epochs,
        "n_iter_no_change": patience,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "feature_maps": feature_maps,
        "confidence_weighting": confidence_weighting,
        "alpha": alpha,
        "random_state": seed,
        "verbose": 0 if quiet or json_output else 1,
    }
    if learning_rate is not None:
        params["learning_rate"] = learning_rate
    if channels is not None:
        params["channels"] = _channels(channels)
    _check_feature_maps(feature_maps, params.get("channels"))
    fractions = split or (0.7, 0.1, 0.2)
    data = load_detection_folder(
        images, boxes, size=parse.image_size(size), color=color, workers=workers
    )
    fingerprint = detector_fingerprint(data, params, fractions)
    checkpoint = checkpoint_for(checkpoint_path(out), fingerprint, resume)
    command = command_line()
    try:
        run = train_detector(
            data,
            fractions=fractions,
            checkpoint=checkpoint,
            fingerprint=fingerprint,
            resume=resume,
            **params,
        )
    except TrainingInterrupted as interruption:
        return interrupted(interruption, command, resumable=True)
    model = run.model
    counts = {name: len(part) for name, part in run.parts.items()}
    n_boxes = sum(len(b) for b in data.boxes)
    output.line(
        f"{len(data)} images ({'×'.join(map(str, data.image_shape[1:]))}), {n_boxes} boxes of "
        f"{', '.join(map(str, model.classes_))}; "
        + ", ".join(f"{name} {count}" for name, count in counts.items())
    )
    history = model.history_
    if history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    # The report is built before anything is written: if it fails, nothing is.
    built = _report(run, images) if report is not None else None
    written = {"model": out}
    with write_together():  # the model and the report: both, or neither
        try:
            run.save(out, command)
        except OSError as error:  # disk full, permissions: the old file is untouched
            raise UserError(
                f"cannot write the model to {out} ({error.strerror or error}); any file "
                "already there is unchanged: free some space or choose another --out"
            ) from None
        if built is not None:
            written["report"] = write_report_with(write_detection_report, report, built)
    for line in settle_checkpoints(checkpoint_path(out), checkpoint, resume):
        output.line(line)
    metrics = run.evaluation.metrics if run.evaluation is not None else {}
    if metrics:
        output.metrics(
            {k: v for k, v in metrics.items() if k.startswith(("ap", "coco"))},
            f"test metrics ({counts.get('test', 0)} images, {metrics['boxes']} boxes)",
        )
    output.written(written)
    record_metrics(metrics, prefix="test_")
    output.json(
        {
            "command": "train-detector",
            "model": "SSDDetector",
            "images": len(data),
            "boxes": n_boxes,
            "classes": [str(c) for c in model.classes_],
            "image_shape": list(data.image_shape),
            "splits": counts,
            "epochs_run": int(model.n_iter_),
            "stop_reason": history.stop_reason,
            "seconds": round(run.seconds, 3),
            "metrics": {"test": metrics},
            "written": written,
        }
    )
    if not quiet and not json_output:
        output.line(
            f"next: thalweg detect {shlex.quote(str(out))} IMAGES/ -o detections.csv "
            "--report detections.html"
        )
    return EXIT_OK


def _channels(value: str) -> tuple[int, ...]:
    try:
        channels = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise UserError(f"--channels {value!r}: give filter counts, e.g. 8,16,32,64") from None
    if len(channels) < 2 or min(channels) < 1:
        raise UserError(f"--channels {value!r}: give at least two positive counts, e.g. 8,16,32")
    return channels


def _check_feature_maps(feature_maps: int, channels: tuple[int, ...] | None) -> None:
    """Refuse --feature-maps beyond the backbone's blocks before any image is read."""
    from thalweg.models.detector import SSDDetector

    blocks = len(channels or SSDDetector().channels) - 1
    if feature_maps > blocks:
        shown = ",".join(map(str, channels or SSDDetector().channels))
        raise UserError(
            f"--feature-maps {feature_maps}: the backbone (--channels {shown}) has {blocks} "
            f"block(s) after its stem; give --feature-maps 1 to {blocks}, or more channels"
        )


def _report(run, images: Path):
    """The training report's input: the test images with their boxes, the AP table and
    curve, the learning curve."""
    from thalweg.report.detection import detection_report

    test = run.data.subset(run.parts["test"])
    return detection_report(
        run.model,
        test.images,
        test.names,
        found=run.model.predict(test.images),
        truth=test.boxes,
        evaluation=run.evaluation,
        title=f"{images.name}: detecting {', '.join(map(str, run.model.classes_))}",
        source=str(images),
        seconds=run.seconds,
        history=run.model.history_,
        facts={"Test images": str(len(test))},
    )
