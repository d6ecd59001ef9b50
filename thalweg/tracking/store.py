"""The run store: one SQLite file that keeps every run's parameters, metrics and files.

Why SQLite: it is in the standard library, one file, and safe under the two things a
folder of CSVs is not: **several writers at once** (two trainings on one machine) and
**a process killed mid-write** (Ctrl-C, ``kill -9``, a full disk). The store runs in
write-ahead-log mode (``PRAGMA journal_mode=WAL``): readers never block writers, a
writer waits its turn (``busy_timeout``), and a crash at any moment leaves the last
committed state, never half a row.

Schema versions
---------------
``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` holds one function
per step (``MIGRATIONS[0]`` builds version 1 from an empty file, ``MIGRATIONS[1]`` would
turn version 1 into 2, ...). Opening a store applies the missing steps in one
transaction; a store whose version is newer than this thalweg knows is refused with a
message saying so, so an old thalweg never damages a newer store. ``PRAGMA
application_id`` marks the file as a thalweg store, so another program's SQLite file is
refused too.

Interrupted runs
----------------
A run records the host, process id and process start time of whoever runs it. Opening
the store marks ``interrupted`` every ``running`` run of this host whose process is gone
(killed, crashed, powered off mid-epoch), so a run is never left "running" forever.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from thalweg.errors import ThalwegError

DEFAULT_STORE = "thalweg-runs.sqlite"
ENVIRONMENT_VARIABLE = "THALWEG_RUNS"
# THALWEG_RUNS=off (or none, no, 0, false) turns recording off for the command line.
DISABLED = ("off", "none", "no", "0", "false")
APPLICATION_ID = 0x5448574C  # "THWL": this SQLite file is a thalweg run store
STATUSES = ("running", "finished", "failed", "interrupted")
WAIT_FOR_LOCK_SECONDS = 60.0


class RunStoreError(ThalwegError, RuntimeError):
    """A run store that cannot be used: unreadable, not a store, from a newer thalweg."""


class RunNotFoundError(ThalwegError, LookupError):
    """A run id that the store does not hold."""


def _version_1(connection: sqlite3.Connection) -> None:
    """The first schema: runs and, per run, parameters, metrics, data read, files written."""
    _execute_script(
        connection,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT,
            kind TEXT NOT NULL,
            command TEXT,
            status TEXT NOT NULL,
            started REAL NOT NULL,
            ended REAL,
            duration REAL,
            thalweg_version TEXT,
            host TEXT,
            pid INTEGER,
            process_started TEXT,
            working_directory TEXT,
            error TEXT
        );
        CREATE TABLE params (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, name)
        );
        CREATE TABLE metrics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            step INTEGER,
            value REAL,
            logged REAL NOT NULL
        );
        CREATE INDEX metrics_by_run ON metrics (run_id, name, step);
        CREATE TABLE data (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            path TEXT NOT NULL,
            fingerprint TEXT NOT NULL
        );
        CREATE TABLE artefacts (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER,
            sha256 TEXT
        );
        """,
    )


def _execute_script(connection: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the current transaction (``executescript``
    would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


# MIGRATIONS[v] turns schema version v into v + 1. Append, never edit: a store written
# by any released thalweg must still open.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_version_1]


def schema_version() -> int:
    """The schema version this thalweg writes (and the newest it can read)."""
    return len(MIGRATIONS)


def store_path(path: str | os.PathLike | None = None) -> Path:
    """Where runs go: ``path`` if given, else ``$THALWEG_RUNS``, else
    ``thalweg-runs.sqlite`` in the working directory.

    >>> store_path("elsewhere.sqlite").name
    'elsewhere.sqlite'
    """
    if path is None or str(path) == "":
        path = os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_STORE
    return Path(path)


def recording_disabled(path: str | os.PathLike | None = None) -> bool:
    """Whether ``path`` (or ``$THALWEG_RUNS``) says not to record runs (``off``)."""
    chosen = str(path) if path is not None else os.environ.get(ENVIRONMENT_VARIABLE, "")
    return chosen.strip().lower() in DISABLED


class RunStore:
    """An open run store (see the module docstring). Use as a context manager, or
    call :meth:`close`.

    >>> import tempfile, os
    >>> with RunStore(os.path.join(tempfile.mkdtemp(), "runs.sqlite")) as store:
    ...     run_id = store.create_run("demo", kind="python")
    ...     store.log_metrics(run_id, {"loss": 0.5}, step=1)
    ...     store.finish_run(run_id, "finished")
    ...     store.get_run(run_id)["status"]
    'finished'
    """

    def __init__(self, path: str | os.PathLike | None = None, *, create: bool = True):
        self.path = store_path(path)
        if not create and not self.path.exists():
            raise RunStoreError(
                f"there is no run store at {self.path}; runs are recorded by thalweg train "
                f"and evaluate (pass --runs PATH or set {ENVIRONMENT_VARIABLE} for another store)"
            )
        if self.path.is_dir():
            raise RunStoreError(f"the run store {self.path} is a folder; give a file name")
        self.connection = self._open()
        self.mark_interrupted()

    # ------------------------------------------------------------------ opening
    def _open(self) -> sqlite3.Connection:
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; every write below takes
            # the write lock up front (BEGIN IMMEDIATE), so two writers queue instead of
            # failing halfway through a transaction.
            connection = sqlite3.connect(
                self.path, timeout=WAIT_FOR_LOCK_SECONDS, isolation_level=None
            )
        except (sqlite3.Error, OSError) as error:
            raise RunStoreError(
                f"cannot open the run store {self.path} ({error}); pass --runs PATH for "
                f"another file, or set {ENVIRONMENT_VARIABLE}=off to record nothing"
            ) from None
        connection.row_factory = sqlite3.Row
        try:
            self._check_and_migrate(connection)
        except sqlite3.OperationalError as error:
            connection.close()
            if _is_busy(error):
                raise self._busy() from None
            raise RunStoreError(f"cannot use the run store {self.path} ({error})") from None
        except sqlite3.DatabaseError as error:
            connection.close()
            raise RunStoreError(
                f"{self.path} is not a thalweg run store ({error}); pass --runs PATH to "
                "use another file"
            ) from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _check_and_migrate(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA foreign_keys = ON")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        self._refuse_foreign(connection, version)
        if version < schema_version():
            connection.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                self._refuse_foreign(connection, version)
                if version == 0:
                    connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                for step in MIGRATIONS[version:]:
                    step(connection)
                connection.execute(f"PRAGMA user_version = {schema_version()}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        # WAL survives in the file once set; setting it on every open is cheap.
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - a file system without WAL
            raise RunStoreError(
                f"the run store {self.path} cannot use write-ahead logging on this file "
                "system; put it on a local disk (--runs PATH)"
            )
        # NORMAL in WAL mode: a process crash loses nothing committed; only a power loss
        # can undo the last commits, never corrupt the file.
        connection.execute("PRAGMA synchronous = NORMAL")

    def _refuse_foreign(self, connection: sqlite3.Connection, version: int) -> None:
        application = connection.execute("PRAGMA application_id").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application != APPLICATION_ID and (version or tables):
            raise RunStoreError(
                f"{self.path} is an SQLite file but not a thalweg run store; pass --runs PATH "
                "to use another file"
            )
        if version > schema_version():
            from thalweg import __version__

            raise RunStoreError(
                f"the run store {self.path} was written by a newer thalweg (store schema "
                f"{version}; thalweg {__version__} reads up to {schema_version()}); upgrade "
                "thalweg to use it, or pass --runs PATH for another store"
            )

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        self.connection.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _busy(self) -> RunStoreError:
        return RunStoreError(
            f"the run store {self.path} stayed locked by another process for over "
            f"{WAIT_FOR_LOCK_SECONDS:g} s; retry when it is done, or pass --runs PATH for "
            f"another store ({ENVIRONMENT_VARIABLE}=off records nothing)"
        )

    def _write(self, statements: Iterable[tuple[str, tuple]]) -> list[int]:
        """Run ``(sql, parameters)`` pairs in one transaction; the last row ids."""
        connection = self.connection
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise self._busy() from None
            raise
        try:
            ids = [connection.execute(sql, parameters).lastrowid for sql, parameters in statements]
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return ids

    # ------------------------------------------------------------------ writing
    def create_run(
        self,
        name: str | None = None,
        *,
        kind: str = "python",
        command: str | None = None,
    ) -> int:
        """Start a run (status ``running``) for this process; return its id."""
        from thalweg import __version__

        (run_id,) = self._write(
            [
                (
                    "INSERT INTO runs (name, kind, command, status, started, thalweg_version, "
                    "host, pid, process_started, working_directory) "
                    "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        kind,
                        command,
                        time.time(),
                        __version__,
                        socket.gethostname(),
                        os.getpid(),
                        _process_start(os.getpid()),
                        os.getcwd(),
                    ),
                )
            ]
        )
        return int(run_id)

    def log_params(self, run_id: int, params: Mapping[str, Any]) -> None:
        """Set parameters (JSON values); a name logged again is replaced."""
        self._write(
            (
                "INSERT OR REPLACE INTO params (run_id, name, value) VALUES (?, ?, ?)",
                (run_id, str(name), json.dumps(_jsonable(value), sort_keys=True)),
            )
            for name, value in params.items()
        )

    def log_metrics(self, run_id: int, metrics: Mapping[str, float], step: int | None) -> None:
        """Record metric values at ``step`` (an epoch), or as final values (``None``)."""
        now = time.time()
        rows = []
        for name, value in metrics.items():
            number = _as_number(name, value)
            if step is None:  # one final value per name: the latest wins
                rows.append(
                    (
                        "DELETE FROM metrics WHERE run_id = ? AND name = ? AND step IS NULL",
                        (run_id, name),
                    )
                )
            rows.append(
                (
                    "INSERT INTO metrics (run_id, name, step, value, logged) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (run_id, str(name), step, number, now),
                )
            )
        self._write(rows)

    def log_data(self, run_id: int, role: str, fingerprint: Mapping[str, Any]) -> None:
        """Record a data set the run read (see :func:`thalweg.tracking.fingerprint`)."""
        self._write(
            [
                (
                    "INSERT INTO data (run_id, role, path, fingerprint) VALUES (?, ?, ?, ?)",
                    (run_id, role, str(fingerprint.get("path")), json.dumps(fingerprint)),
                )
            ]
        )

    def log_artefact(
        self, run_id: int, name: str, path: str, size: int | None, sha256: str | None
    ) -> None:
        """Record a file the run wrote, with its size and SHA-256."""
        self._write(
            [
                (
                    "DELETE FROM artefacts WHERE run_id = ? AND name = ? AND path = ?",
                    (run_id, name, path),
                ),
                (
                    "INSERT INTO artefacts (run_id, name, path, size, sha256) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (run_id, name, path, size, sha256),
                ),
            ]
        )

    def finish_run(self, run_id: int, status: str, error: str | None = None) -> None:
        """Set the final status (``finished``, ``failed`` or ``interrupted``) and duration."""
        if status not in STATUSES[1:]:
            raise ValueError(f"a run ends finished, failed or interrupted, not {status!r}")
        now = time.time()
        self._write(
            [
                (
                    "UPDATE runs SET status = ?, ended = ?, duration = ? - started, error = ? "
                    "WHERE id = ?",
                    (status, now, now, error, run_id),
                )
            ]
        )

    def delete_run(self, run_id: int) -> None:
        """Remove a run and everything logged for it."""
        self.get_run(run_id)  # a clear error for an unknown id
        self._write([("DELETE FROM runs WHERE id = ?", (run_id,))])

    def mark_interrupted(self) -> list[int]:
        """Mark ``interrupted`` the running runs of this host whose process has ended."""
        host = socket.gethostname()
        rows = self.connection.execute(
            "SELECT id, pid, process_started, started FROM runs "
            "WHERE status = 'running' AND host = ?",
            (host,),
        ).fetchall()
        dead = [row for row in rows if not _process_alive(row["pid"], row["process_started"])]
        if not dead:
            return []
        now = time.time()
        self._write(
            (
                "UPDATE runs SET status = 'interrupted', ended = ?, duration = ? - started, "
                "error = ? WHERE id = ? AND status = 'running'",
                (now, now, "the process ended before the run did (killed or crashed)", row["id"]),
            )
            for row in dead
        )
        return [int(row["id"]) for row in dead]

    # ------------------------------------------------------------------ reading
    def list_runs(self, *, limit: int | None = None, status: str | None = None) -> list[dict]:
        """Runs, newest first: id, name, kind, status, times and final metrics."""
        sql = "SELECT * FROM runs"
        parameters: tuple = ()
        if status is not None:
            sql += " WHERE status = ?"
            parameters = (status,)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        runs = [_run_row(row) for row in self.connection.execute(sql, parameters)]
        finals: dict[int, dict] = {}
        for row in self.connection.execute(
            "SELECT run_id, name, value FROM metrics WHERE step IS NULL ORDER BY rowid"
        ):
            finals.setdefault(row["run_id"], {})[row["name"]] = row["value"]
        for run in runs:
            run["metrics"] = finals.get(run["id"], {})
        return runs

    def get_run(self, run_id: int) -> dict:
        """Everything recorded for one run (raises RunNotFoundError if there is none)."""
        row = self.connection.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            ids = [r[0] for r in self.connection.execute("SELECT id FROM runs ORDER BY id")]
            known = f"runs {ids[0]}-{ids[-1]}" if ids else "no runs yet"
            raise RunNotFoundError(
                f"there is no run {run_id} in {self.path} ({known}); see: thalweg runs list"
            )
        run = _run_row(row)
        run["params"] = {
            r["name"]: json.loads(r["value"])
            for r in self.connection.execute(
                "SELECT name, value FROM params WHERE run_id = ? ORDER BY name", (run_id,)
            )
        }
        run["metrics"], run["history"] = {}, {}
        for r in self.connection.execute(
            "SELECT name, step, value FROM metrics WHERE run_id = ? ORDER BY rowid", (run_id,)
        ):
            if r["step"] is None:
                run["metrics"][r["name"]] = r["value"]
            else:
                run["history"].setdefault(r["name"], []).append([r["step"], r["value"]])
        run["data"] = [
            {"role": r["role"], **json.loads(r["fingerprint"])}
            for r in self.connection.execute(
                "SELECT role, fingerprint FROM data WHERE run_id = ? ORDER BY rowid", (run_id,)
            )
        ]
        run["artefacts"] = [
            dict(r)
            for r in self.connection.execute(
                "SELECT name, path, size, sha256 FROM artefacts WHERE run_id = ? ORDER BY rowid",
                (run_id,),
            )
        ]
        return run

    def integrity(self) -> str:
        """SQLite's own check of the file: ``"ok"`` when nothing is damaged."""
        return self.connection.execute("PRAGMA integrity_check").fetchone()[0]


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite gave up waiting for another connection's lock."""
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _run_row(row: sqlite3.Row) -> dict:
    run = dict(row)
    for key in ("host", "pid", "process_started"):
        run.pop(key, None)
    return run


def _jsonable(value: Any) -> Any:
    """Parameters as JSON: tuples become lists, paths and other objects their text."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # NumPy scalars
        return value.item()
    return str(value)


def _as_number(name: str, value: Any) -> float | None:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"metric {name!r} must be a number, got {type(value).__name__}")
    number = float(value)
    return number if number == number else None  # NaN is stored as NULL (no value)


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (Linux: clock ticks since boot), to tell a process
    from a later one that reused its id."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; fields after the last
    # ")" are plain numbers, the start time being field 22 overall.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _process_alive(pid: int | None, started: str | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    if started is not None:
        now = _process_start(pid)
        if now is not None and now != started:
            return False  # the id now belongs to another process
    # A zombie (killed, not yet reaped by its parent) has ended its work.
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().decode(errors="replace").rsplit(")", 1)[-1].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, IndexError):
        pass
    return True
