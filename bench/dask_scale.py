"""Dask data-parallel training vs one process: time per step, and where it goes.

Run (the two OpenBLAS variables slow NumPy on the bench machine)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python bench/dask_scale.py

It prints Markdown tables for ``docs/scale.md``:

0. **the hardware**: the same gradient-shaped NumPy work on one worker alone, then on
   both at once — how much two processes slow each other down with no Dask involved
   (shared cores, shared memory bandwidth, other users of the machine);
1. **messaging**: a step with no arithmetic — an empty task per worker (or an actor
   call); θ sent and a gradient returned, for 21 to 1,000,001 parameters; θ scattered
   or carried inside each task;
2. **full-batch gradient descent, logistic regression** on n rows × d features;
3. the same for an **MLP** with one hidden layer of 64 (~70× the arithmetic per row);
4. **mini-batch SGD** (4,096 rows a step): the least arithmetic per step.

For 2-4, each side loads the same rows once (generated block by block from a seed
where they will live: in this process, or on the workers) and prepares them with the
same function, ``worker.prepare_shard``. Then, in ``--rounds`` turns, each contestant
trains a few epochs: one process running thalweg's training loop (``thalweg.train.fit``,
as the estimators do) with 1 and with 2 BLAS threads, and the cluster running
``thalweg.distributed``'s loop over tasks and over actors. A step's time is the fastest
seen (after each run's first epoch): the machine is shared, taking turns exposes every
contestant to the same varying load, and the minimum is the least disturbed run. The
distributed step is split into the broadcast of θ, the slowest worker's arithmetic, the
rest of the round trip (scheduling, messages, (de)serialization) and the reduce.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import thalweg
from thalweg import train
from thalweg.distributed import connect, training, worker
from thalweg.distributed.data import ShardedData
from thalweg.models import LogisticRegression, MLPClassifier
from thalweg.nn.layers import layer_from_config, layer_to_config

NOISY_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
BLOCK_ROWS = 250_000  # rows generated per block (and per Dask partition)


# ---------------------------------------------------------------------- data
def block(index: int, rows: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of block ``index``: standard normal features, labels from a fixed linear rule
    with 10% label noise (so the logistic loss has a finite minimum)."""
    rng = np.random.default_rng([index, d])
    X = rng.standard_normal((rows, d)) * np.linspace(0.5, 2.0, d) + 1.0
    w = np.random.default_rng(d).standard_normal(d)
    y = ((X - 1.0) @ w > 0).astype(np.int64)
    flip = rng.random(rows) < 0.1
    y[flip] = 1 - y[flip]
    return X, y


def block_sizes(n: int, n_workers: int) -> list[int]:
    """Rows per block: blocks of at most BLOCK_ROWS, and at least one per worker."""
    n_blocks = max(n_workers, math.ceil(n / BLOCK_ROWS))
    return [len(part) for part in np.array_split(np.arange(n), n_blocks)]


def numpy_data(n: int, d: int, n_workers: int = 2):
    parts = [block(i, rows, d) for i, rows in enumerate(block_sizes(n, n_workers))]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def dask_data(n: int, d: int, n_workers: int):
    """The same rows as :func:`numpy_data`, as Dask arrays computed on the workers."""
    import dask
    import dask.array as da

    sizes = block_sizes(n, n_workers)
    blocks = [dask.delayed(block)(i, rows, d) for i, rows in enumerate(sizes)]
    pairs = list(zip(blocks, sizes, strict=True))
    X = da.concatenate([da.from_delayed(b[0], (rows, d), np.float64) for b, rows in pairs])
    y = da.concatenate([da.from_delayed(b[1], (rows,), np.int64) for b, rows in pairs])
    return X, y


# ---------------------------------------------------------------------- timing helpers
def epochs_for(n: int, d: int) -> int:
    return 8 if n * d <= 2e7 else 4


# ---------------------------------------------------------------------- 1. messaging
def noop(shard, *args):
    return None


def echo_gradient(shard, model, theta, *args):
    return theta.copy()  # a gradient-sized answer


def messaging(client, n_workers: int, repeats: int) -> list[str]:
    import dask.array as da

    from thalweg.distributed.data import ShardedData

    X = da.zeros((1000 * n_workers, 4), chunks=(1000, 4))
    y = da.zeros(1000 * n_workers, chunks=1000)
    tasks = ShardedData.load(client, X, y)
    tasks.summarize(classify=False)
    actors = tasks.to_actors()
    lines = [
        "| parameters (float32) | transport | empty step (ms) | "
        "step sending θ, returning a gradient (ms) |",
        "|---:|---|---:|---:|",
    ]

    def timed(step) -> float:
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - started)
        return 1e3 * min(seconds)  # the least disturbed run (the machine is shared)

    def scattered(theta):
        tasks.map(echo_gradient, None, client.scatter(theta, broadcast=True, hash=False))

    ways = {
        "tasks, θ scattered": (tasks, scattered),
        "tasks, θ inside each task": (tasks, lambda theta: tasks.map(echo_gradient, None, theta)),
        "actors": (actors, lambda theta: actors.map(echo_gradient, None, theta)),
    }
    for size in (21, 10_001, 1_000_001):
        theta = np.zeros(size, dtype=np.float32)
        for name, (data, step) in ways.items():
            empty = timed(lambda data=data: data.map(noop))
            full = timed(lambda step=step, theta=theta: step(theta))
            lines.append(f"| {size:,} | {name} | {empty:.1f} | {full:.1f} |")
    return lines


# ---------------------------------------------------------------------- 0. the hardware
def gradient_like_work(kind: str, rows: int, repeats: int = 15) -> float:
    """Median seconds of one gradient-shaped computation on ``rows`` random rows:
    ``"linear"`` — ``Xᵀ(Xw)`` over 20 features (streams X twice: memory-bound);
    ``"mlp"`` — ``Xᵀ(relu(XW)V)`` through 64 hidden units (more arithmetic per byte)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 20), dtype=np.float32)
    W = rng.standard_normal((20, 64), dtype=np.float32)
    V = rng.standard_normal((64, 20), dtype=np.float32)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        if kind == "linear":
            X.T @ (X @ W[:, 0])
        else:
            X.T @ (np.maximum(X @ W, 0) @ V)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def hardware(client) -> list[str]:
    """The same work on one worker while the other idles, then on both at once: how
    much two processes slow each other down with no Dask in between."""
    first = sorted(client.nthreads())[0]
    lines = [
        "| work (rows per worker) | one worker alone (ms) | both workers at once (ms) | slowdown |",
        "|---|---:|---:|---:|",
    ]
    for kind, rows in (("linear", 2_000_000), ("mlp", 50_000), ("mlp", 500_000)):
        alone = client.run(gradient_like_work, kind, rows, workers=[first])[first]
        together = max(client.run(gradient_like_work, kind, rows).values())
        lines.append(
            f"| {kind} ({rows:,}) | {1e3 * alone:.1f} | {1e3 * together:.1f} | "
            f"{together / alone:.2f}× |"
        )
    return lines


# ---------------------------------------------------------------------- 2-4. training
def compare(make_estimator, client, n: int, d: int, n_workers: int, rounds: int) -> dict:
    """Milliseconds per step in one process and on the cluster, measured in turns.

    Each side loads its data once and prepares it with the same function
    (``worker.prepare_shard``: what ``thalweg.distributed.fit`` runs on the workers).
    Then ``rounds`` rounds each run a few epochs of: the single-process training loop
    (``thalweg.train.fit``, as the estimator runs it) with 1 and with 2 BLAS threads,
    and the distributed loop (``training.descend``, as ``thalweg.distributed.fit`` runs
    it) over tasks and over actors. Taking turns exposes every contestant to the same
    varying load; each keeps its fastest step.
    """
    probe = make_estimator(1)
    epochs = epochs_for(n, d) if probe.batch_size is None else 2
    batch_size = probe.batch_size

    # The cluster side: what thalweg.distributed.fit does before its loop.
    data = ShardedData.load(client, *dask_data(n, d, n_workers))
    summary = data.summarize(classify=True)
    probe.begin_training(summary)
    module = probe.build_module(d, np.random.default_rng(0), np.float32)
    tasks = data.transform(worker.prepare_shard, probe.encode)
    del data
    sides = {"tasks": tasks, "actors": tasks.to_actors()}
    spec = worker.ModelSpec(layer_to_config(module), probe.loss)

    # The single-process side: the same rows, prepared by the same function.
    X, y = numpy_data(n, d, n_workers)
    local = worker.prepare_shard(worker.Shard(X, y), probe.encode)
    del X, y
    steps = 1 if batch_size is None else math.ceil(n / batch_size)

    best: dict = {}

    def keep(name: str, seconds: float, parts=None) -> None:
        if seconds < best.get(name, (np.inf,))[0]:
            best[name] = (seconds, parts)

    for _ in range(rounds):
        for threads in (1, 2):
            copy = _copy(module)
            optimizer = train.make_optimizer(
                probe.optimizer, copy.parameters(), probe.learning_rate
            )
            with blas_threads(threads):
                history = train.fit(
                    copy,
                    probe.loss,
                    optimizer,
                    local.X,
                    local.y,
                    epochs=epochs,
                    batch_size=batch_size,
                    seed=0,
                    verbose=0,
                )
            for row in history.rows[1:]:
                keep(f"single {threads}", row["seconds"] / steps)
        for name, shards in sides.items():
            estimator = make_estimator(epochs)
            estimator.begin_training(summary)
            objective = training.ShardedObjective(shards, spec)
            history, _ = training.descend(
                estimator, _copy(module), objective, summary, batch_size, seed=0
            )
            for row in history.rows[1:]:
                keep(name, row["seconds"] / steps)
            fastest = min(objective.timings[1:], key=lambda t: t.total)
            keep(name + " parts", fastest.total, fastest)
    return {
        name: (parts if name.endswith(" parts") else seconds)
        for name, (seconds, parts) in best.items()
    }


def _copy(module):
    """A fresh module with the same architecture and weights."""
    copy = layer_from_config(layer_to_config(module))
    copy.load_state_dict(module.state_dict())
    return copy


def training_rows(results: dict, n: int, d: int, params: int) -> list[str]:
    one, two = results["single 1"], results["single 2"]
    best = min(one, two)
    rows = []
    for transport in ("tasks", "actors"):
        parts = results[transport + " parts"]  # the fastest step's StepTiming
        rows.append(
            f"| {n:,} | {d} | {params:,} | {1e3 * one:.1f} | {1e3 * two:.1f} | {transport} | "
            f"{1e3 * results[transport]:.1f} | **{best / results[transport]:.2f}×** | "
            f"{1e3 * parts.broadcast:.1f} | {1e3 * parts.worker:.1f} "
            f"({one / parts.worker:.1f}×) | {1e3 * (parts.round_trip - parts.worker):.1f} | "
            f"{1e3 * parts.reduce:.2f} | {os.getloadavg()[0]:.1f} |"
        )
    return rows


TRAINING_HEADER = [
    "| rows | features | parameters | 1 process, 1 BLAS thread (ms/step) | 1 process, 2 "
    "threads | transport | 2 workers (ms/step) | speed-up vs the faster single | broadcast "
    "| workers' arithmetic (its speed-up vs 1 thread) | scheduling + messages | reduce | "
    "load avg |",
    "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
]


@contextlib.contextmanager
def blas_threads(n: int):
    """Limit OpenBLAS to ``n`` threads (needs threadpoolctl, which scikit-learn brings)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def logistic(epochs: int) -> LogisticRegression:
    # a fixed learning rate: "auto" would add 30 power-iteration rounds to every fit
    return LogisticRegression(solver="gd", learning_rate=0.5, max_epochs=epochs, tol=None)


def mlp(epochs: int) -> MLPClassifier:
    return MLPClassifier(
        hidden=(64,),
        batch_size=None,
        learning_rate=0.01,
        max_epochs=epochs,
        tol=None,
        random_state=0,
    )


def sgd_logistic(epochs: int) -> LogisticRegression:
    return LogisticRegression(
        solver="gd", batch_size=4096, learning_rate=0.1, max_epochs=epochs, tol=None, random_state=0
    )


# ---------------------------------------------------------------------- machine facts
def machine(n_workers: int) -> list[str]:
    import dask
    import distributed
    import scipy

    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) / 2**20
    env = ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in NOISY_ENV)
    return [
        f"- machine: {cpu}, {os.cpu_count()} logical cores, {memory:.0f} GiB memory",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, SciPy "
        f"{scipy.__version__}, Dask {dask.__version__}, distributed {distributed.__version__}, "
        f"thalweg {thalweg.__version__}",
        f"- cluster: LocalCluster, {n_workers} worker processes × 1 thread "
        "(`thalweg.distributed.connect('local:2')`); one process: NumPy's default "
        "OpenBLAS threads",
        f"- environment: {env}; load average at start {os.getloadavg()[0]:.2f}",
        f"- date: {datetime.date.today().isoformat()}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each contestant takes")
    args = parser.parse_args()
    for name in NOISY_ENV:
        if name in os.environ:
            print(f"warning: {name} is set; run with env -u {name}", file=sys.stderr)

    if args.quick:
        linear_sizes = [(10_000, 20), (100_000, 20)]
        mlp_sizes = [(10_000, 20)]
        sgd_sizes = [(100_000, 20)]
    else:
        linear_sizes = [(n, d) for d in (20, 100) for n in (10_000, 100_000, 1_000_000, 4_000_000)]
        mlp_sizes = [(10_000, 20), (100_000, 20), (1_000_000, 20)]
        sgd_sizes = [(1_000_000, 20)]

    started = time.perf_counter()
    output = ["### Machine and command", ""]
    output += machine(args.workers)
    output.append(
        "- command: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python "
        f"bench/dask_scale.py{' --quick' if args.quick else ''}`"
    )
    with connect(f"local:{args.workers}") as client:
        output += ["", "### 0. The hardware: two processes at once, no Dask", ""]
        output += hardware(client)
        output += ["", "### 1. Messaging: a step with no arithmetic", ""]
        output += messaging(client, args.workers, repeats=10 if args.quick else 30)
        print("\n".join(output), flush=True)

        sections = [
            ("2. Full-batch gradient descent, logistic regression", logistic, linear_sizes),
            ("3. Full-batch gradient descent, MLP (hidden 64)", mlp, mlp_sizes),
            ("4. Mini-batch SGD, logistic regression, 4,096 rows a step", sgd_logistic, sgd_sizes),
        ]
        for title, make, sizes in sections:
            lines = ["", f"### {title}", "", *TRAINING_HEADER]
            for n, d in sizes:
                results = compare(make, client, n, d, args.workers, args.rounds)
                params = make(1).fit(*numpy_data(200, d)).module_.num_parameters()
                lines += training_rows(results, n, d, params)
                print(lines[-2] + "\n" + lines[-1], flush=True)
            output += lines
    output += ["", f"(took {(time.perf_counter() - started) / 60:.1f} min)"]
    print("\n\n" + "\n".join(output))
    return 0


if __name__ == "__main__":
    thalweg.set_default_dtype("float32")
    sys.exit(main())
