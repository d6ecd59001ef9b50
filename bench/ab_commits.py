"""Is a slower row a regression or noise? Interleave two checkouts on the same workloads.

    git worktree add --detach /tmp/old e99efb4
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.ab_commits /tmp/old 3

Runs, alternately in fresh processes from this checkout and from OTHER (``rounds`` times
each, 3 timings per process), the two rows issue 16 questioned: ``LinearRegression``
mini-batch SGD (batch 256, one epoch of 1,000,000 × 50) and ``LogisticRegression`` gd
(20 epochs of 1,000,000 × 20), each beside its hand-written NumPy loop from the same
checkout. Prints median seconds and median thalweg/NumPy speed ratios, in wall time and
in CPU time (``time.process_time``, which other jobs on a busy machine disturb far less;
it counts every thread, so keep BLAS single-threaded for it to compare fairly).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

PROBE = r"""
import json, sys, time
sys.path.insert(0, ".")
from bench import linear, logistic
steps = {
    "linear sgd thalweg": linear.thalweg_sgd(),
    "linear sgd numpy": linear.numpy_sgd(),
    "logistic gd thalweg": logistic.thalweg_gd(1_000_000, 20),
    "logistic gd numpy": logistic.numpy_gd(1_000_000, 20),
}
for step in steps.values():
    step()  # warm up (and build the data once)
rows = []
for _ in range(3):
    row = {}
    for name, step in steps.items():
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        row[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    rows.append(row)
print(json.dumps(rows))
"""


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    other, rounds = Path(argv[0]), int(argv[1]) if len(argv) > 1 else 3
    here = Path(__file__).resolve().parent.parent
    results: dict[str, list[dict]] = {}
    for _ in range(rounds):
        for label, folder in (("this checkout", here), (f"{other}", other)):
            done = subprocess.run(
                [sys.executable, "-c", PROBE], cwd=folder, capture_output=True, text=True
            )
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            results.setdefault(label, []).extend(json.loads(done.stdout.splitlines()[-1]))
    for label, rows in results.items():
        print(f"{label} ({len(rows)} timings each)")
        for workload in ("linear sgd", "logistic gd"):
            for clock, index in (("wall", 0), ("cpu", 1)):
                ours = [r[f"{workload} thalweg"][index] for r in rows]
                peer = [r[f"{workload} numpy"][index] for r in rows]
                ratio = statistics.median(p / o for o, p in zip(ours, peer, strict=True))
                print(
                    f"  {workload:12s} {clock}: thalweg {statistics.median(ours):.3f} s, "
                    f"numpy {statistics.median(peer):.3f} s, thalweg/numpy speed {ratio:.2f}×"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
