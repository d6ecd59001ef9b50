"""``thalweg predict``: a prediction for every row of a table, as CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli import options as parse
from thalweg.cli.common import ENCODING, THRESHOLD, check_paths, example, say
from thalweg.cli.main import EXIT_OK, UserError


def register(app: typer.Typer) -> None:
    app.command(
        epilog=example(
            "thalweg predict model.thalweg wine.csv -o predictions.csv",
            "thalweg predict model.thalweg wine.csv | head",
            "thalweg predict model.thalweg cancer.csv --threshold 0.3 -o flagged.csv",
        )
    )(predict)


def predict(
    model_file: Annotated[
        Path,
        typer.Argument(help="A model file written by thalweg train, cluster, or embed --save."),
    ],
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
    encoding: Annotated[str, ENCODING] = "utf-8",
) -> int:
    """Predict each row of a table with exactly the preprocessing the model trained with.

    Writes a CSV with a 'prediction' column and, for classifiers, one probability
    column per class; for a clustering model (thalweg cluster) a 'cluster' column; for
    an autoencoder (thalweg embed) its code columns and 'reconstruction_error'. Extra
    columns in the data are ignored; a missing one is an error. For an image model DATA
    is an image or a folder of them (searched recursively), and each row starts with the
    image's path.
    """
    from thalweg.cli import images

    check_paths(
        {"--output": output_path}, {"the model file": model_file, images.input_name(data): data}
    )
    images.refuse_detector(model_file, "thalweg predict")
    if images.is_image_model(model_file):
        if threshold is not None:
            raise UserError("--threshold is for table models; an image model predicts classes")
        return images.predict(model_file, data, output_path)
    from thalweg.cli.display import Output
    from thalweg.data.columns import missing_mask
    from thalweg.io import read_table, table_to_csv, write_csv
    from thalweg.models.tabular import TabularModel

    model = TabularModel.load(model_file)
    model.check_threshold(threshold)  # before reading the data
    predictions = model.prediction_table(read_table(data, encoding), threshold=threshold)
    first = next(iter(predictions.values()))  # "prediction", "cluster" or "code_0"
    empty = int(missing_mask(first).sum())
    if empty:
        say(
            f"warning: {empty} row(s) have missing values and the model was trained with "
            "--missing drop; their predictions are left empty"
        )
    if output_path is None:
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
    Output().line(f"wrote predictions: {output_path} ({len(first)} rows)")
    return EXIT_OK
