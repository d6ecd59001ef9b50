"""The input pipeline: what a cache saves, and whether the balance diagnostic is right.

Speed claims that used to be asserted in the test suite (where a busy machine made them
flaky) are measured here instead, in one process, over a few rounds (medians):

* a slow feature function (4 ms per example, 2 worker processes) behind ``.cache(dir)``:
  how much faster the second epoch is (it reads the cached batches);
* the same pipeline without a cache: ``fit``'s diagnostic must call it data-bound;
* an in-memory source that is quick to read, with a 64-256-1 network: it must be
  compute-bound (the trainer busy most of the epoch).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import harness

SLOW_SECONDS = 0.004
TARGET_CACHE_SPEEDUP = 5.0
TARGET_FAST_BUSY = 0.9


def features(i):
    i = int(i)
    return np.array([i / 100, (i % 7) / 7, 1.0], dtype=np.float32), float(i % 2)


def slow_features(i):
    time.sleep(SLOW_SECONDS)
    return features(i)


def _mse_on_labels(output, y):
    from thalweg import losses

    return losses.mse(output, y.reshape(-1, 1).astype(np.float32))


def _fit(pipeline, epochs: int):
    from thalweg import nn, optim
    from thalweg.train import fit

    model = nn.Linear(3, 1, rng=0)
    return fit(
        model, _mse_on_labels, optim.SGD(model.parameters(), lr=0.1), pipeline, epochs=epochs,
        seed=0, verbose=0,
    )  # fmt: skip


def cache_round(folder: Path):
    from thalweg.data import Pipeline

    pipeline = Pipeline(range(96), seed=0).map(slow_features, workers=2).batch(16).cache(folder)
    with pipeline:
        history = _fit(pipeline, epochs=2)
    first, second = history["seconds"]
    return first / second, history.input_balance.epoch_utilisation[0]


def uncached_round():
    from thalweg.data import Pipeline

    with Pipeline(range(64), seed=0).map(slow_features).batch(16) as pipeline:
        balance = _fit(pipeline, epochs=1).input_balance
    return balance.utilisation, balance.data_bound


def fast_round():
    from thalweg import losses, nn, optim
    from thalweg.data import Pipeline
    from thalweg.train import fit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2048, 64)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    batches = [(X[i : i + 256], y[i : i + 256]) for i in range(0, 2048, 256)]
    model = nn.Sequential(nn.Linear(64, 256, rng=0), nn.ReLU(), nn.Linear(256, 1, rng=1))
    history = fit(
        model, losses.mse, optim.Adam(model.parameters(), lr=1e-3),
        Pipeline(batches, seed=0).batch(256), epochs=2, verbose=0,
    )  # fmt: skip
    return history.input_balance.utilisation, history.input_balance.data_bound


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Input pipeline: the cache and the balance diagnostic",
        note=(
            "Medians over rounds, one process. A feature function of 4 ms per example (2 "
            "worker processes) behind `.cache(dir)`: the second epoch reads the cache "
            f"(target ≥ {TARGET_CACHE_SPEEDUP:g}× faster than the first). The diagnostic "
            "must call the uncached slow pipeline data-bound and a quick in-memory source "
            f"compute-bound (trainer busy ≥ {TARGET_FAST_BUSY:.0%} of the epoch)."
        ),
        columns=["workload", "measured", "target", "met", "rounds"],
    )
    rounds = max(3, settings.rounds // 3)
    speedups, first_busy, slow_busy, fast_busy = [], [], [], []
    slow_bound, fast_bound = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            speedup, busy = cache_round(Path(folder) / "cache")
        speedups.append(speedup)
        first_busy.append(busy)
        busy, bound = uncached_round()
        slow_busy.append(busy)
        slow_bound.append(bound)
        busy, bound = fast_round()
        fast_busy.append(busy)
        fast_bound.append(bound)
    speedup = statistics.median(speedups)
    busy_slow, busy_fast = statistics.median(slow_busy), statistics.median(fast_busy)
    table.rows += [
        [
            "cache: epoch 1 time / epoch 2 time",
            f"{speedup:.0f}×",
            f"≥ {TARGET_CACHE_SPEEDUP:g}×",
            "yes" if speedup >= TARGET_CACHE_SPEEDUP else "**no**",
            str(rounds),
        ],
        [
            "slow uncached map: trainer busy (diagnosed data-bound)",
            f"{busy_slow:.0%} ({sum(slow_bound)}/{rounds} data-bound)",
            "data-bound every round",
            "yes" if all(slow_bound) else "**no**",
            str(rounds),
        ],
        [
            "quick in-memory source: trainer busy (diagnosed compute-bound)",
            f"{busy_fast:.0%} ({rounds - sum(fast_bound)}/{rounds} compute-bound)",
            f"≥ {TARGET_FAST_BUSY:.0%}",
            "yes" if busy_fast >= TARGET_FAST_BUSY else "**no**",
            str(rounds),
        ],
    ]
    table.checks.append(
        f"first (uncached) epoch of the cached pipeline: trainer busy "
        f"{statistics.median(first_busy):.0%} of it (it waited for the features)"
    )
    return table
