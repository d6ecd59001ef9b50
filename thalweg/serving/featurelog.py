"""The feature log: what a model server saw, computed and answered, kept as Parquet.

Rule #29 of Google's *Rules of ML*: save the features used at serving time, so the next
model can train on them and any difference from training can be measured (Rule #37,
``thalweg skew``). Each logged row holds

=====================  ==============================================================
``request_id``         the request's number since the server started (int64)
``time``               when the request arrived (UTC timestamp, milliseconds)
``row``                the row's position in its request (int32)
``input.<column>``     the raw input of each model column (float64, or string)
``input_extra``        the row's other fields as JSON text (null when it had none)
``feature.<name>``     each feature the model computed from the row (float64)
``prediction``         the predicted label (string) or value (float64)
``probability.<c>``    each class's probability (classifiers)
=====================  ==============================================================

Writing happens **off the request path**: :meth:`FeatureLogger.log` only puts the
request's arrays on a queue; a background thread turns them into Arrow tables and
appends them to the open Parquet file. A file is written under a hidden temporary name
and renamed to ``features-<start time>-<pid>-<n>.parquet`` when it is complete (after
``rows_per_file`` rows or ``seconds_per_file`` seconds), so a reader never sees half a
file. :meth:`FeatureLogger.close` (on SIGTERM, via the server's shutdown) writes
everything queued and completes the last file: a clean shutdown loses nothing. When
the disk cannot keep up, the queue is bounded (``max_pending_rows``): rows beyond it are
dropped *and counted* (``dropped_rows``, shown by ``GET /healthz``), rather than slowing
responses or filling memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.errors import DataError, FileFormatError

LOG_PREFIX = "features-"
SUMMARY_PREFIX = ".summary-"  # a worker process's final counters (serve --workers)
CHUNK_ROWS = 65_536  # rows turned into one Arrow table at a time by the writer


@dataclass
class LoggedBatch:
    """Rows to log (already sampled): one request's, or those of several requests
    predicted together (then ``request_id`` and ``time_ms`` hold one value per row)."""

    request_id: int | np.ndarray
    time_ms: int | np.ndarray
    rows: np.ndarray  # positions in their requests (int32)
    inputs: dict[str, np.ndarray]
    extras: list[str | None] | None
    features: np.ndarray  # (rows, n_features)
    predictions: np.ndarray
    probabilities: np.ndarray | None


class FeatureLogger:
    """Appends served rows to rolled Parquet files in ``folder`` from a background thread.

    Parameters
    ----------
    folder : path
        Where the files go (created if missing).
    input_columns : list of (name, kind)
        The model's input columns, ``kind`` being ``"numeric"``, ``"categorical"`` or
        ``"date"`` (logged as ISO text, ``2016-01-31T08:30:00``).
    feature_names : list of str
        The model's computed features.
    classes : list or None
        Class labels of a classifier (one probability column each), None for a regressor.
    metadata : dict
        Stored in every file's Parquet metadata (model path and hash, thalweg version).
    rows_per_file, seconds_per_file : when to start a new file.
    max_pending_rows : rows that may wait for the disk before new ones are dropped.
    summary : when stopped, also write the final counters to a hidden
        ``.summary-<start>-<pid>.json`` in ``folder`` (how ``thalweg serve --workers N``
        learns what each worker process logged and dropped).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        input_columns: Sequence[tuple[str, str]],
        feature_names: Sequence[str],
        classes: Sequence | None,
        *,
        metadata: Mapping[str, str] | None = None,
        rows_per_file: int = 100_000,
        seconds_per_file: float = 300.0,
        max_pending_rows: int = 1_000_000,
        flush_seconds: float = 0.25,
        summary: bool = False,
    ):
        import pyarrow as pa
        import pyarrow.parquet

        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataError(
                f"cannot create the feature log folder {self.folder} ({error.strerror}); "
                "choose another --log"
            ) from None
        if not os.access(self.folder, os.W_OK):
            raise DataError(f"the feature log folder {self.folder} is not writable")
        self.input_columns = list(input_columns)
        self.feature_names = list(feature_names)
        self.classes = None if classes is None else [str(c) for c in classes]
        self.rows_per_file = rows_per_file
        self.seconds_per_file = seconds_per_file
        self.max_pending_rows = max_pending_rows
        self.flush_seconds = flush_seconds
        self.summary = summary
        self.metadata = {k: str(v) for k, v in (metadata or {}).items()}
        fields = [
            pa.field("request_id", pa.int64()),
            pa.field("time", pa.timestamp("ms", tz="UTC")),
            pa.field("row", pa.int32()),
        ]
        for name, kind in self.input_columns:
            kind_type = pa.float64() if kind == "numeric" else pa.string()
            fields.append(pa.field(f"input.{name}", kind_type))
        fields.append(pa.field("input_extra", pa.string()))
        fields += [pa.field(f"feature.{name}", pa.float64()) for name in self.feature_names]
        prediction_type = pa.float64() if self.classes is None else pa.string()
        fields.append(pa.field("prediction", prediction_type))
        for label in self.classes or []:
            fields.append(pa.field(f"probability.{label}", pa.float64()))
        self.schema = pa.schema(fields, metadata={"thalweg": json.dumps(self.metadata)})

        self.logged_rows = 0  # rows written to disk (complete or current file)
        self.dropped_rows = 0
        self.files_written: list[Path] = []
        self._pending_rows = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()  # set by close(): write now, then stop
        self._lock = threading.Lock()
        self._closed = False
        self._error: BaseException | None = None
        self.last_bad_batch: str | None = None  # the last batch that could not be logged
        self._writer = None
        self._temporary: Path | None = None
        self._file_started = 0.0
        self._file_rows = 0
        self._files = 0
        self._stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        self._thread = threading.Thread(target=self._run, name="feature-log", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------- request path
    def log(self, batch: LoggedBatch) -> bool:
        """Queue a request's rows; False (and counted as dropped) when the queue is full
        or the logger has stopped. Never blocks on the disk."""
        count = len(batch.rows)
        with self._lock:
            if self._closed or self._error is not None:
                self.dropped_rows += count
                return False
            if self._pending_rows + count > self.max_pending_rows:
                self.dropped_rows += count
                return False
            self._pending_rows += count
        self._queue.put(batch)
        return True

    # ------------------------------------------------------------- writer thread
    def _run(self) -> None:
        # Wake once per flush interval and take everything queued, rather than waking
        # for every request: each wake-up would take the interpreter lock from the
        # thread answering requests. What was queued is written in chunks of at most
        # CHUNK_ROWS rows: a backlog never becomes one huge table in memory.
        stop = False
        while not stop:
            self._wake.wait(self.flush_seconds)
            chunk, rows = [], 0
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                chunk.append(item)
                rows += len(item.rows)
                if rows >= CHUNK_ROWS:
                    self._write_or_count(chunk)
                    chunk, rows = [], 0
            if chunk:
                self._write_or_count(chunk)
            if self._writer is not None and (
                stop or time.monotonic() - self._file_started >= self.seconds_per_file
            ):
                try:
                    self._finish_file()
                except Exception as error:  # pragma: no cover - the disk failed at close
                    self._error = error
        if self.summary:
            self._write_summary()

    def _write_or_count(self, batches: list[LoggedBatch]) -> None:
        """Write ``batches``; rows that cannot be written are counted as dropped.

        A batch that cannot be turned into a table (a value Parquet cannot hold) is
        dropped alone, and logging goes on. A failing disk (full, removed) stops the
        logging for good, counted and reported in ``/healthz``: the server keeps
        answering.
        """
        try:
            tables = [self._table(batches)]
        except Exception:  # some batch's values: find which, keep the others
            tables = []
            for batch in batches:
                try:
                    tables.append(self._table([batch]))
                except Exception as error:
                    self.last_bad_batch = f"{type(error).__name__}: {error}"
                    self._count_lost(len(batch.rows))
        for index, table in enumerate(tables):
            try:
                self._write(table)
            except Exception as error:  # the disk: stop logging, keep serving
                self._error = error
                self._count_lost(sum(t.num_rows for t in tables[index:]))
                self._abandon_file()
                return

    def _write_summary(self) -> None:
        final = self.folder / f"{SUMMARY_PREFIX}{self._stamp}-{os.getpid()}.json"
        temporary = final.with_name(final.name + ".tmp")
        with contextlib.suppress(OSError):
            temporary.write_text(json.dumps(self.stats()))
            os.replace(temporary, final)

    def _count_lost(self, rows: int) -> None:
        with self._lock:
            self.dropped_rows += rows
            self._pending_rows -= rows

    def _abandon_file(self) -> None:
        """After a write error: close what can be closed; the rows of the open file
        that reached the disk stay in its temporary file, which is kept for a person."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    def _table(self, batches: list[LoggedBatch]):
        import pyarrow as pa

        counts = [len(b.rows) for b in batches]
        columns = {
            "request_id": _per_row([b.request_id for b in batches], counts),
            "time": pa.array(
                _per_row([b.time_ms for b in batches], counts), type=pa.timestamp("ms", tz="UTC")
            ),
            "row": np.concatenate([b.rows for b in batches]).astype(np.int32),
        }
        for name, kind in self.input_columns:
            values = np.concatenate([b.inputs[name] for b in batches])
            if kind == "numeric":
                columns[f"input.{name}"] = values.astype(np.float64)
            elif kind == "date":  # read as days since 1970; logged as ISO text again
                columns[f"input.{name}"] = pa.array(iso_dates(values), type=pa.string())
            else:  # text labels, None for missing
                columns[f"input.{name}"] = pa.array(values, type=pa.string())
        if all(b.extras is None for b in batches):
            columns["input_extra"] = pa.nulls(sum(counts), type=pa.string())
        else:
            extras: list = []
            for b in batches:
                extras += b.extras if b.extras is not None else [None] * len(b.rows)
            columns["input_extra"] = pa.array(extras, type=pa.string())
        features = np.concatenate([b.features for b in batches]).astype(np.float64)
        for j, name in enumerate(self.feature_names):
            columns[f"feature.{name}"] = np.ascontiguousarray(features[:, j])
        predictions = np.concatenate([b.predictions for b in batches])
        if self.classes is None:
            columns["prediction"] = predictions.astype(np.float64)
        else:
            # str() of each distinct label (what the training statistics use), per row
            distinct, codes = np.unique(predictions, return_inverse=True)
            text = np.asarray([str(label) for label in distinct.tolist()], dtype=object)
            columns["prediction"] = pa.array(text[codes.reshape(-1)], type=pa.string())
            probabilities = np.concatenate([b.probabilities for b in batches])
            for j, label in enumerate(self.classes):
                columns[f"probability.{label}"] = np.ascontiguousarray(probabilities[:, j])
        arrays = [pa.array(columns[f.name], type=f.type) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _write(self, table) -> None:
        import pyarrow.parquet as pq

        start = 0
        while start < table.num_rows:
            if self._writer is None:
                self._files += 1
                name = f"{LOG_PREFIX}{self._stamp}-{os.getpid()}-{self._files:05d}.parquet"
                self._temporary = self.folder / f".{name}.tmp"
                self._final = self.folder / name
                # Dictionary encoding pays for text (few distinct labels), not for
                # measurements (every value distinct): it would double the writing time.
                text = [f.name for f in self.schema if f.type == "string"]
                self._writer = pq.ParquetWriter(self._temporary, self.schema, use_dictionary=text)
                self._file_started = time.monotonic()
                self._file_rows = 0
            room = self.rows_per_file - self._file_rows
            piece = table.slice(start, room)
            self._writer.write_table(piece)
            self._file_rows += piece.num_rows
            start += piece.num_rows
            with self._lock:
                self.logged_rows += piece.num_rows
                self._pending_rows -= piece.num_rows
            if self._file_rows >= self.rows_per_file:
                self._finish_file()

    def _finish_file(self) -> None:
        """Close the open file and give it its final name (atomic rename)."""
        self._writer.close()
        os.replace(self._temporary, self._final)
        self.files_written.append(self._final)
        self._writer = None

    # ------------------------------------------------------------- shutdown
    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, complete the open file, stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._wake.set()
        self._thread.join(timeout)

    def stats(self) -> dict:
        """Rows logged, dropped and waiting; files completed; the writer's error, if any."""
        with self._lock:
            return {
                "folder": str(self.folder),
                "logged_rows": self.logged_rows,
                "dropped_rows": self.dropped_rows,
                "pending_rows": self._pending_rows,
                "files": len(self.files_written),
                "error": None if self._error is None else str(self._error),
                "last_bad_batch": self.last_bad_batch,
            }


def _per_row(values: list, counts: list[int]) -> np.ndarray:
    """int64 per row from per-batch values, each a number (for all of its rows) or an
    array (one per row)."""
    if all(np.ndim(v) == 0 for v in values):
        return np.repeat(np.asarray(values, dtype=np.int64), counts)
    return np.concatenate(
        [
            np.full(n, v, dtype=np.int64) if np.ndim(v) == 0 else np.asarray(v, np.int64)
            for v, n in zip(values, counts, strict=True)
        ]
    )


@dataclass
class FeatureLog:
    """A feature log read back: inputs, features and predictions of every logged row."""

    inputs: dict[str, np.ndarray]  # float64 (NaN missing) or object (None missing)
    features: np.ndarray  # (rows, n_features)
    feature_names: list[str]
    predictions: np.ndarray
    probabilities: dict[str, np.ndarray]
    extras: list[str | None]
    request_ids: np.ndarray
    rows_in_request: np.ndarray
    files: list[Path]
    metadata: dict

    def __len__(self) -> int:
        return len(self.predictions)

    def extra_column(self, name: str) -> np.ndarray:
        """A field of ``input_extra`` (a key column the request carried, say)."""
        values = [None if e is None else json.loads(e).get(name) for e in self.extras]
        return np.asarray(values, dtype=object)


def is_feature_log(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding feature-log files."""
    path = Path(path)
    return path.is_dir() and any(path.glob(f"{LOG_PREFIX}*.parquet"))


def iso_dates(days: np.ndarray) -> list[str | None]:
    """Days since 1970-01-01 (as a model reads a date column) as ISO date-times, to the
    second; None where missing.

    >>> iso_dates(np.array([0.5, np.nan]))
    ['1970-01-01T12:00:00', None]
    """
    days = np.asarray(days, dtype=np.float64)
    missing = np.isnan(days)
    seconds = np.round(np.where(missing, 0.0, days) * 86400).astype(np.int64)
    text = np.datetime_as_string(seconds.astype("datetime64[s]")).tolist()
    return [None if gap else value for value, gap in zip(text, missing, strict=True)]


def read_feature_log(path: str | os.PathLike) -> FeatureLog:
    """Read every completed file of a feature-log folder (or one file), in name order:
    after ``thalweg serve model.thalweg --log served/``, ``read_feature_log("served")``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    files = sorted(path.glob(f"{LOG_PREFIX}*.parquet")) if path.is_dir() else [path]
    if not files:
        raise DataError(
            f"{path} holds no feature-log files ({LOG_PREFIX}*.parquet); is it the --log "
            "folder of thalweg serve, and has the server logged (and flushed) any rows?"
        )
    try:
        tables = [pq.read_table(file) for file in files]
        table = pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, OSError) as error:
        raise FileFormatError(f"{path}: cannot read the feature log ({error})") from None
    names = table.column_names
    if "prediction" not in names or not any(n.startswith("feature.") for n in names):
        raise FileFormatError(
            f"{path} is not a thalweg feature log (no prediction and feature.* columns)"
        )
    inputs = {}
    for name in names:
        if name.startswith("input.") and name != "input_extra":
            column = table.column(name)
            if pa.types.is_floating(column.type):
                inputs[name[len("input.") :]] = column.to_numpy()
            else:
                inputs[name[len("input.") :]] = np.asarray(column.to_pylist(), dtype=object)
    feature_names = [n[len("feature.") :] for n in names if n.startswith("feature.")]
    features = np.column_stack([table.column(f"feature.{n}").to_numpy() for n in feature_names])
    prediction = table.column("prediction")
    predictions = (
        prediction.to_numpy()
        if pa.types.is_floating(prediction.type)
        else np.asarray(prediction.to_pylist(), dtype=object)
    )
    probabilities = {
        n[len("probability.") :]: table.column(n).to_numpy()
        for n in names
        if n.startswith("probability.")
    }
    raw_metadata = (tables[0].schema.metadata or {}).get(b"thalweg", b"{}")
    return FeatureLog(
        inputs=inputs,
        features=features,
        feature_names=feature_names,
        predictions=predictions,
        probabilities=probabilities,
        extras=table.column("input_extra").to_pylist() if "input_extra" in names else [],
        request_ids=table.column("request_id").to_numpy(),
        rows_in_request=table.column("row").to_numpy(),
        files=files,
        metadata=json.loads(raw_metadata),
    )
