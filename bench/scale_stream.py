"""Streaming training on a Parquet file bigger than the memory budget.

Two targets, from issue 6: ``fit_stream`` trains a LogisticRegression and an
MLPClassifier on a generated Parquet file of at least 4 GB with a peak resident memory
(RSS) of at most 1 GB, at no less than 0.8x the training throughput (examples/s) of the
same model trained in memory on a subset that fits, with the same settings and batch
size.

Usage (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`` as for every benchmark)::

    python -m bench.scale_stream generate /tmp/thalweg-scale/big.parquet --gigabytes 4.2
    python -m bench.scale_stream run /tmp/thalweg-scale/big.parquet

How it is measured:

* every training run is its own child process. Its peak memory is the larger of the
  kernel's ``ru_maxrss`` for it (``os.wait4``; what ``/usr/bin/time -v`` prints) and
  the peak of the summed RSS of it and its own children (a stream of a million rows or
  more is read by a second process), sampled every 50 ms with psutil: the sum counts
  shared pages twice, so it is an upper bound;
* in memory: the first ``--subset-rows`` rows are loaded as arrays and trained with
  ``fit`` for ``--epochs`` epochs; the throughput is the median over epochs of the
  loop's examples/s (steady state, the faster epochs);
* streaming: ``fit_stream`` on the whole file for one epoch. Its throughput is the loop's
  examples/s for that epoch, which includes every wait for data; the first pass (the
  statistics for the standardization) is reported separately and end to end;
* memory and streaming runs alternate ``--repeats`` times (the machine may be shared),
  and the ratio is taken per repeat, then the median;
* both models are scored on the same held-out rows, drawn from the same teacher.

The data: ``--features`` float32 columns with different offsets and scales (so
standardization matters) and a binary label from a noisy, mildly nonlinear teacher.
Written without dictionary encoding or compression, with required (non-null) columns:
random floats neither repeat nor compress, and required columns skip the null bitmaps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
NOISY_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
ROW_GROUP_ROWS = 65_536


def teacher(n_features: int, seed: int = 0):
    """The data-generating model: feature offsets and scales, and the label's weights."""
    rng = np.random.default_rng(seed)
    offsets = rng.uniform(-50, 50, n_features).astype(np.float32)
    scales = rng.uniform(0.1, 20, n_features).astype(np.float32)
    weights = rng.standard_normal(n_features).astype(np.float32) / np.sqrt(n_features)
    return offsets, scales, weights


def make_rows(n: int, n_features: int, rng: np.random.Generator):
    """``n`` rows: raw features ``(n, d)`` float32 and labels ``(n,)`` int8."""
    offsets, scales, weights = teacher(n_features)
    Z = rng.standard_normal((n, n_features), dtype=np.float32)
    logit = 4 * (Z @ weights) + 0.5 * np.sin(3 * Z[:, 0]) * Z[:, 1]
    y = (logit + rng.logistic(size=n) > 0).astype(np.int8)
    return Z * scales + offsets, y


def generate(path: Path, gigabytes: float, n_features: int = 48, seed: int = 1) -> None:
    """Write the Parquet file a row group at a time (bounded memory), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"x{j}" for j in range(n_features)]
    schema = pa.schema(
        [pa.field(name, pa.float32(), nullable=False) for name in names]
        + [pa.field("y", pa.int8(), nullable=False)]
    )
    row_bytes = 4 * n_features + 1
    rows = int(gigabytes * 1e9 / row_bytes)
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    started = time.perf_counter()
    with pq.ParquetWriter(
        partial, schema, use_dictionary=False, compression="none", write_statistics=False
    ) as writer:
        for start in range(0, rows, ROW_GROUP_ROWS):
            X, y = make_rows(min(ROW_GROUP_ROWS, rows - start), n_features, rng)
            columns = {name: X[:, j] for j, name in enumerate(names)} | {"y": y}
            writer.write_table(pa.table(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)
    os.replace(partial, path)
    size = path.stat().st_size
    print(
        f"wrote {path}: {rows:,} rows, {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s"
    )


# ------------------------------------------------------------------ children


def make_model(name: str, batch_size: int, epochs: int):
    from thalweg.models import LogisticRegression, MLPClassifier

    if name == "logistic":
        return LogisticRegression(
            solver="gd", batch_size=batch_size, max_epochs=epochs, tol=None, random_state=0
        )
    return MLPClassifier(
        hidden=(64,), batch_size=batch_size, max_epochs=epochs, tol=None, random_state=0
    )


class EpochCPU:
    """A callback recording the process's CPU seconds per example of each epoch (all
    threads): unlike wall-clock rates, it barely moves when other programs share the
    machine."""

    def __init__(self):
        from thalweg.train import Callback

        self.per_example: list[float] = []
        outer = self

        class Record(Callback):
            def on_epoch_begin(self, state):
                self.started = time.process_time()

            def on_epoch_end(self, state, row):
                seconds = time.process_time() - self.started
                outer.per_example.append(seconds / max(row["examples"], 1))

        self.callback = Record()


def watch_cpu() -> EpochCPU:
    """An :class:`EpochCPU`; pass ``[cpu.callback]`` as ``fit``'s ``callbacks=``."""
    return EpochCPU()


def holdout(n_features: int, rows: int = 100_000):
    return make_rows(rows, n_features, np.random.default_rng(12345))


def child_memory(args) -> dict:
    """Train in memory on the first ``subset_rows`` rows."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(args.path)
    names = [n for n in file.schema_arrow.names if n != "y"]
    groups = range(min(file.num_row_groups, math.ceil(args.subset_rows / ROW_GROUP_ROWS)))
    table = file.read_row_groups(list(groups)).slice(0, args.subset_rows)
    X = np.column_stack([table.column(n).to_numpy() for n in names])
    y = table.column("y").to_numpy()
    del table
    model = make_model(args.model, args.batch_size, args.epochs)
    cpu = watch_cpu()
    started = time.perf_counter()
    model.fit(X, y, callbacks=[cpu.callback])
    seconds = time.perf_counter() - started
    X_test, y_test = holdout(len(names))
    rates = model.history_["examples_per_second"]
    return {
        "examples_per_second": statistics.median(rates),
        "epoch_rates": rates,
        "cpu_us_per_example": statistics.median(cpu.per_example) * 1e6,
        "rows": len(X),
        "seconds": seconds,
        "accuracy": model.score(X_test, y_test),
    }


def child_stream(args) -> dict:
    """Train with ``fit_stream`` on the whole file, one epoch."""
    from thalweg.data import stream

    data = stream(
        args.path,
        target="y",
        batch_size=args.batch_size,
        shuffle_buffer=args.shuffle_buffer,
        seed=0,
        epochs=1,
    )
    model = make_model(args.model, args.batch_size, 1)
    cpu = watch_cpu()
    started = time.perf_counter()
    model.fit_stream(data, callbacks=[cpu.callback])
    seconds = time.perf_counter() - started
    row = model.history_.rows[-1]
    balance = model.history_.input_balance
    X_test, y_test = holdout(data.n_features)
    return {
        "examples_per_second": row["examples_per_second"],
        "cpu_us_per_example": cpu.per_example[-1] * 1e6,
        "rows": data.n_samples,
        "train_seconds": row["seconds"],
        "wait_seconds": row["data_seconds"],
        "first_pass_seconds": seconds - row["seconds"],
        "seconds": seconds,
        "end_to_end_rows_per_second": data.n_samples / seconds,
        "accuracy": model.score(X_test, y_test),
        "balance": str(balance),
        "input_example_us": (balance.example_seconds or 0) * 1e6,
        "step_ms": balance.step_seconds * 1e3,
    }


def run_child(mode: str, args, model: str) -> dict:
    """Run one measurement in a fresh process; add its peak RSS (bytes)."""
    command = [
        sys.executable,
        "-m",
        "bench.scale_stream",
        "child",
        mode,
        str(args.path),
        "--model",
        model,
        "--batch-size",
        str(args.batch_size),
        "--subset-rows",
        str(args.subset_rows),
        "--epochs",
        str(args.epochs),
        "--shuffle-buffer",
        str(args.shuffle_buffer),
    ]
    env = {k: v for k, v in os.environ.items() if k not in NOISY_ENV}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    sampler = TreeMemory(process.pid)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{mode} {model} failed (exit {process.returncode})")
    result = json.loads(output.strip().splitlines()[-1])
    # The kernel's peak for the child (or its biggest descendant: a reading process)...
    result["max_process_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports kilobytes
    # ...and the peak of the whole process tree at once, summed (counts shared pages twice:
    # an upper bound), sampled every 50 ms.
    result["peak_rss_bytes"] = max(sampler.peak, result["max_process_rss_bytes"])
    return result


class TreeMemory:
    """Samples the summed RSS of a process and its descendants in a thread (psutil)."""

    def __init__(self, pid: int, every: float = 0.05):
        import threading

        self.peak = 0
        self._done = threading.Event()
        try:
            import psutil
        except ImportError:  # fall back to the kernel's per-process peak only
            return
        root = psutil.Process(pid)

        def sample():
            while not self._done.wait(every):
                try:
                    members = [root, *root.children(recursive=True)]
                    self.peak = max(self.peak, sum(m.memory_info().rss for m in members))
                except psutil.Error:  # a process ended between listing and reading
                    continue

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    memory = ""
    try:
        import psutil

        memory = f", {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"
    except ImportError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.processor() or platform.machine()}, {cores} cores{memory}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, load average {load:.1f}"
    )


def run(args) -> None:
    size = Path(args.path).stat().st_size
    print(f"# streaming vs in memory: {args.path} ({size / 1e9:.2f} GB)")
    print(f"machine: {machine()}")
    print(f"batch size {args.batch_size}, in-memory subset {args.subset_rows:,} rows\n")
    results = {}
    for model in args.models.split(","):
        repeats = []
        for repeat in range(args.repeats):
            memory = run_child("memory", args, model)
            streamed = run_child("stream", args, model)
            ratio = streamed["examples_per_second"] / memory["examples_per_second"]
            repeats.append({"memory": memory, "stream": streamed, "ratio": ratio})
            print(
                f"{model} #{repeat + 1}: in memory {memory['examples_per_second']:,.0f}/s, "
                f"streamed {streamed['examples_per_second']:,.0f}/s (ratio {ratio:.2f}); "
                f"CPU per example {memory['cpu_us_per_example']:.3f} / "
                f"{streamed['cpu_us_per_example']:.3f} µs; "
                f"stream peak RSS {streamed['peak_rss_bytes'] / 2**20:,.0f} MiB; "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        results[model] = repeats
    print()
    print(
        "| model | in memory (ex/s) | streamed (ex/s) | ratio (median) | CPU µs/example "
        "memory / stream | first pass (s) | end to end (rows/s) | stream peak RSS | "
        "accuracy memory / stream |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model, repeats in results.items():
        ratio = statistics.median(r["ratio"] for r in repeats)
        memory = statistics.median(r["memory"]["examples_per_second"] for r in repeats)
        streamed = statistics.median(r["stream"]["examples_per_second"] for r in repeats)
        first = statistics.median(r["stream"]["first_pass_seconds"] for r in repeats)
        e2e = statistics.median(r["stream"]["end_to_end_rows_per_second"] for r in repeats)
        rss = max(r["stream"]["peak_rss_bytes"] for r in repeats)
        cpu_memory = statistics.median(r["memory"]["cpu_us_per_example"] for r in repeats)
        cpu_stream = statistics.median(r["stream"]["cpu_us_per_example"] for r in repeats)
        accuracy_memory = repeats[-1]["memory"]["accuracy"]
        accuracy_stream = repeats[-1]["stream"]["accuracy"]
        print(
            f"| {model} | {memory:,.0f} | {streamed:,.0f} | {ratio:.2f} | "
            f"{cpu_memory:.3f} / {cpu_stream:.3f} | {first:.0f} | "
            f"{e2e:,.0f} | {rss / 2**20:,.0f} MiB | {accuracy_memory:.4f} / "
            f"{accuracy_stream:.4f} |"
        )
    for model, repeats in results.items():
        print(f"\n{model}, last streamed run:\n{repeats[-1]['stream']['balance']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_stream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write the Parquet file")
    gen.add_argument("path", type=Path)
    gen.add_argument("--gigabytes", type=float, default=4.2)
    gen.add_argument("--features", type=int, default=48)
    for name in ("run", "child"):
        command = commands.add_parser(name)
        if name == "child":
            command.add_argument("mode", choices=["memory", "stream"])
        command.add_argument("path", type=Path)
        command.add_argument("--model", default="logistic")
        command.add_argument("--models", default="logistic,mlp")
        command.add_argument("--batch-size", type=int, default=256)
        command.add_argument("--subset-rows", type=int, default=1_000_000)
        command.add_argument("--epochs", type=int, default=3)
        command.add_argument("--shuffle-buffer", type=int, default=16_384)  # the default
        command.add_argument("--repeats", type=int, default=2)
        command.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.path, args.gigabytes, args.features)
    elif args.command == "child":
        result = child_memory(args) if args.mode == "memory" else child_stream(args)
        print(json.dumps(result))
    else:
        run(args)


if __name__ == "__main__":
    main()
