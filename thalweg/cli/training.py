"""``thalweg train`` (and ``thalweg demo``): from a table to a saved model and its metrics.

The steps, in order, each failing with one clear line before anything is written:

1. pick the target and feature columns (``--target``, ``--ignore``);
2. decide the task and the estimator (``--model``/``--task``; ``auto`` says why);
3. type every column and apply the missing-value policy on the *whole* file, so an
   error names the row as it is in the file;
4. split into train / validation / test (stratified for classification);
5. fit a :class:`~thalweg.models.tabular.TabularModel` (validation loss every epoch;
   Ctrl-C saves a checkpoint next to ``--out``);
6. score the test split, then write the model file (atomically) with the settings and
   metrics in its metadata, and the report if asked for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.cli.main import UserError
from thalweg.cli.scoring import Scores, score
from thalweg.data import train_val_test_split
from thalweg.errors import DataError
from thalweg.files import read_container
from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor
from thalweg.models.tabular import (
    CATEGORICAL,
    TabularModel,
    column_kinds,
    infer_task,
    missing_counts,
    missing_mask,
    target_values,
    typed_column,
)
from thalweg.train import Callback, Checkpoint

ESTIMATORS = {
    ("regression", "linear"): LinearRegression,
    ("classification", "linear"): LogisticRegression,
    ("regression", "mlp"): MLPRegressor,
    ("classification", "mlp"): MLPClassifier,
}


@dataclass
class TrainOptions:
    """What ``thalweg train`` was asked to do (everything that shapes the model)."""

    target: str
    model: str = "auto"
    task: str = "auto"
    hidden: tuple[int, ...] | None = None
    activation: str | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    batch_size: int | str | None = None
    epochs: int | None = None
    l1: float = 0.0
    l2: float = 0.0
    early_stopping: bool = False
    crosses: bool = False
    missing: str = "error"
    unknown: str = "other"
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    split: tuple[float, ...] = (0.6, 0.2, 0.2)
    seed: int = 0
    balance: bool = False

    def settings(self) -> dict:
        """The options as JSON-able data (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


@dataclass
class Plan:
    """The task and estimator chosen, and the one line that says why."""

    task: str
    family: str  # "linear" or "mlp"
    reason: str

    @property
    def estimator_class(self):
        return ESTIMATORS[(self.task, self.family)]


@dataclass
class TrainResult:
    """Everything a caller needs to print, report or serialize after training."""

    model: TabularModel
    plan: Plan
    test: Scores
    splits: dict[str, int]
    seconds: float
    summary: dict
    parts: dict[str, tuple[dict, np.ndarray]]  # split name -> (table, labels)
    all_labels: np.ndarray
    written: dict[str, Path] = field(default_factory=dict)
    trained_class_counts: dict | None = None  # with --balance: rows trained on, by class


# ------------------------------------------------------------------ step 1 and 2


def select_columns(table: dict, options: TrainOptions) -> tuple[dict, np.ndarray]:
    """``(feature columns, target column)``, with one-line errors for unknown names."""
    columns = ", ".join(table)
    if options.target not in table:
        raise DataError(
            f"target column {options.target!r} is not in the data; its columns are: {columns} "
            "(pass one of them to --target)"
        )
    unknown = [name for name in options.ignore if name not in table]
    if unknown:
        raise DataError(
            f"--ignore names column(s) {unknown} not in the data; its columns are: {columns}"
        )
    if options.target in options.ignore:
        raise UserError(
            f"--ignore lists the target {options.target!r}; the target cannot be ignored"
        )
    features = {
        name: values
        for name, values in table.items()
        if name != options.target and name not in options.ignore
    }
    if not features:
        raise DataError(
            f"no feature columns are left besides the target {options.target!r}; the data "
            "needs at least one input column"
        )
    return features, table[options.target]


def plan_model(options: TrainOptions, target: np.ndarray) -> Plan:
    """Decide classification or regression, and linear or MLP (see ``--model``)."""
    family = "mlp" if options.model == "mlp" or options.hidden else "linear"
    if options.model in ("linear", "logistic"):
        if options.hidden or options.activation:
            raise UserError(
                f"--hidden and --activation apply to --model mlp, not --model {options.model}"
            )
        task = "regression" if options.model == "linear" else "classification"
        if options.task not in ("auto", task):
            raise UserError(
                f"--model {options.model} does {task}, but --task is {options.task}; use "
                f"--model {'logistic' if task == 'regression' else 'linear'} or --model mlp"
            )
        return Plan(task, "linear", f"{task} (--model {options.model})")
    if options.task != "auto":
        return Plan(options.task, family, f"{options.task} (--task {options.task})")
    task, why = infer_task(options.target, target)
    return Plan(task, family, f"{task}, because target {options.target!r}: {why}")


def announce(plan: Plan) -> str:
    """The one line printed before training."""
    name = plan.estimator_class.__name__
    hint = " (--model mlp for a neural network)" if plan.family == "linear" else ""
    return f"task: {plan.reason}; model: {name}{hint}"


def build_estimator(plan: Plan, options: TrainOptions, verbose: int):
    """The estimator, configured from the options (None options keep its defaults).

    Linear and logistic regression train by gradient descent here (``solver="gd"``),
    so that every model has training curves and honours the optimizer options.
    """
    settings: dict = {"l1": options.l1, "l2": options.l2, "seed": options.seed, "verbose": verbose}
    settings["early_stopping"] = options.early_stopping
    if options.optimizer is not None:
        settings["optimizer"] = options.optimizer
    if options.learning_rate is not None:
        settings["learning_rate"] = options.learning_rate
    if options.epochs is not None:
        settings["max_epochs"] = options.epochs
    if options.batch_size is not None:
        settings["batch_size"] = None if options.batch_size == "full" else options.batch_size
    if plan.family == "linear":
        settings["solver"] = "gd"
    else:
        if options.hidden is not None:
            settings["hidden"] = options.hidden
        if options.activation is not None:
            settings["activation"] = options.activation
    return plan.estimator_class(**settings)


# ------------------------------------------------------------------ step 3 and 4


@dataclass
class Prepared:
    table: dict  # typed feature columns plus the target, rows with usable targets only
    labels: np.ndarray
    kinds: dict[str, str]
    dropped: int
    summary: dict


def prepare(
    features: dict, target: np.ndarray, plan: Plan, options: TrainOptions, source: str
) -> Prepared:
    """Type every column and apply the missing-value policy over the whole file."""
    kinds = column_kinds(features, options.categorical)
    typed = {name: typed_column(name, features[name], kind) for name, kind in kinds.items()}
    for name, values in typed.items():
        if missing_mask(values).all():
            raise DataError(
                f"column {name!r} is empty: all {len(values)} values are missing; remove it "
                f"from the file or pass --ignore {name}"
            )
    labels = target_values(options.target, target, plan.task == "classification")
    counts = missing_counts({**typed, options.target: labels})
    if counts and options.missing == "error":
        listed = ", ".join(f"{name} ({count})" for name, count in counts.items())
        rows = int(np.any([missing_mask(v) for v in (*typed.values(), labels)], axis=0).sum())
        raise DataError(
            f"{rows} row(s) have missing values, in column(s) {listed}; fill them in, or pass "
            "--missing drop (skip those rows) or --missing mean (fill in training means)"
        )
    keep = ~missing_mask(labels)  # a target cannot be filled in
    if options.missing == "drop":
        for values in typed.values():
            keep &= ~missing_mask(values)
    if not keep.any():
        raise DataError(
            "no rows are left after dropping those with missing values; fill them in or pass "
            "--missing mean"
        )
    for name, kind in kinds.items():
        if kind == CATEGORICAL:
            _warn_if_identifier(name, typed[name])
    table = {name: values[keep] for name, values in typed.items()}
    kept_labels = labels[keep]
    if kept_labels.dtype == object:
        kept_labels = np.asarray(kept_labels.tolist())
    if plan.task == "classification" and len(np.unique(kept_labels)) < 2:
        raise DataError(
            f"target {options.target!r} has a single class ({kept_labels[0].item()!r}) in the "
            "rows kept; a classifier needs at least two classes"
        )
    table[options.target] = kept_labels
    all_columns = [
        {"name": name, "type": kinds[name], "missing": int(missing_mask(typed[name]).sum())}
        for name in typed
    ]
    all_columns.append(
        {"name": options.target, "type": "target", "missing": int(missing_mask(labels).sum())}
    )
    summary = {
        "source": source,
        "rows": len(target),
        "columns": all_columns,
        "target": options.target,
        "ignored": list(options.ignore),
        "dropped_rows": int((~keep).sum()),
    }
    return Prepared(table, kept_labels, kinds, int((~keep).sum()), summary)


def _warn_if_identifier(name: str, values: np.ndarray) -> None:
    """A text column with a different value in almost every row is likely an id or a name:
    one-hot encoding it makes one input per row, which only memorizes."""
    present = values[~missing_mask(values)]
    distinct = len(set(present.tolist()))
    if distinct > 20 and distinct > 0.5 * len(present):
        warnings.warn(
            f"column {name!r} has {distinct} different values in {len(present)} rows; "
            f"one-hot encoding makes {distinct} inputs of it. If it is an id or a name, "
            f"pass --ignore {name}",
            stacklevel=2,
        )


def split(
    prepared: Prepared, plan: Plan, options: TrainOptions
) -> dict[str, tuple[dict, np.ndarray]]:
    """Train / validation / test parts (stratified by class for classification)."""
    rows = np.arange(len(prepared.labels))
    stratify = prepared.labels if plan.task == "classification" else None
    if stratify is not None:
        classes, counts = np.unique(stratify, return_counts=True)
        rare = [(c, int(k)) for c, k in zip(classes.tolist(), counts, strict=True)]
        rare = [(c, k) for c, k in rare if k < len(options.split)]
        if rare:
            shown = ", ".join(f"{c!r} ({k} row{'s' if k > 1 else ''})" for c, k in rare[:5])
            raise DataError(
                f"each class needs at least {len(options.split)} rows, one per split, but "
                f"class {shown} has fewer; add rows, drop or merge rare classes, or use two "
                "splits (--split 0.8,0.2)"
            )
    parts = train_val_test_split(
        rows, fractions=options.split, stratify=stratify, seed=options.seed
    )
    names = ("train", "validation", "test") if len(parts) == 3 else ("train", "test")
    return {
        name: ({k: v[part] for k, v in prepared.table.items()}, prepared.labels[part])
        for name, part in zip(names, parts, strict=True)
    }


# ------------------------------------------------------------------ step 5 and 6


class RunFingerprint(Callback):
    """Refuse to resume a checkpoint that a different run (other data or options) saved.

    Its one piece of state, a hash of the data and the options, is stored in every
    checkpoint; resuming compares it with the current run's.
    """

    def __init__(self, fingerprint: str, path: Path):
        self.fingerprint = fingerprint
        self.path = path

    def state_dict(self) -> dict:
        return {"fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if state.get("fingerprint") != self.fingerprint:
            raise UserError(
                f"the checkpoint {self.path} was saved by a run with other data or options; "
                "resume with the same command, or delete it to start over"
            )


def check_checkpoint(path: Path, run_id: str) -> None:
    """Before resuming: the checkpoint exists and this same run (data, options) saved it."""
    if not path.exists():
        raise UserError(f"there is no checkpoint {path} to resume from; run without --resume")
    _, meta = read_container(path)
    if meta.get("kind") != "checkpoint":
        raise UserError(f"{path} is not a training checkpoint; delete it and run without --resume")
    saved = [c["state"] for c in meta.get("callbacks", []) if c.get("class") == "RunFingerprint"]
    if not saved or saved[0].get("fingerprint") != run_id:
        raise UserError(
            f"the checkpoint {path} was saved by a run with other data or options; resume "
            "with the same command (only --epochs may change), or delete it to start over"
        )


def checkpoint_path(out: Path) -> Path:
    """Where Ctrl-C saves the training state: next to the model file."""
    return out.with_name(out.name + ".checkpoint")


def fingerprint(data_identity: str, options: TrainOptions) -> str:
    """A hash of the data and of every option that shapes training (not ``--epochs``:
    resuming may train for longer)."""
    settings = options.settings()
    settings.pop("epochs")
    text = json.dumps({"data": data_identity, "options": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_identity(path: Path) -> str:
    """The SHA-256 of a file's bytes; for a URL, its size and modification time (reading
    a remote file twice to hash it would double the transfer)."""
    from thalweg.data.filesystems import is_url, locate

    if is_url(str(path)):
        return hashlib.sha256(locate(str(path)).identity().encode()).hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train(
    table: dict,
    options: TrainOptions,
    *,
    source: str,
    data_identity: str,
    out: Path,
    resume: bool = False,
    verbose: int = 1,
    on_plan: Callable[[str], None] = lambda line: None,
    command: str = "",
) -> TrainResult:
    """Run steps 1-6 of the module docstring; return what was learned and measured.

    Raises ``thalweg.train.TrainingInterrupted`` on Ctrl-C, after saving a checkpoint at
    :func:`checkpoint_path` ``(out)``.
    """
    features, target = select_columns(table, options)
    plan = plan_model(options, target)
    prepared = prepare(features, target, plan, options, source)
    parts = split(prepared, plan, options)
    checkpoint = checkpoint_path(out)
    run_id = fingerprint(data_identity, options)
    if resume:
        check_checkpoint(checkpoint, run_id)
    balanced = balanced_batches(plan, options)
    on_plan(announce(plan))  # after the checks, so a bad input prints only its error
    categorical = [name for name, kind in prepared.kinds.items() if kind == CATEGORICAL]
    model = TabularModel(
        build_estimator(plan, options, verbose),
        categorical=categorical,
        missing=options.missing,
        unknown=options.unknown,
        crosses=options.crosses,
    )
    callbacks = [
        RunFingerprint(run_id, checkpoint),
        Checkpoint(checkpoint, every=sys.maxsize),  # saved on Ctrl-C only
    ]
    train_table, _ = parts["train"]
    validation = (parts["validation"][0], options.target) if "validation" in parts else None
    started = time.perf_counter()
    model.fit(
        train_table,
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

    test_table, test_labels = parts["test"]
    test = score(model, test_table, test_labels)
    splits = {name: len(labels) for name, (_, labels) in parts.items()}
    summary = {**prepared.summary, "splits": splits}
    history = getattr(model.estimator_, "history_", None)
    training = {
        "command": command,
        "data": summary,
        "task": plan.task,
        "task_reason": plan.reason,
        "options": options.settings(),
        "seed": options.seed,
        "seconds": round(seconds, 3),
        "epochs_run": int(getattr(model.estimator_, "n_iter_", 0)),
        "stop_reason": getattr(history, "stop_reason", None),
        "trained_class_counts": None
        if trained_counts is None
        else {str(k): v for k, v in trained_counts.items()},
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "thalweg_version": __version__,
    }
    try:
        model.save(out, {"training": training, "metrics": {"test": test.metrics}})
    except OSError as error:  # disk full, permissions: the old file (if any) is untouched
        raise UserError(
            f"cannot write the model to {out} ({error.strerror or error}); any file already "
            "there is unchanged: free some space or choose another --out"
        ) from None
    checkpoint.unlink(missing_ok=True)  # the model file supersedes it
    return TrainResult(
        model=model,
        plan=plan,
        test=test,
        splits=splits,
        seconds=seconds,
        summary=summary,
        parts=parts,
        all_labels=prepared.labels,
        written={"model": out},
        trained_class_counts=trained_counts,
    )


def balanced_batches(plan: Plan, options: TrainOptions):
    """With ``--balance``: class-balanced batches (equal shares), else None."""
    if not options.balance:
        return None
    from thalweg.data.balancing import BalancedBatches

    if plan.task != "classification":
        raise UserError(
            "--balance resamples classes, but this is regression; leave it out (or pass "
            "--task classification)"
        )
    return BalancedBatches("equal", seed=options.seed)
