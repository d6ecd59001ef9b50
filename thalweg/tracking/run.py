"""A run, as Python code sees it: ``with start_run(...) as run: run.log_metric(...)``.

>>> import tempfile, os
>>> store = os.path.join(tempfile.mkdtemp(), "runs.sqlite")
>>> with start_run("first try", store=store) as run:
...     run.log_params({"learning_rate": 0.1, "hidden": [8, 2]})
...     for epoch in (1, 2, 3):
...         run.log_metric("loss", 1.0 / epoch, step=epoch)
...     run.log_metric("test_accuracy", 0.93)
>>> from thalweg.tracking import RunStore
>>> with RunStore(store) as runs:
...     record = runs.get_run(run.id)
>>> record["status"], record["params"]["hidden"], record["history"]["loss"][-1]
('finished', [8, 2], [3, 0.3333333333333333])

Leaving the block normally marks the run ``finished``; an exception marks it
``failed`` (with the error's message), Ctrl-C ``interrupted``; a process killed outright
is marked ``interrupted`` the next time any process opens the store.

Inside the block, :func:`active_run` returns the run, and every ``fit`` of a thalweg
model logs its per-epoch history to it (the training loop adds a
:class:`thalweg.train.Tracking` callback by itself).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from thalweg.tracking.fingerprint import file_sha256, folder_sha256
from thalweg.tracking.fingerprint import fingerprint as data_fingerprint
from thalweg.tracking.store import RunStore

_ACTIVE: ContextVar[Run | None] = ContextVar("thalweg_active_run", default=None)


class Run:
    """One run in a :class:`~thalweg.tracking.store.RunStore`; every ``log_*`` call is
    committed at once (a crash a moment later loses nothing logged before it)."""

    def __init__(self, store: RunStore, run_id: int):
        self.store = store
        self.id = run_id
        self.status = "running"

    def __repr__(self) -> str:
        return f"Run(id={self.id}, status={self.status!r}, store={str(self.store.path)!r})"

    def log_params(self, params: Mapping[str, Any] | None = None, **more: Any) -> None:
        """Record parameters (any JSON-able values; tuples become lists).

        ``run.log_params({"lr": 0.1})`` or ``run.log_params(lr=0.1)``.
        """
        values = {**(params or {}), **more}
        if values:
            self.store.log_params(self.id, values)

    def log_param(self, name: str, value: Any) -> None:
        """Record one parameter."""
        self.store.log_params(self.id, {name: value})

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        """Record a metric at ``step`` (an epoch: a learning curve), or, with no step, a
        final value (logged again, it replaces the previous one)."""
        self.store.log_metrics(self.id, {name: value}, step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at once (see :meth:`log_metric`)."""
        if metrics:
            self.store.log_metrics(self.id, metrics, step)

    def log_data(self, path: str | os.PathLike, role: str = "data") -> dict:
        """Record a data file or folder the run read: path, size, schema, SHA-256.

        Returns the fingerprint (see :func:`thalweg.tracking.fingerprint`).
        """
        info = data_fingerprint(path)
        self.store.log_data(self.id, role, info)
        return info

    def log_artefact(self, path: str | os.PathLike, name: str | None = None) -> None:
        """Record a file (or folder) the run wrote, with its size and SHA-256."""
        path = Path(path)
        if path.is_dir():
            sha256, size, _ = folder_sha256(path)
        else:
            sha256, size = file_sha256(path), path.stat().st_size
        self.store.log_artefact(self.id, name or path.name, str(path), size, sha256)

    log_artifact = log_artefact  # the American spelling other trackers use

    def finish(self, status: str = "finished", error: str | None = None) -> None:
        """End the run: ``finished``, ``failed`` or ``interrupted`` (once; later calls
        are ignored)."""
        if self.status != "running":
            return
        self.store.finish_run(self.id, status, error)
        self.status = status


@contextlib.contextmanager
def start_run(
    name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    store: str | os.PathLike | RunStore | None = None,
    kind: str = "python",
    command: str | None = None,
) -> Iterator[Run]:
    """Open a run in the store and make it the :func:`active_run` inside the block.

    Parameters
    ----------
    name : str, optional
        A label for people (``thalweg runs list`` shows it).
    params : mapping, optional
        Parameters to record at once (same as ``run.log_params(params)``).
    store : path or RunStore, optional
        The SQLite file; default ``$THALWEG_RUNS``, else ``thalweg-runs.sqlite`` in the
        working directory.
    kind : str
        What made the run: ``"python"``, or the command (``"train"``, ``"evaluate"``).
    command : str, optional
        The command line, for runs started by the ``thalweg`` command.
    """
    owned = not isinstance(store, RunStore)
    opened = RunStore(store) if owned else store
    try:
        run = Run(opened, opened.create_run(name, kind=kind, command=command))
        token = _ACTIVE.set(run)
        try:
            if params:
                run.log_params(params)
            yield run
        except KeyboardInterrupt:
            run.finish("interrupted", "interrupted (Ctrl-C)")
            raise
        except BaseException as error:
            run.finish("failed", _one_line(error))
            raise
        else:
            run.finish("finished")
        finally:
            _ACTIVE.reset(token)
    finally:
        if owned:
            opened.close()


def active_run() -> Run | None:
    """The run of the innermost ``start_run`` block being executed, or None."""
    return _ACTIVE.get()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
