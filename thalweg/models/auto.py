"""Planning a model for a table: from a target column and a few options to an estimator.

:class:`TrainOptions` holds everything that shapes training on a table (the options of
``thalweg train``). :func:`plan_model` decides the task (classification or regression)
and the family (linear or MLP) and says why in one line; :func:`build_estimator` makes
the estimator. :func:`check_options` refuses settings that cannot work together, in
one line each, before any data is read.

Errors name the options as parameters (``missing='mean'``, ``stream=True``); the command
line shows them as its flags.

>>> import numpy as np
>>> options = TrainOptions(target="label")
>>> plan = plan_model(options, np.array(["yes", "no", "yes"], dtype=object))
>>> plan.describe()
"task: classification, because target 'label': its values are text (2 classes: 'no', \
'yes'); model: LogisticRegression (model='mlp' for a neural network)"
>>> type(build_estimator(plan, options)).__name__
'LogisticRegression'
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

import numpy as np

from thalweg.data.columns import infer_task, target_values
from thalweg.errors import DataError, OptionError
from thalweg.models.linear import LinearRegression
from thalweg.models.logistic import LogisticRegression
from thalweg.models.mlp import MLPClassifier, MLPRegressor
from thalweg.models.tabular import MIN_FREQUENCY

__all__ = [
    "ESTIMATOR_FAMILIES",
    "Plan",
    "TrainOptions",
    "build_estimator",
    "check_options",
    "plan_from_survey",
    "plan_model",
    "select_columns",
]

ESTIMATOR_FAMILIES = {
    ("regression", "linear"): LinearRegression,
    ("classification", "linear"): LogisticRegression,
    ("regression", "mlp"): MLPRegressor,
    ("classification", "mlp"): MLPClassifier,
}

MEMORY_SPLIT = (0.6, 0.2, 0.2)
STREAM_SPLIT = (0.9, 0.05, 0.05)  # big data: most rows train; 5% is plenty to measure
DASK_SPLIT = (0.9, 0.1)  # thalweg.distributed computes no validation loss
STREAM_EPOCHS = 10  # an epoch is a pass over a big file: stop well before 1000 of them
STREAM_BATCH = 256  # rows per step without batch_size
SHUFFLE_BUFFER = 16_384  # thalweg.data.stream's default (raised to the batch size if smaller)


@dataclass
class TrainOptions:
    """What a training run on a table was asked to do (everything that shapes the model).

    ``None`` means the estimator's (or the mode's) default. ``stream=True`` trains on a
    file read piece by piece; ``dask="local:2"`` (or a scheduler address) on a cluster.
    Early stopping on the validation rows, with the best weights kept, is the default
    wherever there are validation rows (:meth:`stops_early`); ``early_stopping=False``
    trains every epoch.
    """

    target: str
    model: str = "auto"  # "auto", "linear", "logistic" or "mlp"
    task: str = "auto"  # "auto", "classification" or "regression"
    hidden: tuple[int, ...] | None = None
    activation: str | None = None
    optimizer: str | None = None
    learning_rate: float | None = None
    batch_size: int | str | None = None  # rows, or "full"
    epochs: int | None = None
    l1: float = 0.0
    l2: float | None = None  # None: the estimator's default (LogisticRegression: "auto")
    early_stopping: bool | None = None  # None: on when the split holds validation rows
    crosses: bool = False
    missing: str = "error"
    unknown: str = "other"
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()  # columns used even when they look like identifiers
    min_frequency: int | float = MIN_FREQUENCY  # rarer categories share one "other" input
    split: tuple[float, ...] | None = None  # train,validation,test or train,test fractions
    seed: int = 0
    stream: bool = False
    dask: str | None = None
    solver: str | None = None  # with dask: "gd", "sgd" or "lbfgs"
    shuffle_buffer: int | None = None  # with stream: rows mixed at a time
    balance: bool = False  # class-balanced batches (in memory, classification)

    @property
    def mode(self) -> str:
        """``"memory"``, ``"stream"`` or ``"dask"``."""
        return "stream" if self.stream else "dask" if self.dask is not None else "memory"

    def stops_early(self) -> bool:
        """Whether training stops when the validation loss stops improving (and keeps
        the best weights): as given, else whenever the run holds validation rows (a
        three-part split, in memory or streamed; a Dask run computes no validation
        loss)."""
        if self.early_stopping is not None:
            return self.early_stopping
        return self.mode != "dask" and len(self.fractions()) == 3

    def fractions(self) -> tuple[float, ...]:
        """The split, or the mode's default."""
        if self.split is not None:
            return tuple(self.split)
        return {"memory": MEMORY_SPLIT, "stream": STREAM_SPLIT, "dask": DASK_SPLIT}[self.mode]

    def settings(self) -> dict:
        """The options as JSON-able data (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))

    def dask_solver(self) -> str:
        """The solver of a ``dask`` run: as given, else sgd with a ``batch_size``, else gd."""
        if self.solver is not None:
            return self.solver
        return "sgd" if isinstance(self.batch_size, int) else "gd"

    def shuffle_rows(self) -> int:
        """A stream's shuffle buffer: as given (0, or at least a batch), else the default."""
        batch = self.batch_size or STREAM_BATCH
        if self.shuffle_buffer is None:
            return max(batch, SHUFFLE_BUFFER)
        if 0 < self.shuffle_buffer < batch:
            raise OptionError(
                f"shuffle_buffer={self.shuffle_buffer} is smaller than a batch ({batch} rows); "
                "give 0 (read in file order) or at least the batch size"
            )
        return self.shuffle_buffer


@dataclass
class Plan:
    """The task and estimator chosen, and the one line that says why."""

    task: str  # "classification" or "regression"
    family: str  # "linear" or "mlp"
    reason: str

    @property
    def estimator_class(self):
        return ESTIMATOR_FAMILIES[(self.task, self.family)]

    def describe(self) -> str:
        """The one line shown before training."""
        name = self.estimator_class.__name__
        hint = " (model='mlp' for a neural network)" if self.family == "linear" else ""
        return f"task: {self.reason}; model: {name}{hint}"


# ---------------------------------------------------------------------- the options
def check_options(options: TrainOptions, resume: bool = False) -> None:
    """Refuse, in one line each, option combinations that cannot work."""
    if options.stream and options.dask is not None:
        raise OptionError(
            f"stream=True and dask={options.dask!r} are two ways to train on data that is not "
            "loaded: choose one (stream reads the file piece by piece in this process; dask "
            "trains on a cluster)"
        )
    if options.solver is not None and options.dask is None:
        raise OptionError(
            f"solver={options.solver!r} applies to training on a cluster (dask=...); leave it out"
        )
    if options.shuffle_buffer is not None and not options.stream:
        raise OptionError(
            f"shuffle_buffer={options.shuffle_buffer} applies to streamed training "
            "(stream=True); leave it out"
        )
    if options.model in ("linear", "logistic") and (options.hidden or options.activation):
        raise OptionError(
            f"hidden and activation apply to model='mlp', not model={options.model!r}"
        )
    if options.mode == "memory":
        return
    flag = "stream=True" if options.stream else f"dask={options.dask!r}"
    if options.balance:
        raise OptionError(
            f"balance=True is not available with {flag}: balanced batches are drawn from "
            f"rows in memory; train in memory (without {flag}), or leave it out"
        )
    if resume:
        raise OptionError(
            f"resume=True is not available with {flag}: Ctrl-C stops it without a "
            "checkpoint; run it again"
        )
    refused = {
        "crosses=True": options.crosses,
        f"categorical={list(options.categorical)!r}": bool(options.categorical),
        f"keep={list(options.keep)!r}": bool(options.keep),
        f"min_frequency={options.min_frequency!r}": options.min_frequency != MIN_FREQUENCY,
        f"missing={options.missing!r}": options.missing != "error",
    }
    for name, given in refused.items():
        if given:
            raise OptionError(
                f"{name} is not available with {flag}, which reads numeric columns with no "
                f"missing values; train without it, or in memory (without {flag})"
            )
    if options.stream:
        _check_stream(options)
    else:
        _check_dask(options)


def _check_stream(options: TrainOptions) -> None:
    if options.batch_size == "full":
        raise OptionError(
            "stream=True trains on mini-batches: give batch_size a number of rows (e.g. 256)"
        )
    if options.early_stopping and len(options.fractions()) < 3:
        raise OptionError(
            "early_stopping=True needs validation rows: give split three fractions, e.g. "
            "split=(0.9, 0.05, 0.05)"
        )
    options.shuffle_rows()


def _check_dask(options: TrainOptions) -> None:
    if options.early_stopping:
        raise OptionError(
            "early_stopping=True is not available with dask (distributed training computes "
            "no validation loss); training still stops when the loss converges"
        )
    if len(options.fractions()) == 3:
        raise OptionError(
            "dask holds out test rows only (no validation loss): give split as train,test, "
            "e.g. split=(0.9, 0.1)"
        )
    solver = options.dask_solver()
    if solver == "sgd" and not isinstance(options.batch_size, int):
        raise OptionError("solver='sgd' needs batch_size=N: the rows of one step, all workers")
    if solver != "sgd" and isinstance(options.batch_size, int):
        raise OptionError(
            f"batch_size={options.batch_size} applies to solver='sgd'; solver={solver!r} "
            "takes every row in each step"
        )
    if solver == "lbfgs" and options.l1:
        raise OptionError(
            f"l1={options.l1} needs solver='gd' or solver='sgd' (L-BFGS needs a smooth loss)"
        )


# ---------------------------------------------------------------------- columns and plan
def select_columns(table: dict, options: TrainOptions) -> tuple[dict, np.ndarray]:
    """``(feature columns, target column)``: all but the target and ``ignore``."""
    columns = ", ".join(table)
    if options.target not in table:
        raise DataError(
            f"target column {options.target!r} is not in the data; its columns are: {columns} "
            "(pass one of them as target=)"
        )
    for name, listed in (("ignore", options.ignore), ("keep", options.keep)):
        unknown = [column for column in listed if column not in table]
        if unknown:
            raise DataError(
                f"{name}={unknown!r} names column(s) not in the data; its columns are: {columns}"
            )
    if options.target in options.ignore:
        raise OptionError(
            f"ignore=[{options.target!r}] lists the target; the target cannot be ignored"
        )
    if options.target in options.categorical:
        raise OptionError(
            f"categorical=[{options.target!r}] lists the target, but it applies to input "
            "columns; to read the target's values as class labels, pass task='classification'"
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
    """Decide classification or regression, and linear or MLP (see ``model``)."""
    family = "mlp" if options.model == "mlp" or options.hidden else "linear"
    if options.model in ("linear", "logistic"):
        task = "regression" if options.model == "linear" else "classification"
        if options.task not in ("auto", task):
            other = "logistic" if task == "regression" else "linear"
            raise OptionError(
                f"model={options.model!r} does {task}, but task={options.task!r}; use "
                f"model={other!r} or model='mlp'"
            )
        return Plan(task, "linear", f"{task} (model={options.model!r})")
    if options.task != "auto":
        return Plan(options.task, family, f"{options.task} (task={options.task!r})")
    task, why = infer_task(options.target, target)
    return Plan(task, family, f"{task}, because target {options.target!r}: {why}")


def plan_from_survey(options: TrainOptions, survey) -> Plan:
    """Task and estimator, decided from what a pass over data that is never loaded whole
    saw of its target (a :class:`~thalweg.data.holdout.TargetSurvey`), as in memory."""
    if survey.rows == 0:
        raise DataError("the data has no rows; it needs labelled rows to train on")
    if survey.missing:
        raise DataError(
            f"target {options.target!r} is missing in {survey.missing:,} row(s); every row "
            "needs a target here: drop those rows first, or train in memory with "
            "missing='drop'"
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


def build_estimator(plan: Plan, options: TrainOptions, verbose: int = 0):
    """The estimator, configured from the options (None options keep its defaults).

    Linear and logistic regression train by gradient descent here (``solver="gd"``),
    so that every model has training curves and honours the optimizer options. With
    early stopping (:meth:`TrainOptions.stops_early`) the validation loss alone decides
    when to stop (``tol=None``), and the best epoch's weights are kept.
    """
    settings: dict = {
        "l1": options.l1,
        "random_state": options.seed,
        "verbose": verbose,
        "early_stopping": options.stops_early(),
    }
    if options.stops_early():
        # The validation loss decides when to stop (as in scikit-learn's MLPs with
        # early_stopping): the training loss's own convergence test would stop gradient
        # descent while the held-out loss is still falling.
        settings["tol"] = None
    if options.l2 is not None:
        settings["l2"] = options.l2
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
