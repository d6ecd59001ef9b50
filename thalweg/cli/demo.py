"""``thalweg demo``: a bundled dataset and training settings that show it off.

The default is the TensorFlow Playground's spiral: two interleaved arms that no straight
line separates. A network with two hidden layers of 16 ReLU units, trained with Adam on
mini-batches, learns it (test accuracy about 0.99) in a few seconds. The other
Playground generators get the same network; the bundled tables get ``--model auto``.
"""

from __future__ import annotations

from thalweg.cli.training import TrainOptions
from thalweg.datasets import list_datasets, load
from thalweg.errors import DataError

# Enough points for the spiral's arms to be learnable, a little noise so it is not trivial.
GENERATOR_DATA = {"n": 600, "noise": 0.1, "seed": 0}
NETWORK = {
    "model": "mlp",
    "hidden": (16, 16),
    "activation": "relu",
    "optimizer": "adam",
    "learning_rate": 0.01,
    "batch_size": 32,
    "epochs": 300,
}


def recipe(name: str) -> tuple[dict, TrainOptions, str]:
    """``(table, options, source)`` for the demo on dataset ``name``."""
    key = name.strip().lower().replace("-", "_")
    infos = {d.name: d for d in list_datasets()}
    if key not in infos:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(infos)}")
    info = infos[key]
    if info.source == "generator":
        X, y, names = load(key, **GENERATOR_DATA)
        options = TrainOptions(target="target", **NETWORK)
        source = (
            f"{key} (thalweg generator, n={GENERATOR_DATA['n']}, noise={GENERATOR_DATA['noise']})"
        )
    else:
        X, y, names = load(key)
        options = TrainOptions(target="target")
        source = f"{key} (bundled with thalweg)"
    table = {column: X[:, j] for j, column in enumerate(names)}
    table["target"] = y
    return table, options, source
