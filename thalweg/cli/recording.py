"""Every ``thalweg train``, ``evaluate``, ``train-detector``, ``cluster`` and ``embed``
command records a run.

:func:`record_runs` wraps those commands once, where the command line is built, so a
command needs no code of its own to be recorded; each gains a ``--runs PATH`` option
(also ``$THALWEG_RUNS``; ``off`` records nothing). For each run the store keeps:

* the command line, the parsed options (parameters), thalweg's version, the duration,
  and the status: ``finished``, ``failed`` (with the one-line error), ``interrupted``
  (Ctrl-C, or killed: see :mod:`thalweg.tracking.store`);
* the data read: every path argument or option that existed when the command started
  (other than its outputs: ``--out``, ``--report``, ...), fingerprinted then (path,
  size, column schema, SHA-256 of the bytes it was about to read; flagged
  ``changed_during_run`` if it changed before the command ended);
* the files written: every other path that the command created or changed, with its
  hash;
* per-epoch metrics (the training loop logs them to the active run) and final metrics
  (:func:`record_metrics`; for a command that records none, the metrics stored in the
  model file it wrote).
"""

from __future__ import annotations

import functools
import inspect
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from thalweg.cli.main import EXIT_INTERRUPTED, invocation
from thalweg.data.filesystems import redact

RUNS_HELP = (
    "SQLite file that records this run (default: thalweg-runs.sqlite in the working "
    "directory; 'off' records nothing). See: thalweg runs list."
)
RUNS_OPTION = typer.Option(
    "--runs", envvar="THALWEG_RUNS", metavar="PATH", help=RUNS_HELP, show_default=False
)
# Options that change only what is printed, not what is computed: not parameters.
NOT_PARAMETERS = {"quiet", "json_output", "runs"}
# Options naming what a command writes: recorded as files written when the command
# wrote them, never as data read (a failed run leaves an old model file as it was).
OUTPUTS = {"out", "out_dir", "output", "output_path", "report", "save"}
RECORDED = ("train", "evaluate", "train-detector", "cluster", "embed")


def is_recorded(name: str) -> bool:
    """Whether the command ``name`` records a run: train, evaluate, cluster, embed and
    every ``train-*`` command (train-detector today, any added later)."""
    return name in RECORDED or name.startswith("train-")


def record_runs(app: typer.Typer) -> None:
    """Give every recorded command of ``app`` a ``--runs`` option and a run record
    (idempotent: a command is wrapped once)."""
    for info in app.registered_commands:
        callback = info.callback
        if callback is None or getattr(callback, "records_runs", False):
            continue
        name = info.name or typer.main.get_command_name(callback.__name__)
        if is_recorded(name):
            info.callback = recorded(callback, name)


def recorded(command, name: str):
    """``command`` (a Typer command function) run inside a run of the store."""
    signature = inspect.signature(command, eval_str=True)
    runs_parameter = inspect.Parameter(
        "runs",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, RUNS_OPTION],
    )

    @functools.wraps(command)
    def run_and_record(*args: Any, runs: str | None = None, **options: Any):
        from thalweg.tracking import recording_disabled, start_run

        if recording_disabled(runs):
            return command(*args, **options)
        paths = {key: value for key, value in options.items() if isinstance(value, Path)}
        before = {key: _stat(path) for key, path in paths.items()}
        # The data is fingerprinted before the command reads it, so the hash is of the
        # bytes it read, even if the file changes while it runs.
        read = {
            key: _fingerprint(path)
            for key, path in paths.items()
            if key not in OUTPUTS and before[key] is not None
        }
        # A data URL may carry a password or a signed query: the store keeps it redacted.
        params = {
            key: redact(value) if isinstance(value, str) else value
            for key, value in options.items()
            if key not in NOT_PARAMETERS and value is not None
        }
        line = shlex.join(["thalweg", *(redact(argument) for argument in invocation())])
        label = " ".join(path.name for path in args_paths(command, options)) or name
        with start_run(label, params=params, store=runs, kind=name, command=line) as run:
            try:
                code = command(*args, **options)
            finally:  # a failed run still says what it read and what it left
                written = _record_files(run, paths, before, read)
            if not run.store.get_run(run.id)["metrics"]:
                run.log_metrics(_model_metrics(written))
            if isinstance(code, int) and code >= EXIT_INTERRUPTED:  # 128 + the signal
                how = "Ctrl-C" if code == EXIT_INTERRUPTED else f"signal {code - 128}"
                run.finish("interrupted", f"interrupted ({how})")
        return code

    run_and_record.__signature__ = signature.replace(
        parameters=[*signature.parameters.values(), runs_parameter]
    )
    run_and_record.__annotations__ = {
        **{p.name: p.annotation for p in signature.parameters.values()},
        "runs": runs_parameter.annotation,
        "return": signature.return_annotation,
    }
    run_and_record.records_runs = True
    return run_and_record


def args_paths(command, options: dict) -> list[Path]:
    """The command's positional path arguments, in order (its inputs, usually)."""
    names = [
        p.name
        for p in inspect.signature(command).parameters.values()
        if p.default is inspect.Parameter.empty
    ]
    return [options[name] for name in names if isinstance(options.get(name), Path)]


def _record_files(run, paths: dict[str, Path], before: dict, read: dict) -> list[Path]:
    """Log the inputs (paths that existed before, fingerprinted then) as data read, and
    the paths the command created or changed as files written; return the latter."""
    written = []
    for key, path in paths.items():
        now = _stat(path)
        if key in read:
            if read[key] is not None:
                changed = {"changed_during_run": True} if now != before[key] else {}
                run.store.log_data(run.id, key, {**read[key], **changed})
            continue
        if now is not None and now != before[key]:
            run.log_artefact(path, name=key)
            written.append(path)
    return written


def _fingerprint(path: Path) -> dict | None:
    """The fingerprint of an input, or None if it cannot be read (the command will say
    why, in its own words)."""
    from thalweg.tracking import fingerprint

    try:
        return fingerprint(path)
    except OSError:
        return None


def record_metrics(metrics: dict, prefix: str = "") -> None:
    """Record final metrics on the run of the command being executed (if it records one).

    >>> record_metrics({"accuracy": 0.9})  # outside a recorded command: does nothing
    """
    from thalweg.tracking import active_run

    run = active_run()
    if run is not None:
        run.log_metrics(_numbers(metrics, prefix))


def _numbers(metrics: dict, prefix: str) -> dict:
    """Flatten ``{"test": {"accuracy": 0.9}}`` to ``{"test_accuracy": 0.9}``, numbers only."""
    flat = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_numbers(value, f"{prefix}{name}_"))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[f"{prefix}{name}"] = value
    return flat


def _model_metrics(paths: list[Path]) -> dict:
    """The metrics stored in the first thalweg model file among ``paths``."""
    from thalweg.errors import ThalwegError
    from thalweg.files import read_metadata

    for path in paths:
        if path.is_file() and path.suffix == ".thalweg":
            try:
                meta = read_metadata(path)  # the header only: no array is loaded
            except ThalwegError:
                continue
            if isinstance(meta.get("metrics"), dict):
                return _numbers(meta["metrics"], "")
    return {}


def _stat(path: Path) -> tuple[int, int] | None:
    """``(size, mtime)`` of a file or folder, or None if it does not exist or is neither
    (a FIFO or a device is never fingerprinted: reading it could block or never end)."""
    import stat as kinds

    try:
        stat = path.stat()
    except OSError:
        return None
    if not (kinds.S_ISREG(stat.st_mode) or kinds.S_ISDIR(stat.st_mode)):
        return None
    return stat.st_size, stat.st_mtime_ns
