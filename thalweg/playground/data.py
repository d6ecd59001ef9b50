"""The points of a run: generated like the Playground's, or uploaded; shuffled and split.

As in the Playground, a classification dataset has 500 points and a regression one
1,200; the generator's noise is the slider's value / 100; the first
``train_fraction`` of the shuffled points train and the rest test. One seed decides
everything: ``numpy.random.default_rng(seed).spawn(2)`` gives one generator for the
data and one for the initial weights. *Regenerate* sets ``data_seed``: the data then come
from that seed's data stream, the weights still from ``seed``.

>>> from thalweg.playground.config import normalize_config
>>> data = build_run_data(normalize_config({"dataset": "xor", "seed": 1}), data_rng=0)
>>> data.train_x.shape, data.test_x.shape, data.classes
((250, 2), (250, 2), (0, 1))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalweg import datasets
from thalweg.playground.config import BUILTIN_DATASETS, RunConfig
from thalweg.playground.uploads import UploadedDataset

__all__ = [
    "N_POINTS",
    "RunData",
    "build_run_data",
    "data_generator",
    "n_train_points",
    "run_generators",
]

N_POINTS = {"classification": 500, "regression": 1200}  # the Playground's sample sizes


@dataclass(frozen=True)
class RunData:
    """A run's points, split into training and test rows.

    ``train_x``/``test_x`` are ``(n, 2)`` raw columns (float32 for generated data, float64
    for uploads); ``train_y``/``test_y`` are ``(n,)`` float32: class codes 0/1 (1 is
    ``classes[1]``, the Playground's positive, blue class) or the regression target in
    training units. The plane the heat map shows is ``(x - offset) / scale``; a
    regression target in the file's units is ``y * target_scale + target_offset``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    columns: tuple[str, str] = ("x1", "x2")
    target: str = "label"
    classes: tuple | None = (0, 1)
    offset: tuple[float, float] = (0.0, 0.0)
    scale: tuple[float, float] = (1.0, 1.0)
    target_offset: float = 0.0
    target_scale: float = 1.0
    filename: str | None = None  # the uploaded file's name; None for generated data

    def to_plane(self, x: np.ndarray) -> np.ndarray:
        """Raw columns ``(n, 2)`` -> the heat map's coordinates."""
        return (np.asarray(x, dtype=np.float64) - self.offset) / self.scale


def run_generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """``(data_rng, weight_rng)``: two independent streams from one seed."""
    data_rng, weight_rng = np.random.default_rng(seed).spawn(2)
    return data_rng, weight_rng


def data_generator(config: RunConfig) -> np.random.Generator:
    """The data's generator: ``config.seed``'s data stream, or ``config.data_seed``'s when
    set (then the points are those that seed ``data_seed`` gives; the weights still come
    from ``config.seed``)."""
    seed = config.seed if config.data_seed is None else config.data_seed
    return run_generators(seed)[0]


def n_train_points(n: int, train_fraction: float) -> int:
    """How many of ``n`` shuffled points train: the Playground's ``floor(n · fraction)``,
    at least one and leaving at least one to test."""
    return min(max(int(n * train_fraction + 1e-9), 1), n - 1)


def build_run_data(config: RunConfig, data_rng, upload: UploadedDataset | None = None) -> RunData:
    """Generate (or take from ``upload``) the points of ``config``, shuffle and split them.

    ``data_rng`` is the data's random generator (see :func:`run_generators`) or a seed.
    """
    data_rng = np.random.default_rng(data_rng)
    if upload is None:
        problem, generator_name, _ = BUILTIN_DATASETS[config.dataset]
        n = N_POINTS[problem]
        generator = getattr(datasets, generator_name)
        x, y, _ = generator(n=n, noise=config.noise / 100, seed=data_rng)  # shuffled
        n_train = n_train_points(n, config.train_fraction)
        y = y.astype(np.float32)
        classes = (0, 1) if problem == "classification" else None
        return RunData(x[:n_train], y[:n_train], x[n_train:], y[n_train:], classes=classes)
    order = data_rng.permutation(upload.n_rows)
    x = upload.x[order]
    if upload.problem == "classification":
        codes = np.searchsorted(np.asarray(upload.classes, dtype=upload.y.dtype), upload.y)
        y = codes[order].astype(np.float32)
    else:
        y = ((upload.y[order] - upload.target_offset) / upload.target_scale).astype(np.float32)
    n_train = n_train_points(upload.n_rows, config.train_fraction)
    return RunData(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        columns=(upload.x1, upload.x2),
        target=upload.label,
        classes=tuple(upload.classes) if upload.classes is not None else None,
        offset=upload.offset,
        scale=upload.scale,
        target_offset=upload.target_offset,
        target_scale=upload.target_scale,
        filename=upload.filename,
    )
