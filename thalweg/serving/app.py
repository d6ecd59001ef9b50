"""The model server's routes (Starlette): validate, translate, answer.

=================  ====================================================================
``POST /predict``  ``{"rows": [{column: value, ...}, ...]}`` or ``{"columns": {column:
                   [value, ...], ...}}`` (``application/json``), or CSV with a header
                   (``text/csv``) -> ``{"predictions": [...]}``, plus
                   ``"probabilities"`` (one list per row, in ``"classes"`` order) and
                   ``"classes"`` for a classifier
``GET /model``     the schema (columns, types, categories), task, classes, features,
                   the metrics measured at training, the model file's SHA-256
``GET /healthz``   ``{"status": "ok", ...}``: requests served, feature-log counters
=================  ====================================================================

Mistakes get a 4xx and ``{"error": "<one line>"}``: 400 unreadable body, 413 body over
the cap, 415 another content type, 422 a column missing or not numeric, a missing value
the model cannot fill (the same checks and words as ``thalweg predict``); 404 and 405
for unknown routes and methods; a row whose prediction overflows (not a finite number)
is a 422 naming the row.

Small requests are parsed on the event loop and predicted in one model call with the
other small requests ready at the same moment (:mod:`thalweg.serving.batching`: no
waiting is added; 30 rows cost about what one does). A large request is parsed and
predicted in a worker thread, so ``/healthz`` and small requests keep being answered
meanwhile. Either way the feature log only receives arrays on a queue; a thread of its
own writes them.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import numpy as np

from thalweg.errors import DataError, ThalwegError
from thalweg.serving import jsonio
from thalweg.serving.batching import MicroBatcher
from thalweg.serving.featurelog import FeatureLogger, LoggedBatch
from thalweg.serving.predictor import Predictor
from thalweg.serving.rows import BadRequest, as_arrays, json_values, table_from_csv

MAX_BODY_BYTES = 16 * 1024 * 1024
LENIENT_JSON = ("application/x-www-form-urlencoded", "text/plain")
# Bodies below this size (a few dozen rows) are parsed on the event loop and predicted
# together with the other small requests of the same moment (micro-batching); larger
# ones are parsed and predicted in a worker thread.
SMALL_BODY_BYTES = 16 * 1024


class _PayloadTooLarge(ThalwegError):
    pass


def create_app(
    model_path: str | os.PathLike,
    *,
    log_dir: str | os.PathLike | None = None,
    log_fraction: float = 1.0,
    max_body_bytes: int = MAX_BODY_BYTES,
    seed: int | None = None,
    rows_per_file: int = 100_000,
    seconds_per_file: float = 300.0,
    log_summary: bool = False,
):
    """The Starlette application serving the model file at ``model_path``.

    ``log_dir``: where the feature log goes (None: no log); ``log_fraction``: the share
    of rows logged, sampled at random (``seed`` makes the sample reproducible);
    ``log_summary``: write the log's final counters to a file when stopping (for the
    parent of several worker processes).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    if not 0.0 <= log_fraction <= 1.0:
        raise DataError(f"the log fraction must be between 0 and 1, got {log_fraction}")
    predictor = Predictor(model_path)
    counters = {"requests": 0, "rows": 0, "errors": 0}
    request_ids = itertools.count(1)
    counting = threading.Lock()
    rng = np.random.default_rng(seed)
    logger: FeatureLogger | None = None
    started = time.time()

    def json_response(body: bytes, status: int = 200) -> Response:
        return Response(body, status_code=status, media_type="application/json")

    def error(status: int, message: str) -> Response:
        counters["errors"] += 1
        one_line = " ".join(message.split())
        return json_response(jsonio.dumps({"error": one_line}), status)

    async def read_body(request: Request, declared: str | None) -> bytes:
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise _PayloadTooLarge()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise _PayloadTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    def answer_all(requests: list[ParsedRequest]) -> list[bytes | ThalwegError]:
        """Predict several parsed JSON requests in one model call; each gets its answer,
        or the error its own rows caused (then each is predicted alone, to say which)."""
        if len(requests) == 1:
            return [answer_one(requests[0])]
        joined = {
            name: list(itertools.chain.from_iterable(r.values[name] for r in requests))
            for name, _ in predictor.columns
        }
        try:
            result = predictor.predict(as_arrays(joined, predictor.columns))
        except ThalwegError:  # some request's rows are wrong: find whose
            return [answer_one(r) for r in requests]
        ends = np.cumsum([r.count for r in requests])
        log(requests, result)
        return [
            predictor.answer(result, end - r.count, end)
            for r, end in zip(requests, ends.tolist(), strict=True)
        ]

    def answer_one(request: ParsedRequest) -> bytes | ThalwegError:
        try:
            table = request.values
            if not request.typed:
                table = as_arrays(table, predictor.columns)
            result = predictor.predict(table)
        except ThalwegError as mistake:
            return mistake
        log([request], result)
        return predictor.answer(result)

    def log(requests: list[ParsedRequest], result) -> None:
        """Count the rows, give each request its id, queue the sampled rows for the log."""
        count = sum(r.count for r in requests)
        with counting:  # the event loop and worker threads both get here
            ids = [next(request_ids) for _ in requests]
            counters["rows"] += count
        if logger is None or log_fraction <= 0:
            return
        keep = None if log_fraction >= 1 else np.flatnonzero(rng.random(count) < log_fraction)
        if keep is not None and not len(keep):
            return
        logger.log(_batch(requests, ids, result, keep))

    def parse(body: bytes, is_csv: bool, received_ms: int) -> ParsedRequest:
        if is_csv:
            table, extras, count = table_from_csv(body, predictor.columns)
            return ParsedRequest(table, True, extras, count, received_ms)
        values, extras, count = json_values(body, predictor.columns)
        return ParsedRequest(values, False, extras, count, received_ms)

    def parse_and_answer(body: bytes, is_csv: bool, received_ms: int) -> bytes | ThalwegError:
        return answer_one(parse(body, is_csv, received_ms))

    batcher = MicroBatcher(answer_all)

    async def predict(request: Request) -> Response:
        received_ms = time.time_ns() // 1_000_000
        content_type, declared = _content_headers(request.scope)
        media = content_type.split(";")[0].strip().lower()
        # curl's default (form) and text/plain are read as JSON: a forgotten header is
        # not worth a refusal when the body parses.
        if media not in ("application/json", "text/csv", "", *LENIENT_JSON):
            return error(
                415,
                f"content type {media} is not supported; send application/json "
                '({"rows": [...]} or {"columns": {...}}) or text/csv',
            )
        try:
            body = await read_body(request, declared)
        except _PayloadTooLarge:
            return error(
                413,
                f"the body is over the {max_body_bytes:,}-byte limit; send "
                "fewer rows per request (or start the server with a larger --max-body)",
            )
        counters["requests"] += 1
        is_csv = media == "text/csv"
        try:
            if len(body) < SMALL_BODY_BYTES and not is_csv:  # predicted with its neighbours
                answer = await batcher.submit(parse(body, is_csv, received_ms))
            elif len(body) < SMALL_BODY_BYTES:
                answer = parse_and_answer(body, is_csv, received_ms)
            else:  # large: parse and predict in a thread, the loop answers the others
                answer = await run_in_threadpool(parse_and_answer, body, is_csv, received_ms)
            if isinstance(answer, ThalwegError):
                raise answer
        except BadRequest as mistake:
            return error(400, str(mistake))
        except ThalwegError as mistake:  # the model's column checks
            return error(422, str(mistake))
        return json_response(answer)

    async def model_info(request: Request) -> Response:
        return json_response(jsonio.dumps(predictor.describe()))

    async def healthz(request: Request) -> Response:
        state = {
            "status": "ok",
            "model": str(predictor.path),
            "uptime_seconds": round(time.time() - started, 3),
            **counters,
            "batches": batcher.batches,
            "feature_log": logger.stats() if logger is not None else None,
        }
        return json_response(jsonio.dumps(state))

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return error(
                404, f"no route {request.url.path}; try POST /predict, GET /model, GET /healthz"
            )
        if exc.status_code == 405:
            return error(405, f"{request.method} is not allowed on {request.url.path}")
        return error(exc.status_code, str(exc.detail))

    async def server_error(request: Request, exc: Exception) -> Response:
        traceback.print_exception(exc, file=sys.stderr)
        return error(500, f"internal error ({type(exc).__name__}); this is a bug in thalweg")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        nonlocal logger
        if log_dir is not None:
            from thalweg import __version__

            logger = FeatureLogger(
                log_dir,
                predictor.columns,
                predictor.model.feature_names_out_,
                predictor.class_labels,
                metadata={
                    "model": str(predictor.path),
                    "model_sha256": predictor.sha256,
                    "thalweg_version": __version__,
                },
                rows_per_file=rows_per_file,
                seconds_per_file=seconds_per_file,
                summary=log_summary,
            )
            app.state.feature_logger = logger
        # Everything loaded so far lives as long as the server: keep it out of the
        # garbage collector's full passes, which would otherwise walk it (a pause of
        # milliseconds, felt by every request in flight).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:  # SIGTERM or Ctrl-C: uvicorn stops taking requests, then this runs
            if logger is not None:
                logger.close()

    app = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/model", model_info, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.state.predictor = predictor
    app.state.feature_logger = None
    return app


SETTINGS_VARIABLE = "THALWEG_SERVE_SETTINGS"


def app_from_environment():
    """The app of one worker process of ``thalweg serve --workers N``: its settings come
    from the environment (JSON in ``$THALWEG_SERVE_SETTINGS``), set by the parent."""
    import json

    return create_app(**json.loads(os.environ[SETTINGS_VARIABLE]))


def _content_headers(scope) -> tuple[str, str | None]:
    """``(content type, content length)`` from the raw ASGI headers (Starlette's
    ``request.headers`` builds a whole mapping per request to read two of them)."""
    content_type, length = "application/json", None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"content-length":
            length = value.decode("latin-1")
    return content_type, length


@dataclass
class ParsedRequest:
    """One parsed request: its columns' values (as parsed from JSON, or ``typed``:
    arrays, from CSV), extra fields, row count and arrival time."""

    values: dict
    typed: bool
    extras: list[str | None] | None
    count: int
    received_ms: int


def _batch(requests: list[ParsedRequest], ids: list[int], result, keep) -> LoggedBatch:
    """The rows of one model call to log (``keep``: the sampled rows, None for all)."""
    counts = [r.count for r in requests]
    if len(requests) == 1:
        rows = np.arange(counts[0], dtype=np.int32)
        request_id, time_ms = ids[0], requests[0].received_ms
        extras = requests[0].extras
    else:
        rows = np.concatenate([np.arange(n, dtype=np.int32) for n in counts])
        request_id = np.repeat(np.asarray(ids, dtype=np.int64), counts)
        time_ms = np.repeat(np.asarray([r.received_ms for r in requests], dtype=np.int64), counts)
        extras = None
        if any(r.extras is not None for r in requests):
            extras = [e for r in requests for e in (r.extras or [None] * r.count)]
    if keep is None:
        return LoggedBatch(
            request_id, time_ms, rows, result.inputs, extras,
            result.features, result.predictions, result.probabilities,
        )  # fmt: skip
    return LoggedBatch(
        request_id if np.isscalar(request_id) else request_id[keep],
        time_ms if np.isscalar(time_ms) else time_ms[keep],
        rows[keep],
        {name: values[keep] for name, values in result.inputs.items()},
        None if extras is None else [extras[i] for i in keep],
        result.features[keep],
        result.predictions[keep],
        None if result.probabilities is None else result.probabilities[keep],
    )
