"""A training run on a table, from its rows to a fitted, measured, saved model.

What ``thalweg train`` does, as library calls:

* :func:`train_table` — a table in memory: pick the columns, plan the model
  (:mod:`thalweg.models.auto`), type every column and apply the missing-value policy on
  the *whole* table (so an error names the row as it is in the file), split into train
  / validation / test (stratified for classification), fit a
  :class:`~thalweg.models.tabular.TabularModel` (validation loss every epoch; an
  optional checkpoint to resume from), and measure the test rows;
* :func:`train_stream` — Parquet or CSV files never loaded whole: one pass (the
  *survey*) counts the rows of each part (held out by row, reproducibly:
  :class:`~thalweg.data.holdout.RowSplit`), learns what the target holds and keeps a
  bounded sample of the held-out rows; then ``fit_stream`` on the training rows only;
* ``thalweg.distributed.table_training.train_on_cluster`` — the same on a Dask cluster.

Each returns a :class:`TrainResult`, whose :meth:`~TrainResult.save` writes the model
file with the settings, the data summary and the test metrics in its metadata.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.data import train_val_test_split
from thalweg.data.columns import (
    CATEGORICAL,
    DATE,
    NUMERIC,
    column_summary,
    identifier_reason,
    label_array,
    missing_mask,
    raise_if_missing,
    target_values,
    typed_table,
)
from thalweg.data.filesystems import is_url, locate, redact
from thalweg.data.holdout import PART_NAMES, TEST, TRAIN, RowSplit, WholeNumberLabels, as_labels
from thalweg.errors import DataError, OptionError
from thalweg.limits import check_network_size
from thalweg.metrics.summary import Evaluation
from thalweg.models.auto import (
    STREAM_BATCH,
    STREAM_EPOCHS,
    Plan,
    TrainOptions,
    build_estimator,
    plan_from_survey,
    plan_model,
    select_columns,
)
from thalweg.models.mlp import hidden_widths
from thalweg.models.tabular import TabularModel
from thalweg.train import Checkpoint, checkpoint_fingerprint

__all__ = [
    "TrainResult",
    "check_numeric",
    "data_fingerprint",
    "file_digest",
    "numeric_features",
    "require_test_rows",
    "rows_line",
    "train_stream",
    "train_table",
]


@dataclass
class TrainResult:
    """What a training run learned and measured.

    Attributes
    ----------
    model : TabularModel
    plan : Plan
        The task and estimator, and why.
    test : Evaluation
        Metrics on the test rows (all of them, or a uniform sample: see ``held_out``).
    summary : dict
        The data: source, rows, columns (name, type, missing), target, ignored, dropped
        rows, rows per split.
    seconds : float
        Training time.
    parts : dict
        Split name -> ``(table, labels)`` of rows kept in memory (for a report).
    target_values : ndarray
        The target of every row used (for a report's class balance).
    options : TrainOptions
    held_out : dict or None
        How rows were held out when the data was never loaded whole.
    balance : InputBalance or None
        Whether a streamed run waited for its input.
    trained_class_counts : dict or None
        With ``options.balance``: class -> rows trained on over all epochs (the class mix
        of the balanced batches).
    """

    model: TabularModel
    plan: Plan
    test: Evaluation
    summary: dict
    seconds: float
    parts: dict
    target_values: np.ndarray
    options: TrainOptions
    held_out: dict | None = None
    balance: object = None
    written: dict = field(default_factory=dict)
    trained_class_counts: dict | None = None

    def training_record(self, command: str = "") -> dict:
        """The ``training`` entry of the model file's metadata."""
        estimator = self.model.estimator_
        history = getattr(estimator, "history_", None)
        record = {
            "command": command,
            "mode": self.options.mode,
            "data": self.summary,
            "task": self.plan.task,
            "task_reason": self.plan.reason,
            "options": self.options.settings(),
            "seed": self.options.seed,
            "seconds": round(self.seconds, 3),
            "epochs_run": int(getattr(estimator, "n_iter_", 0)),
            "stop_reason": getattr(history, "stop_reason", None),
            "trained_class_counts": None
            if self.trained_class_counts is None
            else {str(k): v for k, v in self.trained_class_counts.items()},
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "thalweg_version": __version__,
        }
        if self.held_out is not None:
            record["held_out"] = self.held_out
        return record

    def save(self, path, command: str = "") -> Path:
        """Write the model file (atomically): the model, and in its metadata the
        training record and the test metrics."""
        metadata = {
            "training": self.training_record(command),
            "metrics": {"test": self.test.metrics},
        }
        self.model.save(path, metadata)
        self.written["model"] = Path(path)
        return Path(path)


# ---------------------------------------------------------------------- in memory
def train_table(
    table: dict,
    options: TrainOptions,
    *,
    source: str = "table",
    checkpoint=None,
    fingerprint: str | None = None,
    resume: bool = False,
    verbose: int = 0,
    on_line: Callable[[str], None] = lambda line: None,
) -> TrainResult:
    """Train and measure a model on a table in memory (see the module docstring).

    Parameters
    ----------
    table : dict of name -> 1-D array
    options : TrainOptions
    source : str
        Where the table came from (recorded in the summary).
    checkpoint : path, optional
        Where Ctrl-C saves the training state (``thalweg.train.TrainingInterrupted`` is
        raised after saving); with ``resume=True``, the checkpoint to continue from.
    fingerprint : str, optional
        Stored in the checkpoint; resuming checks it (:func:`data_fingerprint`).
    on_line : callable
        Receives the lines worth showing before training (the plan).
    """
    if options.mode != "memory":
        raise OptionError("train_table trains in memory: leave stream and dask out")
    features, target = select_columns(table, options)
    plan = plan_model(options, target)
    prepared = _prepare(features, target, plan, options, source)
    parts = _split(prepared, plan, options)
    if resume:
        check_resumable(checkpoint, fingerprint)
    balanced = _balanced_batches(plan, options)
    estimator = build_estimator(plan, options, verbose)
    if plan.family == "mlp":  # at least one input per column: hidden=(100000, 100000) fails
        check_network_size([len(prepared.kinds), *hidden_widths(estimator.hidden), 1])
    on_line(plan.describe())  # after the checks, so bad input shows only its error
    categorical = [name for name, kind in prepared.kinds.items() if kind == CATEGORICAL]
    model = TabularModel(
        estimator,
        categorical=categorical,
        missing=options.missing,
        unknown=options.unknown,
        crosses=options.crosses,
        min_frequency=options.min_frequency,
        keep=options.keep,
    )
    callbacks = []
    if checkpoint is not None:  # saved on Ctrl-C only
        callbacks.append(Checkpoint(checkpoint, every=sys.maxsize, fingerprint=fingerprint))
    train_rows, _ = parts["train"]
    validation = (parts["validation"][0], options.target) if "validation" in parts else None
    started = time.perf_counter()
    model.fit(
        train_rows,
        options.target,
        validation=validation,
        callbacks=callbacks,
        resume=checkpoint if resume else None,
        batches=balanced,
    )
    seconds = time.perf_counter() - started
    trained_counts = None
    if balanced is not None:
        # The loop saw encoded labels (0..k-1): name them by class for the report.
        classes = model.classes_.tolist()
        trained_counts = {classes[int(k)]: n for k, n in balanced.class_counts().items()}
    test_rows, test_labels = parts["test"]
    splits = {name: len(labels) for name, (_, labels) in parts.items()}
    summary = {**prepared.summary, "splits": splits}
    summary["columns"] = with_what_they_became(summary["columns"], model, options)
    return TrainResult(
        model=model,
        plan=plan,
        test=model.evaluate(test_rows, test_labels),
        summary=summary,
        seconds=seconds,
        parts=parts,
        target_values=prepared.labels,
        options=options,
        trained_class_counts=trained_counts,
    )


def with_what_they_became(columns: list[dict], model: TabularModel, options) -> list[dict]:
    """The data summary's columns (``{"name", "type", "missing"}``) with ``became``:
    what the model made of each (``model.column_report_``), ``"target"``, or
    ``"left out (ignore=[...])"`` for the ignored ones."""
    became = {entry["name"]: entry["became"] for entry in model.column_report_}
    became[options.target] = "target"
    return [{**column, "became": became.get(column["name"], "")} for column in columns] + [
        {"name": name, "type": "ignored", "missing": 0, "became": f"left out (ignore=[{name!r}])"}
        for name in options.ignore
    ]


def _balanced_batches(plan: Plan, options: TrainOptions):
    """With ``options.balance``: class-balanced batches (equal shares), else None."""
    if not options.balance:
        return None
    from thalweg.data.balancing import BalancedBatches

    if plan.task != "classification":
        raise OptionError(
            "balance=True resamples classes, but this is regression; leave it out (or pass "
            "task='classification')"
        )
    return BalancedBatches("equal", seed=options.seed)


@dataclass
class _Prepared:
    table: dict  # typed feature columns plus the target, rows with usable targets only
    labels: np.ndarray
    kinds: dict[str, str]
    summary: dict


def _prepare(features: dict, target: np.ndarray, plan: Plan, options: TrainOptions, source):
    """Type every column and apply the missing-value policy over the whole table."""
    typed, kinds = typed_table(features, options.categorical)
    # a stray word among whole-number labels: text labels when the task was asked for
    labels = target_values(
        options.target,
        target,
        plan.task == "classification",
        labels_from_text=options.task == "classification" or options.model == "logistic",
    )
    # Identifiers are left out by the model (TabularModel): their gaps do not matter.
    used = {
        name: values
        for name, values in typed.items()
        if kinds[name] != CATEGORICAL
        or name in options.keep
        or identifier_reason(values[~missing_mask(labels)]) is None
    }
    if options.missing == "error":
        raise_if_missing(
            {**used, options.target: labels},
            "fill them in, or choose missing='drop' (skip those rows) or missing='mean' (fill "
            "in training means)",
        )
    keep = ~missing_mask(labels)  # a target cannot be filled in
    if options.missing == "drop":
        for values in used.values():
            keep &= ~missing_mask(values)
    if not keep.any():
        raise DataError(
            "no rows are left after dropping those with missing values; fill them in or "
            "choose missing='mean'"
        )
    kept_labels = label_array(labels[keep])
    if plan.task == "classification" and len(np.unique(kept_labels)) < 2:
        raise DataError(
            f"target {options.target!r} has a single class ({kept_labels[0].item()!r}) in the "
            "rows kept; a classifier needs at least two classes"
        )
    # Dates go on as the text they are, for the model to read as dates again.
    table = {
        name: (features[name] if kinds[name] == DATE else values)[keep]
        for name, values in typed.items()
    }
    table[options.target] = kept_labels
    columns = column_summary({**typed, options.target: labels}, {**kinds, options.target: "target"})
    summary = {
        "source": source,
        "rows": len(target),
        "columns": columns,
        "target": options.target,
        "ignored": list(options.ignore),
        "dropped_rows": int((~keep).sum()),
    }
    return _Prepared(table, kept_labels, kinds, summary)


def _split(prepared: _Prepared, plan: Plan, options: TrainOptions) -> dict:
    """Train / validation / test parts (stratified by class for classification)."""
    fractions = options.fractions()
    rows = np.arange(len(prepared.labels))
    stratify = prepared.labels if plan.task == "classification" else None
    if stratify is not None:
        classes, counts = np.unique(stratify, return_counts=True)
        rare = [(c, int(k)) for c, k in zip(classes.tolist(), counts, strict=True)]
        rare = [(c, k) for c, k in rare if k < len(fractions)]
        if rare:
            shown = ", ".join(f"{c!r} ({k} row{'s' if k > 1 else ''})" for c, k in rare[:5])
            fix = "add rows, or drop or merge rare classes"
            if len(fractions) == 3:
                fix += ", or use two splits (split=(0.8, 0.2))"
            raise DataError(
                f"each class needs at least {len(fractions)} rows, one per split, but class "
                f"{shown} has fewer; {fix}"
            )
    parts = train_val_test_split(rows, fractions=fractions, stratify=stratify, seed=options.seed)
    names = ("train", "validation", "test") if len(parts) == 3 else ("train", "test")
    return {
        name: ({k: v[part] for k, v in prepared.table.items()}, prepared.labels[part])
        for name, part in zip(names, parts, strict=True)
    }


def check_resumable(checkpoint, fingerprint: str | None) -> None:
    """Before resuming: the checkpoint exists and this same run (data, options) saved it."""
    if checkpoint is None or not Path(checkpoint).exists():
        raise OptionError(
            f"there is no checkpoint {checkpoint} to resume from; run without resume=True"
        )
    if fingerprint is not None and checkpoint_fingerprint(checkpoint) != fingerprint:
        raise OptionError(
            f"the checkpoint {checkpoint} was saved by a run with other data or options; "
            "resume with the same ones (only epochs may change), or delete it to start over"
        )


def saved_fingerprint(path) -> str | None:
    """The fingerprint of the run that saved the checkpoint at ``path``; None if there
    is none there, or it is not a readable checkpoint (it is then nobody's to resume)."""
    from thalweg.errors import ThalwegError

    if not Path(path).exists():
        return None
    try:
        return checkpoint_fingerprint(path)
    except ThalwegError:
        return None


def checkpoint_for(usual, fingerprint: str, resume: bool) -> Path:
    """The checkpoint a run resumes from (``resume``) and saves to when interrupted.

    A checkpoint belongs to the run that saved it: the ``usual`` place, unless another
    run's checkpoint is there; then one named after this run's ``fingerprint`` beside
    it (``model.thalweg.1a2b3c4d.checkpoint``), so it is never overwritten. Resuming
    looks in both for this run's own.
    """
    usual = Path(usual)
    own = usual.with_name(f"{usual.name.removesuffix('.checkpoint')}.{fingerprint[:8]}.checkpoint")
    if resume:
        for candidate in (usual, own):
            if saved_fingerprint(candidate) == fingerprint:
                return candidate
        return usual  # resuming says what is wrong with it
    if usual.exists() and saved_fingerprint(usual) != fingerprint:
        return own
    return usual


def settle_checkpoints(usual, used, resumed: bool) -> list[str]:
    """After the model file is written: delete the checkpoint this run resumed from (the
    model supersedes it) and keep every other, which belongs to the run that saved it.
    Returns a line for each checkpoint kept."""
    if resumed:
        Path(used).unlink(missing_ok=True)
    return [
        f"kept the checkpoint {path}: this run did not resume from it (it belongs to the run "
        "that saved it: resume that run, or delete it)"
        for path in dict.fromkeys([Path(usual), Path(used)])
        if path.exists()
    ]


def data_fingerprint(data_identity: str, options: TrainOptions) -> str:
    """A hash of the data and of every option that shapes training (not ``epochs``:
    a resumed run may train for longer)."""
    settings = options.settings()
    settings.pop("epochs")
    text = json.dumps({"data": data_identity, "options": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_digest(path) -> str:
    """The SHA-256 of a file's bytes; for a URL, of its size and modification time
    (reading a remote file twice to hash it would double the transfer)."""
    if is_url(path):
        return hashlib.sha256(locate(path).identity().encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------- never loaded whole
def check_numeric(kinds: dict[str, str], options: TrainOptions) -> None:
    """Every feature must hold numbers: ``kinds`` maps a column to ``"number"`` or its type."""
    flag = "stream=True" if options.stream else f"dask={options.dask!r}"
    for name, kind in kinds.items():
        if kind != "number":
            raise DataError(
                f"column {name!r} holds {kind} values, but {flag} reads numeric columns only: "
                f"train without {flag} (in memory, such columns are one-hot encoded), store "
                f"it as numbers, or leave it out with ignore=[{name!r}]"
            )


def numeric_features(kinds: dict[str, str], options: TrainOptions) -> list[str]:
    """The feature columns (all but the target and ``ignore``), checked numeric."""
    features, _ = select_columns(dict(kinds), options)
    check_numeric({name: kinds[name] for name in features}, options)
    return list(features)


def require_test_rows(counts: np.ndarray) -> None:
    """Fail before training, not after, when no row fell in the test part."""
    if not counts[TEST]:
        raise DataError(
            f"no row was held out for the test metrics ({int(counts.sum()):,} rows in all): "
            "add rows or raise the test share of split"
        )


def rows_line(counts: np.ndarray, n_parts: int) -> str:
    """``rows: 20,000 (train 18,004, validation 994, test 1,002; held out by row, ...)``."""
    names = PART_NAMES if n_parts == 3 else ("train", None, "test")
    parts = ", ".join(f"{name} {int(n):,}" for name, n in zip(names, counts, strict=True) if name)
    return f"rows: {int(counts.sum()):,} ({parts}; held out by row, the same every epoch)"


def three_parts(split: tuple[float, ...]) -> tuple[float, float, float]:
    """train, validation, test fractions (train,test has an empty validation part)."""
    return tuple(split) if len(split) == 3 else (split[0], 0.0, split[1])


def numeric_summary(source: str, features: list[str], options: TrainOptions, counts: dict) -> dict:
    """The data summary of a run on numeric columns with no missing values."""
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


def held_out_table(X: np.ndarray, features: list[str]) -> dict:
    """Held-out feature rows ``(n, d)`` as a table of float64 columns."""
    return {name: X[:, j].astype(np.float64) for j, name in enumerate(features)}


def train_stream(
    data,
    options: TrainOptions,
    *,
    verbose: int = 0,
    on_line: Callable[[str], None] = lambda line: None,
) -> TrainResult:
    """Survey Parquet or CSV files, then ``fit_stream`` on their training rows only;
    measure the test rows (a bounded uniform sample of them; see the module docstring).

    Memory is bounded by the batch, the shuffle buffer and the held-out samples, whatever
    the size of the files. The features are the numeric columns (all but the target and
    ``ignore``).
    """
    from thalweg.data import stream
    from thalweg.data.holdout import survey_chunks
    from thalweg.data.schema import column_types, data_files
    from thalweg.train import ProgressBar

    files = data_files(data)
    features = numeric_features(column_types(files[0]), options)
    fractions = three_parts(options.fractions())
    epochs = options.epochs or STREAM_EPOCHS
    batch = options.batch_size or STREAM_BATCH
    source = stream(
        files,
        target=options.target,
        columns=features,
        batch_size=batch,
        shuffle_buffer=options.shuffle_rows(),
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
    validation = survey.validation_rows(classify)
    if options.early_stopping and validation is None:
        raise DataError("no row fell in the validation part; add rows or raise its share of split")
    if validation is None:  # too few rows for a validation part: train every epoch
        options = replace(options, early_stopping=False)
    require_test_rows(counts)
    on_line(plan.describe())
    on_line(rows_line(counts, len(options.fractions())))

    # The progress bar is this run's (in rows/s); the settings say what the stream did.
    estimator = build_estimator(plan, replace(options, epochs=epochs, batch_size=batch), 0)
    rows = source.filter(RowSplit(fractions, options.seed, TRAIN), n_samples=int(counts[TRAIN]))
    if classify:
        rows = rows.map(WholeNumberLabels())
    started = time.perf_counter()
    estimator.fit_stream(
        rows,
        epochs=epochs,
        validation=validation,
        callbacks=[ProgressBar(1, unit="rows")] if verbose else [],
    )
    seconds = time.perf_counter() - started

    model = TabularModel.from_fitted(estimator, features, target=options.target)
    labels = as_labels(survey.test.y, classify)
    test_rows = held_out_table(survey.test.X, features)
    split_counts = {name: int(counts[part]) for part, name in enumerate(PART_NAMES)}
    if len(options.fractions()) == 2:
        del split_counts["validation"]
    held_out = {
        "method": "by row, drawn per read chunk (reproducible; see docs/cli.md)",
        "fractions": list(options.fractions()),
        "validation_rows_used": 0 if validation is None else len(validation[1]),
        "test_rows": int(counts[TEST]),
        "test_rows_scored": len(labels),
    }
    return TrainResult(
        model=model,
        plan=plan,
        test=model.evaluate(test_rows, labels),
        summary=numeric_summary(redact(str(data)), features, options, split_counts),
        seconds=seconds,
        parts={"test": (test_rows, labels)},
        target_values=labels,
        options=options,
        held_out=held_out,
        balance=estimator.history_.input_balance,
    )
