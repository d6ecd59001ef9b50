"""The ``thalweg`` command line: one module per command, registered here.

Each module named in :data:`COMMANDS` defines ``register(app)``, which adds its command
(or a group of them) to the Typer app; a new command is a new module and one more name
in the list. A command parses its options, calls the library and prints through
:class:`~thalweg.cli.display.Output`; it raises errors rather than printing them
(:func:`thalweg.cli.main.main` turns them into one line and exit code 2).
"""

from __future__ import annotations

import importlib

import typer

# The commands, in the order ``thalweg --help`` lists them: modules of thalweg.cli.
COMMANDS = [
    "train",
    "cluster",
    "embed",
    "train_detector",
    "profile_input",
    "evaluate",
    "predict",
    "detect",
    "inspect_model",
    "demo",
    "datasets",
    "runs",
    "serve",
    "skew",
    "labels",
    "playground",
    "profile_model",
    "export_model",
]


def build_app() -> typer.Typer:
    """The Typer app with every command of :data:`COMMANDS` registered."""
    app = typer.Typer(
        name="thalweg",
        help=(
            "Machine learning built on gradient descent: train a model on a CSV, Parquet or "
            "NPZ file, evaluate it, predict with it, and read its HTML report."
        ),
        epilog=(
            "Start here:  thalweg demo   (trains on the Playground spiral, writes a report)."
            "\n\nThen:  thalweg datasets export wine wine.csv && thalweg train wine.csv "
            "--target target"
        ),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in COMMANDS:
        importlib.import_module(f"thalweg.cli.{name}").register(app)
    return app
