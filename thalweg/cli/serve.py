"""``thalweg serve model.thalweg``: the model as an HTTP JSON service, logging what it
serves (see :mod:`thalweg.serving`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thalweg.cli.main import EXIT_OK, UserError

EXAMPLE = (
    "Example:\n\n  $ thalweg serve model.thalweg --port 8000 --log served/\n\n"
    "  $ curl -s localhost:8000/predict -H 'content-type: application/json' "
    '-d \'{"rows": [{"x": 1.5, "city": "Oslo"}]}\''
)


def register(app: typer.Typer) -> None:
    app.command(epilog=EXAMPLE)(serve)


def serve(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)."),
    ] = "127.0.0.1",
    log: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Feature log folder: each served row's input, features and prediction, as "
            "rolled Parquet files (for thalweg skew and retraining).",
        ),
    ] = None,
    log_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of rows to log, sampled at random.")
    ] = 1.0,
    max_body: Annotated[
        int, typer.Option(min=1, metavar="MB", help="Largest request body accepted, in MiB.")
    ] = 16,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Server processes sharing the port (a process uses one core at a time)."
        ),
    ] = 1,
) -> int:
    """Serve a model over HTTP: POST /predict (JSON rows or CSV), GET /model, GET /healthz.

    Runs until Ctrl-C or SIGTERM; either one finishes the requests in flight and writes
    every queued row of the feature log before exiting.
    """
    import importlib.util

    from thalweg.cli.display import Output

    if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:
        raise UserError("thalweg serve needs Starlette and uvicorn: pip install 'thalweg[serve]'")
    if log is not None and log.exists() and not log.is_dir():
        raise UserError(f"--log {log} is a file; give a folder for the feature log")
    from thalweg.serving.server import serve as run_server

    output = Output()
    logging = f"; logging {log_fraction:.0%} of rows to {log}/" if log is not None else ""
    stats = run_server(
        model_file,
        host=host,
        port=port,
        log_dir=log,
        log_fraction=log_fraction,
        max_body_bytes=max_body * 1024 * 1024,
        workers=workers,
        on_ready=lambda url: output.line(
            f"serving {model_file} on {url} (POST /predict, GET /model, GET /healthz){logging}; "
            "Ctrl-C stops"
        ),
    )
    if stats is not None:
        dropped = f", {stats['dropped_rows']:,} dropped" if stats["dropped_rows"] else ""
        if stats.get("pending_rows"):
            dropped += f", {stats['pending_rows']:,} still queued when it stopped (lost)"
        failed = f" (logging stopped: {stats['error']})" if stats.get("error") else ""
        output.line(
            f"stopped; feature log: {stats['logged_rows']:,} rows in {stats['files']} "
            f"file(s) in {log}/{dropped}{failed}"
        )
    else:
        output.line("stopped")
    return EXIT_OK
