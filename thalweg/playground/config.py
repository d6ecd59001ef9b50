"""A playground run's configuration: the Playground's defaults, checked and normalized.

:func:`normalize_config` turns the JSON a client sends (every key optional) into a
:class:`RunConfig` with every value filled in, or raises :class:`ConfigError` naming the
field and the values it allows. The server answers that error with HTTP 400; nothing
here touches the engine.

>>> config = normalize_config({"dataset": "spiral", "hidden": [8, 8], "seed": 7})
>>> config.problem, config.loss, config.features, config.learning_rate
('classification', 'cross_entropy', ('x1', 'x2'), 0.03)
>>> normalize_config({"hidden": [9]})
Traceback (most recent call last):
...
thalweg.playground.config.ConfigError: hidden: each layer has 1 to 8 neurons; got 9
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from thalweg.data.features import PLAYGROUND_FEATURES
from thalweg.errors import ThalwegError

__all__ = [
    "ACTIVATIONS",
    "BUILTIN_DATASETS",
    "FEATURES",
    "LEARNING_RATES",
    "LOSSES",
    "MAX_HIDDEN_LAYERS",
    "MAX_NEURONS",
    "OPTIMIZERS",
    "PROBLEMS",
    "REGULARIZATIONS",
    "REGULARIZATION_RATES",
    "ConfigError",
    "RunConfig",
    "check_learning_rate",
    "check_seed",
    "normalize_config",
]


class ConfigError(ThalwegError, ValueError):
    """A config value the playground cannot use; ``field`` names it.

    The message is one line: the field, what it allows, and what was given.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


# name -> (problem, name of the generator in thalweg.datasets, label in the page)
BUILTIN_DATASETS = {
    "circle": ("classification", "circle", "Circle"),
    "xor": ("classification", "xor", "Exclusive or"),
    "gauss": ("classification", "gaussian", "Gaussian"),
    "spiral": ("classification", "spiral", "Spiral"),
    "plane": ("regression", "plane", "Plane"),
    "multigauss": ("regression", "gaussian_regression", "Multi Gaussian"),
}
FEATURES = tuple(PLAYGROUND_FEATURES)  # x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
PROBLEMS = ("classification", "regression")
LOSSES = ("cross_entropy", "squared")
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
# The Playground's menus; any value in their range is accepted.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
REGULARIZATION_RATES = (0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10)
MAX_HIDDEN_LAYERS, MAX_NEURONS = 6, 8
MAX_NOISE = 50  # the Playground's noise slider, 0-50 (percent)
MAX_BATCH_SIZE = 30
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run: the same config gives the same data and weights.

    ``noise`` is the Playground's slider (0-50, percent); ``train_fraction`` the share of
    points used for training (0.1-0.9); ``hidden`` the width of each hidden layer.
    """

    dataset: str = "circle"
    noise: float = 0
    train_fraction: float = 0.5
    batch_size: int = 10
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    learning_rate: float = 0.03
    regularization: str = "none"
    regularization_rate: float = 0
    problem: str = "classification"
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    seed: int = 0
    # None: the data of ``seed``. An integer: the data that seed would give, the starting
    # weights still from ``seed`` (Regenerate draws new data for the same network).
    data_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples as lists."""
        data = asdict(self)
        data["features"] = list(self.features)
        data["hidden"] = list(self.hidden)
        return data

    @property
    def is_classification(self) -> bool:
        return self.problem == "classification"


KEYS = tuple(RunConfig.__dataclass_fields__)


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error echoes what a client sent,
    and a client can send a 60 KB string or a number of 400 digits."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _number(field: str, value: Any, low: float, high: float, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(field, f"must be a number {allowed}; got {shown(value)}")
    # (an int of 400 digits has no float: compare it as an int, never convert it)
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        raise ConfigError(field, f"must be a number {allowed}; got {shown(value)}")
    return int(value) if float(value).is_integer() else float(value)


def _integer(field: str, value: Any, low: int, high: int, allowed: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(field, f"must be a whole number {allowed}; got {shown(value)}")
    return value


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(field, f"must be one of {', '.join(choices)}; got {shown(value)}")
    return value


def _features(value: Any) -> tuple[str, ...]:
    allowed = f"a list of distinct names from {', '.join(FEATURES)}"
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError("features", f"must be {allowed} (at least one); got {shown(value)}")
    for name in value:
        if not isinstance(name, str) or name not in FEATURES:
            raise ConfigError("features", f"must be {allowed}; got {name!r}")
    if len(set(value)) != len(value):
        raise ConfigError("features", f"must be {allowed}; got a name twice in {list(value)}")
    return tuple(name for name in FEATURES if name in value)  # the Playground's order


def _hidden(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(
            "hidden",
            f"must be a list of 0 to {MAX_HIDDEN_LAYERS} layer widths; got {shown(value)}",
        )
    if len(value) > MAX_HIDDEN_LAYERS:
        raise ConfigError(
            "hidden", f"has at most {MAX_HIDDEN_LAYERS} layers; got {len(value)} ({list(value)})"
        )
    widths = []
    for width in value:
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_NEURONS:
            raise ConfigError("hidden", f"each layer has 1 to {MAX_NEURONS} neurons; got {width!r}")
        widths.append(width)
    return tuple(widths)


def check_learning_rate(value: Any) -> float:
    """``value`` as a learning rate, or a :class:`ConfigError` naming the range.

    >>> check_learning_rate(0.1)
    0.1
    >>> check_learning_rate(0)
    Traceback (most recent call last):
    ...
    thalweg.playground.config.ConfigError: learning_rate: must be a number from 0.00001 to 10 (the Playground offers 1e-05, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10); got 0
    """  # noqa: E501
    return _number(
        "learning_rate",
        value,
        LEARNING_RATES[0],
        LEARNING_RATES[-1],
        "from 0.00001 to 10 (the Playground offers "
        + ", ".join(f"{r:g}" for r in LEARNING_RATES)
        + ")",
    )


def check_seed(field: str, value: Any) -> int:
    """``value`` as a seed (a whole number from 0 to 2³²−1), or a :class:`ConfigError`.

    >>> check_seed("data_seed", 7.0)
    7
    """
    return _integer(field, value, 0, MAX_SEED, f"from 0 to {MAX_SEED}")


def normalize_config(
    raw: Any, upload_problem: Callable[[str], str | None] | None = None
) -> RunConfig:
    """Check a client's config and fill in the Playground's defaults.

    Parameters
    ----------
    raw : dict
        Any of the keys of :class:`RunConfig`; a missing key takes its default (``seed``:
        a fresh random one, echoed back so a link can reproduce the run).
    upload_problem : callable, optional
        ``upload_problem(name)`` is the problem (``"classification"`` or ``"regression"``)
        of an uploaded dataset called ``name``, or None when there is no such upload.

    Raises
    ------
    ConfigError
        Naming the first bad field and the values it allows.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("config", f"must be a JSON object; got {type(raw).__name__}")
    unknown = [key for key in raw if key not in KEYS]
    if unknown:
        raise ConfigError(unknown[0], f"is not a config key; the keys are {', '.join(KEYS)}")
    defaults = RunConfig()

    problem = raw.get("problem")
    if problem is not None:
        problem = _choice("problem", problem, PROBLEMS)
    dataset = raw.get("dataset")
    if dataset is None:
        dataset = "plane" if problem == "regression" else defaults.dataset
    if not isinstance(dataset, str):
        raise ConfigError("dataset", f"must be a name; got {dataset!r}")
    uploaded = False
    if dataset in BUILTIN_DATASETS:
        dataset_problem = BUILTIN_DATASETS[dataset][0]
    else:
        dataset_problem = upload_problem(dataset) if upload_problem else None
        if dataset_problem is None:
            raise ConfigError(
                "dataset",
                f"must be one of {', '.join(BUILTIN_DATASETS)} or the id of an upload "
                f"(POST /api/datasets; uploads last until the server stops); got {dataset!r}",
            )
        uploaded = True
    if problem is not None and problem != dataset_problem:
        raise ConfigError(
            "problem",
            f"dataset {dataset!r} is a {dataset_problem} dataset; use problem "
            f"{dataset_problem!r} or a {problem} dataset",
        )
    problem = dataset_problem

    loss = raw.get("loss", "cross_entropy" if problem == "classification" else "squared")
    loss = _choice("loss", loss, LOSSES)
    if loss == "cross_entropy" and problem == "regression":
        raise ConfigError("loss", "regression needs the squared loss; cross_entropy classifies")

    noise = _number("noise", raw.get("noise", defaults.noise), 0, MAX_NOISE, "from 0 to 50")
    if uploaded:
        noise = 0  # an upload is what it is: the noise slider only shapes generated data

    seed = raw.get("seed")
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else check_seed("seed", seed)
    data_seed = raw.get("data_seed")
    if data_seed is not None:
        data_seed = check_seed("data_seed", data_seed)
    learning_rate = check_learning_rate(raw.get("learning_rate", defaults.learning_rate))
    regularization_rate = _number(
        "regularization_rate",
        raw.get("regularization_rate", defaults.regularization_rate),
        0,
        REGULARIZATION_RATES[-1],
        "from 0 to 10 (the Playground offers "
        + ", ".join(f"{r:g}" for r in REGULARIZATION_RATES)
        + ")",
    )
    return RunConfig(
        dataset=dataset,
        noise=noise,
        train_fraction=_number(
            "train_fraction",
            raw.get("train_fraction", defaults.train_fraction),
            0.1,
            0.9,
            "from 0.1 to 0.9 (the share of points used for training)",
        ),
        batch_size=_integer(
            "batch_size",
            raw.get("batch_size", defaults.batch_size),
            1,
            MAX_BATCH_SIZE,
            f"from 1 to {MAX_BATCH_SIZE}",
        ),
        features=_features(raw.get("features", list(defaults.features))),
        hidden=_hidden(raw.get("hidden", list(defaults.hidden))),
        activation=_choice("activation", raw.get("activation", defaults.activation), ACTIVATIONS),
        learning_rate=learning_rate,
        regularization=_choice(
            "regularization", raw.get("regularization", defaults.regularization), REGULARIZATIONS
        ),
        regularization_rate=regularization_rate,
        problem=problem,
        loss=loss,
        optimizer=_choice("optimizer", raw.get("optimizer", defaults.optimizer), OPTIMIZERS),
        seed=seed,
        data_seed=data_seed,
    )
