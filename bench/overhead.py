"""Per-op overhead: ``y = (x * w).sum(); y.backward()`` on 1-element tensors, in µs.

Two recorded ops and one backward pass over a two-node graph: nothing here is
arithmetic, all of it is the framework's own bookkeeping. No ``zero_grad``: the
gradients accumulate, as the one-liner does. Target (issue 5): ≤ 8 µs.
"""

from __future__ import annotations

import sys

from bench import harness

TARGET_US = 8.0
CHECK_STEPS = 5


def thalweg_step():
    import thalweg

    x = thalweg.tensor([0.5], requires_grad=True)
    w = thalweg.tensor([-1.5], requires_grad=True)

    def step():
        y = (x * w).sum()
        y.backward()
        return x.grad

    return step


def torch_step():
    import torch

    x = torch.tensor([0.5], requires_grad=True)
    w = torch.tensor([-1.5], requires_grad=True)

    def step():
        y = (x * w).sum()
        y.backward()
        return x.grad

    return step


CONTESTANTS = {"thalweg": "thalweg_step", "pytorch": "torch_step"}


def run(settings: harness.Settings) -> harness.Table:
    table = harness.Table(
        title="Per-op overhead: `y = (x * w).sum(); y.backward()`, 1-element tensors",
        note=(
            "Microseconds per iteration (two ops forward, one backward), median over "
            "rounds; the ratio is thalweg's speed over PyTorch's (median of per-round paired "
            "ratios, quartiles in parentheses). Target (issue 5): ≤ 8 µs."
        ),
        columns=["thalweg µs", "PyTorch µs", "thalweg/PyTorch", "≤ 8 µs", "rounds"],
    )
    entrants = [
        harness.Contestant(name, f"bench.overhead:{factory}")
        for name, factory in CONTESTANTS.items()
    ]
    with harness.Workers(CONTESTANTS) as workers:
        # x.grad after 5 accumulating backwards is 5·w = -7.5 for both.
        grads = {c.name: [] for c in entrants}
        for c in entrants:
            workers.call(c.name, "build", c)
            grads[c.name] = workers.call(c.name, "check", CHECK_STEPS)
        line = harness.assert_close(f"overhead, x.grad after {CHECK_STEPS} backwards", grads, 1e-6)
        print("  check", line, flush=True)
        table.checks.append(line)
        timing = workers.interleave(entrants, settings)
    thalweg_us = timing.median("thalweg") * 1e6
    ratio = timing.speed_ratio("thalweg", "pytorch")
    table.rows.append(
        [
            f"{thalweg_us:.1f}",
            f"{timing.median('pytorch') * 1e6:.1f}",
            harness.fmt_ratio(ratio),
            "yes" if thalweg_us <= TARGET_US else "**no**",
            timing.rounds_note,
        ]
    )
    print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
