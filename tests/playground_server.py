"""Helpers for the playground tests: a real server on a free port, and a tiny HTTP client."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

# Requests go straight to the local server, never through a proxy from the environment.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


class Server:
    """A playground server running in a thread of this process (uvicorn, real sockets)."""

    def __init__(self, **app_options):
        import uvicorn

        from thalweg.playground.app import create_app
        from thalweg.playground.server import bind

        self.socket = bind("127.0.0.1", 0)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(**app_options), log_level="warning", ws="auto", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the playground server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()

    def request(self, method: str, path: str, body=None, headers=None) -> Reply:
        """One HTTP request; 4xx/5xx come back as replies, not exceptions."""
        headers = dict(headers or {})
        data = body
        if body is not None and not isinstance(body, bytes | str):
            data = json.dumps(body)
            headers.setdefault("content-type", "application/json")
        if isinstance(data, str):
            data = data.encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with DIRECT.open(request, timeout=60) as response:
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read())

    def create(self, **config) -> dict:
        reply = self.request("POST", "/api/sessions", config)
        assert reply.status == 200, reply.body
        return reply.json

    def websocket(self, session_id: str, **options):
        from websockets.sync.client import connect

        return connect(
            f"ws://127.0.0.1:{self.port}/api/sessions/{session_id}/stream",
            open_timeout=20,
            proxy=None,  # straight to this machine, whatever the environment says
            **options,
        )


@contextlib.contextmanager
def running_server(**app_options):
    server = Server(**app_options)
    try:
        yield server
    finally:
        server.stop()


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    """A multipart/form-data body: ``files`` maps field -> (filename, bytes)."""
    boundary = "thalweg-test-boundary-7d3f"
    parts = []
    for name, value in fields.items():
        disposition = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
    for name, (filename, content) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
