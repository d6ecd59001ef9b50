"""``thalweg playground``: the web playground, served on this machine.

The command parses its three options and hands over to :mod:`thalweg.playground.server`;
the server's packages (the ``playground`` extra) are imported only when it runs.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Annotated

import typer

from thalweg.cli.main import EXIT_OK, UserError

# The packages the server needs, by import name (the ``playground`` extra installs them).
SERVER_PACKAGES = ("starlette", "uvicorn", "websockets", "multipart")


def playground(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. The default keeps the playground to this machine; "
            "0.0.0.0 opens it to your network (with a warning).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="Port to listen on (default: 8765, or the next free one; 0: any free port).",
        ),
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
) -> int:
    """Open the web playground: pick a dataset, features and layers, press play, and watch
    thalweg's engine bend the decision surface (the TensorFlow Playground's lessons)."""
    missing = [name for name in SERVER_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"the playground needs {', '.join(missing)}, which are not installed; install them "
            "with: pip install 'thalweg[playground]'"
        )
    from thalweg.playground.server import PortInUse, exposure_warning, serve

    warning = exposure_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    try:
        serve(host=host, port=port, open_browser=not no_browser)
    except PortInUse as error:
        raise UserError(str(error)) from None
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add ``thalweg playground`` to the command line ``app``."""
    examples = ("thalweg playground", "thalweg playground --no-browser --port 8000")
    app.command(epilog="Example:\n\n" + "\n\n".join(f"  $ {line}" for line in examples))(playground)
