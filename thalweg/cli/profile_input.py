"""``thalweg profile-input``: how fast ``train --stream``'s input makes batches, no model.

The measurement and the advice are :mod:`thalweg.data.stream_profile`'s.
"""

from __future__ import annotations

from typing import Annotated

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import JSON, example
from thalweg.cli.main import EXIT_OK


def register(app: typer.Typer) -> None:
    app.command(
        "profile-input",
        epilog=example(
            "thalweg profile-input big.parquet --target y",
            "thalweg profile-input big.parquet --target y --batch-size 1024 --batches 500 --json",
        ),
    )(profile_input)


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
            min=1, help="Batches to read (default: 50, or enough to fill the buffer 8 times)."
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
    from thalweg.cli.display import Output
    from thalweg.cli.flags import as_flags
    from thalweg.data import stream_profile
    from thalweg.data.schema import column_types, data_files
    from thalweg.models.auto import STREAM_BATCH, TrainOptions
    from thalweg.models.table_training import numeric_features

    options = TrainOptions(
        target=target,
        ignore=ignore,
        seed=seed,
        stream=True,
        batch_size=batch_size,
        shuffle_buffer=shuffle_buffer,
    )
    files = data_files(data)
    features = numeric_features(column_types(files[0]), options)
    measured, stored, tips = stream_profile.profile_stream(
        files,
        target,
        features,
        batch_size=batch_size or STREAM_BATCH,
        shuffle_buffer=options.shuffle_rows(),
        batches=batches,
        seed=seed,
    )
    tips = [as_flags(tip) for tip in tips]  # the library's stream=True is --stream here
    output = Output(json_mode=json_output)
    for line in stream_profile.describe(measured):
        output.line(line)
    for tip in tips:
        output.line(f"- {tip}")
    output.json(stream_profile.as_json(measured, stored, tips, data))
    return EXIT_OK
