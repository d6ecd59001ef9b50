"""What commands print: Rich tables for people, JSON for programs, nothing when quiet.

Human output goes to standard output through a Rich console (plain text when it is
not a terminal). With ``--json`` the only thing on standard output is one JSON
document; with ``--quiet`` nothing is printed but errors and warnings (on standard
error).

Every string printed here may hold text from a file (column names, labels, metadata),
so each goes through :mod:`thalweg.terminal` first: control characters and escape
sequences are shown escaped, and Rich markup in table cells is shown as written.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from thalweg.metrics.summary import BETTER, METRIC_NAMES
from thalweg.terminal import printable, rich_text


def format_number(value) -> str:
    """Four significant digits, the way a metric is read."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


def to_json(value):
    """``json.dumps`` default: NumPy scalars and arrays, paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class Output:
    """Where one command's words go."""

    def __init__(self, quiet: bool = False, json_mode: bool = False):
        from rich.console import Console

        self.quiet = quiet
        self.json_mode = json_mode
        # soft_wrap: long lines (paths, column lists) are not cut at the terminal width
        # emoji=False: ":smile:" in a column name is text, not an emoji
        self.console = Console(highlight=False, soft_wrap=True, emoji=False)
        if not self.console.is_terminal:
            self.console.width = 120  # piped or logged: room for tables, no terminal to fit

    @property
    def human(self) -> bool:
        """Whether to print for people (not quiet, not JSON)."""
        return not (self.quiet or self.json_mode)

    def line(self, text: str) -> None:
        """One plain line (no Rich markup is interpreted in it)."""
        if self.human:
            self.console.print(printable(text), markup=False)
            self.console.file.flush()

    def metrics(self, metrics: dict, title: str) -> None:
        """A table of metrics: name, value, which way is better."""
        if not self.human:
            return
        from rich.table import Table

        table = Table(title=rich_text(title), title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        table.add_column("better", style="dim")
        for name, value in metrics.items():
            table.add_row(
                rich_text(METRIC_NAMES.get(name, name)),
                rich_text(format_number(value)),
                BETTER.get(name, ""),
            )
        self.console.print(table)

    def rows(self, title: str, rows: list[tuple[str, str]]) -> None:
        """A two-column table of labelled values."""
        if not self.human:
            return
        from rich.table import Table

        table = Table(title=rich_text(title), title_justify="left", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for label, value in rows:
            table.add_row(rich_text(label), rich_text(value))
        self.console.print(table)

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        """A table with a header row."""
        if not self.human:
            return
        from rich.table import Table

        table = Table(title=rich_text(title), title_justify="left")
        for name in header:
            table.add_column(rich_text(name))
        for row in rows:
            table.add_row(*(rich_text(cell) for cell in row))
        self.console.print(table)

    def written(self, paths: dict[str, Path]) -> None:
        """The files written, one per line: ``wrote model: model.thalweg``."""
        for what, path in paths.items():
            self.line(f"wrote {what}: {path}")

    def json(self, data: dict) -> None:
        """The machine-readable summary: the only thing on standard output."""
        if self.json_mode:
            sys.stdout.write(json.dumps(data, indent=2, default=to_json) + "\n")
            sys.stdout.flush()
