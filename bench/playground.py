"""The Playground's network: MLP 2-8-2-1, tanh, BCE with logits; SGD and Adam; batch 10 / 100.

At this size every array has a few dozen numbers, so the time is all per-op overhead:
Python, graph bookkeeping, NumPy's call overhead. Measured in microseconds per training
step. Contestants, initial weights and the same-loss check are as in ``bench/mlp.py``.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from bench import harness, reference
from bench.mlp import Cycle

SIZES = (2, 8, 2, 1)
BATCHES = (10, 100)
OPTIMIZERS = {"sgd": 0.1, "adam": 0.01}  # name -> learning rate
N_BATCHES = 8
CHECK_STEPS = 20
TARGETS = {"pytorch": 3.0, "numpy": 0.5}


def make_data(batch: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two interleaved classes in the plane (XOR-like), labels as an ``(n, 1)`` column."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (N_BATCHES * batch, 2)).astype(np.float32)
    y = ((x[:, 0] * x[:, 1]) > 0).astype(np.float32)[:, None]
    return [(x[i : i + batch].copy(), y[i : i + batch].copy()) for i in range(0, len(x), batch)]


def initial_weights(seed: int = 0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3], ``(in, out)`` weights from thalweg's default init."""
    import thalweg

    layers = [
        thalweg.nn.Linear(a, b, rng=seed + i) for i, (a, b) in enumerate(itertools.pairwise(SIZES))
    ]
    for layer in layers:  # nonzero biases, so a contestant that dropped them would fail the check
        layer.bias.data[...] = np.random.default_rng(seed).uniform(-0.1, 0.1, layer.bias.shape)
    return [a.data.copy() for layer in layers for a in (layer.weight, layer.bias)]


def thalweg_step(optimizer: str, batch: int):
    import thalweg
    from thalweg import nn, optim
    from thalweg.losses import binary_cross_entropy_with_logits

    weights, batches = initial_weights(), make_data(batch)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2), nn.Tanh(), nn.Linear(2, 1))
    for p, w in zip(model.parameters(), weights, strict=True):
        p.data[...] = w
    # packed=True: one flat update over the 45 weights (what the Playground and the
    # estimators use for networks this small; see thalweg/optim/packed.py)
    opt = {"sgd": optim.SGD, "adam": optim.Adam}[optimizer](
        model.parameters(), lr=OPTIMIZERS[optimizer], packed=True
    )
    data = Cycle([(thalweg.from_numpy(x), y) for x, y in batches])

    def step():
        x, y = data.next()
        opt.zero_grad()
        loss = binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_step(optimizer: str, batch: int):
    import torch
    from torch import nn

    weights, batches = initial_weights(), make_data(batch)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2), nn.Tanh(), nn.Linear(2, 1))
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights, strict=True):
            p.copy_(torch.from_numpy(w.T.copy() if w.ndim == 2 else w))  # torch: (out, in)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer](
        model.parameters(), lr=OPTIMIZERS[optimizer]
    )
    data = Cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches])
    loss_fn = nn.functional.binary_cross_entropy_with_logits

    def step():
        x, y = data.next()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def numpy_step(optimizer: str, batch: int):
    """The reference, by hand; at this size the fewest NumPy calls wins, so temporaries
    are allowed where an ``out=`` would cost more than it saves."""
    weights, batches = initial_weights(), make_data(batch)
    shapes = [w.shape for w in weights]
    params, grads = reference.FlatBuffer(shapes), reference.FlatBuffer(shapes)
    for view, w in zip(params.views, weights, strict=True):
        view[...] = w
    W1, b1, W2, b2, W3, b3 = params.views
    gW1, gb1, gW2, gb2, gW3, gb3 = grads.views
    opt = reference.make_optimizer(optimizer, params, grads, OPTIMIZERS[optimizer])
    data = Cycle(batches)
    add, matmul, tanh = np.add, np.matmul, np.tanh

    def step():
        x, y = data.next()
        n = len(x)
        h1 = tanh(x @ W1 + b1)
        h2 = tanh(h1 @ W2 + b2)
        z = h2 @ W3 + b3
        # BCE with logits, stable: max(z, 0) - z·y + log(1 + exp(-|z|)); d/dz = σ(z) - y
        e = np.exp(-np.abs(z))
        loss = (np.maximum(z, 0) - z * y + np.log1p(e)).mean()
        inverse = 1 / (1 + e)
        dz = np.where(z >= 0, inverse, e * inverse)
        dz -= y
        dz *= 1 / n
        matmul(h2.T, dz, out=gW3)
        add.reduce(dz, axis=0, out=gb3)
        dh2 = dz @ W3.T
        dh2 *= 1 - h2 * h2
        matmul(h1.T, dh2, out=gW2)
        add.reduce(dh2, axis=0, out=gb2)
        dh1 = dh2 @ W2.T
        dh1 *= 1 - h1 * h1
        matmul(x.T, dh1, out=gW1)
        add.reduce(dh1, axis=0, out=gb1)
        opt.step()
        return loss

    return step


CONTESTANTS = {"thalweg": "thalweg_step", "pytorch": "torch_step", "numpy": "numpy_step"}


def contestants(optimizer: str, batch: int) -> list[harness.Contestant]:
    return [
        harness.Contestant(name, f"bench.playground:{factory}", (optimizer, batch))
        for name, factory in CONTESTANTS.items()
    ]


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Playground MLP 2-8-2-1 (tanh, BCE with logits)",
        note=(
            "Microseconds per training step (median over rounds); ratios are thalweg's "
            "speed over the peer's (median of per-round paired ratios, quartiles in "
            "parentheses; > 1: thalweg faster). Targets (issue 5): ≥ 3× PyTorch, ≥ 0.5× "
            "NumPy. SGD lr 0.1, Adam lr 0.01; thalweg's optimizer with packed=True (one "
            "flat update over all 45 weights, as the estimators use for small networks)."
        ),
        columns=[
            "optimizer",
            "batch",
            "thalweg µs",
            "PyTorch µs",
            "NumPy µs",
            "thalweg/PyTorch",
            "target met",
            "thalweg/NumPy",
            "target met",
            "rounds",
        ],
    )
    with harness.Workers(CONTESTANTS) as workers:
        for optimizer in OPTIMIZERS:
            for batch in BATCHES:
                entrants = contestants(optimizer, batch)
                label = f"playground {optimizer} batch {batch}, loss at step {CHECK_STEPS}"
                timing = harness.check_then_time(
                    workers, entrants, label, CHECK_STEPS, settings, table
                )
                vs_torch = timing.speed_ratio("thalweg", "pytorch")
                vs_numpy = timing.speed_ratio("thalweg", "numpy")
                table.rows.append(
                    [
                        "SGD" if optimizer == "sgd" else "Adam",
                        str(batch),
                        *(f"{timing.median(c.name) * 1e6:,.1f}" for c in entrants),
                        harness.fmt_ratio(vs_torch),
                        harness.verdict(vs_torch, TARGETS["pytorch"]),
                        harness.fmt_ratio(vs_numpy),
                        harness.verdict(vs_numpy, TARGETS["numpy"]),
                        timing.rounds_note,
                    ]
                )
                print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
