"""MLP 784-256-128-10, ReLU, softmax cross-entropy; SGD and Adam; batch 32 / 128 / 512.

Three contestants train the same network from the same initial weights on the same
batches, in float32, measured in examples per second:

* **thalweg**, written the way a user writes it: ``nn.Sequential(nn.Linear, nn.ReLU, ...)``,
  ``thalweg.losses.cross_entropy``, ``optim.SGD``/``optim.Adam`` and
  ``opt.zero_grad(); loss.backward(); opt.step()``;
* **PyTorch** CPU eager: ``torch.nn`` + ``torch.optim`` with their defaults (weights
  copied transposed: thalweg's ``Linear.weight`` is ``(in, out)``, torch's ``(out, in)``);
* **NumPy**, the hand-written reference: forward, backward and update written out,
  every buffer preallocated, parameters and gradients in one flat array each.

Before timing, all three take ``CHECK_STEPS`` steps from the same start and must agree
on the loss (float32 tolerance), so nobody wins by doing less.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

from bench import harness, reference

SIZES = (784, 256, 128, 10)
BATCHES = (32, 128, 512)
OPTIMIZERS = {"sgd": 0.01, "adam": 1e-3}  # name -> learning rate
N_BATCHES = 8  # a fixed pool of batches per batch size, cycled through
CHECK_STEPS = 20
TARGETS = {"pytorch": {32: 1.1, 128: 1.0, 512: 0.9}, "numpy": {32: 0.9, 128: 0.9, 512: 0.9}}


def make_data(batch: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """MNIST-shaped batches: pixels in [0, 1), 10 classes from a random linear teacher."""
    rng = np.random.default_rng(seed)
    x = rng.random((N_BATCHES * batch, SIZES[0]), dtype=np.float32)
    teacher = rng.standard_normal((SIZES[0], SIZES[-1])).astype(np.float32)
    y = np.argmax((x - 0.5) @ teacher, axis=1).astype(np.int64)
    return [
        (np.ascontiguousarray(x[i : i + batch]), y[i : i + batch]) for i in range(0, len(x), batch)
    ]


def initial_weights(seed: int = 0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3] as thalweg's default ``nn.Linear`` initialises them."""
    import thalweg

    layers = [
        thalweg.nn.Linear(a, b, rng=seed + i) for i, (a, b) in enumerate(itertools.pairwise(SIZES))
    ]
    for layer in layers:  # nonzero biases, so a contestant that dropped them would fail the check
        layer.bias.data[...] = np.random.default_rng(seed).uniform(-0.1, 0.1, layer.bias.shape)
    return [a.data.copy() for layer in layers for a in (layer.weight, layer.bias)]


class Cycle:
    """Hands out the batches in order, forever."""

    def __init__(self, batches):
        self.batches, self.i = batches, -1

    def next(self):
        self.i = (self.i + 1) % len(self.batches)
        return self.batches[self.i]


# ---------------------------------------------------------------------- contestants


def thalweg_step(optimizer: str, batch: int):
    import thalweg
    from thalweg import nn, optim
    from thalweg.losses import cross_entropy

    weights, batches, lr = initial_weights(), make_data(batch), OPTIMIZERS[optimizer]
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    for p, w in zip(model.parameters(), weights, strict=True):
        p.data[...] = w
    opt = {"sgd": optim.SGD, "adam": optim.Adam}[optimizer](model.parameters(), lr=lr)
    data = Cycle([(thalweg.from_numpy(x), y) for x, y in batches])

    def step():
        x, y = data.next()
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def torch_step(optimizer: str, batch: int):
    import torch
    from torch import nn

    weights, batches, lr = initial_weights(), make_data(batch), OPTIMIZERS[optimizer]
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights, strict=True):
            p.copy_(torch.from_numpy(w.T.copy() if w.ndim == 2 else w))  # torch: (out, in)
    opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer](model.parameters(), lr=lr)
    data = Cycle([(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches])
    loss_fn = nn.functional.cross_entropy

    def step():
        x, y = data.next()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


class NumpyMLP:
    """The reference: forward, backward and update by hand for one batch size, nothing
    allocated per step beyond a few ``(batch,)``-sized reductions."""

    def __init__(self, weights: list[np.ndarray], optimizer: str, lr: float, batch: int):
        shapes = [w.shape for w in weights]
        params, grads = reference.FlatBuffer(shapes), reference.FlatBuffer(shapes)
        for view, w in zip(params.views, weights, strict=True):
            view[...] = w
        self.params, self.grads = params.views, grads.views
        self.opt = reference.make_optimizer(optimizer, params, grads, lr)
        self.h1, self.dh1 = np.empty((batch, 256), np.float32), np.empty((batch, 256), np.float32)
        self.h2, self.dh2 = np.empty((batch, 128), np.float32), np.empty((batch, 128), np.float32)
        self.z = np.empty((batch, 10), np.float32)
        self.rows = np.arange(batch)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        W1, b1, W2, b2, W3, b3 = self.params
        gW1, gb1, gW2, gb2, gW3, gb3 = self.grads
        h1, h2, z, dh1, dh2, rows = self.h1, self.h2, self.z, self.dh1, self.dh2, self.rows
        n = len(x)
        # forward
        np.matmul(x, W1, out=h1)
        h1 += b1
        np.maximum(h1, 0, out=h1)
        np.matmul(h1, W2, out=h2)
        h2 += b2
        np.maximum(h2, 0, out=h2)
        np.matmul(h2, W3, out=z)
        z += b3
        # softmax cross-entropy, stable: z - max, exp in place -> probabilities
        z -= z.max(axis=1, keepdims=True)
        picked = z[rows, y]
        np.exp(z, out=z)
        total = z.sum(axis=1, keepdims=True)
        loss = np.log(total).mean() - picked.mean()
        # backward: dz = (softmax - onehot) / n, then the chain rule layer by layer
        z *= 1.0 / (total * n)
        z[rows, y] -= 1.0 / n
        np.matmul(h2.T, z, out=gW3)
        np.add.reduce(z, axis=0, out=gb3)
        np.matmul(z, W3.T, out=dh2)
        dh2 *= h2 > 0
        np.matmul(h1.T, dh2, out=gW2)
        np.add.reduce(dh2, axis=0, out=gb2)
        np.matmul(dh2, W2.T, out=dh1)
        dh1 *= h1 > 0
        np.matmul(x.T, dh1, out=gW1)
        np.add.reduce(dh1, axis=0, out=gb1)
        self.opt.step()
        return loss


def numpy_step(optimizer: str, batch: int):
    net = NumpyMLP(initial_weights(), optimizer, OPTIMIZERS[optimizer], batch)
    data = Cycle(make_data(batch))

    def step():
        return net.step(*data.next())

    return step


CONTESTANTS = {"thalweg": "thalweg_step", "pytorch": "torch_step", "numpy": "numpy_step"}


def contestants(optimizer: str, batch: int) -> list[harness.Contestant]:
    return [
        harness.Contestant(name, f"bench.mlp:{factory}", (optimizer, batch))
        for name, factory in CONTESTANTS.items()
    ]


# ---------------------------------------------------------------------- the workload


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="MLP 784-256-128-10 (ReLU, softmax cross-entropy)",
        note=(
            "Examples per second (median over rounds). Ratios are thalweg's speed over the "
            "peer's: median of the per-round paired ratios, quartiles in parentheses; > 1 "
            "means thalweg is faster. Targets (issue 5): ≥ 1.1× / 1.0× / 0.9× PyTorch at "
            "batch 32 / 128 / 512, ≥ 0.9× NumPy everywhere. SGD lr 0.01, Adam lr 0.001 "
            "(PyTorch defaults otherwise). Synthetic MNIST-shaped data, float32."
        ),
        columns=[
            "optimizer",
            "batch",
            "thalweg ex/s",
            "PyTorch ex/s",
            "NumPy ex/s",
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
                label = f"mlp {optimizer} batch {batch}, loss at step {CHECK_STEPS}"
                timing = harness.check_then_time(
                    workers, entrants, label, CHECK_STEPS, settings, table
                )
                vs_torch = timing.speed_ratio("thalweg", "pytorch")
                vs_numpy = timing.speed_ratio("thalweg", "numpy")
                table.rows.append(
                    [
                        "SGD" if optimizer == "sgd" else "Adam",
                        str(batch),
                        *(f"{batch / timing.median(c.name):,.0f}" for c in entrants),
                        harness.fmt_ratio(vs_torch),
                        harness.verdict(vs_torch, TARGETS["pytorch"][batch]),
                        harness.fmt_ratio(vs_numpy),
                        harness.verdict(vs_numpy, TARGETS["numpy"][batch]),
                        timing.rounds_note,
                    ]
                )
                print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
