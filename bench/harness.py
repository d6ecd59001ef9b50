"""The shared benchmark machinery: interleaved timing, ratios, machine facts, the report.

How a comparison is timed (``interleave``):

1. each contestant lives in **its own worker process**, started once per workload and
   driven in lockstep by this one: a process holds only its own library's thread pools
   (OpenBLAS for thalweg and NumPy, OpenMP/MKL for PyTorch), as it would for a user;
2. every contestant runs a warm-up, which also sets its block length (steps per block)
   so one block takes about ``block_seconds``;
3. then ``rounds`` rounds, each running one block of every contestant, in an order that
   rotates every round (A B C, B C A, C A B, ...), so drift on a noisy machine hits
   everyone alike; only the block itself is timed, inside the worker;
4. between two blocks the coordinator sleeps ``pause`` seconds. OpenBLAS keeps its
   worker threads spinning for ~0.1 s after a matrix product; on a 2-core machine that
   spin steals a core from whatever runs next (measured: PyTorch's batch-32 MLP step
   2.5x slower right after a NumPy block, in one process, with no pause);
5. the machine is shared: before each round the harness waits (up to ``quiet_wait``
   seconds per comparison, in all) for a moment when other processes leave the CPU,
   and it measures, round by round, the CPU time other processes took. A round in
   which they took more than 0.15 of a core on average is *contaminated* and run
   again (up to twice as many rounds in all). Contention is not a uniform slowdown: a
   library with 2 threads on 2 busy cores stalls at every barrier (measured: PyTorch's
   playground step ~0.3 ms quiet, 16–65 ms with two other jobs running, 1–2 ms with
   1 thread).

Results are the median time per step over the clean rounds (all rounds, flagged
"noisy", if fewer than three were clean), and for each peer the median over rounds of
the *paired* ratio (peer time / thalweg time in the same round): a speed ratio, > 1
means thalweg is faster. Pairing cancels most of the machine's drift.

A contestant is named by a factory, ``module:function`` plus arguments; called in the
worker, the factory builds everything (model, data, optimizer) and returns ``step``, a
function doing one unit of work (a training step, one op) and returning the loss.
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import importlib
import multiprocessing
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOISY_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # they slow NumPy on the bench machine


class Pending(Exception):
    """A workload that cannot run yet (the thalweg part it measures does not exist)."""


@dataclass
class Settings:
    """How long to measure: the default for the record, ``quick()`` for a smoke run."""

    rounds: int = 9
    block_seconds: float = 0.25
    warmup_seconds: float = 0.4
    pause: float = 0.2
    quiet_wait: float = 20.0  # per comparison: how long to wait, in all, for quiet moments

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=3, block_seconds=0.08, warmup_seconds=0.15, pause=0.15, quiet_wait=3.0)

    def one_shot(self) -> Settings:
        """For steps that take seconds (a whole fit): one step per block, one to warm up."""
        return Settings(
            rounds=max(3, self.rounds // 3),
            block_seconds=0.0,
            warmup_seconds=0.0,
            pause=self.pause,
            quiet_wait=self.quiet_wait,
        )


@dataclass
class Contestant:
    """One way of doing the work: ``factory`` is ``"module:function"``, called with ``args``."""

    name: str
    factory: str
    args: tuple = ()

    def build(self):
        module, function = self.factory.split(":")
        return getattr(importlib.import_module(module), function)(*self.args)


class Lazy:
    """What a fitting step returns: the check calls ``item()``; timing never does."""

    def __init__(self, compute):
        self.compute = compute

    def item(self) -> float:
        return float(self.compute())


@dataclass
class Timing:
    """Seconds per step of each contestant, one entry per round (same round order)."""

    seconds: dict[str, list[float]]
    steps_per_block: dict[str, int]
    rounds_run: int = 0
    rounds_clean: int = 0

    @property
    def rounds_note(self) -> str:
        """``9/11``: clean rounds used out of rounds run; ``noisy 2/18``: all rounds used."""
        if self.rounds_clean >= 3:
            return f"{self.rounds_clean}/{self.rounds_run}"
        return f"noisy {self.rounds_clean}/{self.rounds_run}"

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def speed_ratio(self, name: str, peer: str) -> tuple[float, float, float]:
        """Median and quartiles over rounds of ``peer time / name time`` (> 1: name faster)."""
        ratios = sorted(p / t for t, p in zip(self.seconds[name], self.seconds[peer], strict=True))
        return statistics.median(ratios), _quantile(ratios, 0.25), _quantile(ratios, 0.75)


def _quantile(sorted_values: list[float], q: float) -> float:
    position = q * (len(sorted_values) - 1)
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def _run_block(step, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - start


def _worker(conn) -> None:
    """A contestant's process: build on request, then time blocks of steps on request."""
    step = None
    while True:
        try:
            request = conn.recv()
        except EOFError:  # the coordinator is gone
            return
        if request is None:
            return
        kind, payload = request
        try:
            if kind == "build":
                step = payload.build()
                reply = None
            elif kind == "check":  # run n steps from the fresh build, return the last loss
                reply = None
                for _ in range(payload):
                    reply = step()
                reply = float(reply.item() if hasattr(reply, "item") else reply)
            elif kind == "warmup":  # run ~payload seconds (at least one step): s per step
                n = 1
                deadline = time.perf_counter() + payload
                while True:
                    elapsed = _run_block(step, n)
                    if time.perf_counter() >= deadline:
                        break
                    if elapsed < payload / 4:
                        n *= 2
                reply = elapsed / n
            elif kind == "block":
                reply = _run_block(step, payload)
            else:
                raise ValueError(f"unknown request {kind!r}")
            conn.send(("ok", reply))
        except Exception as error:  # report it to the coordinator, keep serving
            conn.send(("error", f"{type(error).__name__}: {error}"))


class Workers:
    """One worker process per contestant name, reused for every configuration of a workload.

    >>> with Workers(["thalweg", "pytorch"]) as workers:   # doctest: +SKIP
    ...     timing = workers.interleave(contestants, settings)
    """

    def __init__(self, names):
        context = multiprocessing.get_context("spawn")
        self.conns = {}
        self.processes = []
        for name in names:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child,), daemon=True)
            process.start()
            self.conns[name] = parent
            self.processes.append(process)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for conn in self.conns.values():
            conn.send(None)
        for process in self.processes:
            process.join(timeout=10)
        return False

    def call(self, name: str, kind: str, payload=None):
        self.conns[name].send((kind, payload))
        status, reply = self.conns[name].recv()
        if status != "ok":
            raise RuntimeError(f"{name} worker: {reply}")
        return reply

    def check(self, contestants: list[Contestant], steps: int) -> dict[str, float]:
        """Build every contestant fresh and return its loss after ``steps`` steps."""
        losses = {}
        for c in contestants:
            self.call(c.name, "build", c)
            losses[c.name] = self.call(c.name, "check", steps)
        return losses

    def interleave(self, contestants: list[Contestant], settings: Settings) -> Timing:
        """Build fresh, warm up, then time rounds of rotating blocks (module docstring).

        A round during which other processes used more than ``FOREIGN_LIMIT`` of a core
        (other jobs on a shared machine) is recorded as contaminated and run again, up
        to ``settings.rounds`` extra rounds; ratios use the clean rounds if there are at
        least three, else every round (and the table says so).
        """
        steps = {}
        for c in contestants:
            self.call(c.name, "build", c)
            per_step = self.call(c.name, "warmup", settings.warmup_seconds)
            steps[c.name] = max(1, round(settings.block_seconds / per_step))
            time.sleep(settings.pause)
        seconds: dict[str, list[float]] = {c.name: [] for c in contestants}
        clean: list[bool] = []
        r = 0
        wait_budget = settings.quiet_wait
        while sum(clean) < settings.rounds and r < 2 * settings.rounds:
            shift = r % len(contestants)
            wait_budget -= self.wait_for_quiet(wait_budget)
            # Measured over the whole round: /proc/stat counts in 10 ms ticks, too coarse
            # to judge one 0.25 s block.
            with self.foreign_cpu() as foreign:
                for c in contestants[shift:] + contestants[:shift]:
                    time.sleep(settings.pause)
                    elapsed = self.call(c.name, "block", steps[c.name])
                    seconds[c.name].append(elapsed / steps[c.name])
            clean.append(foreign.cores <= FOREIGN_LIMIT)
            r += 1
        if sum(clean) >= 3:
            seconds = {
                name: [t for t, ok in zip(times, clean, strict=True) if ok]
                for name, times in seconds.items()
            }
        return Timing(seconds, steps, rounds_run=len(clean), rounds_clean=sum(clean))

    def wait_for_quiet(self, budget: float) -> float:
        """Wait (at most ``budget`` s) until other processes leave the CPU; return the wait.

        On a shared machine other jobs come and go; a round started in a quiet moment
        is far more likely to be clean.
        """
        start = time.perf_counter()
        while time.perf_counter() - start < budget:
            with self.foreign_cpu() as foreign:
                time.sleep(0.5)
            if foreign.cores <= FOREIGN_LIMIT:
                break
        return time.perf_counter() - start

    @contextlib.contextmanager
    def foreign_cpu(self):
        """Measure the CPU (in cores) used during the block by processes other than ours."""
        import psutil

        ours = [psutil.Process(), *(psutil.Process(p.pid) for p in self.processes)]

        def snapshot():
            busy = psutil.cpu_times()
            total = busy.user + busy.nice + busy.system + busy.irq + busy.softirq
            mine = sum(sum(p.cpu_times()[:2]) for p in ours)
            return time.perf_counter(), total, mine

        result = _Foreign()
        start = snapshot()
        yield result
        end = snapshot()
        wall = end[0] - start[0]
        result.cores = max(0.0, (end[1] - start[1]) - (end[2] - start[2])) / max(wall, 1e-9)


FOREIGN_LIMIT = 0.15  # cores other processes may use during a round for it to count


class _Foreign:
    cores = 0.0


# ---------------------------------------------------------------------- results


@dataclass
class Table:
    """One workload's results: a title, a short note, column names and rows of text."""

    title: str
    note: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # the equal-loss checks, as printed

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.note, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.checks:
            lines += ["", "Same-result check before timing:", "", "```"]
            lines += self.checks
            lines.append("```")
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        widths = [
            max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
            for i, c in enumerate(self.columns)
        ]
        out = [self.title]
        out.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)))
        for row in self.rows:
            out.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        return "\n".join(out)


def fmt_ratio(ratio: tuple[float, float, float]) -> str:
    """``1.23× (1.10–1.31)``: median paired speed ratio and its quartiles over rounds."""
    median, low, high = ratio
    return f"{median:.2f}× ({low:.2f}–{high:.2f})"


def verdict(ratio: tuple[float, float, float], target: float) -> str:
    """Whether the median ratio, as shown (2 decimals), meets the target."""
    return "yes" if round(ratio[0], 2) >= target else "**no**"


def assert_close(label: str, values: dict[str, float], rtol: float) -> str:
    """Check every contestant's final loss agrees; return the line to print and record."""
    reference = next(iter(values.values()))
    worst = max(abs(v - reference) / max(abs(reference), 1e-12) for v in values.values())
    shown = ", ".join(f"{name} {value:.6f}" for name, value in values.items())
    line = f"{label}: {shown}; max rel. diff {worst:.1e} (tolerance {rtol:.0e})"
    if not worst <= rtol:
        raise AssertionError(f"contestants disagree, not timing them: {line}")
    return line + " OK"


# ---------------------------------------------------------------------- the machine


def cpu_model() -> str:
    """``AMD EPYC (family 26, model 2)`` from /proc/cpuinfo: the name alone can be vague."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info() -> dict:
    """Facts about this run: CPU, versions, thread pools, BLAS kernel, noisy env vars.

    Call it after NumPy and PyTorch are imported, so threadpoolctl sees every pool.
    """
    import numpy as np
    import threadpoolctl

    import thalweg

    info = {
        "cpu": cpu_model(),
        "logical cores": os.cpu_count(),
        "load average (1 min) at start": f"{os.getloadavg()[0]:.2f}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "thalweg": f"{thalweg.__version__} (git {_git('rev-parse', '--short', 'HEAD')}"
        + (", uncommitted changes" if _git("status", "--porcelain", "thalweg") else "")
        + ")",
    }
    try:
        import torch

        info["pytorch"] = torch.__version__
        info["torch.get_num_threads()"] = torch.get_num_threads()
    except ImportError:
        info["pytorch"] = "not installed"
    info["threadpools"] = [
        {
            key: pool.get(key)
            for key in (
                "user_api",
                "internal_api",
                "prefix",
                "version",
                "architecture",
                "threading_layer",
                "num_threads",
            )
        }
        for pool in threadpoolctl.threadpool_info()
    ]
    info["environment"] = {
        name: os.environ.get(name, "unset")
        for name in (*NOISY_ENV, "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    }
    return info


def warn_noisy_env() -> None:
    set_vars = [name for name in NOISY_ENV if name in os.environ]
    if set_vars:
        print(
            f"WARNING: {', '.join(set_vars)} set; they slow NumPy here. Run through "
            "`make bench` or `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench`.",
            file=sys.stderr,
        )


def machine_markdown(info: dict, command: str, started: str, minutes: float) -> str:
    lines = ["## Machine and run", ""]
    lines.append(f"- command: `{command}`")
    lines.append(f"- started {started}, took {minutes:.1f} min")
    for key, value in info.items():
        if key in ("threadpools", "environment"):
            continue
        lines.append(f"- {key}: {value}")
    env = ", ".join(f"`{k}` {v}" for k, v in info["environment"].items())
    lines.append(f"- environment: {env}")
    lines += [
        "",
        "Thread pools and BLAS kernel (`threadpoolctl.threadpool_info()`):",
        "",
        "| user_api | internal_api | library | version | kernel (architecture) | "
        "threading | threads |",
        "|---|---|---|---|---|---|---|",
    ]
    for pool in info["threadpools"]:
        lines.append(
            "| {user_api} | {internal_api} | {prefix} | {version} | {architecture} | "
            "{threading_layer} | {num_threads} |".format(
                **{k: ("–" if v is None else v) for k, v in pool.items()}
            )
        )
    return "\n".join(lines) + "\n"


def command_line() -> str:
    """How this run was started, with the environment changes that matter."""
    unset = " ".join(f"-u {name}" for name in NOISY_ENV if name not in os.environ)
    prefix = f"env {unset} " if unset else ""
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    return f"{prefix}python -m bench {args}".strip()


def now() -> str:
    return _datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def check_then_time(workers, entrants, label: str, steps: int, settings, table) -> Timing:
    """Check that every contestant reaches the same loss after ``steps`` steps (the line
    goes under ``table``), then time them interleaved."""
    line = assert_close(label, workers.check(entrants, steps), rtol=1e-4)
    print("  check", line, flush=True)
    table.checks.append(line)
    return workers.interleave(entrants, settings)
