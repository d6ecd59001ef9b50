"""What the commands share: common options, example epilogs, output checks, reports."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from thalweg.cli import options as parse
from thalweg.cli.main import UserError, invocation

QUIET = typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")
JSON = typer.Option("--json", help="Print one JSON summary on standard output, nothing else.")
ENCODING = typer.Option(
    "--encoding",
    help="Text encoding of a CSV/TSV file: utf-8 (default), latin-1, cp1252, ...",
    show_default=False,
)
# Column options shared by the commands that prepare a table without a target.
CATEGORICAL = typer.Option(
    callback=parse.column_names, help="Columns to one-hot encode even if numeric."
)
KEEP = typer.Option(
    callback=parse.column_names,
    help="Columns to use even when they look like identifiers (left out otherwise).",
)
THRESHOLD = typer.Option(
    callback=parse.threshold,
    help="Two-class models: predict the second class when its probability is at least "
    "this (default: the most probable class, i.e. 0.5).",
    show_default=False,
)


def example(*lines: str) -> str:
    """A command's help epilog: ``Example:`` and the command lines."""
    return "Example:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


def command_line() -> str:
    """The command as typed, for model files and messages: URLs redacted (a password or
    a signed query in a data URL must not reach a file or a terminal log)."""
    from thalweg.data.filesystems import redact

    return shlex.join(["thalweg", *(redact(argument) for argument in invocation())])


def check_paths(outputs: dict, inputs: dict | None = None) -> None:
    """Before any work: every output can be written, and none is an input.

    ``outputs``: option -> path (None: not written); ``inputs``: description -> a local
    ``Path`` (URLs and None are skipped). Outputs are compared with inputs by resolved
    path and by file identity (links count), and with the run store this command records
    into; a folder, a device, a FIFO, a path below a file or in an unwritable folder is
    refused (see :func:`thalweg.files.check_outputs`).
    """
    from thalweg.files import check_outputs
    from thalweg.tracking import active_run

    local = {what: path for what, path in (inputs or {}).items() if isinstance(path, Path)}
    run = active_run()
    if run is not None:
        local["the run store"] = run.store.path
    check_outputs(outputs, local)


def check_output(path: Path, option: str, data=None) -> None:
    """:func:`check_paths` for one output (``data``: the input, a local ``Path`` or a
    URL, which the output must not overwrite)."""
    check_paths({option: path}, {"the data file": data})


@contextmanager
def writing(path, option: str, what: str = "") -> Iterator[None]:
    """Turn a failed write of ``path`` (disk full, no permission, a folder in the way)
    into one line that names the file and the option to change; writes are atomic, so
    a file already there is left as it was.

    >>> with writing("out/model.thalweg", "--out", "the model"):
    ...     raise PermissionError(13, "Permission denied")
    Traceback (most recent call last):
    ...
    thalweg.cli.main.UserError: cannot write the model out/model.thalweg (Permission \
denied); any file already there is unchanged: free some space or choose another --out
    """
    try:
        yield
    except OSError as error:
        raise UserError(
            f"cannot write {what + ' ' if what else ''}{path} ({error.strerror or error}); "
            f"any file already there is unchanged: free some space or choose another {option}"
        ) from None


def write_report(path: Path, report) -> Path:
    """Write an HTML report (``thalweg.report.write_report``), or one line why not."""
    from thalweg.report import write_report as write

    return write_report_with(write, path, report)


def write_report_with(writer, path: Path, report) -> Path:
    """``writer(path, report)`` (a report module's ``write_...``), or one line why not."""
    with writing(path, "--report", "the report"):
        return Path(writer(path, report))


def say(line: str) -> None:
    """One line on standard error (escaped: it may quote text from a file)."""
    from thalweg.terminal import printable

    print(printable(line), file=sys.stderr, flush=True)
