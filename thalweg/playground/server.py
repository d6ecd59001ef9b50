"""Start the playground: bind a port, run uvicorn, open the browser.

The socket is bound here, before uvicorn starts, so a port in use is a clear one-line
error (or, for the default port, the next free one is taken) and ``--port 0`` works:
the address printed is the one really listened on. uvicorn stops cleanly on Ctrl-C and
SIGTERM; sessions live in memory only, so nothing is lost that was meant to be kept.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading
import time
import webbrowser

from thalweg.errors import ThalwegError

__all__ = ["DEFAULT_PORT", "PortInUse", "bind", "exposure_warning", "serve"]

DEFAULT_PORT = 8765
PORTS_TO_TRY = 20  # with the default port: that one or one of the next 19
ALL_ADDRESSES = {"0.0.0.0", "::", ""}


class PortInUse(ThalwegError, OSError):
    """The port asked for is taken by another program."""


def exposure_warning(host: str) -> str | None:
    """The warning to print before listening on ``host``, or None for a local address.

    >>> exposure_warning("127.0.0.1") is None
    True
    >>> exposure_warning("0.0.0.0").startswith("warning: --host 0.0.0.0")
    True
    """
    if host in ALL_ADDRESSES:
        return (
            f"warning: --host {host or '0.0.0.0'} makes the playground reachable from other "
            "machines on your network; it has no login, so anyone who can reach this port can "
            "use it (use the default, 127.0.0.1, to keep it to this machine)"
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        return (
            f"warning: --host {host} may make the playground reachable from other machines; "
            "it has no login"
        )
    return None


def bind(host: str, port: int | None) -> socket.socket:
    """A listening socket on ``host``: ``port``, or (None) the default port or the next free.

    Raises PortInUse (with the fix) when the port is taken.
    """
    candidates = [port] if port is not None else range(DEFAULT_PORT, DEFAULT_PORT + PORTS_TO_TRY)
    try:
        infos = socket.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise PortInUse(f"--host {host!r} is not an address of this machine ({error})") from None
    family = infos[0][0]
    last_error: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
            sock.listen(128)
        except OSError as error:
            sock.close()
            last_error = error
            if error.errno != errno.EADDRINUSE:
                break
            continue
        sock.set_inheritable(True)
        return sock
    if last_error is not None and last_error.errno == errno.EADDRINUSE:
        which = f"port {port}" if port is not None else f"ports {candidates[0]}-{candidates[-1]}"
        raise PortInUse(
            f"{which} on {host} already in use by another program; choose another with --port "
            "(--port 0 picks a free one)"
        )
    raise PortInUse(f"cannot listen on {host}:{port} ({last_error}); check --host and --port")


def serve(
    host: str = "127.0.0.1",
    port: int | None = None,
    open_browser: bool = True,
    announce=print,
) -> None:
    """Run the playground until Ctrl-C or SIGTERM (see ``thalweg playground --help``)."""
    import uvicorn

    from thalweg.playground.app import LOCAL_HOSTS, create_app

    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    allowed = None if host in ALL_ADDRESSES else {*LOCAL_HOSTS, host}
    app = create_app(allowed_hosts=allowed)
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws="auto",
        ws_max_size=64 * 1024,
        lifespan="on",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    shown_host = "127.0.0.1" if host in ALL_ADDRESSES else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{bound_port}/"
    announce(f"thalweg playground: {url}  (Ctrl-C stops it)")
    sys.stdout.flush()
    if open_browser:

        def open_when_ready() -> None:
            deadline = time.monotonic() + 30
            while not server.started and time.monotonic() < deadline:
                time.sleep(0.05)
            if server.started:
                webbrowser.open(url)

        threading.Thread(target=open_when_ready, daemon=True).start()
    # uvicorn stops gracefully on Ctrl-C and SIGTERM, then raises the signal again for the
    # handler that was there before it: let that be a quiet one, so the command ends with
    # exit code 0 and a line saying so instead of a KeyboardInterrupt or a kill.
    quiet = {}
    if threading.current_thread() is threading.main_thread():
        quiet = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in quiet.items():
            signal.signal(sig, handler)
    announce("thalweg playground stopped")


def _ignore(signum, frame) -> None:
    """A signal handler that does nothing (see ``serve``)."""
