"""Running the server: uvicorn on 127.0.0.1, shut down cleanly on SIGTERM or Ctrl-C.

uvicorn handles both signals the same way: it stops accepting connections, lets the
requests in flight finish, then runs the application's shutdown, which writes the
feature log's queued rows and completes its last file. Nothing logged is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable

MAX_CONNECTIONS = 1000


def _fastest(module: str, fallback: str) -> str:
    """uvloop / httptools when installed (``uvicorn[standard]``), else the pure-Python
    event loop and HTTP parser."""
    import importlib.util

    return module if importlib.util.find_spec(module) is not None else fallback


def _bind(host: str, port: int):
    """The listening socket, bound here so that a port in use is one clear error."""
    import socket

    from thalweg.errors import ThalwegError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        raise ThalwegError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port "
            "(or stop the process using it)"
        ) from None
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening


def _ready_reporting_server():
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, saying when it is ready to answer."""

        def __init__(self, config, on_ready: Callable[[], None]):
            super().__init__(config)
            self.on_ready = on_ready

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                self.on_ready()

        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises SIGTERM / SIGINT once it has shut down, which would kill
            # the process before the command says what the feature log holds; the
            # shutdown was clean, so forget the signal instead.
            with super().capture_signals():
                yield
                self._captured_signals.clear()

    return Server


def serve(
    model_path: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_dir: str | os.PathLike | None = None,
    log_fraction: float = 1.0,
    max_body_bytes: int | None = None,
    workers: int = 1,
    on_ready: Callable[[str], None] = lambda line: None,
    **app_options,
) -> dict | None:
    """Serve ``model_path`` until SIGTERM or Ctrl-C; return the feature log's final
    counters (None without a log).

    ``workers`` > 1 runs that many server processes on the one listening socket (a
    Python process answers on one core at a time); each keeps its own feature-log files.
    """
    import uvicorn

    from thalweg.serving.app import MAX_BODY_BYTES, create_app

    settings = {
        "model_path": str(model_path),
        "log_dir": None if log_dir is None else str(log_dir),
        "log_fraction": log_fraction,
        "max_body_bytes": max_body_bytes or MAX_BODY_BYTES,
        **app_options,
    }
    options = {
        "loop": _fastest("uvloop", "asyncio"),
        "http": _fastest("httptools", "h11"),
        "log_level": "warning",
        "access_log": False,
        "lifespan": "on",
        "timeout_graceful_shutdown": 30,
        # Connections and requests in flight per process; beyond, uvicorn answers 503.
        "limit_concurrency": MAX_CONNECTIONS,
    }
    if workers > 1:
        return _serve_with_workers(settings, options, host, port, workers, on_ready)
    app = create_app(**settings)  # loads the model: a bad file fails before listening
    listening = _bind(host, port)
    server_class = _ready_reporting_server()
    config = uvicorn.Config(app, **options)
    server = server_class(config, lambda: on_ready(f"http://{host}:{listening.getsockname()[1]}"))
    server.run(sockets=[listening])
    logger = app.state.feature_logger
    return None if logger is None else logger.stats()


def _serve_with_workers(settings, options, host, port, workers, on_ready) -> dict | None:
    import time

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from thalweg.serving.app import SETTINGS_VARIABLE, create_app

    create_app(**{**settings, "log_dir": None})  # check the model file here, once
    os.environ[SETTINGS_VARIABLE] = json.dumps({**settings, "log_summary": True})
    config = uvicorn.Config(
        "thalweg.serving.app:app_from_environment", factory=True, workers=workers, **options
    )
    listening = _bind(host, port)
    started = time.time()
    on_ready(f"http://{host}:{listening.getsockname()[1]} ({workers} worker processes)")
    Multiprocess(config, sockets=[listening]).run()
    if settings["log_dir"] is None:
        return None
    return _folder_stats(settings["log_dir"], started)


def _folder_stats(folder: str, since: float) -> dict:
    """The workers' feature-log counters, summed: each worker wrote its own when it
    stopped (a hidden summary file, removed here once read)."""
    from pathlib import Path

    from thalweg.serving.featurelog import SUMMARY_PREFIX

    totals = {"folder": folder, "logged_rows": 0, "dropped_rows": 0, "files": 0, "error": None}
    for summary in Path(folder).glob(f"{SUMMARY_PREFIX}*.json"):
        if summary.stat().st_mtime < since:
            continue  # an earlier server's
        stats = json.loads(summary.read_text())
        for key in ("logged_rows", "dropped_rows", "files"):
            totals[key] += stats[key]
        totals["error"] = totals["error"] or stats.get("error")
        summary.unlink()
    return totals
