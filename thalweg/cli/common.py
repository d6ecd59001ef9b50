"""What the commands share: common options, example epilogs, output checks, reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from thalweg.cli.main import UserError

QUIET = typer.Option("--quiet", "-q", help="Print nothing but errors and warnings.")
JSON = typer.Option("--json", help="Print one JSON summary on standard output, nothing else.")


def example(*lines: str) -> str:
    """A command's help epilog: ``Example:`` and the command lines."""
    return "Example:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


def check_output(path: Path, option: str, data: Path | None = None) -> None:
    """Fail before working, not after, when an output cannot be written."""
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name, e.g. {path / 'out'}")
    if data is not None and path.resolve() == Path(data).resolve():
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

    try:
        return Path(write(path, report))
    except OSError as error:
        raise UserError(
            f"cannot write the report {path} ({error.strerror}); choose another --report"
        ) from None


def say(line: str) -> None:
    """One line on standard error."""
    print(line, file=sys.stderr, flush=True)
