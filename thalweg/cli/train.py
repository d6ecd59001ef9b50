"""``thalweg train``: a model trained on a table, written with its preprocessing to one file.

The work is :mod:`thalweg.models.table_training`'s (``--stream``) and
:mod:`thalweg.distributed.table_training`'s (``--dask``); this module turns the flags
into :class:`~thalweg.models.auto.TrainOptions`, and shows and writes what came back.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import (
    ENCODING,
    JSON,
    QUIET,
    check_paths,
    command_line,
    example,
    say,
    write_report,
    writing,
)
from thalweg.cli.main import EXIT_OK, UserError, invocation

Model = Literal["auto", "linear", "logistic", "mlp"]
Task = Literal["auto", "classification", "regression"]
Activation = Literal["relu", "tanh", "sigmoid", "linear"]
Optimizer = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
Missing = Literal["error", "drop", "mean"]
Unknown = Literal["other", "error"]
DaskSolver = Literal["gd", "lbfgs", "sgd"]
ImageColor = Literal["auto", "grayscale", "rgb"]
IMAGES = "Images (DATA is a folder of class sub-folders)"
PLAIN_NUMBERS_LISTED = 6  # more plain numeric columns than this share one row of the table


def register(app: typer.Typer) -> None:
    app.command(
        epilog=example(
            "thalweg datasets export wine wine.csv",
            "thalweg train wine.csv --target target --report report.html",
            "thalweg train wine.csv --target target --model mlp --hidden 16 --epochs 300",
            "thalweg train big.parquet --target y --stream --batch-size 1024 --epochs 3",
            "thalweg train data/ --target y --dask local:4",
        )
    )(train)


def train(
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="CSV, Parquet or NPZ file, one row per example; or a URL (s3://, gs://, "
            "az://, hdfs://, https://); or a folder of images with one sub-folder per class "
            "(trains a CNN: see the image options).",
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
            callback=parse.hidden_layers,
            help="Hidden layer widths, e.g. 8,2 (implies mlp; default: one layer of 100).",
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
        int | None,
        typer.Option(
            min=1,
            help="Most passes over the training rows (default: 1000 linear or logistic, "
            "200 mlp, 10 with --stream; fewer when training stops early).",
        ),
    ] = None,
    l1: Annotated[float, typer.Option(callback=parse.penalty, help="L1 (lasso) penalty.")] = 0.0,
    l2: Annotated[
        float | None,
        typer.Option(
            callback=parse.penalty,
            help="L2 (ridge) penalty (default: the model's; logistic: 1/(2·rows), "
            "scikit-learn's C=1; others: 0).",
            show_default=False,
        ),
    ] = None,
    early_stopping: Annotated[
        bool | None,
        typer.Option(
            "--early-stopping/--no-early-stopping",
            help="Stop when the validation loss stops improving, keeping the best weights "
            "(default: on whenever the split has validation rows).",
            show_default=False,
        ),
    ] = None,
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
    keep: Annotated[
        str | None,
        typer.Option(
            callback=parse.column_names,
            help="Columns to use even when they look like identifiers (a different value "
            "in nearly every row), which are otherwise left out.",
        ),
    ] = None,
    min_frequency: Annotated[
        str,
        typer.Option(
            callback=parse.min_frequency,
            help="Categories seen in fewer training rows than this (or a share below 1, "
            "e.g. 0.01) share one 'other' input; 1 keeps every category.",
        ),
    ] = "5",
    split: Annotated[
        str | None,
        typer.Option(
            callback=parse.split_fractions,
            help="Train,validation,test fractions (or train,test). Default 0.6,0.2,0.2; "
            "0.9,0.05,0.05 with --stream; 0.9,0.1 with --dask.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the split, initialisation and shuffling.")
    ] = 0,
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
            rich_help_panel=IMAGES,
        ),
    ] = None,
    color: Annotated[
        ImageColor, typer.Option(help="Images: channels.", rich_help_panel=IMAGES)
    ] = "auto",
    layers: Annotated[
        str | None,
        typer.Option(
            help="Images: the CNN, e.g. conv16,pool,conv32,pool,dense64 (the default).",
            rich_help_panel=IMAGES,
        ),
    ] = None,
    augment: Annotated[
        str,
        typer.Option(
            callback=parse.augmentations,
            help="Images: default, robust (adds low contrast, crushed shadows, backlit, "
            "motion blur, sensor noise), none, or names, e.g. flip,rotate,noise.",
            rich_help_panel=IMAGES,
        ),
    ] = "default",
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            callback=parse.workers,
            help="Images: processes decoding images (0: this one).",
            rich_help_panel=IMAGES,
        ),
    ] = 0,
    patience: Annotated[
        int,
        typer.Option(
            min=1,
            help="Images: epochs without validation improvement before stopping.",
            rich_help_panel=IMAGES,
        ),
    ] = 5,
    cache: Annotated[
        Path | None,
        typer.Option(
            help="Images: keep the decoded images in this folder; later runs read them "
            "from there instead of decoding again (delete it when the images change).",
            rich_help_panel=IMAGES,
        ),
    ] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Train a model on a table (or a CNN on a folder of images) and write it to one file.

    Shows a progress bar per epoch, then the test-split metrics and the files written.
    Ctrl-C saves a checkpoint; run the same command with --resume to continue.
    With --stream or --dask the file is never loaded whole (see docs/cli.md).
    """
    from thalweg.cli import images

    image_folder = images.looks_like_image_folder(data)
    if image_folder and (stream or dask is not None):
        given = ", ".join(flag for flag, used in (("--stream", stream), ("--dask", dask)) if used)
        raise UserError(
            f"{data} is a folder of images; {given} apply to tables only (an image folder is "
            "decoded batch by batch already: see the image options in thalweg train --help)"
        )
    if not image_folder:
        image_only = {
            "--size": size is not None,
            "--color": color != "auto",
            "--layers": layers is not None,
            "--augment": augment != "default",
            "--workers": workers != 0,
            "--patience": patience != 5,
            "--cache": cache is not None,
        }
        given = [flag for flag, used in image_only.items() if used]
        if given:  # silently ignoring them would train something the user did not ask for
            raise UserError(
                f"{data} is not a folder of images; {', '.join(given)} apply to image "
                "folders only (a table trains with --hidden, --epochs, ...: see thalweg "
                "train --help)"
            )
    if image_folder:
        from thalweg.models.tabular import MIN_FREQUENCY

        table_only = {
            "--target": target is not None,
            "--model": model != "auto",
            "--task": task != "auto",
            "--hidden": hidden is not None,
            "--activation": activation is not None,
            "--l1": bool(l1),
            "--crosses": crosses,
            "--balance": balance,
            "--missing": missing != "error",
            "--categorical": bool(categorical),
            "--ignore": bool(ignore),
            "--keep": bool(keep),
            "--min-frequency": min_frequency != MIN_FREQUENCY,
            "--unknown": unknown != "other",
            "--solver": solver is not None,
            "--shuffle-buffer": shuffle_buffer is not None,
            "--encoding": encoding.lower().replace("_", "-") not in ("utf-8", "utf8"),
        }
        given = [flag for flag, used in table_only.items() if used]
        if given:
            raise UserError(
                f"{data} is a folder of images; {', '.join(given)} apply to tables only "
                "(see the image options in thalweg train --help)"
            )
        if early_stopping and len(split or images.ImageTrainOptions.split) < 3:
            raise UserError(
                "--early-stopping needs validation images: give --split three fractions, "
                "e.g. 0.7,0.1,0.2 (or leave out --early-stopping)"
            )
        _check_image_paths(data, out, report, cache)
        image_options = images.ImageTrainOptions(
            size=parse.image_size(size),
            color=color,
            layers=parse.layer_specs(layers),
            augment=augment,
            epochs=epochs,
            batch_size=batch_size if isinstance(batch_size, int) else None,
            learning_rate=learning_rate,
            optimizer=optimizer,
            l2=l2,
            early_stopping=early_stopping,
            patience=patience,
            split=split or images.ImageTrainOptions.split,
            seed=seed,
            workers=workers,
            cache=cache,
        )
        return images.train(
            data,
            image_options,
            out=out,
            report=report,
            resume=resume,
            quiet=quiet,
            json_output=json_output,
        )
    if target is None:
        raise UserError(
            f"missing option '--target': the column of {data} to predict (a folder of class "
            "sub-folders of images trains a CNN without it)"
        )
    from thalweg.models.auto import TrainOptions, check_options

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
        keep=keep,
        min_frequency=min_frequency,
        split=split,
        seed=seed,
        stream=stream,
        dask=dask,
        solver=solver,
        shuffle_buffer=shuffle_buffer,
        balance=balance,
    )
    check_options(options, resume=resume)
    check_paths({"--out": out, "--report": report}, {"the data file": data})
    check_paths(  # separately: --out must be a file name before it names a checkpoint
        {"--out": out, "--report": report}, {"the checkpoint beside --out": checkpoint_path(out)}
    )
    if (options.stream or options.dask is not None) and encoding.lower().replace("_", "-") not in (
        "utf-8",
        "utf8",
    ):
        raise UserError(
            "--encoding applies when the file is read whole; --stream and --dask read UTF-8 "
            "only: convert the file to UTF-8 (or to Parquet) first"
        )
    output = _output(quiet, json_output)
    verbose = 0 if quiet else 1
    if options.stream:
        from thalweg.models.table_training import train_stream

        with _convergence_shown_by_us():
            result = train_stream(data, options, verbose=verbose, on_line=_flagged(output))
    elif options.dask is not None:
        from thalweg.distributed.table_training import train_on_cluster

        with _convergence_shown_by_us():
            result = train_on_cluster(data, options, verbose=verbose, on_line=_flagged(output))
    else:
        from thalweg.io import read_table
        from thalweg.models.table_training import data_fingerprint, file_digest

        return train_and_show(
            read_table(data, encoding),
            options,
            source=parse.shown(data),
            fingerprint=data_fingerprint(file_digest(data), options),
            out=out,
            report=report,
            resume=resume,
            output=output,
            title=f"{data.name}: predicting {target}",
        )
    show(result, output, out=out, report=report, title=f"{data.name}: predicting {target}")
    return EXIT_OK


def _check_image_paths(data: Path, out: Path, report: Path | None, cache: Path | None) -> None:
    """Before any image is read: the outputs can be written, and none is inside the
    image folder (a file there would be read as an image; a folder, as a class)."""
    from thalweg.files import check_output_folder

    folder = {"the image folder": data}
    check_paths({"--out": out, "--report": report}, folder)
    check_paths(
        {"--out": out, "--report": report}, {"the checkpoint beside --out": checkpoint_path(out)}
    )
    if cache is not None:
        check_output_folder("--cache", cache, folder)


@contextmanager
def _convergence_shown_by_us():
    """Training that runs out of epochs says so in a line of its own, and a column left
    out as an identifier in the table of columns (see :func:`show`), not as warnings."""
    from thalweg.errors import ConvergenceWarning
    from thalweg.models.tabular import IdentifierWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", IdentifierWarning)
        yield


def _output(quiet: bool, json_output: bool):
    from thalweg.cli.display import Output

    return Output(quiet=quiet, json_mode=json_output)


def _flagged(output):
    """The library's lines (the plan...) worded with flags, then printed."""
    from thalweg.cli.flags import as_flags

    return lambda line: output.line(as_flags(line))


def checkpoint_path(out: Path) -> Path:
    """Where Ctrl-C saves the training state: next to the model file."""
    return out.with_name(out.name + ".checkpoint")


def train_and_show(
    table: dict,
    options,
    *,
    source: str,
    fingerprint: str,
    out: Path,
    report: Path | None,
    resume: bool,
    output,
    title: str,
    resumable: bool = True,
) -> int:
    """Train in memory (``thalweg.models.table_training.train_table``) and show it; on
    Ctrl-C (SIGTERM, SIGHUP), say how to resume (or, not ``resumable``, how to start
    again). A checkpoint belongs to its run: one another run saved is never overwritten
    nor deleted (see :func:`~thalweg.models.table_training.checkpoint_for`)."""
    from thalweg.models.table_training import checkpoint_for, settle_checkpoints, train_table
    from thalweg.train import TrainingInterrupted

    command = command_line()
    checkpoint = checkpoint_for(checkpoint_path(out), fingerprint, resume)
    try:
        with _convergence_shown_by_us():
            result = train_table(
                table,
                options,
                source=source,
                checkpoint=checkpoint,
                fingerprint=fingerprint,
                resume=resume,
                verbose=0 if output.quiet else 1,
                on_line=_flagged(output),
            )
    except TrainingInterrupted as interruption:
        return interrupted(interruption, command, resumable)
    show(result, output, out=out, report=report, title=title)
    for line in settle_checkpoints(checkpoint_path(out), checkpoint, resume):
        output.line(line)
    return EXIT_OK


def interrupted(interruption, command: str, resumable: bool) -> int:
    """What to say when training was interrupted; the exit code (128 + the signal)."""
    code = 128 + int(interruption.signal_number)
    checkpoint = interruption.checkpoint
    if checkpoint is None:  # it could not be saved: the interruption says why
        say(str(interruption).split("; resume with")[0])
        return code
    where = f"training interrupted at {interruption.where}"
    if not resumable:  # a quick run: start it again rather than resume it
        Path(checkpoint).unlink(missing_ok=True)
        say(f"{where}; nothing was written: run {command} again")
        return code
    again = command if "--resume" in invocation() else f"{command} --resume"
    say(f"{where}; checkpoint saved to {checkpoint}; resume with: {again}")
    return code


def show(result, output, *, out: Path, report: Path | None, title: str) -> None:
    """Write the model (and report), then print what was learned and measured."""
    from thalweg.cli.flags import as_flags
    from thalweg.cli.recording import record_metrics
    from thalweg.files import write_together
    from thalweg.report import table_model_report

    estimator = result.model.estimator_
    history = getattr(estimator, "history_", None)
    summary = result.summary
    # What became of each column, worded with flags (the model file keeps parameters).
    columns = [{**c, "became": as_flags(c["became"])} for c in summary["columns"] if "became" in c]
    if columns:
        summary = {**summary, "columns": columns}
        output.table("columns", ["column", "became", "inputs"], _column_rows(result, columns))
    if summary["dropped_rows"]:
        output.line(f"dropped {summary['dropped_rows']} row(s) with missing values")
    if history is not None and history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    elif history is not None and len(history):
        if getattr(estimator, "early_stopping", False):
            still = "the validation loss was still improving"
        elif getattr(estimator, "tol", None) is not None:
            still = "the loss had not converged yet"
        else:
            still = None
        if still:
            output.line(f"trained all {len(history)} epochs; {still} (more --epochs may help)")
    if result.balance is not None:
        for line in result.balance.lines():
            output.line(line)
    if result.trained_class_counts:
        counts = result.trained_class_counts
        total = sum(counts.values()) or 1
        mix = ", ".join(f"{k!r} {n / total:.0%}" for k, n in counts.items())
        output.line(f"balanced batches: trained on {total:,} rows over all epochs ({mix})")
    built = None
    if report is not None:  # built before anything is written: if it fails, nothing is
        built = table_model_report(
            result.model,
            result.test,
            title=title,
            summary=summary,
            seconds=result.seconds,
            seed=result.options.seed,
            parts=result.parts,
            target_values=result.target_values,
            trained_class_counts=result.trained_class_counts,
        )
    with write_together():  # the model and the report: both, or neither
        with writing(out, "--out", "the model"):  # disk full, permissions: old file kept
            result.save(out, command_line())
        if built is not None:
            result.written["report"] = write_report(report, built)
    output.metrics(result.test.metrics, f"test metrics ({_test_rows(result)})")
    output.written(result.written)
    record_metrics(result.test.metrics, prefix="test_")
    balance = result.balance
    output.json(
        {
            "command": "train",
            "mode": result.options.mode,
            "task": result.plan.task,
            "task_reason": result.plan.reason,
            "model": type(estimator).__name__,
            "target": result.options.target,
            "rows": summary["rows"],
            "dropped_rows": summary["dropped_rows"],
            "splits": summary["splits"],
            "columns": summary["columns"],
            "held_out": result.held_out,
            "epochs_run": int(getattr(estimator, "n_iter_", 0)),
            "stop_reason": getattr(history, "stop_reason", None),
            "seconds": round(result.seconds, 3),
            "input_balance": {**asdict(balance), "advice": balance.advice} if balance else None,
            "trained_class_counts": result.trained_class_counts,
            "metrics": {"test": result.test.metrics},
            "written": result.written,
        }
    )


def _column_rows(result, columns: list[dict]) -> list[list[str]]:
    """The rows of the table of columns; plain numeric columns, when many, share one."""
    inputs = {entry["name"]: entry["inputs"] for entry in result.model.column_report_}
    rows = [[c["name"], c["became"], str(inputs.get(c["name"], ""))] for c in columns]
    plain = [row for row in rows if row[1] == "number"]
    if len(plain) <= PLAIN_NUMBERS_LISTED:
        return rows
    names = ", ".join(row[0] for row in plain[:3])
    shared = [f"{len(plain)} columns: {names}, …", "number", str(len(plain))]
    return [shared, *(row for row in rows if row[1] != "number")]


def _test_rows(result) -> str:
    if result.held_out is None:
        return f"{result.summary['splits']['test']} rows"
    scored, rows = result.held_out["test_rows_scored"], result.held_out["test_rows"]
    if scored == rows:
        return f"{rows:,} held-out rows"
    return f"{scored:,} of {rows:,} held-out rows, a uniform sample"
