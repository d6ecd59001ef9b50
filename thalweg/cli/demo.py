"""``thalweg demo``: a bundled dataset and training settings that show it off.

The default is the TensorFlow Playground's spiral: two interleaved arms that no straight
line separates. A network with two hidden layers of 16 ReLU units, trained with Adam on
mini-batches, learns it (test accuracy about 0.99) in a few seconds. The other
Playground generators get the same network; the bundled tables get ``--model auto``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.common import JSON, QUIET, check_paths, example

# Enough points for the spiral's arms to be learnable, a little noise so it is not trivial.
GENERATOR_DATA = {"n": 600, "noise": 0.1, "seed": 0}
NETWORK = {
    "model": "mlp",
    "hidden": (16, 16),
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.01,
    "batch_size": 32,
    "epochs": 300,
}


def register(app: typer.Typer) -> None:
    app.command(epilog=example("thalweg demo", "thalweg demo xor --out-dir xor-demo"))(demo)


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
    from thalweg.cli.display import Output
    from thalweg.cli.train import train_and_show
    from thalweg.datasets import dataset_key
    from thalweg.models.table_training import data_fingerprint

    table, options, source = recipe(name)
    out, report = out_dir / f"{dataset_key(name)}.thalweg", out_dir / "report.html"
    check_paths({"--out-dir": out, "the report": report})
    return train_and_show(
        table,
        options,
        source=source,
        fingerprint=data_fingerprint(source, options),
        out=out,
        report=report,
        resume=False,
        output=Output(quiet=quiet, json_mode=json_output),
        title=f"thalweg demo: {source}",
        resumable=False,
    )


def recipe(name: str):
    """``(table, options, source)`` for the demo on dataset ``name``."""
    from thalweg.datasets import dataset_key, list_datasets, load_table
    from thalweg.errors import DataError
    from thalweg.models.auto import TrainOptions

    key = dataset_key(name)
    infos = {d.name: d for d in list_datasets()}
    if key not in infos:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(infos)}")
    if infos[key].source == "generator":
        n, noise = GENERATOR_DATA["n"], GENERATOR_DATA["noise"]
        source = f"{key} (thalweg generator, n={n}, noise={noise})"
        return load_table(key, **GENERATOR_DATA), TrainOptions(target="target", **NETWORK), source
    return load_table(key), TrainOptions(target="target"), f"{key} (bundled with thalweg)"
