"""The ``thalweg`` commands: train, profile-input, evaluate, predict, inspect, demo, datasets.

Each command function parses its options (Typer), calls the workflow modules beside
this one, and prints through :class:`~thalweg.cli.display.Output`. Errors are raised,
never printed here: :func:`thalweg.cli.main.main` turns them into one line and exit 2.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import typer

from thalweg.cli import options as parse
from thalweg.cli.main import EXIT_OK, UserError, invocation
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

QUIET = typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")
ENCODING = typer.Option(
    "--encoding",
    help="Text encoding of a CSV/TSV file: utf-8 (default), latin-1, cp1252, ...",
    show_default=False,
)
JSON = typer.Option("--json", help="Print one JSON summary on standard output, nothing else.")


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
    data: Annotated[Path, typer.Argument(help="CSV, Parquet or NPZ file, one row per example.")],
    target: Annotated[str, typer.Option("--target", "-t", help="The column to predict.")],
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
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Train a model on a table and write it (with its preprocessing) to one file.

    Shows a progress bar per epoch, then the test-split metrics and the files written.
    Ctrl-C saves a checkpoint; run the same command with --resume to continue.
    With --stream or --dask the file is never loaded whole (see docs/cli.md).
    """
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
    )
    check_options(options, scale, resume=resume)
    _check_paths({"--out": out, "--report": report}, {"the data file": data}, out)
    if stream or dask is not None:
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise UserError(
                "--encoding applies when the file is read whole; --stream and --dask read "
                "UTF-8 only: convert the file to UTF-8 (or to Parquet) first"
            )
        return _train_at_scale_and_show(
            data, options, scale, out=out, report=report, quiet=quiet, json_output=json_output
        )
    table = read_table(data, encoding=encoding)
    return _train_and_show(
        table,
        options,
        source=str(data),
        data_identity=file_identity(data),
        out=out,
        report=report,
        resume=resume,
        quiet=quiet,
        json_output=json_output,
        title=f"{Path(data).name}: predicting {target}",
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
    from thalweg.cli.training import settle_checkpoint, write_model
    from thalweg.cli.training import train as run_training
    from thalweg.files import write_together
    from thalweg.train import TrainingInterrupted

    output = Output(quiet=quiet, json_mode=json_output)
    command = shlex.join(["thalweg", *invocation()])
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
        return _interrupted(interruption, command, resumable)

    if result.model.n_dropped_ or result.summary["dropped_rows"]:
        output.line(f"dropped {result.summary['dropped_rows']} row(s) with missing values")
    history = getattr(result.model.estimator_, "history_", None)
    if history is not None and history.stop_reason:
        output.line(f"stopped after {len(history)} epochs: {history.stop_reason}")
    built = None
    if report is not None:  # built before anything is written: if it fails, nothing is
        built = reporting.report_input(
            result.model,
            result.test,
            title=title,
            summary=result.summary,
            seconds=result.seconds,
            seed=options.seed,
            parts=result.parts,
            target_values=result.all_labels,
        )
    with write_together():  # the model and the report: both, or neither
        write_model(result, out)
        if built is not None:
            result.written["report"] = _write_report(report, built)
    for line in settle_checkpoint(result, out):
        output.line(line)
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
            "metrics": {"test": result.test.metrics},
            "written": result.written,
        }
    )
    return EXIT_OK


def _interrupted(interruption, command: str, resumable: bool) -> int:
    """What to say when training was interrupted; the exit code (128 + the signal)."""
    where = f"training interrupted at {interruption.where}" if interruption.where else ""
    code = 128 + int(interruption.signal_number)
    checkpoint = interruption.checkpoint
    if checkpoint is None:  # it could not be saved: the interruption says why
        _say(str(interruption).split("; resume with")[0])
        return code
    if not resumable:  # the demo is quick: start it again rather than resume it
        Path(checkpoint).unlink(missing_ok=True)
        _say(f"{where}; nothing was written: run {command} again")
        return code
    again = command if "--resume" in invocation() else f"{command} --resume"
    _say(f"{where}; checkpoint saved to {checkpoint}; resume with: {again}")
    return code


def _train_at_scale_and_show(
    data: Path, options, scale, *, out: Path, report: Path | None, quiet: bool, json_output: bool
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
    from thalweg.files import write_together

    held_out = result.held_out
    scored, test_rows = held_out["test_rows_scored"], held_out["test_rows"]
    built = None
    if report is not None:  # built before anything is written: if it fails, nothing is
        table, labels = result.test_rows
        built = reporting.report_input(
            result.model,
            result.test,
            title=f"{Path(data).name}: predicting {options.target}",
            summary=result.summary,
            seconds=result.seconds,
            seed=options.seed,
            parts={"test": (table, labels)},
            target_values=labels,
        )
    with write_together():  # the model and the report: both, or neither
        scaled.save(result, out, options, scale, shlex.join(["thalweg", *invocation()]))
        if built is not None:
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


def _check_paths(outputs: dict, inputs: dict, out: Path | None = None) -> None:
    """Before any work: every output can be written, and none is an input (compared by
    resolved path and by file identity: see :func:`thalweg.files.check_outputs`).

    ``out``, for a command that trains, adds the checkpoints beside it to the inputs.
    """
    from thalweg.files import check_outputs
    from thalweg.tracking import active_run

    run = active_run()
    if run is not None:  # the run store this command records into is an input too
        inputs = {**inputs, "the run store": run.store.path}
    check_outputs(outputs, inputs)  # first: --out itself is a file name
    if out is not None:
        from thalweg.cli.training import checkpoint_path

        check_outputs(outputs, {**inputs, "the checkpoint beside --out": checkpoint_path(out)})


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

    from thalweg.terminal import printable

    print(printable(line), file=sys.stderr, flush=True)


# -------------------------------------------------------------------- profile-input


@app.command(
    "profile-input",
    epilog=_example(
        "thalweg profile-input big.parquet --target y",
        "thalweg profile-input big.parquet --target y --batch-size 1024 --batches 500 --json",
    ),
)
def profile_input(
    data: Annotated[Path, typer.Argument(help="Parquet or CSV file, or a folder of them.")],
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
    seed: Annotated[int, typer.Option(min=0, help="Seed of the reading order.")] = 0,
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
    )
)
def evaluate(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[Path, typer.Argument(help="Labelled data with the model's target column.")],
    report: Annotated[Path | None, typer.Option(help="HTML report to write.")] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Measure a trained model on new labelled data (same columns, target included)."""
    from thalweg.cli import reporting
    from thalweg.cli.display import Output
    from thalweg.cli.scoring import score
    from thalweg.io import read_table
    from thalweg.models.tabular import TabularModel, missing_mask, target_values

    _check_paths({"--report": report}, {"the model file": model_file, "the data file": data})
    model = TabularModel.load(model_file)
    table = read_table(data, encoding=encoding)
    target = model.target_
    if target not in table:
        raise DataError(
            f"{data} has no column {target!r}, the target the model predicts; its columns are: "
            f"{', '.join(table)} (to predict without targets, use thalweg predict)"
        )
    # Labels read the way training read them: a model whose classes are text takes
    # "1", "2", "x" as text labels.
    text_classes = model.is_classifier and model.classes_.dtype.kind in "OUS"
    labels = target_values(
        target, table[target], model.is_classifier, labels_from_text=text_classes
    )
    keep = ~missing_mask(labels)
    if model.missing == "drop":
        keep &= model.complete_rows(table)
    if not keep.any():
        raise DataError(f"{data} has no row with a target and all the model's columns filled in")
    rows = {name: values[keep] for name, values in table.items()}
    labels = np.asarray(labels[keep].tolist()) if labels.dtype == object else labels[keep]
    scores = score(model, rows, labels)

    output = Output(quiet=quiet, json_mode=json_output)
    skipped = int((~keep).sum())
    output.line(
        f"evaluated {int(keep.sum())} rows of {data}"
        + (f" ({skipped} skipped: missing values)" if skipped else "")
    )
    for note in scores.notes:
        _say(f"warning: {note}")
    output.metrics(scores.metrics, f"metrics on {Path(data).name}")
    record_metrics(scores.metrics)
    written = {}
    if report is not None:
        training = model.metadata_.get("training", {})
        summary = {
            "source": str(data),
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
            title=f"{Path(data).name}: evaluating {Path(model_file).name}",
            summary=summary,
            seconds=float(training.get("seconds", 0.0)),
            seed=training.get("seed"),
            split_name=Path(data).name,
            parts={"test": (rows, labels)},
            target_values=labels,
        )
        written["report"] = _write_report(report, built)
    output.written(written)
    output.json(
        {
            "command": "evaluate",
            "model": str(model_file),
            "data": str(data),
            "rows": int(keep.sum()),
            "skipped_rows": skipped,
            "metrics": scores.metrics,
            "notes": scores.notes,
            "written": written,
        }
    )
    return EXIT_OK


# -------------------------------------------------------------------------- predict


@app.command(
    epilog=_example(
        "thalweg predict model.thalweg wine.csv -o predictions.csv",
        "thalweg predict model.thalweg wine.csv | head",
    )
)
def predict(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[Path, typer.Argument(help="Rows to predict; columns are matched by name.")],
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="CSV file to write (default: standard output)."),
    ] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
) -> int:
    """Predict each row of a table with exactly the preprocessing the model trained with.

    Writes a CSV with a 'prediction' column and, for classifiers, one probability
    column per class. Extra columns in the data are ignored; a missing one is an error.
    """
    from thalweg.cli.display import Output
    from thalweg.io import read_table, table_to_csv, write_csv
    from thalweg.models.tabular import TabularModel

    _check_paths({"--output": output_path}, {"the model file": model_file, "the data file": data})
    model = TabularModel.load(model_file)
    table = read_table(data, encoding=encoding)
    n = len(next(iter(table.values())))
    keep = model.complete_rows(table) if model.missing == "drop" else np.ones(n, dtype=bool)
    rows = table if keep.all() else {name: values[keep] for name, values in table.items()}
    features = model.transform(rows)
    predictions = {}
    predicted = model.estimator_.predict(features)
    column = np.full(n, None, dtype=object) if model.is_classifier else np.full(n, np.nan)
    column[keep] = predicted.tolist() if model.is_classifier else predicted
    predictions["prediction"] = column
    if model.is_classifier:
        probabilities = model.estimator_.predict_proba(features)
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

        from thalweg.terminal import printable

        # On a terminal the CSV is read by a person: labels from the file are shown
        # escaped. Into a pipe or a file it goes as it is (it is data).
        on_terminal = sys.stdout.isatty()
        for chunk in table_to_csv(predictions):
            if on_terminal:
                chunk = "\n".join(printable(line) for line in chunk.split("\n"))
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
    from thalweg.cli import inspection
    from thalweg.cli.display import Output
    from thalweg.models.tabular import TabularModel

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
    _check_paths({"--out-dir": out, "the report": report}, {})
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
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    n: Annotated[int | None, typer.Option("--n", min=2, help="Rows (generators only).")] = None,
    noise: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Noise 0-1 (generators only).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (generators only; default 0).")
    ] = None,
) -> int:
    """Write a dataset as CSV: its feature columns, then a 'target' column."""
    from thalweg.cli.display import Output
    from thalweg.datasets import list_datasets, load
    from thalweg.io import write_csv

    _check_paths({"OUT": out}, {})
    info = {d.name: d for d in list_datasets()}.get(options_name(name))
    kwargs = {k: v for k, v in {"n": n, "noise": noise, "seed": seed}.items() if v is not None}
    if info is not None and info.source == "generator":
        kwargs.setdefault("seed", 0)  # the same file every time unless asked otherwise
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
