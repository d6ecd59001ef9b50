"""Profile thalweg's side of a workload: where does a training step's time go?

    python -m bench.profile mlp sgd 32              # cProfile: top functions, by module
    python -m bench.profile playground adam 10
    python -m bench.profile overhead
    python -m bench.profile mlp sgd 32 --run 10     # just run it 10 s (for py-spy to attach)

With py-spy (native frames show BLAS and NumPy's C loops apart from the interpreter)::

    py-spy record --native -r 400 -f raw -o /tmp/mlp.txt -- \\
        python -m bench.profile mlp sgd 32 --run 10
    python -m bench.profile --shares /tmp/mlp.txt

``--shares`` reads py-spy's collapsed stacks and splits the samples by the innermost
frame: BLAS (OpenBLAS kernels), NumPy C (ufunc loops, array creation), the Python
interpreter and everything else (overhead), and the Python function each of those was
called from.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import sys
import time

FACTORIES = {
    "mlp": "bench.mlp:thalweg_step",
    "playground": "bench.playground:thalweg_step",
    "overhead": "bench.overhead:thalweg_step",
}


def build(workload: str, args: list[str]):
    from bench.harness import Contestant

    typed = [int(a) if a.isdigit() else a for a in args]
    return Contestant("thalweg", FACTORIES[workload], tuple(typed)).build()


def profile(step, seconds: float, top: int) -> None:
    for _ in range(50):  # warm up
        step()
    profiler = cProfile.Profile()
    n, start = 0, time.perf_counter()
    profiler.enable()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    print(f"{n} steps, {total / n * 1e6:.1f} µs per step under cProfile\n")
    print(f"top {top} functions by own time (µs per step, share):")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (file, line, name), (_cc, calls, own, cumulative, _callers) in rows:
        where = f"{_short(file)}:{line}" if line else ""
        print(
            f"  {own / n * 1e6:8.1f} {own / total:6.1%}  calls/step {calls / n:5.1f}  "
            f"cum {cumulative / n * 1e6:8.1f}  {name} {where}"
        )
    by_module = collections.Counter()
    for (file, _line, _name), (_cc, _calls, own, _cum, _callers) in stats.stats.items():
        by_module[_short(file) if file != "~" else "C builtins (NumPy calls, etc.)"] += own
    print("\nown time by file (µs per step, share):")
    for module, own in by_module.most_common(15):
        print(f"  {own / n * 1e6:8.1f} {own / total:6.1%}  {module}")


def _short(file: str) -> str:
    for marker in ("thalweg/", "bench/", "site-packages/", "lib/python"):
        if marker in file:
            return file[file.index(marker) :]
    return file


def _kind(frames: list[str]) -> str:
    """What the sample was doing: the innermost frame that belongs to a known library.

    C helpers (libc's malloc, memcpy, locks) count for whoever called them.
    """
    for frame in reversed(frames):
        lowered = frame.lower()
        if "openblas" in lowered or "gemm" in lowered:
            return "BLAS (OpenBLAS)"
        if "_multiarray_umath" in lowered or "libm.so" in lowered or "numpy/" in lowered:
            return "NumPy C (ufunc loops, reductions, array creation)"
        if ".py:" in frame or "libpython" in lowered or "<frozen" in frame:
            return "Python (interpreter, thalweg's own code)"
    return "other"


def _python_caller(frames: list[str]) -> str:
    """The innermost Python function on the stack, without its line number."""
    for frame in reversed(frames):
        if ".py:" in frame:
            name, _, where = frame.partition(" (")
            return f"{name} ({where.rsplit(':', 1)[0]})"
    return "?"


def shares(path: str) -> None:
    """Split py-spy's collapsed stacks (``-f raw``) by what the innermost frame is.

    Only samples inside the benchmark's ``step`` count (not imports, not building).
    """
    kinds = collections.Counter()
    callers = collections.Counter()
    total = 0
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if "step.<locals>.step" not in stack and "_step.<locals>.step" not in stack:
                continue
            frames = stack.split(";")
            kind = _kind(frames)
            kinds[kind] += int(count)
            callers[(kind, _python_caller(frames))] += int(count)
            total += int(count)
    print(f"{total} samples inside step()")
    for kind, count in kinds.most_common():
        print(f"  {count / total:6.1%}  {kind}")
        for (k, caller), c in callers.most_common():
            if k == kind and c / total >= 0.01:
                print(f"           {c / total:6.1%}  in {caller}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("workload", nargs="?", choices=list(FACTORIES))
    parser.add_argument("args", nargs="*", help="optimizer and batch size (mlp, playground)")
    parser.add_argument("--seconds", type=float, default=4.0, help="how long to profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--run", type=float, help="only run the step this many seconds")
    parser.add_argument("--shares", help="summarize a py-spy raw profile instead")
    args = parser.parse_args(argv)
    if args.shares:
        shares(args.shares)
        return 0
    step = build(args.workload, args.args)
    if args.run:
        start = time.perf_counter()
        while time.perf_counter() - start < args.run:
            step()
        return 0
    profile(step, args.seconds, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
