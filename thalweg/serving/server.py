"""Running the server: uvicorn on 127.0.0.1, shut down cleanly on SIGTERM or Ctrl-C.

uvicorn handles both signals the same way: it stops accepting connections, lets the
requests in flight finish, then runs the application's shutdown, which writes the
feature log's queued rows and completes its last file. Nothing logged is lost.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable


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
    on_ready: Callable[[str], None] = lambda line: None,
    **app_options,
) -> dict | None:
    """Serve ``model_path`` until SIGTERM or Ctrl-C; return the feature log's final
    counters (None without a log)."""
    import uvicorn

    from thalweg.serving.app import MAX_BODY_BYTES, create_app

    app = create_app(
        model_path,
        log_dir=log_dir,
        log_fraction=log_fraction,
        max_body_bytes=max_body_bytes or MAX_BODY_BYTES,
        **app_options,
    )
    config = uvicorn.Config(
        app,
        loop=_fastest("uvloop", "asyncio"),
        http=_fastest("httptools", "h11"),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )
    listening = _bind(host, port)
    server_class = _ready_reporting_server()
    server = server_class(config, lambda: on_ready(f"http://{host}:{listening.getsockname()[1]}"))
    server.run(sockets=[listening])
    logger = app.state.feature_logger
    return None if logger is None else logger.stats()
