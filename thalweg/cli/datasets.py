"""``thalweg datasets``: the bundled datasets and generators, listed or exported as CSV."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.common import JSON, check_paths, example
from thalweg.cli.main import EXIT_OK, UserError


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="List the bundled datasets and generators, or export one as CSV.",
        no_args_is_help=False,
        invoke_without_command=True,
        epilog=example(
            "thalweg datasets", "thalweg datasets export wine wine.csv", "thalweg datasets --json"
        ),
    )
    group.callback(invoke_without_command=True)(datasets)
    group.command(
        "export",
        epilog=example(
            "thalweg datasets export wine wine.csv",
            "thalweg datasets export spiral spiral.csv --n 1000 --noise 0.2",
            "thalweg datasets export faces-scenes scenes/ --n 1000",
            "thalweg datasets export faces-scenes held-out/ --n 500 --part test --seed 1",
        ),
    )(export)
    app.add_typer(group, name="datasets")


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


def export(
    name: Annotated[str, typer.Argument(help="Dataset name (see 'thalweg datasets').")],
    out: Annotated[Path, typer.Argument(help="CSV file to write (a folder for images).")],
    n: Annotated[
        int | None,
        typer.Option("--n", min=2, help="Rows (generators only); scenes of a detection dataset."),
    ] = None,
    noise: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Noise 0-1 (generators only).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed (generators only; default 0).")
    ] = None,
    part: Annotated[
        str | None,
        typer.Option(
            help="faces-scenes only: the photographs pasted, train (the first 80 faces and "
            "clutter patches), test (the other 20: faces no train scene shows) or all.",
            show_default="all",
        ),
    ] = None,
) -> int:
    """Write a dataset as CSV: its feature columns, then a 'target' column. An image
    dataset is written as a folder of PNG files, one sub-folder per class; a detection
    dataset (faces-scenes, scenes) as a folder of PNG scenes and their boxes.csv."""
    from thalweg.cli.display import Output
    from thalweg.datasets import (
        dataset_key,
        export_images,
        is_detection_dataset,
        is_image_dataset,
        load_table,
    )
    from thalweg.io import write_csv

    options = {k: v for k, v in {"n": n, "noise": noise, "seed": seed}.items() if v is not None}
    if part is not None:
        if dataset_key(name) != "faces_scenes":
            raise UserError(f"--part is for faces-scenes only; {name} has no parts")
        options["part"] = part
    if is_image_dataset(name):
        from thalweg.files import check_output_folder

        check_output_folder("OUT", out)
        try:
            count = export_images(name, out, **options)
        except OSError as error:  # disk full, a folder made meanwhile: nothing was left
            raise UserError(
                f"cannot write {out} ({error.strerror or error}); choose another folder"
            ) from None
        folder = shlex.quote(str(out))
        if is_detection_dataset(name):
            boxes = shlex.quote(str(Path(out) / "boxes.csv"))
            Output().line(
                f"wrote {out}: {count} scenes and {Path(out) / 'boxes.csv'} "
                f"(try: thalweg train-detector {folder} --boxes {boxes})"
            )
        else:
            Output().line(
                f"wrote {out}: {count} images in class folders (try: thalweg train {folder})"
            )
        return EXIT_OK
    check_paths({"OUT": out})
    table = load_table(name, **options)
    try:
        write_csv(out, table)
    except OSError as error:
        raise UserError(f"cannot write {out} ({error.strerror}); choose another path") from None
    Output().line(
        f"wrote {out}: {len(table['target'])} rows, {len(table) - 1} features and a 'target' "
        "column "
        f"(try: thalweg train {shlex.quote(str(out))} --target target)"
    )
    return EXIT_OK
