"""The playground's web app (Starlette): routes that check and translate, nothing more.

=======  ==================================  ==============================================
method   path                                what
=======  ==================================  ==============================================
GET      ``/``                               the page (plain JS + canvas, served from here)
GET      ``/healthz``                        ``{"status": "ok"}``
GET      ``/api/datasets``                   the built-in datasets (with preview points)
                                             and the uploads
POST     ``/api/datasets``                   upload a CSV: multipart field ``file``, or a
                                             ``text/csv`` body; optional ``x1``, ``x2``,
                                             ``label``, ``problem`` (form fields or query)
POST     ``/api/sessions``                   JSON config -> ``{"id", "config"}``
GET      ``/api/sessions/{id}/state``        everything the page draws
POST     ``/api/sessions/{id}/step``         ``{"epochs": n}`` -> epoch, losses, accuracies
PATCH    ``/api/sessions/{id}``              ``{"learning_rate": r}`` and/or ``{"data_seed": s}``:
                                             train on with the new rate or new points (the
                                             run keeps its weights and epochs)
DELETE   ``/api/sessions/{id}``              forget the session
GET      ``/api/sessions/{id}/export/model`` a ``.thalweg`` file for ``thalweg predict``
GET      ``/api/sessions/{id}/export/python`` a script that retrains the same run
WS       ``/api/sessions/{id}/stream``       live binary frames; see :mod:`.frames`
=======  ==================================  ==============================================

Every user mistake is answered 4xx with ``{"error": "<one line>"}`` naming the field
and what it allows; request bodies are capped; every engine call runs on the worker
thread. Every response carries a Content-Security-Policy that lets the page load only
its own files and talk only to this server.

WebSocket messages from the page are JSON objects: ``{"type": "play",
"epochs_per_frame": k}``, ``{"type": "pause"}``, ``{"type": "step", "epochs": n}``,
``{"type": "ack"}`` (a frame was drawn), ``{"type": "focus", "node": i}`` (the big heat
map shows node map ``i``; null for the output). A bad message is answered with
``{"type": "error", "error": "..."}`` and the stream stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from thalweg import datasets
from thalweg.playground import export
from thalweg.playground.config import (
    BUILTIN_DATASETS,
    KEYS,
    ConfigError,
    check_learning_rate,
    check_seed,
    shown,
)
from thalweg.playground.frames import json_safe
from thalweg.playground.session import MAX_EPOCHS_PER_FRAME
from thalweg.playground.store import SessionStore, TooManySessions, UnknownSession
from thalweg.playground.uploads import MAX_UPLOAD_BYTES, UploadError, read_upload
from thalweg.playground.worker import EngineWorker

__all__ = ["CONTENT_SECURITY_POLICY", "MAX_STEP_EPOCHS", "create_app"]

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 64 * 1024
MAX_STEP_EPOCHS = 10_000
MAX_WS_MESSAGE = 4096
DRAIN_BYTES = 64 * 1024 * 1024
SWEEP_SECONDS = 30.0
PREVIEW_POINTS = 200
CHANGEABLE = ("learning_rate", "data_seed")  # the settings a run in progress takes (PATCH)
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


class ClientError(Exception):
    """A mistake in a request: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def error_response(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


class SafeJSONResponse(JSONResponse):
    """JSON with NaN and infinities as null (JSON has no NaN; a diverged run has them)."""

    def render(self, content) -> bytes:
        return json.dumps(json_safe(content), separators=(",", ":")).encode()


# ----------------------------------------------------------------------------- middleware


class Guard:
    """Security headers on every response; refuse foreign Host headers (DNS rebinding)
    and foreign WebSocket origins (another site's page driving this server)."""

    def __init__(self, app, allowed_hosts: set[str] | None):
        self.app = app
        self.allowed_hosts = allowed_hosts  # None: any host (the server listens on all)

    def _host_allowed(self, scope) -> bool:
        if self.allowed_hosts is None:
            return True
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in self.allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if not self._host_allowed(scope):
                response = error_response(
                    "this server answers only requests addressed to its own host name", 400
                )
                await response(scope, receive, send)
                return

            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return
        if scope["type"] == "websocket":
            headers = dict(scope.get("headers") or [])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            same_origin = not origin or origin.split("://", 1)[-1] == host
            if not (self._host_allowed(scope) and same_origin):
                await send({"type": "websocket.close", "code": 4403, "reason": "foreign origin"})
                return
        await self.app(scope, receive, send)


# ----------------------------------------------------------------------------- helpers


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refusing (413) anything over ``limit`` bytes.

    A body that is too big is still read (and thrown away) up to :data:`DRAIN_BYTES`, so
    that the client, still sending, gets the 413 instead of a broken connection.
    """
    declared = request.headers.get("content-length")
    too_big = ClientError(
        f"the request body is over {limit:,} bytes; "
        + ("uploads are limited to 10 MB" if limit >= MAX_UPLOAD_BYTES else "send less"),
        413,
    )
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError:
            raise ClientError("the Content-Length header is not a number") from None
        if declared_size > DRAIN_BYTES:
            raise too_big  # not worth reading: the connection closes after the answer
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_big
    return b"".join(chunks)


def _unique_keys(pairs: list) -> dict:
    """A JSON object whose keys are all different: ``{"learning_rate": 0.1,
    "learning_rate": 3}`` is ambiguous (JSON parsers disagree on which one wins)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        twice = sorted({key for key, _ in pairs if [k for k, _ in pairs].count(key) > 1})
        raise ClientError(f"{shown(twice[0])} is given twice in one object; send it once")
    return value


async def read_json(request: Request) -> dict:
    body = await read_body(request, MAX_JSON_BYTES)
    if not body.strip():
        return {}
    try:
        value = json.loads(body, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ClientError(f"the body is not valid JSON ({error}); send a JSON object") from None
    if not isinstance(value, dict):
        raise ClientError(f"the body must be a JSON object; got {type(value).__name__}")
    return value


def whole_number(field: str, value, low: int, high: int):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ClientError(
            f"{field}: must be a whole number from {low} to {high:,}; got {shown(value)}"
        )
    return value


def only_keys(body: dict, allowed: tuple[str, ...], what: str) -> None:
    unknown = [key for key in body if key not in allowed]
    if unknown:
        raise ClientError(
            f"{unknown[0]}: is not a key of {what}; allowed: {', '.join(allowed) or 'none'}"
        )


def _previews() -> list[dict]:
    """Each built-in dataset with 200 points (noise 0, seed 0), for the thumbnails."""
    previews = []
    for name, (problem, generator, label) in BUILTIN_DATASETS.items():
        x, y, _ = getattr(datasets, generator)(n=PREVIEW_POINTS, noise=0.0, seed=0)
        values = y.astype(np.float64)
        previews.append(
            {
                "name": name,
                "problem": problem,
                "label": label,
                "points": np.round(np.column_stack([x, values]), 3).tolist(),
            }
        )
    return previews


# ----------------------------------------------------------------------------- the app


def create_app(
    max_sessions: int | None = None,
    idle_seconds: float | None = None,
    sweep_seconds: float = SWEEP_SECONDS,
    allowed_hosts: set[str] | None = frozenset(LOCAL_HOSTS),
) -> Guard:
    """The playground's ASGI app; run it with uvicorn (``thalweg playground`` does).

    ``allowed_hosts``: the Host header values it answers (None: any, for a server
    listening on every address); ``max_sessions``, ``idle_seconds``: the session cap
    and idle time (see :mod:`thalweg.playground.store`).
    """
    state: dict = {}
    previews = _previews()

    def store() -> SessionStore:
        return state["store"]

    async def engine(function):
        """Run ``function()`` on the engine's worker thread and await its result."""
        return await asyncio.wrap_future(store().worker.call(function))

    # ------------------------------------------------------------------ pages
    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    # ------------------------------------------------------------------ datasets
    async def list_datasets(request: Request) -> Response:
        uploads = [upload.summary() for upload in store().uploads.values()]
        return JSONResponse({"builtin": previews, "uploads": uploads})

    async def upload_dataset(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        options = dict(request.query_params)
        if content_type.startswith("multipart/form-data"):
            body = await read_body(request, MAX_UPLOAD_BYTES + 64 * 1024)

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            try:
                async with Request(request.scope, replay).form(
                    max_files=1, max_fields=8, max_part_size=4096
                ) as form:
                    upload = form.get("file")
                    if upload is None or isinstance(upload, str):
                        raise ClientError(
                            "file: send the CSV as a file in the multipart field 'file'"
                        )
                    raw = await upload.read()
                    filename = Path(upload.filename or "upload.csv").name
                    options.update({k: v for k, v in form.items() if isinstance(v, str)})
            except HTTPException as error:  # the multipart parser's own complaints
                raise ClientError(f"the multipart body is malformed ({error.detail})") from None
        elif content_type.startswith(("text/csv", "text/plain", "application/csv")):
            raw = await read_body(request, MAX_UPLOAD_BYTES)
            filename = Path(options.pop("filename", "upload.csv")).name
        else:
            raise ClientError(
                "send the CSV as multipart/form-data (field 'file') or as a text/csv body; "
                f"got content type {content_type or 'none'!r}",
                415,
            )
        only_keys(options, ("x1", "x2", "label", "problem", "filename"), "an upload")
        options.pop("filename", None)
        choices = {k: (v or None) for k, v in options.items()}
        # Parsing 100,000 rows takes a moment: off the event loop, which keeps streaming.
        # (Only NumPy and the csv module: no engine work, so not on the engine's thread.)
        dataset = await run_in_threadpool(read_upload, raw, filename, **choices)
        store().add_upload(dataset)
        return JSONResponse(dataset.summary())

    # ------------------------------------------------------------------ sessions
    async def create_session(request: Request) -> Response:
        session = await store().create(await read_json(request))
        return JSONResponse({"id": session.id, "config": session.config.to_dict()})

    async def session_state(request: Request) -> Response:
        session = store().get(request.path_params["session_id"])
        return SafeJSONResponse(await engine(session.state))

    async def step_session(request: Request) -> Response:
        session = store().get(request.path_params["session_id"])
        body = await read_json(request)
        only_keys(body, ("epochs",), "a step request")
        epochs = whole_number("epochs", body.get("epochs", 1), 1, MAX_STEP_EPOCHS)
        remaining = [epochs]

        def train_some(budget: float):
            # A long request gives way to the other sessions after each slice.
            stop = time.monotonic() + budget
            while remaining[0] > 0:
                session.run.train_epoch()
                remaining[0] -= 1
                if time.monotonic() > stop:
                    break
            if remaining[0] > 0:
                return False, None
            return True, session.run.summary()

        summary = await asyncio.wrap_future(store().worker.submit(train_some))
        session.touch()
        session.want_frame()
        store().worker.wake()
        summary.pop("diagnosis", None)
        return SafeJSONResponse(summary)

    async def change_session(request: Request) -> Response:
        """Change a run in progress, as the Playground's two controls that do not reset
        the network: the learning rate, and *Regenerate* (``data_seed``: new points, same
        network). Every other setting needs a new session."""
        session = store().get(request.path_params["session_id"])
        body = await read_json(request)
        for key in body:
            if key in KEYS and key not in CHANGEABLE:
                raise ClientError(
                    f"{key}: only learning_rate and data_seed change during a run; a new {key} "
                    "starts a new run (POST /api/sessions), as in the TensorFlow Playground"
                )
        only_keys(body, CHANGEABLE, "a session change")
        if not body:
            raise ClientError(
                'learning_rate or data_seed: missing; send {"learning_rate": <rate>} or '
                '{"data_seed": <seed>}'
            )
        learning_rate = (
            check_learning_rate(body["learning_rate"]) if "learning_rate" in body else None
        )
        data_seed = check_seed("data_seed", body["data_seed"]) if "data_seed" in body else None

        def apply() -> dict:  # on the worker: between two epochs, never during one
            run = session.run
            if learning_rate is not None:
                run.set_learning_rate(learning_rate)
            if data_seed is not None:
                run.regenerate(data_seed)
                session.data_changed()
            return {"id": session.id, "config": run.config.to_dict(), **run.summary()}

        reply = await engine(apply)
        session.touch()
        if data_seed is not None:
            store().worker.wake()  # the page's stream gets a frame with the new losses
        return SafeJSONResponse(reply)

    async def delete_session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        if not store().delete(session_id):
            store().get(session_id)  # raises the 404 with its message
        return Response(status_code=204)

    async def export_model(request: Request) -> Response:
        session = store().get(request.path_params["session_id"])
        content, name = await engine(
            lambda: (export.model_file_bytes(session.run), export.model_filename(session.run))
        )
        return Response(
            content,
            media_type="application/octet-stream",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    async def export_python(request: Request) -> Response:
        session = store().get(request.path_params["session_id"])
        text, name = await engine(
            lambda: (export.python_script(session.run), export.script_filename(session.run))
        )
        return Response(
            text,
            media_type="text/x-python; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    # ------------------------------------------------------------------ the stream
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            session = store().get(websocket.path_params["session_id"])
        except UnknownSession as error:
            await websocket.send_text(json.dumps({"type": "error", "error": str(error)}))
            await websocket.close(code=4404, reason="unknown session")
            return
        loop = asyncio.get_running_loop()
        frames: asyncio.Queue = asyncio.Queue()
        worker = store().worker

        def sink(frame: bytes) -> None:  # called on the worker thread
            loop.call_soon_threadsafe(frames.put_nowait, frame)

        def close(reason: str) -> None:  # called when the session is deleted or reclaimed
            frames.put_nowait(("close", reason))

        previous = store().on_close.get(session.id)
        if previous is not None:
            previous("replaced")  # one page per session: the newest wins
        store().on_close[session.id] = close
        session.attach(sink)
        worker.attach(session)

        async def send_frames():
            while True:
                item = await frames.get()
                if isinstance(item, tuple):
                    code = 4000 if item[1] == "idle" else 4001
                    await websocket.close(code=code, reason=item[1])
                    return
                await websocket.send_bytes(item)

        sender = asyncio.create_task(send_frames())
        try:
            while True:
                receive = asyncio.create_task(websocket.receive())
                done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
                if sender in done:
                    receive.cancel()
                    break
                message = receive.result()
                if message["type"] == "websocket.disconnect":
                    break
                reply = handle_message(session, message)
                session.touch()
                worker.wake()
                if reply is not None:
                    await websocket.send_text(json.dumps({"type": "error", "error": reply}))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            if store().on_close.get(session.id) is close:
                del store().on_close[session.id]
                session.detach()
                worker.detach(session)

    def handle_message(session, message) -> str | None:
        """Apply one message from the page; return an error line, or None."""
        text = message.get("text")
        if text is None:
            return "send JSON text messages; binary messages are not understood"
        if len(text) > MAX_WS_MESSAGE:
            return f"a message is at most {MAX_WS_MESSAGE} bytes"
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            return f"a message must be a JSON object ({error})"
        if not isinstance(body, dict):
            return "a message must be a JSON object with a 'type'"
        kind = body.get("type")
        fields = {"play": ("epochs_per_frame",), "step": ("epochs",), "focus": ("node",)}
        if kind not in ("play", "pause", "step", "ack", "focus"):
            return f"type: must be one of play, pause, step, ack, focus; got {kind!r}"
        try:
            only_keys({k: v for k, v in body.items() if k != "type"}, fields.get(kind, ()), kind)
            if kind == "play":
                session.play(
                    whole_number(
                        "epochs_per_frame", body.get("epochs_per_frame", 1), 1, MAX_EPOCHS_PER_FRAME
                    )
                )
            elif kind == "pause":
                session.pause()
            elif kind == "step":
                session.step(whole_number("epochs", body.get("epochs", 1), 1, MAX_STEP_EPOCHS))
            elif kind == "ack":
                session.acknowledge()
            else:
                node = body.get("node")
                if node is not None:
                    node = whole_number("node", node, 0, session.n_maps() - 1)
                session.set_focus(node)
        except ClientError as error:
            return str(error)
        return None

    # ------------------------------------------------------------------ errors
    async def client_error(request: Request, error: Exception) -> Response:
        return error_response(str(error), getattr(error, "status", 400))

    async def not_found(request: Request, error: Exception) -> Response:
        return error_response(str(error), 404)

    async def too_many(request: Request, error: Exception) -> Response:
        return error_response(str(error), 429)

    async def conflict(request: Request, error: Exception) -> Response:
        return error_response(str(error), 409)

    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 404:
            return error_response(
                f"no such page or endpoint: {request.method} {request.url.path}", 404
            )
        if error.status_code == 405:
            return error_response(f"{request.method} is not allowed on {request.url.path}", 405)
        return error_response(error.detail, error.status_code)

    async def internal_error(request: Request, error: Exception) -> Response:
        import traceback

        traceback.print_exception(error)
        return error_response(
            f"internal error ({type(error).__name__}); this is a bug in thalweg: please report "
            "it with the server's log",
            500,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        worker = EngineWorker()
        settings = {}
        if max_sessions is not None:
            settings["max_sessions"] = max_sessions
        if idle_seconds is not None:
            settings["idle_seconds"] = idle_seconds
        state["store"] = SessionStore(worker, **settings)

        async def sweep():
            while True:
                await asyncio.sleep(sweep_seconds)
                store().reclaim_idle()

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            store().close_all()
            worker.stop()

    session_path = "/api/sessions/{session_id}"
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            Route("/api/datasets", list_datasets, methods=["GET"]),
            Route("/api/datasets", upload_dataset, methods=["POST"]),
            Route("/api/sessions", create_session, methods=["POST"]),
            Route(session_path, delete_session, methods=["DELETE"]),
            Route(session_path, change_session, methods=["PATCH"]),
            Route(f"{session_path}/state", session_state, methods=["GET"]),
            Route(f"{session_path}/step", step_session, methods=["POST"]),
            Route(f"{session_path}/export/model", export_model, methods=["GET"]),
            Route(f"{session_path}/export/python", export_python, methods=["GET"]),
            WebSocketRoute(f"{session_path}/stream", stream),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={
            ClientError: client_error,
            ConfigError: client_error,
            UploadError: client_error,
            UnknownSession: not_found,
            TooManySessions: too_many,
            export.NothingToExport: conflict,
            HTTPException: http_error,
            Exception: internal_error,
        },
        lifespan=lifespan,
    )
    app.state.playground = state
    return Guard(app, set(allowed_hosts) if allowed_hosts is not None else None)
