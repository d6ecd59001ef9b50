"""Run the benchmarks and write ``docs/benchmarks.md``.

    make bench                      # the record: every workload, written to docs/benchmarks.md
    python -m bench --quick         # a smoke run of the engine workloads (~1.5 min), printed
    python -m bench --only mlp      # some workloads, printed, nothing written
    python -m bench --quick --write # write anyway (the file says which command made it)

Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset (``make bench`` does);
the machine block in the report records whether they were.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

from bench import harness

# name -> module with ``run(settings) -> harness.Table``; order is the report's order
WORKLOADS = {
    "overhead": "bench.overhead",
    "playground": "bench.playground",
    "mlp": "bench.mlp",
    "compile": "bench.compiled",
    "logistic": "bench.logistic",
    "linear": "bench.linear",
    "kmeans": "bench.kmeans",
    "autoencoder": "bench.autoencoder",
    "memory": "bench.memory",
    "vision": "bench.vision",
    "detection": "bench.detection",
    "playground-server": "bench.playground_server",
    "input": "bench.input",
}

QUICK = ["overhead", "playground", "mlp"]  # --quick without --only: the engine's workloads
OUTPUT = harness.REPO / "docs" / "benchmarks.md"
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

INTRO = """\
# Benchmarks

Written by `make bench` (`bench/run.py`); do not edit by hand. What is measured and how:

- every workload runs thalweg and its peers **interleaved** in one invocation: each
  contestant in its own worker process, warmed up, then rounds of one timed block per
  contestant in rotating order (A B C, B C A, …), with a 0.2 s untimed pause between
  blocks so one library's spinning threads never steal the CPU from the next
  (`bench/harness.py` says why);
- the machine is shared with other jobs: the harness waits for quiet moments, measures
  the CPU other processes take during every block, and reruns contaminated rounds; the
  **rounds** column says how many clean rounds the figures rest on (e.g. `9/11`), or
  `noisy 2/18` when fewer than three were clean and every round was used — treat those
  rows as unreliable, PyTorch's above all (2 threads on 2 busy cores stall badly);
- figures are medians over rounds; a **ratio** is thalweg's speed over the peer's, the
  median of the per-round paired ratios, with quartiles in parentheses: > 1 means thalweg
  is faster;
- before timing, every contestant trains from the same weights on the same data and
  must reach the same loss (the checks are printed under each table);
- float32 throughout. The machine is small and shared (2 cores, other jobs running):
  absolute figures move 10–40 % between runs, up to 2× on tiny workloads. Only ratios
  from one invocation count; compare runs by their ratios, never by their absolute rows.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: fewer, shorter rounds")
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), help="run these workloads")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--write", action="store_true", help="write the report even if partial")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="report path")
    parser.add_argument(
        "--threads",
        type=int,
        help="limit every library's thread pool to N (default: each library's own default)",
    )
    args = parser.parse_args(argv)
    if args.threads:  # read by OpenBLAS, OpenMP and MKL when a worker loads them
        for name in THREAD_ENV:
            os.environ[name] = str(args.threads)

    harness.warn_noisy_env()
    settings = harness.Settings.quick() if args.quick else harness.Settings()
    if args.rounds:
        settings.rounds = args.rounds
    names = args.only or (QUICK if args.quick else list(WORKLOADS))

    import numpy  # noqa: F401 - load every thread pool before recording them
    import torch  # noqa: F401

    info = harness.machine_info()
    started, start = harness.now(), time.time()  # wall clock: the VM may be paused
    print(f"thalweg benchmarks, {settings}", flush=True)
    tables, pending = [], []
    for name in names:
        print(f"\n== {name}", flush=True)
        module = importlib.import_module(WORKLOADS[name])
        try:
            tables.append(module.run(settings))
        except harness.Pending as reason:
            print(f"  pending: {reason}", flush=True)
            pending.append((name, f"pending: {reason}"))
        except Exception as error:  # one broken workload must not lose the others' results
            traceback.print_exc()
            pending.append((name, f"failed: {type(error).__name__}: {error}"))
    minutes = (time.time() - start) / 60
    info["load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"

    print()
    for table in tables:
        print(table.text(), end="\n\n")
    complete = args.only is None and not args.quick
    if complete or args.write:
        report = _report(tables, pending, info, harness.command_line(), started, minutes)
        _write_atomically(args.output, report)
        print(f"wrote {args.output}")
    else:
        print("not writing the report for a quick or partial run (pass --write to)")
    return 0


def _report(tables, pending, info, command, started, minutes) -> str:
    parts = [INTRO]
    parts += [table.markdown() for table in tables]
    if pending:
        parts.append("## Workloads not measured in this run\n")
        parts.append("\n".join(f"- **{name}**: {reason}" for name, reason in pending) + "\n")
    parts.append(harness.machine_markdown(info, command, started, minutes))
    return "\n".join(parts)


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
