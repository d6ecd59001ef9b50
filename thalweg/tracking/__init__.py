"""Run tracking (layer 2): where runs and their results are kept, instead of a folder
of CSVs.

* :func:`start_run` / :class:`Run`: record parameters, per-epoch and final metrics, the
  data read and the files written, from Python (``thalweg train`` and ``evaluate``
  record the same for every command run);
* :class:`RunStore`: the SQLite file behind it (WAL, versioned schema, concurrent
  writers, killed runs marked ``interrupted``);
* :func:`compare_runs`: parameters side by side, differences and learning curves;
* :func:`fingerprint`: what a run read (path, size, schema, SHA-256).

The :class:`thalweg.train.Tracking` callback logs a ``fit``'s history to a run; the
``thalweg runs`` command lists, shows, compares and deletes runs. See ``docs/infra.md``.
"""

from thalweg.tracking.compare import compare_runs
from thalweg.tracking.fingerprint import file_sha256, fingerprint, folder_sha256
from thalweg.tracking.run import Run, active_run, start_run
from thalweg.tracking.store import (
    DEFAULT_STORE,
    ENVIRONMENT_VARIABLE,
    MIGRATIONS,
    STATUSES,
    RunNotFoundError,
    RunStore,
    RunStoreError,
    recording_disabled,
    schema_version,
    store_path,
)

__all__ = [
    "DEFAULT_STORE",
    "ENVIRONMENT_VARIABLE",
    "MIGRATIONS",
    "STATUSES",
    "Run",
    "RunNotFoundError",
    "RunStore",
    "RunStoreError",
    "active_run",
    "compare_runs",
    "file_sha256",
    "fingerprint",
    "folder_sha256",
    "recording_disabled",
    "schema_version",
    "start_run",
    "store_path",
]
