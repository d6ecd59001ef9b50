"""The model server's routes (Starlette): validate, translate, answer.

=================  ====================================================================
``POST /predict``  ``{"rows": [{column: value, ...}, ...]}`` (``application/json``) or
                   CSV with a header (``text/csv``) -> ``{"predictions": [...]}``, plus
                   ``"probabilities"`` (one list per row, in ``"classes"`` order) and
                   ``"classes"`` for a classifier
``GET /model``     the schema (columns, types, categories), task, classes, features,
                   the metrics measured at training, the model file's SHA-256
``GET /healthz``   ``{"status": "ok", ...}``: requests served, feature-log counters
=================  ====================================================================

Mistakes get a 4xx and ``{"error": "<one line>"}``: 400 unreadable body, 413 body over
the cap, 415 another content type, 422 a column missing or not numeric, a missing value
the model cannot fill (the same checks and words as ``thalweg predict``); 404 and 405
for unknown routes and methods. Predicting a small request runs on the event loop (it
takes well under a millisecond); a large one runs in a worker thread so ``/healthz``
and small requests keep being answered meanwhile.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
import traceback

import numpy as np

from thalweg.errors import DataError, ThalwegError
from thalweg.serving.featurelog import FeatureLogger, LoggedBatch
from thalweg.serving.predictor import Predictor
from thalweg.serving.rows import BadRequest, table_from_csv, table_from_json

MAX_BODY_BYTES = 16 * 1024 * 1024
LENIENT_JSON = ("application/x-www-form-urlencoded", "text/plain")
THREAD_ROWS = 256  # requests with at least this many rows are predicted in a thread


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
):
    """The Starlette application serving the model file at ``model_path``.

    ``log_dir``: where the feature log goes (None: no log); ``log_fraction``: the share
    of rows logged, sampled at random (``seed`` makes the sample reproducible).
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
    rng = np.random.default_rng(seed)
    logger: FeatureLogger | None = None
    started = time.time()

    def json_response(body: bytes, status: int = 200) -> Response:
        return Response(body, status_code=status, media_type="application/json")

    def error(status: int, message: str) -> Response:
        counters["errors"] += 1
        import json

        one_line = " ".join(message.split())
        return json_response(json.dumps({"error": one_line}).encode(), status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise _PayloadTooLarge()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise _PayloadTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    def predict_rows(body: bytes, is_csv: bool, received_ms: int) -> bytes:
        parse = table_from_csv if is_csv else table_from_json
        table, extras, count = parse(body, predictor.columns)
        result = predictor.predict(table)
        if logger is not None and log_fraction > 0:
            keep = None if log_fraction >= 1 else np.flatnonzero(rng.random(count) < log_fraction)
            if keep is None or len(keep):
                logger.log(_batch(next(request_ids), received_ms, extras, result, keep))
        else:
            next(request_ids)
        counters["rows"] += count
        return predictor.answer(result)

    async def predict(request: Request) -> Response:
        received_ms = time.time_ns() // 1_000_000
        content_type = request.headers.get("content-type", "application/json")
        media = content_type.split(";")[0].strip().lower()
        # curl's default (form) and text/plain are read as JSON: a forgotten header is
        # not worth a refusal when the body parses.
        if media not in ("application/json", "text/csv", "", *LENIENT_JSON):
            return error(
                415,
                f"content type {media} is not supported; send application/json "
                '({"rows": [...]}) or text/csv',
            )
        try:
            body = await read_body(request)
        except _PayloadTooLarge:
            return error(
                413,
                f"the body is over the {max_body_bytes:,}-byte limit; send "
                "fewer rows per request (or start the server with a larger --max-body)",
            )
        counters["requests"] += 1
        is_csv = media == "text/csv"
        try:
            if len(body) < THREAD_ROWS * 64:  # small: answer on the event loop
                answer = predict_rows(body, is_csv, received_ms)
            else:
                answer = await run_in_threadpool(predict_rows, body, is_csv, received_ms)
        except BadRequest as mistake:
            return error(400, str(mistake))
        except ThalwegError as mistake:  # the model's column checks
            return error(422, str(mistake))
        return json_response(answer)

    async def model_info(request: Request) -> Response:
        import json

        return json_response(json.dumps(predictor.describe()).encode())

    async def healthz(request: Request) -> Response:
        import json

        state = {
            "status": "ok",
            "model": str(predictor.path),
            "uptime_seconds": round(time.time() - started, 3),
            **counters,
            "feature_log": logger.stats() if logger is not None else None,
        }
        return json_response(json.dumps(state).encode())

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
            )
            app.state.feature_logger = logger
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


def _batch(request_id, received_ms, extras, result, keep) -> LoggedBatch:
    """The rows of one request to log (``keep``: the sampled positions, None for all)."""
    if keep is None:
        rows = np.arange(len(result.predictions), dtype=np.int32)
        return LoggedBatch(
            request_id, received_ms, rows, result.inputs, extras,
            result.features, result.predictions, result.probabilities,
        )  # fmt: skip
    return LoggedBatch(
        request_id,
        received_ms,
        keep.astype(np.int32),
        {name: values[keep] for name, values in result.inputs.items()},
        None if extras is None else [extras[i] for i in keep],
        result.features[keep],
        result.predictions[keep],
        None if result.probabilities is None else result.probabilities[keep],
    )
