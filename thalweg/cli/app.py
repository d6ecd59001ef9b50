"""The ``thalweg`` command line: one module per command, registered here.

Each module named in :data:`COMMANDS` defines ``register(app)``, which adds its command
(or a group of them) to the Typer app; a new command is a new module and one more name
in the list. A command parses its options, calls the library and prints through
:class:`~thalweg.cli.display.Output`; it raises errors rather than printing them
(:func:`thalweg.cli.main.main` turns them into one line and exit code 2).
"""

from __future__ import annotations

import importlib
import inspect

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


HELP_OPTION_NAMES = ["-h", "--help"]


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
        context_settings={"help_option_names": HELP_OPTION_NAMES},
    )
    for name in COMMANDS:
        importlib.import_module(f"thalweg.cli.{name}").register(app)
    _unwrap_help(app)
    return app


def unwrapped(text: str | None) -> str | None:
    """Help text with each paragraph on one line (paragraphs stay apart).

    Typer shows a docstring's single line breaks as they are, so a paragraph wrapped at
    88 columns in the source breaks mid-sentence in any other terminal width; joined,
    Rich wraps it to the terminal.

    >>> print(unwrapped("Train a model\\non a table.\\n\\nSee docs."))
    Train a model on a table.
    <BLANKLINE>
    See docs.
    """
    if not isinstance(text, str):
        return text  # None, or Typer's placeholder for "not given"
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _unwrap_help(app: typer.Typer) -> None:
    """:func:`unwrapped` help for every command and group of ``app``, sub-commands too."""
    for info in app.registered_commands:
        info.help = unwrapped(info.help or inspect.getdoc(info.callback))
    for group in app.registered_groups:
        inner = group.typer_instance
        group.help = unwrapped(group.help)
        inner.info.help = unwrapped(inner.info.help)
        callback = inner.registered_callback
        if callback is not None:
            callback.help = unwrapped(callback.help or inspect.getdoc(callback.callback))
        _unwrap_help(inner)


def hide_flag_types(command) -> None:
    """No ``<bool>`` beside ``--quiet``, ``--json``, ``--help`` and the other flags in
    ``--help``: a flag takes no value, and a type there reads as if it wanted one.

    ``command`` is the Click command built from the app (``typer.main.get_command``);
    its sub-commands are tidied too.
    """
    # The help option is made on first use and kept: make it now, to tidy it too.
    context = command.context_class(command, help_option_names=HELP_OPTION_NAMES)
    for param in [*command.params, command.get_help_option(context)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        hide_flag_types(sub)
