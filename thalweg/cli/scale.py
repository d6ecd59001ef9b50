"""``thalweg train --stream`` and ``thalweg train --dask``: training on data never loaded whole.

``--stream`` trains in this process with :meth:`fit_stream` on
:func:`thalweg.data.stream`: memory is bounded by the batch, the shuffle buffer and the
held-out samples, whatever the size of the file. ``--dask SPEC`` trains on a Dask
cluster with :func:`thalweg.distributed.fit`: the rows stay on the workers.

Both read numeric columns only (a text or true/false column is an error that names it:
the in-memory path one-hot encodes them), and both hold rows out the same way (see
:mod:`thalweg.cli.holdout`): every row's part, train / validation / test, is drawn
once per chunk (a stream's read chunk, a Dask partition), reproducibly, so a held-out
row is never trained on. The first pass over the data (the *survey*) counts the rows
of each part, learns what the target holds (for ``--model auto``) and keeps a uniform
sample of the held-out rows, bounded in size (:func:`~thalweg.cli.holdout.sample_rows`):

* validation rows (``--stream`` only): the validation loss every epoch and
  ``--early-stopping``;
* test rows: the metrics, the report, and the model file's ``metrics``. Up to the
  bound, that is every test row; beyond it a uniform sample, and the output says so.

The model file is an ordinary table model (numeric columns, the estimator's own
standardization): ``thalweg evaluate``, ``predict`` and ``inspect`` read it as usual.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.cli.holdout import (
    PART_NAMES,
    TEST,
    TRAIN,
    RowSplit,
    TargetSurvey,
    as_labels,
    keep_part,
    sample_rows,
    survey_chunks,
    survey_partition,
)
from thalweg.cli.main import UserError
from thalweg.cli.options import shown
from thalweg.cli.scoring import Scores, score
from thalweg.cli.training import (
    Plan,
    TrainOptions,
    announce,
    build_estimator,
    plan_model,
    select_columns,
)
from thalweg.errors import DataError, FileFormatError
from thalweg.models.tabular import NUMERIC, TabularModel, target_values

STREAM_SPLIT = (0.9, 0.05, 0.05)  # big data: most rows train; 5% is plenty to measure
DASK_SPLIT = (0.9, 0.1)  # thalweg.distributed computes no validation loss
STREAM_EPOCHS = 10  # an epoch is a pass over a big file: stop well before 1000 of them
STREAM_BATCH = 256  # rows per step without --batch-size
SHUFFLE_BUFFER = 16_384  # thalweg.data.stream's default (raised to the batch size if smaller)
STREAM_SUFFIXES = (".parquet", ".pq", ".csv")


@dataclass
class ScaleOptions:
    """How ``thalweg train`` was asked to scale (the options beside :class:`TrainOptions`)."""

    stream: bool = False
    dask: str | None = None  # "local:2", "tcp://host:8786", ...
    solver: str | None = None  # --dask: "gd", "sgd" or "lbfgs"; None: from --batch-size
    shuffle_buffer: int | None = None  # --stream: rows mixed at a time


@dataclass
class ScaleResult:
    """What a streamed or distributed run learned and measured."""

    model: TabularModel
    plan: Plan
    test: Scores
    summary: dict  # the data summary (source, rows, columns, target, splits)
    held_out: dict  # how rows were held out, and how many the metrics used
    seconds: float
    test_rows: tuple[dict, np.ndarray]  # the scored test rows: (table, labels)
    balance: object = None  # --stream: the input balance (InputBalance)
    written: dict[str, Path] = field(default_factory=dict)


# ---------------------------------------------------------------------- the options


def default_split(scale: ScaleOptions) -> tuple[float, ...] | None:
    """The ``--split`` used when none is given (None: the in-memory default)."""
    if scale.stream:
        return STREAM_SPLIT
    if scale.dask is not None:
        return DASK_SPLIT
    return None


def check_options(options: TrainOptions, scale: ScaleOptions, resume: bool = False) -> None:
    """Refuse, in one line each, the option combinations these paths cannot honour."""
    if scale.stream and scale.dask is not None:
        raise UserError(
            "--stream and --dask are two ways to train on data that is not loaded: choose one "
            "(--stream reads the file piece by piece in this process; --dask trains on a cluster)"
        )
    if scale.solver is not None and scale.dask is None:
        raise UserError("--solver applies to --dask training; leave it out or add --dask")
    if scale.shuffle_buffer is not None and not scale.stream:
        raise UserError("--shuffle-buffer applies to --stream training; add --stream")
    if not (scale.stream or scale.dask is not None):
        return
    flag = "--stream" if scale.stream else "--dask"
    if resume:
        raise UserError(
            f"--resume is not available with {flag}: Ctrl-C stops it without a checkpoint; run "
            "the command again (without --resume)"
        )
    refused = {
        "--crosses": options.crosses,
        "--categorical": bool(options.categorical),
        "--balance": options.balance,
        f"--missing {options.missing}": options.missing != "error",
    }
    for name, given in refused.items():
        if given:
            raise UserError(
                f"{name} is not available with {flag}, which reads numeric columns with no "
                f"missing values; train without it, or in memory (without {flag})"
            )
    if scale.stream:
        _check_stream_options(options, scale)
    else:
        _check_dask_options(options, scale)


def _check_stream_options(options: TrainOptions, scale: ScaleOptions) -> None:
    if options.batch_size == "full":
        raise UserError(
            "--stream trains on mini-batches: give --batch-size a number of rows (e.g. 256)"
        )
    if options.early_stopping and len(options.split) < 3:
        raise UserError(
            "--early-stopping needs validation rows: give --split three fractions, e.g. "
            "0.9,0.05,0.05"
        )
    shuffle_buffer(options.batch_size or STREAM_BATCH, scale.shuffle_buffer)


def _check_dask_options(options: TrainOptions, scale: ScaleOptions) -> None:
    if options.early_stopping:
        raise UserError(
            "--early-stopping is not available with --dask (distributed training computes no "
            "validation loss); training still stops when the loss converges"
        )
    if len(options.split) == 3:
        raise UserError(
            "--dask holds out test rows only (no validation loss): give --split as train,test, "
            "e.g. 0.9,0.1"
        )
    solver = dask_solver(options, scale)
    if solver == "sgd" and not isinstance(options.batch_size, int):
        raise UserError("--solver sgd needs --batch-size N: the rows of one step, all workers")
    if solver != "sgd" and isinstance(options.batch_size, int):
        raise UserError(
            f"--batch-size {options.batch_size} applies to --solver sgd; --solver {solver} "
            "takes every row in each step"
        )
    if solver == "lbfgs" and options.l1:
        raise UserError("--l1 needs --solver gd or sgd (L-BFGS needs a smooth loss)")


def shuffle_buffer(batch_size: int, given: int | None) -> int:
    """The shuffle buffer of a stream: as given (0, or at least a batch), else the default."""
    if given is None:
        return max(batch_size, SHUFFLE_BUFFER)
    if 0 < given < batch_size:
        raise UserError(
            f"--shuffle-buffer {given} is smaller than a batch ({batch_size} rows); give 0 "
            "(read in file order) or at least the batch size"
        )
    return given


def dask_solver(options: TrainOptions, scale: ScaleOptions) -> str:
    """The solver of a ``--dask`` run: as given, else sgd with a ``--batch-size``, else gd."""
    if scale.solver is not None:
        return scale.solver
    return "sgd" if isinstance(options.batch_size, int) else "gd"


# ---------------------------------------------------------------------- columns


def check_numeric(kinds: dict[str, str], flag: str) -> None:
    """Every feature must hold numbers: ``kinds`` maps a column to "number" or its type."""
    for name, kind in kinds.items():
        if kind != "number":
            raise UserError(
                f"column {name!r} holds {kind} values, but {flag} reads numeric columns only: "
                f"train without {flag} (in memory, such columns are one-hot encoded), store it "
                f"as numbers, or leave it out with --ignore {name}"
            )


def stream_files(data) -> list:
    """The files ``--stream`` reads: DATA itself, or the Parquet/CSV files of a folder.

    Local files are ``Path``s; a URL's are :class:`thalweg.data.filesystems.Location`s.
    """
    from thalweg.data.filesystems import Location, is_url, locate

    if is_url(str(data)):
        data = locate(str(data))
    if not data.exists():
        raise FileFormatError(f"{data}: no such file or folder; check the path")
    if data.is_dir():
        if isinstance(data, Location):
            files = data.files(STREAM_SUFFIXES)
        else:
            files = sorted(p for p in data.iterdir() if p.suffix.lower() in STREAM_SUFFIXES)
        if not files:
            raise FileFormatError(f"{data}: the folder holds no .parquet, .pq or .csv files")
        return files
    if data.suffix.lower() not in STREAM_SUFFIXES:
        raise UserError(
            f"--stream reads Parquet (.parquet, .pq) and CSV (.csv) files or a folder of them, "
            f"not {data.name}: convert it, or train without --stream"
        )
    return [data]


def file_column_kinds(path) -> dict[str, str]:
    """Each column of a Parquet or CSV file (a ``Path`` or a store's ``Location``):
    "number", or what it holds instead."""
    import pyarrow as pa

    from thalweg.data.streaming import _opened

    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            with _opened(path, random_access=False) as source, csv.open_csv(source) as reader:
                schema = reader.schema
        else:
            import pyarrow.parquet as pq

            with _opened(path) as source:
                schema = pq.read_schema(source)
    except (pa.ArrowInvalid, OSError) as error:
        raise FileFormatError(f"{path}: not a readable file ({error})") from None

    def kind(arrow_type) -> str:
        if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
            return "number"
        if pa.types.is_boolean(arrow_type):
            return "true/false"
        if pa.types.is_null(arrow_type):
            return "only missing"  # an empty column
        return "text" if pa.types.is_string(arrow_type) else str(arrow_type)

    return {name: kind(schema.field(name).type) for name in schema.names}


def _pandas_kind(dtype) -> str:
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf":
        return "number"
    return "true/false" if kind == "b" else "text"


def feature_names(kinds: dict[str, str], options: TrainOptions, flag: str) -> list[str]:
    """The feature columns (all but the target and ``--ignore``), checked numeric."""
    features, _ = select_columns(dict(kinds), options)
    check_numeric({name: kinds[name] for name in features}, flag)
    return list(features)


# ---------------------------------------------------------------------- the plan


def plan_from_survey(options: TrainOptions, survey: TargetSurvey) -> Plan:
    """Task and estimator, decided from what the survey saw of the target (as in memory)."""
    if survey.rows == 0:
        raise DataError("the data has no rows; it needs labelled rows to train on")
    if survey.missing:
        raise DataError(
            f"target {options.target!r} is missing in {survey.missing:,} row(s); every row "
            "needs a target here: drop those rows first, or train in memory with --missing drop"
        )
    values = survey.values()
    plan = plan_model(options, values)
    inferred = options.model not in ("linear", "logistic") and options.task == "auto"
    if inferred and survey.overflowed:
        plan = replace(plan, reason=plan.reason + survey.caveat())
    classify = plan.task == "classification"
    target_values(options.target, values, classify)  # text for regression, fractions as classes
    if classify and len(values) < 2:
        raise DataError(
            f"target {options.target!r} has a single class ({values[0].item()!r}); a "
            "classifier needs at least two classes"
        )
    return plan


def numeric_model(estimator, features: list[str], target: str) -> TabularModel:
    """A fitted estimator as a table model of numeric columns (what ``thalweg train``
    writes), so that ``evaluate``, ``predict`` and ``inspect`` read it as usual."""
    model = TabularModel(type(estimator)(**estimator.get_params()))
    model.estimator_ = estimator
    model.target_ = target
    model.columns_ = [{"name": name, "kind": NUMERIC} for name in features]
    model.fill_values_, model.crosses_, model.encoder_ = {}, None, None
    model.feature_names_out_ = list(features)
    model.n_dropped_ = 0
    model.metadata_ = {}
    return model


def _require_test_rows(counts: np.ndarray) -> None:
    """Fail before training, not after, when no row fell in the test part."""
    if not counts[TEST]:
        raise DataError(
            f"no row was held out for the test metrics ({int(counts.sum()):,} rows in all): "
            "add rows or raise the test share of --split"
        )


def _test_scores(model, X: np.ndarray, labels: np.ndarray, features: list[str]):
    table = {name: X[:, j].astype(np.float64) for j, name in enumerate(features)}
    return table, score(model, table, labels)


def _summary(source: str, features: list[str], options: TrainOptions, counts: dict) -> dict:
    columns = [{"name": name, "type": NUMERIC, "missing": 0} for name in features]
    columns.append({"name": options.target, "type": "target", "missing": 0})
    return {
        "source": source,
        "rows": int(sum(counts.values())),
        "columns": columns,
        "target": options.target,
        "ignored": list(options.ignore),
        "dropped_rows": 0,
        "splits": counts,
    }


# ---------------------------------------------------------------------- --stream


def train_stream(
    data: Path,
    options: TrainOptions,
    scale: ScaleOptions,
    *,
    verbose: int,
    on_line=lambda line: None,
) -> ScaleResult:
    """Survey the file, then ``fit_stream`` on its training rows; score the test sample."""
    from thalweg.data import stream
    from thalweg.train import ProgressBar

    files = stream_files(data)
    features = feature_names(file_column_kinds(files[0]), options, "--stream")
    fractions = _three_parts(options.split)
    epochs = options.epochs or STREAM_EPOCHS
    batch = options.batch_size or STREAM_BATCH
    source = stream(
        files,
        target=options.target,
        columns=features,
        batch_size=batch,
        shuffle_buffer=shuffle_buffer(batch, scale.shuffle_buffer),
        seed=options.seed,
        epochs=epochs,
    )

    # The survey: one pass in file order, before anything is decided.
    survey = survey_chunks(
        source.chunks(), RowSplit(fractions, options.seed), len(features), options.seed
    )
    counts = survey.counts
    plan = plan_from_survey(options, survey.target)
    classify = plan.task == "classification"
    validation_rows = survey.validation_rows(classify)
    if options.early_stopping and validation_rows is None:
        raise DataError("no row fell in the validation part; add rows or raise its --split share")
    _require_test_rows(counts)
    on_line(announce(plan))
    on_line(_rows_line(counts, len(options.split)))

    # The progress bar is ours (in rows/s); the settings say what the stream did.
    estimator = build_estimator(plan, replace(options, epochs=epochs, batch_size=batch), 0)
    # Stream.map documents row-keeping functions; this one drops the held-out rows. What
    # follows a map takes chunks of any size (shuffle buffer, re-batching, the reading
    # process); only n_samples, the rows per epoch, must be corrected: to the survey's count.
    train_rows = source.map(RowSplit(fractions, options.seed, TRAIN, classify))
    train_rows.n_samples = int(counts[TRAIN])
    estimator._fit_extras = {"callbacks": [ProgressBar(1, unit="rows")] if verbose else []}
    started = time.perf_counter()
    try:
        estimator.fit_stream(train_rows, epochs=epochs, validation=validation_rows)
    finally:
        del estimator._fit_extras
    seconds = time.perf_counter() - started

    model = numeric_model(estimator, features, options.target)
    labels = as_labels(survey.test.y, classify)
    table, scores = _test_scores(model, survey.test.X, labels, features)
    split_counts = {name: int(counts[part]) for part, name in enumerate(PART_NAMES)}
    if len(options.split) == 2:
        del split_counts["validation"]
    held_out = {
        "method": "by row, drawn per read chunk (reproducible; see docs/cli.md)",
        "fractions": list(options.split),
        "validation_rows_used": 0 if validation_rows is None else len(validation_rows[1]),
        "test_rows": int(counts[TEST]),
        "test_rows_scored": len(labels),
    }
    return ScaleResult(
        model=model,
        plan=plan,
        test=scores,
        summary=_summary(shown(data), features, options, split_counts),
        held_out=held_out,
        seconds=seconds,
        test_rows=(table, labels),
        balance=estimator.history_.input_balance,
    )


def balance_lines(balance) -> list[str]:
    """The input balance as ``fit`` words it, with a long per-epoch list shortened."""
    lines = str(balance).splitlines()
    shares = [f"{u:.0%}" for u in balance.epoch_utilisation]
    if len(shares) > 8:
        short = f"  busy per epoch: {', '.join(shares[:3])}, ..., {', '.join(shares[-3:])}"
        lines = [short if line.startswith("  busy per epoch:") else line for line in lines]
    return lines


def _rows_line(counts: np.ndarray, n_parts: int) -> str:
    """``rows: 20,000 (train 18,004, validation 994, test 1,002; held out by row)``."""
    names = PART_NAMES if n_parts == 3 else ("train", None, "test")
    parts = ", ".join(f"{name} {int(n):,}" for name, n in zip(names, counts, strict=True) if name)
    return f"rows: {int(counts.sum()):,} ({parts}; held out by row, the same every epoch)"


def _three_parts(split: tuple[float, ...]) -> tuple[float, float, float]:
    """train, validation, test fractions (train,test has an empty validation part)."""
    return tuple(split) if len(split) == 3 else (split[0], 0.0, split[1])


# ---------------------------------------------------------------------- --dask


def train_dask(
    data: Path,
    options: TrainOptions,
    scale: ScaleOptions,
    *,
    verbose: int,
    on_line=lambda line: None,
) -> ScaleResult:
    """Survey the partitions, then ``thalweg.distributed.fit`` on the training rows."""
    from thalweg import distributed

    distributed.parse_spec(scale.dask)  # a malformed spec fails before anything starts
    _check_exists(data)
    frame = distributed.read_table(str(data))
    kinds = {name: _pandas_kind(dtype) for name, dtype in frame.dtypes.items()}
    features = feature_names(kinds, options, "--dask")
    frame = frame[[*features, options.target]]
    fractions = _three_parts(options.split)
    split = RowSplit(fractions, options.seed)

    with distributed.connect(scale.dask) as client:
        workers = len(client.scheduler_info()["workers"])
        survey, counts = _survey_partitions(frame, features, options.target, split)
        plan = plan_from_survey(options, survey)
        _require_test_rows(counts)
        classify = plan.task == "classification"
        on_line(announce(plan))
        on_line(_rows_line(counts, 2))
        on_line(f"cluster: {scale.dask} ({workers} worker{'s' if workers != 1 else ''})")

        estimator = build_estimator(plan, options, verbose)
        train_split = RowSplit(fractions, options.seed, TRAIN, classify)
        train_rows = _keep(frame, features, options.target, train_split)
        solver = dask_solver(options, scale)
        batch = options.batch_size if solver == "sgd" else None
        started = time.perf_counter()
        distributed.fit(
            estimator,
            train_rows,
            target=options.target,
            client=client,
            solver=solver,
            batch_size=batch,
        )
        seconds = time.perf_counter() - started

        # The test rows: all of them, or a uniform sample of sample_rows() when more.
        wanted = min(1.0, sample_rows(len(features)) / max(int(counts[TEST]), 1))
        test_split = RowSplit(fractions, options.seed, TEST, classify)
        test_frame = _keep(frame, features, options.target, test_split, wanted).compute()

    model = numeric_model(estimator, features, options.target)
    X = test_frame[features].to_numpy(dtype=np.float64)
    labels = as_labels(test_frame[options.target].to_numpy(), classify)
    table, scores = _test_scores(model, X, labels, features)
    split_counts = {"train": int(counts[TRAIN]), "test": int(counts[TEST])}
    held_out = {
        "method": "by row, drawn per Dask partition (reproducible; see docs/cli.md)",
        "fractions": list(options.split),
        "test_rows": int(counts[TEST]),
        "test_rows_scored": len(labels),
        "solver": solver,
        "workers": workers,
    }
    return ScaleResult(
        model=model,
        plan=plan,
        test=scores,
        summary=_summary(shown(data), features, options, split_counts),
        held_out=held_out,
        seconds=seconds,
        test_rows=(table, labels),
    )


def _check_exists(data) -> None:
    from glob import glob

    from thalweg.data.filesystems import is_url, locate

    if is_url(str(data)):
        location = locate(str(data))
        if any(c in location.path for c in "*?["):
            found = location.fsspec.glob(location.path)
        else:
            found = location.exists()
        if not found:
            raise FileFormatError(f"{location}: no such file, folder or glob match; check the URL")
        return
    if not glob(str(data)):
        raise FileFormatError(f"{data}: no such file, folder or glob match; check the path")


def _keep(frame, features, target, split: RowSplit, fraction: float = 1.0):
    """The lazy frame of the rows of ``split.part`` (see :func:`holdout.keep_part`)."""
    import pandas as pd

    empty = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in frame.dtypes.items()})
    meta = keep_part(empty, features, target, split)  # the columns and types it returns
    return frame.map_partitions(keep_part, features, target, split, fraction, meta=meta)


def _survey_partitions(frame, features, target, split: RowSplit):
    """The survey, one task per partition on the workers; merged here."""
    import dask

    parts = frame.to_delayed()
    results = dask.compute(
        *[dask.delayed(survey_partition)(p, features, target, split) for p in parts]
    )
    survey, counts = TargetSurvey(), np.zeros(3, dtype=np.int64)
    for part_survey, part_counts in results:
        survey = survey.merge(part_survey)
        counts += part_counts
    return survey, counts


# ---------------------------------------------------------------------- the model file


def save(result: ScaleResult, out: Path, options: TrainOptions, scale: ScaleOptions, command: str):
    """Write the model file (atomically) with the settings, held-out counts and metrics."""
    estimator = result.model.estimator_
    history = getattr(estimator, "history_", None)
    training = {
        "command": command,
        "mode": "stream" if scale.stream else "dask",
        "data": result.summary,
        "held_out": result.held_out,
        "task": result.plan.task,
        "task_reason": result.plan.reason,
        "options": {**options.settings(), **asdict(scale)},
        "seed": options.seed,
        "seconds": round(result.seconds, 3),
        "epochs_run": int(getattr(estimator, "n_iter_", 0)),
        "stop_reason": getattr(history, "stop_reason", None),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "thalweg_version": __version__,
    }
    try:
        result.model.save(out, {"training": training, "metrics": {"test": result.test.metrics}})
    except OSError as error:
        raise UserError(
            f"cannot write the model to {out} ({error.strerror or error}); any file already "
            "there is unchanged: free some space or choose another --out"
        ) from None
    result.written["model"] = out
