"""``thalweg embed``: an autoencoder trained on a table; every row's code and its
reconstruction error, as CSV.

The work is :func:`thalweg.models.table_clustering.embed_table`'s: the columns are
prepared as for ``thalweg train`` and an :class:`~thalweg.models.Autoencoder` learns to
rebuild them through a code of ``--code-size`` numbers. The output has one row per input
row: ``code_0``, ``code_1``, … and ``reconstruction_error`` (mean squared error of the
rebuilt row, in standard deviations: large for rows unlike the others).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated, Literal

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import (
    CATEGORICAL,
    ENCODING,
    KEEP,
    QUIET,
    check_paths,
    command_line,
    example,
    say,
    writing,
)
from thalweg.cli.main import EXIT_OK

Activation = Literal["relu", "tanh", "sigmoid", "linear"]
Missing = Literal["error", "drop", "mean"]
Unknown = Literal["other", "error"]


def register(app: typer.Typer) -> None:
    app.command(
        epilog=example(
            "thalweg embed wine.csv --ignore target --code-size 2 -o codes.csv",
            "thalweg embed transactions.csv --ignore id --save coder.thalweg -o scores.csv",
            "thalweg predict coder.thalweg new-transactions.csv -o new-scores.csv",
        )
    )(embed)


def embed(
    data: Annotated[
        str,
        typer.Argument(
            callback=parse.data_path,
            help="CSV, Parquet or NPZ file (or an s3://, gs://, https://... URL), one row per "
            "example.",
        ),
    ],
    code_size: Annotated[
        int, typer.Option(min=1, help="Numbers in each row's code (2 to plot them).")
    ] = 2,
    hidden: Annotated[
        str | None,
        typer.Option(
            callback=parse.hidden_layers,
            help="Widths of the encoder's hidden layers (the decoder mirrors them), e.g. 64.",
        ),
    ] = None,
    activation: Annotated[Activation, typer.Option(help="Nonlinearity between layers.")] = "relu",
    epochs: Annotated[
        int,
        typer.Option(
            min=1,
            help="Most passes over the rows (training stops sooner once the error settles).",
        ),
    ] = 1000,
    noise: Annotated[
        float,
        typer.Option(
            min=0.0, help="Gaussian noise on the inputs while training (a denoising autoencoder)."
        ),
    ] = 0.0,
    ignore: Annotated[
        str | None,
        typer.Option(callback=parse.column_names, help="Columns to leave out, e.g. id,target."),
    ] = None,
    categorical: Annotated[str | None, CATEGORICAL] = None,
    keep: Annotated[str | None, KEEP] = None,
    missing: Annotated[
        Missing,
        typer.Option(help="Missing values: error, drop (those rows get empty codes) or mean."),
    ] = "error",
    unknown: Annotated[
        Unknown, typer.Option(help="A category unseen in training, at predict time.")
    ] = "other",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the initialisation and shuffling.")] = 0,
    output_path: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="CSV file to write (default: standard output)."),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option(help="Also write the trained model file ('thalweg predict' reuses it)."),
    ] = None,
    encoding: Annotated[str, ENCODING] = "utf-8",
    quiet: Annotated[bool, QUIET] = False,
) -> int:
    """Train an autoencoder on a table; write each row's code and reconstruction error.

    The code is a short description of the row that the network learned to rebuild it
    from; the reconstruction error is large for rows unlike the others (an anomaly
    score). Columns are prepared as for 'thalweg train' and standardized.
    """
    from thalweg.cli.display import Output
    from thalweg.cli.recording import record_metrics
    from thalweg.errors import ConvergenceWarning
    from thalweg.files import write_together
    from thalweg.io import read_table, table_to_csv, write_csv
    from thalweg.models.table_clustering import embed_table

    check_paths({"--output": output_path, "--save": save}, {"the data file": data})
    # With the codes on standard output, progress and notes go nowhere near it.
    output = Output(quiet=quiet or output_path is None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = embed_table(
            read_table(data, encoding),
            code_size=code_size,
            hidden=hidden or (64,),
            activation=activation,
            max_epochs=epochs,
            noise=noise,
            ignore=ignore or (),
            categorical=categorical or (),
            keep=keep or (),
            missing=missing,
            unknown=unknown,
            random_state=seed,
            verbose=0 if quiet or output_path is None else 1,
        )
    estimator = result.model.estimator_
    record_metrics(result.metrics())  # on the run of thalweg runs, when recorded
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        say(
            f"warning: training stopped at the epoch limit ({estimator.n_iter_} epochs) before "
            "the reconstruction error settled; raise --epochs to train longer"
        )
    for other in caught:  # anything else goes out as the command line shows warnings
        if not issubclass(other.category, ConvergenceWarning):
            warnings.warn(other.message, other.category, stacklevel=1)
    output.line(
        f"trained an autoencoder on {result.summary['rows']:,} rows: code of {code_size}, "
        f"{estimator.n_iter_} epochs, reconstruction error {estimator.loss_:.4g}"
    )
    with write_together():  # the model and the codes: both, or neither
        if save is not None:
            with writing(save, "--save", "the model"):
                result.save(save, command_line())
        if output_path is not None:
            with writing(output_path, "-o"):
                write_csv(output_path, result.table)
    if save is not None:
        output.line(f"wrote model: {save}")
    if output_path is None:
        for chunk in table_to_csv(result.table):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        return EXIT_OK
    output.line(f"wrote codes and reconstruction errors: {output_path}")
    return EXIT_OK
