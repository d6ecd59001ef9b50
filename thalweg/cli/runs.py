"""``thalweg runs``: list, show, compare and delete the runs in the run store.

Every ``thalweg train`` and ``evaluate`` records a run there (see
:mod:`thalweg.cli.recording`); Python code records its own with
``thalweg.tracking.start_run``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.common import writing
from thalweg.cli.main import EXIT_OK, UserError

STORE = typer.Option(
    "--runs",
    envvar="THALWEG_RUNS",
    metavar="PATH",
    help="The run store (default: thalweg-runs.sqlite in the working directory).",
    show_default=False,
)
JSON = typer.Option("--json", help="Print one JSON document on standard output, nothing else.")

runs_app = typer.Typer(
    help="The runs recorded by train and evaluate (and by thalweg.tracking): "
    "list them, show one, compare several, delete one.",
    no_args_is_help=True,
    epilog=(
        "Example:\n\n  $ thalweg runs list\n\n  $ thalweg runs compare 1 2 --report compare.html"
    ),
)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")


def _open(runs: str | None):
    from thalweg.tracking import RunStore, recording_disabled

    if recording_disabled(runs):
        raise UserError("--runs/THALWEG_RUNS is 'off'; give the path of a run store")
    return RunStore(runs, create=False)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    from thalweg.report.html import format_seconds

    return "—" if seconds is None else format_seconds(seconds)


def _number(value) -> str:
    from thalweg.cli.display import format_number

    return "—" if value is None else format_number(value)


STATUS_STYLE = {"finished": "green", "failed": "red", "interrupted": "yellow", "running": "cyan"}


@runs_app.command("list")
def list_runs(
    runs: Annotated[str | None, STORE] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show the newest N runs.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only runs with this status (finished, failed, ...).")
    ] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """The runs, newest first: id, what ran, status, when, how long, final metrics."""
    from rich.markup import escape
    from rich.table import Table

    from thalweg.cli.display import Output
    from thalweg.tracking import STATUSES, store_path

    if status is not None and status not in STATUSES:
        raise UserError(f"--status {status!r} is not one of {', '.join(STATUSES)}")
    output = Output(json_mode=json_output)
    if not store_path(runs).exists():
        output.line(f"no runs recorded in {store_path(runs)} yet (thalweg train records one)")
        output.json({"store": str(store_path(runs)), "runs": []})
        return EXIT_OK
    with _open(runs) as store:
        records = store.list_runs(limit=limit, status=status)
        path = store.path
    if output.human:
        table = Table(title=f"runs in {path}", title_justify="left")
        for column in ("id", "kind", "name", "status", "started", "duration", "metrics"):
            table.add_column(column, justify="right" if column == "id" else "left")
        for run in records:
            shown = list(run["metrics"].items())[:3]
            table.add_row(
                str(run["id"]),
                run["kind"] or "",
                escape(run["name"] or ""),
                f"[{STATUS_STYLE.get(run['status'], 'white')}]{run['status']}[/]",
                _when(run["started"]),
                _duration(run["duration"]),
                "  ".join(f"{name} {_number(value)}" for name, value in shown),
            )
        output.console.print(table)
        if not records:
            output.line("no runs match")
    output.json({"store": str(path), "runs": records})
    return EXIT_OK


@runs_app.command("show")
def show(
    run_id: Annotated[int, typer.Argument(metavar="ID", help="The run's id (thalweg runs list).")],
    runs: Annotated[str | None, STORE] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Everything recorded for one run: command, parameters, data, metrics, files."""
    from thalweg.cli.display import Output

    with _open(runs) as store:
        run = store.get_run(run_id)
    output = Output(json_mode=json_output)
    output.rows(
        f"run {run['id']}" + (f": {run['name']}" if run["name"] else ""),
        [
            ("kind", run["kind"] or ""),
            ("status", run["status"] + (f" ({run['error']})" if run.get("error") else "")),
            ("command", run["command"] or "—"),
            ("started", _when(run["started"])),
            ("duration", _duration(run["duration"])),
            ("thalweg", run["thalweg_version"] or "—"),
            ("folder", run["working_directory"] or "—"),
        ],
    )
    if run["params"]:
        output.table(
            "parameters",
            ["name", "value"],
            [[name, _param(value)] for name, value in run["params"].items()],
        )
    if run["data"]:
        output.table(
            "data read",
            ["role", "path", "size", "sha256", "columns"],
            [
                [
                    d["role"],
                    d["path"],
                    f"{d.get('size', 0):,} B",
                    (d.get("sha256") or "")[:16],
                    _columns(d),
                ]
                for d in run["data"]
            ],
        )
    if run["metrics"]:
        output.metrics(run["metrics"], "final metrics")
    if run["history"]:
        output.table(
            "per-epoch metrics",
            ["metric", "epochs", "first", "last", "best"],
            [
                [
                    name,
                    str(len(points)),
                    _number(points[0][1]),
                    _number(points[-1][1]),
                    _number(_best(name, [v for _, v in points])),
                ]
                for name, points in run["history"].items()
            ],
        )
    if run["artefacts"]:
        output.table(
            "files written",
            ["name", "path", "size", "sha256"],
            [
                [a["name"], a["path"], f"{a['size'] or 0:,} B", (a["sha256"] or "")[:16]]
                for a in run["artefacts"]
            ],
        )
    output.json(run)
    return EXIT_OK


def _param(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _columns(data: dict) -> str:
    columns = data.get("columns") or []
    names = ", ".join(c["name"] for c in columns[:8]) + (", ..." if len(columns) > 8 else "")
    if data.get("kind") == "folder":
        return f"{data.get('files', 0)} files" + (
            f"; {len(data['subfolders'])} sub-folders" if data.get("subfolders") else ""
        )
    return names


def _best(name: str, values: list):
    from thalweg.tracking.compare import smaller_is_better

    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if smaller_is_better(name) else max(present)


@runs_app.command("compare")
def compare(
    run_ids: Annotated[list[int], typer.Argument(metavar="ID ID...", help="Two or more run ids.")],
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML page with the learning curves.")
    ] = None,
    runs: Annotated[str | None, STORE] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Runs side by side: parameters (differences highlighted), final metrics (best
    marked), data hashes; --report draws their learning curves in one HTML page."""
    from rich.markup import escape
    from rich.table import Table

    from thalweg.cli.display import Output
    from thalweg.files import atomic_write
    from thalweg.tracking import compare_runs

    if len(run_ids) < 2:
        raise UserError("compare needs at least two run ids, e.g. thalweg runs compare 1 2")
    if report is not None and report.is_dir():
        raise UserError(f"--report {report} is a folder; give a file name like compare.html")
    with _open(runs) as store:
        records = [store.get_run(run_id) for run_id in run_ids]
        path = store.path
    comparison = compare_runs(records)
    output = Output(json_mode=json_output)
    if output.human:
        labels = [f"run {r['id']}" for r in records]
        for title, rows, best in (
            ("parameters (differences in yellow)", comparison["params"], False),
            ("final metrics (best in green)", comparison["metrics"], True),
        ):
            table = Table(title=title, title_justify="left")
            table.add_column("name")
            for label in labels:
                table.add_column(label)
            for row in rows:
                cells = []
                for index, value in enumerate(row["values"]):
                    text = _number(value) if best else ("—" if value is None else _param(value))
                    text = escape(text)
                    if best and row["best"] == index:
                        text = f"[bold green]{text}[/]"
                    cells.append(text)
                name = escape(row["name"])
                name = f"[bold yellow]{name}[/]" if row["differs"] else name
                table.add_row(name, *cells)
            output.console.print(table)
        for row in comparison["data"]:
            same = "differ" if row["differs"] else "are the same"
            output.line(f"data '{row['role']}': the runs' files {same}")
    written = {}
    if report is not None:
        from thalweg.report.runs import compare_page

        with writing(report, "--report", "the report"), atomic_write(report, "w") as handle:
            handle.write(compare_page(comparison, store=str(path)))
        written["report"] = report
        output.written(written)
    output.json({"store": str(path), **comparison, "written": written})
    return EXIT_OK


@runs_app.command("delete")
def delete(
    run_ids: Annotated[list[int], typer.Argument(metavar="ID", help="The run(s) to delete.")],
    runs: Annotated[str | None, STORE] = None,
    json_output: Annotated[bool, JSON] = False,
) -> int:
    """Delete a run and everything recorded for it (its files on disk are kept)."""
    from thalweg.cli.display import Output

    output = Output(json_mode=json_output)
    with _open(runs) as store:
        for run_id in run_ids:
            store.get_run(run_id)  # all ids checked before any is deleted
        for run_id in run_ids:
            store.delete_run(run_id)
    for run_id in run_ids:
        output.line(f"deleted run {run_id}")
    output.json({"deleted": run_ids})
    return EXIT_OK
