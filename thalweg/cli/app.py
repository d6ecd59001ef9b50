"""The ``thalweg`` commands: train, profile-input, evaluate, predict, inspect, demo, datasets.

Each command function parses its options (Typer), calls the workflow modules beside
this one, and prints through :class:`~thalweg.cli.display.Output`. Errors are raised,
never printed here: :func:`thalweg.cli.main.main` turns them into one line and exit 2.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer

from thalweg.cli import options as parse
from thalweg.cli.main import EXIT_INTERRUPTED, EXIT_OK, UserError, invocation
from thalweg.cli.recording import record_metrics
from thalweg.errors import DataError

app = typer.Typer(
    name="thalweg",
    help=(
        "Machine learning built on gradient descent: train a model on a CSV, Parquet or NPZ "
        "file, evaluate it, predict with it, and read its HTML report."
    ),
    epilog=(
        "Start here:  thalweg demo   (trains on the Playground spiral, writes a report).\n\n"
        "Then:  thalweg datasets export wine wine.csv && thalweg train wine.csv --target target"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Model = Literal["auto", "linear", "logistic", "mlp"]
Task = Literal["auto", "classification", "regression"]
Activation = Literal["relu", "tanh", "sigmoid", "linear"]
Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
Missing = Literal["error", "drop", "mean"]
Unknown = Literal["other", "error"]
DaskSolver = Literal["gd", "lbfgs", "sgd"]
ImageColor = Literal["auto", "grayscale", "rgb"]

QUIET = typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")
JSON = typer.Option("--json", help="Print one JSON summary on standard output, nothing else.")
THRESHOLD = typer.Option(
    callback=parse.threshold,
    help="Two-class models: predict the second class when its probability is at least "
    "this (default: the most probable class, i.e. 0.5).",
    show_default=False,
)


def _example(*lines: str) -> str:
    return "Example:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


# ---------------------------------------------------------------------------- train


@app.command(
    epilog=_example(
        "thalweg datasets export wine wine.csv",
        "thalweg train wine.csv --target target --report report.html",
        "thalweg train wine.csv --target target --model mlp --hidden 16 --epochs 300",
        "thalweg train big.parquet --target y --stream --batch-size 1024 --epochs 3",
        "thalweg train data/ --target y --dask local:4",
    )
)
def train(
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="CSV, Parquet or NPZ file, one row per example; or a URL (s3://, gs://, "
            "az://, hdfs://, https://); or a folder of images with one sub-folder per class "
            "(trains a CNN).",
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="The column to predict (tables).", show_default=False),
    ] = None,
    model: Annotated[
        Model,
        typer.Option(
            help="auto: a linear model for the task the target implies (says which and why); "
            "linear: linear regression; logistic: logistic regression; mlp: a neural network."
        ),
    ] = "auto",
    task: Annotated[
        Task, typer.Option(help="Force classification or regression (auto: from the target).")
    ] = "auto",
    hidden: Annotated[
        str | None,
        typer.Option(
            callback=parse.hidden_layers, help="Hidden layer widths, e.g. 8,2 (implies mlp)."
        ),
    ] = None,
    activation: Annotated[Activation | None, typer.Option(help="MLP nonlinearity.")] = None,
    optimizer: Annotated[Optimizer | None, typer.Option(help="Gradient-descent method.")] = None,
    learning_rate: Annotated[
        float | None,
        typer.Option(
            callback=parse.learning_rate, help="Step size (default: chosen automatically)."
        ),
    ] = None,
    batch_size: Annotated[
        str | None,
        typer.Option(callback=parse.batch_size, help="Rows per step, or 'full' (whole split)."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Most passes over the training rows.")
    ] = None,
    l1: Annotated[float, typer.Option(callback=parse.penalty, help="L1 (lasso) penalty.")] = 0.0,
    l2: Annotated[float, typer.Option(callback=parse.penalty, help="L2 (ridge) penalty.")] = 0.0,
    early_stopping: Annotated[
        bool,
        typer.Option(
            "--early-stopping", help="Stop when the validation loss stops improving; keep the best."
        ),
    ] = False,
    crosses: Annotated[
        bool, typer.Option("--crosses", help="Add squares and products of numeric columns.")
    ] = False,
    balance: Annotated[
        bool,
        typer.Option(
            "--balance",
            help="Train on class-balanced batches (every class equally often; rare rows "
            "kept, common ones thinned each epoch). The report shows the mix trained on.",
        ),
    ] = False,
    missing: Annotated[
        Missing,
        typer.Option(
            help="Missing values: error (list them), drop (skip those rows), mean (fill in "
            "training means; most frequent value for categories)."
        ),
    ] = "error",
    unknown: Annotated[
        Unknown,
        typer.Option(help="A category unseen in training, at predict time: other or error."),
    ] = "other",
    categorical: Annotated[
        str | None,
        typer.Option(
            callback=parse.column_names, help="Columns to one-hot encode even if numeric."
        ),
    ] = None,
    ignore: Annotated[
        str | None,
        typer.Option(callback=parse.column_names, help="Columns to leave out, e.g. id,name."),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            callback=parse.split_fractions,
            help="Train,validation,test fractions (or train,test). Default 0.6,0.2,0.2; "
            "0.9,0.05,0.05 with --stream; 0.9,0.1 with --dask.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, initialisation and shuffling.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")] = Path(
        "model.thalweg"
    ),
    report: Annotated[Path | None, typer.Option(help="HTML report to write.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the checkpoint Ctrl-C saved.")
    ] = False,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Train without loading DATA (Parquet or CSV, numeric columns): mini-batches "
            "read piece by piece, memory bounded whatever the file size.",
        ),
    ] = False,
    dask: Annotated[
        str | None,
        typer.Option(
            metavar="CLUSTER",
            help="Train on a Dask cluster: local:N (N local worker processes) or a scheduler "
            "address tcp://host:8786. DATA: a Parquet file or folder, a CSV file or glob.",
        ),
    ] = None,
    solver: Annotated[
        DaskSolver | None,
        typer.Option(
            help="With --dask: gd (full-batch gradient descent, the default), lbfgs, or sgd "
            "(with --batch-size; the default when one is given).",
            show_default=False,
        ),
    ] = None,
    shuffle_buffer: Annotated[
        int | None,
        typer.Option(
            min=0, help="With --stream: rows shuffled at a time (default 16384; 0: file order)."
        ),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(
            help="Images: resize to H,W (or one number for squares); default: the first "
            "image's size.",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = None,
    color: Annotated[
        ImageColor,
        typer.Option(help="Images: channels.", rich_help_panel="Images (DATA is a folder)"),
    ] = "auto",
    layers: Annotated[
        str | None,
        typer.Option(
            help="Images: the CNN, e.g. conv16,pool,conv32,pool,dense64 (the default).",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = None,
    augment: Annotated[
        str,
        typer.Option(
            callback=parse.augmentations,
            help="Images: default, robust (adds low contrast, crushed shadows, backlit, "
            "motion blur, sensor noise), none, or names, e.g. flip,rotate,noise.",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = "default",
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Images: processes decoding images (0: this one).",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = 0,
    patience: Annotated[
        int,
        typer.Option(
            min=1,
            help="Images: epochs without validation improvement before stopping.",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = 5,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Images: keep the decoded images in this folder; later runs read them "
            "from there instead of decoding again (delete it when the images change).",
            rich_help_panel="Images (DATA is a folder)",
        ),
    ] = None,
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Train a model on a table (or a CNN on a folder of images) and write it to one file.

    Shows a progress bar per epoch, then the test-split metrics and the files written.
    Ctrl-C saves a checkpoint; run the same command with --resume to continue.
    With --stream or --dask the file is never loaded whole (see docs/cli.md).
    """
    from thalweg.cli import images

    if images.looks_like_image_folder(data) and not stream and dask is None:
        _check_output(out, "--out", data)
        if report is not None:
            _check_output(report, "--report", data)
        image_options = images.ImageTrainOptions(
            size=parse.image_size(size),
            color=color,
            layers=parse.layer_specs(layers),
            augment=augment,
            epochs=epochs,
            batch_size=batch_size if isinstance(batch_size, int) else None,
            learning_rate=learning_rate,
            optimizer=optimizer,
            patience=patience,
            split=split or images.ImageTrainOptions.split,
            seed=seed,
            workers=workers,
            cache=cache,
        )
        return images.train(
            data, image_options, out=out, report=report, quiet=quiet, json_output=json_output
        )
    if target is None:
        raise UserError(
            f"missing option '--target': the column of {data} to predict (a folder of class "
            "sub-folders of images trains a CNN without it)"
        )
    from thalweg.cli.scale import ScaleOptions, check_options, default_split
    from thalweg.cli.training import TrainOptions, file_identity
    from thalweg.io import read_table

    scale = ScaleOptions(stream=stream, dask=dask, solver=solver, shuffle_buffer=shuffle_buffer)
    split = split or default_split(scale) or TrainOptions.split

    options = TrainOptions(
        target=target,
        model=model,
        task=task,
        hidden=hidden,
        activation=activation,
        optimizer=optimizer,
        learning_rate=learning_rate,
        batch_size=batch_size,
        epochs=epochs,
        l1=l1,
        l2=l2,
        early_stopping=early_stopping,
        crosses=crosses,
        missing=missing,
        unknown=unknown,
        categorical=categorical,
        ignore=ignore,
        split=split,
        seed=seed,
        balance=balance,
    )
    check_options(options, scale, resume=resume)
    _check_output(out, "--out", data)
    if report is not None:
        _check_output(report, "--report", data)
        if report.resolve() == out.resolve():
            raise UserError(f"--report and --out are both {out}; give them different names")
    if stream or dask is not None:
        return _train_at_scale_and_show(
            data, options, scale, out=out, report=report, quiet=quiet, json_output=json_output
        )
    table = read_table(data)
    return _train_and_show(
        table,
        options,
        source=parse.shown(data),
        data_identity=file_identity(data),
        out=out,
        report=report,
        resume=resume,
        quiet=quiet,
        json_output=json_output,
        title=f"{data.name}: predicting {target}",
    )


def _train_and_show(
    table: dict,
    options,
    *,
    source: str,
    data_identity: str,
    out: Path,
    report: Path | None,
    resume: bool,
    quiet: bool,
    json_output: bool,
    title: str,
    resumable: bool = True,
) -> int:
    """Train (see :mod:`thalweg.cli.training`), write the report, print the results."""
    from thalweg.cli import reporting
    from thalweg.cli.display import Output
    from thalweg.cli.training import checkpoint_path
    from thalweg.cli.training import train as run_training
    from thalweg.train import TrainingInterrupted

    output = Output(quiet=quiet, json_mode=json_output)
    command = _command_line()
    try:
        result = run_training(
            table,
            options,
            source=source,
            data_identity=data_identity,
            out=out,
            resume=resume,
            verbose=0 if quiet else 1,
            on_plan=output.line,
            command=command,
        )
    except TrainingInterrupted as interruption:
        where = str(interruption).split(";")[0]
        checkpoint = checkpoint_path(out)
        if not resumable:  # the demo is quick: start it again rather than resume it
            checkpoint.unlink(missing_ok=True)
            _say(f"{where}; nothing was written: run {command} again")
            return EXIT_INTERRUPTED
        again = command if "--resume" in invocation() else f"{command} --resume"
        _say(f"{where}; checkpoint saved to {checkpoint}; resume with: {again}")
        return EXIT_INTERRUPTED

    if result.model.n_dropped_ or result.summary["dropped_rows"]:
        output.line(f"dropped {result.summary['dropped_rows']} row(s) with missing values")
    history = getattr(result.model.estimator_, "history_", None)
    if history is not None and history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    if result.trained_class_counts:
        total = sum(result.trained_class_counts.values()) or 1
        mix = ", ".join(f"{k!r} {n / total:.0%}" for k, n in result.trained_class_counts.items())
        output.line(f"balanced batches: trained on {total:,} rows over all epochs ({mix})")
    if report is not None:
        built = reporting.report_input(
            result.model,
            result.test,
            title=title,
            summary=result.summary,
            seconds=result.seconds,
            seed=options.seed,
            parts=result.parts,
            target_values=result.all_labels,
            trained_class_counts=result.trained_class_counts,
        )
        result.written["report"] = _write_report(report, built)
    output.metrics(result.test.metrics, f"test metrics ({result.splits['test']} rows)")
    output.written(result.written)
    record_metrics(result.test.metrics, prefix="test_")
    output.json(
        {
            "command": "train",
            "task": result.plan.task,
            "task_reason": result.plan.reason,
            "model": type(result.model.estimator_).__name__,
            "target": options.target,
            "rows": result.summary["rows"],
            "dropped_rows": result.summary["dropped_rows"],
            "splits": result.splits,
            "epochs_run": int(getattr(result.model.estimator_, "n_iter_", 0)),
            "stop_reason": getattr(history, "stop_reason", None),
            "seconds": round(result.seconds, 3),
            "trained_class_counts": result.trained_class_counts,
            "metrics": {"test": result.test.metrics},
            "written": result.written,
        }
    )
    return EXIT_OK


def _train_at_scale_and_show(
    data, options, scale, *, out: Path, report: Path | None, quiet: bool, json_output: bool
) -> int:
    """Train with --stream or --dask (see :mod:`thalweg.cli.scale`); print the results."""
    from dataclasses import asdict

    from thalweg.cli import reporting
    from thalweg.cli import scale as scaled
    from thalweg.cli.display import Output

    output = Output(quiet=quiet, json_mode=json_output)
    train_at_scale = scaled.train_stream if scale.stream else scaled.train_dask
    result = train_at_scale(data, options, scale, verbose=0 if quiet else 1, on_line=output.line)
    history = getattr(result.model.estimator_, "history_", None)
    if history is not None and history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    if result.balance is not None:
        for line in scaled.balance_lines(result.balance):
            output.line(line)
    scaled.save(result, out, options, scale, _command_line())
    held_out = result.held_out
    scored, test_rows = held_out["test_rows_scored"], held_out["test_rows"]
    if report is not None:
        table, labels = result.test_rows
        built = reporting.report_input(
            result.model,
            result.test,
            title=f"{data.name}: predicting {options.target}",
            summary=result.summary,
            seconds=result.seconds,
            seed=options.seed,
            parts={"test": (table, labels)},
            target_values=labels,
        )
        result.written["report"] = _write_report(report, built)
    sampled = f"{scored:,} of {test_rows:,} held-out rows, a uniform sample"
    title = f"{test_rows:,} held-out rows" if scored == test_rows else sampled
    output.metrics(result.test.metrics, f"test metrics ({title})")
    output.written(result.written)
    balance = result.balance
    output.json(
        {
            "command": "train",
            "mode": "stream" if scale.stream else "dask",
            "task": result.plan.task,
            "task_reason": result.plan.reason,
            "model": type(result.model.estimator_).__name__,
            "target": options.target,
            "rows": result.summary["rows"],
            "splits": result.summary["splits"],
            "held_out": held_out,
            "epochs_run": int(getattr(result.model.estimator_, "n_iter_", 0)),
            "stop_reason": getattr(history, "stop_reason", None),
            "seconds": round(result.seconds, 3),
            "input_balance": {**asdict(balance), "advice": balance.advice} if balance else None,
            "metrics": {"test": result.test.metrics},
            "written": result.written,
        }
    )
    return EXIT_OK


def _command_line() -> str:
    """The command as typed, for model files and messages: URLs redacted (a password or
    a signed query in a data URL must not reach a file or a terminal log)."""
    from thalweg.data.filesystems import redact

    return shlex.join(["thalweg", *(redact(argument) for argument in invocation())])


def _check_output(path: Path, option: str, data: Path | None = None) -> None:
    """Fail before training, not after, when an output cannot be written."""
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name, e.g. {path / 'out'}")
    if isinstance(data, Path) and path.resolve() == data.resolve():
        raise UserError(f"{option} {path} is the input data file; choose another name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # atomic_write creates missing folders below this one
    if not os.access(folder, os.W_OK):
        raise UserError(
            f"cannot write {option} {path}: {folder} is not writable; choose another path"
        )


def _write_report(path: Path, built) -> Path:
    from thalweg.cli import reporting

    try:
        return reporting.write(path, built)
    except OSError as error:
        raise UserError(
            f"cannot write the report {path} ({error.strerror}); choose another --report"
        ) from None


def _say(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- profile-input


@app.command(
    "profile-input",
    epilog=_example(
        "thalweg profile-input big.parquet --target y",
        "thalweg profile-input big.parquet --target y --batch-size 1024 --batches 500 --json",
    ),
)
def profile_input(
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="Parquet or CSV file, or a folder of them (local, or a URL such as s3://).",
        ),
    ],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Rows per batch (default 256, as --stream).")
    ] = None,
    batches: Annotated[
        int | None,
        typer.Option(
            min=1, help="Batches to read (default: 50, or enough to fill the buffer 4 times)."
        ),
    ] = None,
    shuffle_buffer: Annotated[
        int | None,
        typer.Option(min=0, help="Rows shuffled at a time (default 16384; 0: file order)."),
    ] = None,
    ignore: Annotated[
        str | None,
        typer.Option(callback=parse.column_names, help="Columns to leave out, e.g. id,name."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the reading order.")] = 0,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Measure how fast --stream training's input makes batches, with no model: rows/s,
    the time between batches, T_g, C and B, and advice on what limits it."""
    from thalweg.cli import profiling
    from thalweg.cli.display import Output
    from thalweg.cli.training import TrainOptions

    options = TrainOptions(target=target, ignore=ignore, seed=seed)
    measured, stored, tips = profiling.profile(
        data, options, batch_size=batch_size, batches=batches, given_buffer=shuffle_buffer
    )
    output = Output(json_mode=json_output)
    for line in profiling.report(measured):
        output.line(line)
    for tip in tips:
        output.line(f"- {tip}")
    output.json(profiling.as_json(measured, stored, tips, data))
    return EXIT_OK


# ------------------------------------------------------------------------- evaluate


@app.command(
    epilog=_example(
        "thalweg evaluate model.thalweg wine.csv",
        "thalweg evaluate model.thalweg new-wines.csv --report new-wines.html --json",
        "thalweg evaluate model.thalweg cancer.csv --threshold 0.3",
    )
)
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
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Measure a trained model on new labelled data (same columns, target included; for an
    image model, a folder of class sub-folders)."""
    from thalweg.cli import images

    if images.is_image_model(model_file):
        if report is not None:
            _check_output(report, "--report", data)
        return images.evaluate(
            model_file, data, report=report, quiet=quiet, json_output=json_output
        )
    from thalweg.cli import reporting
    from thalweg.cli.display import Output
    from thalweg.cli.scoring import check_threshold, score
    from thalweg.io import read_table
    from thalweg.models.tabular import TabularModel, missing_mask, target_values

    if report is not None:
        _check_output(report, "--report", data)
    model = TabularModel.load(model_file)
    check_threshold(model, threshold)
    table = read_table(data)
    target = model.target_
    if target not in table:
        raise DataError(
            f"{parse.shown(data)} has no column {target!r}, the target the model predicts; "
            "its columns are: "
            f"{', '.join(table)} (to predict without targets, use thalweg predict)"
        )
    labels = target_values(target, table[target], model.is_classifier)
    keep = ~missing_mask(labels)
    if model.missing == "drop":
        keep &= model.complete_rows(table)
    if not keep.any():
        raise DataError(
            f"{parse.shown(data)} has no row with a target and all the model's columns filled in"
        )
    rows = {name: values[keep] for name, values in table.items()}
    labels = np.asarray(labels[keep].tolist()) if labels.dtype == object else labels[keep]
    scores = score(model, rows, labels, threshold)

    output = Output(quiet=quiet, json_mode=json_output)
    skipped = int((~keep).sum())
    output.line(
        f"evaluated {int(keep.sum())} rows of {parse.shown(data)}"
        + (f" ({skipped} skipped: missing values)" if skipped else "")
    )
    at = "" if threshold is None else f" (threshold {threshold:g})"
    output.metrics(scores.metrics, f"metrics on {data.name}{at}")
    record_metrics(scores.metrics)
    written = {}
    if report is not None:
        training = model.metadata_.get("training", {})
        summary = {
            "source": parse.shown(data),
            "rows": len(keep),
            "columns": [
                {
                    "name": c["name"],
                    "type": c["kind"],
                    "missing": int(missing_mask(table[c["name"]]).sum()),
                }
                for c in model.columns_
            ],
            "target": target,
            "splits": {"evaluated": int(keep.sum())},
        }
        built = reporting.report_input(
            model,
            scores,
            title=f"{data.name}: evaluating {Path(model_file).name}",
            summary=summary,
            seconds=float(training.get("seconds", 0.0)),
            seed=training.get("seed"),
            split_name=data.name,
            parts={"test": (rows, labels)},
            target_values=labels,
        )
        written["report"] = _write_report(report, built)
    output.written(written)
    output.json(
        {
            "command": "evaluate",
            "model": str(model_file),
            "data": parse.shown(data),
            "rows": int(keep.sum()),
            "skipped_rows": skipped,
            "threshold": threshold,
            "metrics": scores.metrics,
            "written": written,
        }
    )
    return EXIT_OK


# -------------------------------------------------------------------------- predict


@app.command(
    epilog=_example(
        "thalweg predict model.thalweg wine.csv -o predictions.csv",
        "thalweg predict model.thalweg wine.csv | head",
        "thalweg predict model.thalweg cancer.csv --threshold 0.3 -o flagged.csv",
    )
)
def predict(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="Rows to predict, a path or a URL; columns are matched by name.",
        ),
    ],
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="CSV file to write (default: standard output)."),
    ] = None,
    threshold: Annotated[float | None, THRESHOLD] = None,
) -> int:
    """Predict each row of a table with exactly the preprocessing the model trained with.

    Writes a CSV with a 'prediction' column and, for classifiers, one probability
    column per class. Extra columns in the data are ignored; a missing one is an error.
    For an image model DATA is an image or a folder of them (searched recursively), and
    each row starts with the image's path.
    """
    from thalweg.cli import images

    if images.is_image_model(model_file):
        if output_path is not None:
            _check_output(output_path, "--output", data)
        return images.predict(model_file, data, output_path)
    from thalweg.cli.display import Output
    from thalweg.cli.scoring import check_threshold, predict_labels
    from thalweg.io import read_table, table_to_csv, write_csv
    from thalweg.models.tabular import TabularModel

    if output_path is not None:
        _check_output(output_path, "--output", data)
    model = TabularModel.load(model_file)
    check_threshold(model, threshold)
    table = read_table(data)
    n = len(next(iter(table.values())))
    keep = model.complete_rows(table) if model.missing == "drop" else np.ones(n, dtype=bool)
    rows = table if keep.all() else {name: values[keep] for name, values in table.items()}
    features = model.transform(rows)
    predictions = {}
    if model.is_classifier:
        probabilities = model.estimator_.predict_proba(features)
        predicted = predict_labels(model, probabilities, threshold)
    else:
        predicted = model.estimator_.predict(features)
    column = np.full(n, None, dtype=object) if model.is_classifier else np.full(n, np.nan)
    column[keep] = predicted.tolist() if model.is_classifier else predicted
    predictions["prediction"] = column
    if model.is_classifier:
        for index, label in enumerate(model.classes_.tolist()):
            values = np.full(n, np.nan)
            values[keep] = probabilities[:, index]
            predictions[f"probability_{label}"] = values
    if not keep.all():
        _say(
            f"warning: {int((~keep).sum())} row(s) have missing values and the model was "
            "trained with --missing drop; their predictions are left empty"
        )
    if output_path is None:
        import sys

        for chunk in table_to_csv(predictions):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return EXIT_OK
    try:
        write_csv(output_path, predictions)
    except OSError as error:
        raise UserError(
            f"cannot write {output_path} ({error.strerror}); choose another -o"
        ) from None
    Output().line(f"wrote predictions: {output_path} ({n} rows)")
    return EXIT_OK


# -------------------------------------------------------------------------- inspect


@app.command(
    epilog=_example("thalweg inspect model.thalweg", "thalweg inspect model.thalweg --json")
)
def inspect(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Show what a model file holds: architecture, parameters, preprocessing, training
    settings and final metrics."""
    from thalweg.cli import images, inspection
    from thalweg.cli.display import Output
    from thalweg.models.tabular import TabularModel

    if images.is_image_model(model_file):
        return images.inspect(model_file, json_output=json_output)
    model = TabularModel.load(model_file)
    info = inspection.summary(model, model_file)
    output = Output(json_mode=json_output)
    inspection.show(info, output)
    output.json(info)
    return EXIT_OK


# ----------------------------------------------------------------------------- demo


@app.command(epilog=_example("thalweg demo", "thalweg demo xor --out-dir xor-demo"))
def demo(
    name: Annotated[
        str, typer.Argument(help="A dataset from 'thalweg datasets' (default: spiral).")
    ] = "spiral",
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Folder for the model and the report.")
    ] = Path("thalweg-demo"),
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Train on a bundled dataset and write the HTML report (the spiral: a small neural
    network learns what no straight line can)."""
    from thalweg.cli.demo import recipe

    table, options, source = recipe(name)
    out, report = out_dir / f"{options_name(name)}.thalweg", out_dir / "report.html"
    _check_output(out, "--out-dir")
    return _train_and_show(
        table,
        options,
        source=source,
        data_identity=source,
        out=out,
        report=report,
        resume=False,
        quiet=quiet,
        json_output=json_output,
        title=f"thalweg demo: {source}",
        resumable=False,
    )


def options_name(name: str) -> str:
    """A dataset name as a file name (``breast-cancer`` -> ``breast_cancer``)."""
    return name.strip().lower().replace("-", "_")


# ------------------------------------------------------------------------- datasets

datasets_app = typer.Typer(
    help="List the bundled datasets and generators, or export one as CSV.",
    no_args_is_help=False,
    invoke_without_command=True,
    epilog=_example(
        "thalweg datasets", "thalweg datasets export wine wine.csv", "thalweg datasets --json"
    ),
)
app.add_typer(datasets_app, name="datasets")


@datasets_app.callback(invoke_without_command=True)
def datasets(
    context: typer.Context,
    json_output: Annotated[bool, JSON] = False,
) -> None:
    """List the bundled datasets and generators (or export one: see 'export --help')."""
    if context.invoked_subcommand is not None:
        return
    from thalweg.cli.display import Output
    from thalweg.datasets import list_datasets

    output = Output(json_mode=json_output)
    infos = list_datasets()
    output.table(
        "datasets (export one with: thalweg datasets export NAME out.csv)",
        ["name", "task", "source", "rows", "features", "classes", "description"],
        [
            [
                d.name,
                d.kind,
                d.source,
                str(d.n_samples),
                str(d.n_features),
                str(d.n_classes or "-"),
                d.description,
            ]
            for d in infos
        ],
    )
    output.json({"datasets": [d.to_dict() for d in infos]})


@datasets_app.command(
    "export",
    epilog=_example(
        "thalweg datasets export wine wine.csv",
        "thalweg datasets export spiral spiral.csv --n 1000 --noise 0.2",
    ),
)
def export(
    name: Annotated[str, typer.Argument(help="Dataset name (see 'thalweg datasets').")],
    out: Annotated[Path, typer.Argument(help="CSV file to write (a folder for images).")],
    n: Annotated[int | None, typer.Option("--n", min=2, help="Rows (generators only).")] = None,
    noise: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Noise 0-1 (generators only).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (generators only; default 0).")] = None,
) -> int:
    """Write a dataset as CSV: its feature columns, then a 'target' column. An image
    dataset is written as a folder of PNG files, one sub-folder per class."""
    from thalweg.cli.display import Output
    from thalweg.datasets import list_datasets, load
    from thalweg.io import write_csv

    info = {d.name: d for d in list_datasets()}.get(options_name(name))
    kwargs = {k: v for k, v in {"n": n, "noise": noise, "seed": seed}.items() if v is not None}
    if info is not None and info.source == "generator":
        kwargs.setdefault("seed", 0)  # the same file every time unless asked otherwise
    if info is not None and info.image_shape:
        from thalweg.data.images import write_image_folder

        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError(f"{out} exists and is not an empty folder; choose a new folder")
        X, y, names = load(name, **kwargs)
        count = write_image_folder(out, X, y, names)
        Output().line(
            f"wrote {out}: {count} images in {len(names)} class folders "
            f"(try: thalweg train {shlex.quote(str(out))})"
        )
        return EXIT_OK
    _check_output(out, "OUT")
    X, y, names = load(name, **kwargs)
    table = {column: X[:, j] for j, column in enumerate(names)}
    table["target"] = y
    try:
        write_csv(out, table)
    except OSError as error:
        raise UserError(f"cannot write {out} ({error.strerror}); choose another path") from None
    Output().line(
        f"wrote {out}: {len(y)} rows, {len(names)} features and a 'target' column "
        f"(try: thalweg train {shlex.quote(str(out))} --target target)"
    )
    return EXIT_OK


# ----------------------------------------------------- infrastructure command groups

from thalweg.cli.runs import runs_app  # noqa: E402

app.add_typer(runs_app, name="runs")

from thalweg.cli.serve import EXAMPLE as _SERVE_EXAMPLE  # noqa: E402
from thalweg.cli.serve import serve  # noqa: E402

app.command(epilog=_SERVE_EXAMPLE)(serve)

from thalweg.cli.skew import EXAMPLE as _SKEW_EXAMPLE  # noqa: E402
from thalweg.cli.skew import skew  # noqa: E402

app.command(epilog=_SKEW_EXAMPLE)(skew)

from thalweg.cli.labels import EXAMPLE as _LABELS_EXAMPLE  # noqa: E402
from thalweg.cli.labels import labels  # noqa: E402

app.command(epilog=_LABELS_EXAMPLE)(labels)

# ------------------------------------------------------------------------ playground

from thalweg.cli import playground as _playground  # noqa: E402 - its own module, one line here

_playground.register(app)


# Commands that live in their own modules register themselves here.
def _register_modules() -> None:
    from thalweg.cli import export_model, profile_model

    profile_model.register(app)
    export_model.register(app)


_register_modules()
