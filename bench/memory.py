"""Peak memory training the 784-wide MLP on 60,000 × 784 float32 (one epoch, batch 128).

Each contestant runs in a fresh process; the figure is that process's peak resident
set size (``VmHWM``), everything included: interpreter, libraries, data, model,
optimizer state, the graph. The data alone is 60,000 × 784 × 4 B = 188 MB, so the
target (issue 5), 1.5 × data + 100 MB, is 382 MB.

Contestants:

* **thalweg (engine loop)**: the loop a user writes with ``nn``, ``losses``, ``optim``
  (shuffled mini-batches gathered with ``X[index]``);
* **thalweg (fit)**: the same through thalweg's own training loop, ``thalweg.train.fit``;
* **NumPy**: the hand-written reference of ``bench/mlp.py`` over the same batches;
* **PyTorch**: for scale only (``import torch`` alone costs a few hundred MB).
"""

from __future__ import annotations

import multiprocessing
import resource
from pathlib import Path

import numpy as np

from bench import harness, mlp

N, D, BATCH = 60_000, 784, 128
DATA_MB = N * D * 4 / 1e6  # MB = 10⁶ bytes throughout
TARGET_MB = 1.5 * DATA_MB + 100


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-sized float32 data, generated straight into float32 (no float64 copy)."""
    rng = np.random.default_rng(seed)
    x = rng.random((N, D), dtype=np.float32)
    y = rng.integers(0, 10, N)
    return x, y


def _batches(n: int, seed: int = 1):
    order = np.random.default_rng(seed).permutation(n)
    for start in range(0, n, BATCH):
        yield order[start : start + BATCH]


def _thalweg_loop():
    import thalweg
    from thalweg import nn, optim
    from thalweg.losses import cross_entropy

    x, y = make_data()
    model = nn.Sequential(
        nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for index in _batches(N):
        opt.zero_grad()
        loss = cross_entropy(model(thalweg.from_numpy(x[index])), y[index])
        loss.backward()
        opt.step()
    return float(loss.item())


def _thalweg_fit():
    """The same training through thalweg's own loop, ``thalweg.train.fit``."""
    try:
        from thalweg.train import fit
    except ImportError as error:
        raise harness.Pending(f"thalweg.train.fit: {error}") from None
    from thalweg import nn, optim
    from thalweg.losses import cross_entropy

    x, y = make_data()
    model = nn.Sequential(
        nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    opt = optim.Adam(model.parameters(), lr=1e-3)
    history = fit(model, cross_entropy, opt, x, y, epochs=1, batch_size=BATCH, seed=1, verbose=0)
    return float(history.last("loss"))


def _numpy_loop():
    x, y = make_data()
    net = mlp.NumpyMLP(mlp.initial_weights(), "adam", 1e-3, BATCH)
    loss = 0.0
    for index in _batches(N):
        if len(index) == BATCH:  # the reference's buffers have one batch size
            loss = net.step(x[index], y[index])
    return float(loss)


def _torch_loop():
    import torch
    from torch import nn

    x, y = make_data()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = nn.Sequential(
        nn.Linear(D, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for index in _batches(N):
        index = torch.from_numpy(index)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[index]), y[index])
        loss.backward()
        opt.step()
    return float(loss.item())


CONTESTANTS = {
    "thalweg (engine loop)": _thalweg_loop,
    "thalweg (fit)": _thalweg_fit,
    "NumPy": _numpy_loop,
    "PyTorch": _torch_loop,
}


def _peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM`` from /proc (Linux).

    Not ``ru_maxrss``: Linux carries it across fork and exec, so a worker started by a
    large parent would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(name: str, conn) -> None:
    """In a fresh process: run the contestant, send back (peak MB, last loss) or why not."""
    try:
        loss = CONTESTANTS[name]()
        peak_mb = _peak_rss_bytes() / 1e6
        conn.send(("ok", (peak_mb, loss)))
    except harness.Pending as reason:
        conn.send(("pending", str(reason)))
    except Exception as error:
        conn.send(("error", f"{type(error).__name__}: {error}"))


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Peak memory: 784-256-128-10 MLP, one epoch on 60,000 × 784 float32",
        note=(
            f"Peak resident memory of a fresh process (`VmHWM`), everything included. "
            f"Data: {DATA_MB:.0f} MB; target (issue 5): ≤ 1.5 × data + 100 MB = "
            f"{TARGET_MB:.0f} MB. Adam, batch {BATCH}, shuffled. Not a timing: run once each."
        ),
        columns=["contestant", "peak MB", "peak − data, MB", f"≤ {TARGET_MB:.0f} MB", "last loss"],
    )
    context = multiprocessing.get_context("spawn")
    for name in CONTESTANTS:
        parent, child = context.Pipe()
        process = context.Process(target=_measure, args=(name, child))
        process.start()
        status, reply = parent.recv()
        process.join()
        if status == "ok":
            peak, loss = reply
            met = "yes" if peak <= TARGET_MB else "**no**"
            if not name.startswith("thalweg"):
                met = "(peer)"
            row = [name, f"{peak:.0f}", f"{peak - DATA_MB:.0f}", met, f"{loss:.4f}"]
        else:
            row = [name, "–", "–", "–", f"{status}: {reply}"]
        table.rows.append(row)
        print("  " + " | ".join(row), flush=True)
    return table


if __name__ == "__main__":
    print(run(harness.Settings()).text())
