"""What the commands share: common options, example epilogs, output checks, reports."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import typer

from thalweg.cli import options as parse
from thalweg.cli.main import UserError, invocation

QUIET = typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")
JSON = typer.Option("--json", help="Print one JSON summary on standard output, nothing else.")
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


def check_output(path: Path, option: str, data=None) -> None:
    """Fail before working, not after, when an output cannot be written (``data``: the
    input, a local ``Path`` or a URL, which an output must not overwrite)."""
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name, e.g. {path / 'out'}")
    if isinstance(data, Path) and path.resolve() == data.resolve():
        raise UserError(f"{option} {path} is the input data file; choose another name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # atomic_write creates missing folders below this one
    if not os.access(folder, os.W_OK):
        raise UserError(
            f"cannot write {option} {path}: {folder} is not writable; choose another path"
        )


def write_report(path: Path, report) -> Path:
    """Write an HTML report (``thalweg.report.write_report``), or one line why not."""
    from thalweg.report import write_report as write

    return write_report_with(write, path, report)


def write_report_with(writer, path: Path, report) -> Path:
    """``writer(path, report)`` (a report module's ``write_...``), or one line why not."""
    try:
        return Path(writer(path, report))
    except OSError as error:
        raise UserError(
            f"cannot write the report {path} ({error.strerror}); choose another --report"
        ) from None


def say(line: str) -> None:
    """One line on standard error."""
    print(line, file=sys.stderr, flush=True)
