"""LinearRegression on n=1,000,000 × d=50 float32 data.

* ``solver="ols"``: seconds per fit against scikit-learn's ``LinearRegression``.
  Checked first: coefficients within 1e-4 of float64 ``numpy.linalg.lstsq``; and on a
  small design with condition number ~1e10, predictions as accurate as ``lstsq``'s.
  Target (issue 5): ≤ 0.1× scikit-learn's time (ratio ≥ 10×).
* mini-batch SGD, batch 256, one epoch (shuffled): seconds against a hand-written NumPy
  loop (gather the batch, ``Xb @ w + b``, ``Xbᵀ r · 2/B``, in-place update).
  Target: ≤ 1.5× NumPy's time (ratio ≥ 0.67×).
"""

from __future__ import annotations

import sys
from functools import cache

import numpy as np

from bench import harness

N, D, BATCH, LR = 1_000_000, 50, 256, 0.01


@cache
def make_data(n: int = N, d: int = D, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal(d)
    y = (x @ w + 0.5 + 0.1 * rng.standard_normal(n)).astype(np.float32)
    return x, y


@cache
def lstsq64() -> np.ndarray:
    """Coefficients then intercept from float64 ``lstsq`` with an intercept column."""
    x, y = make_data()
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    return np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]


def _coef_error(model) -> float:
    reference = lstsq64()
    fitted = np.append(np.ravel(model.coef_), model.intercept_)
    return float(np.max(np.abs(fitted - reference)))


def thalweg_ols():
    from thalweg.models import LinearRegression

    x, y = make_data()

    def step():
        model = LinearRegression(solver="ols").fit(x, y)
        return harness.Lazy(lambda: _coef_error(model))

    return step


def sklearn_ols():
    from sklearn.linear_model import LinearRegression

    x, y = make_data()

    def step():
        model = LinearRegression().fit(x, y)
        return harness.Lazy(lambda: _coef_error(model))

    return step


def _mse(x, y, w, b) -> float:
    return float(np.mean((x @ w + b - y).astype(np.float64) ** 2))


def thalweg_sgd():
    from thalweg.models import LinearRegression

    x, y = make_data()

    def step():
        model = LinearRegression(
            solver="gd",
            batch_size=BATCH,
            optimizer="sgd",
            learning_rate=LR,
            max_epochs=1,
            tol=None,
            random_state=0,
        ).fit(x, y)
        return harness.Lazy(lambda: _mse(x, y, model.coef_, model.intercept_))

    return step


def numpy_sgd():
    """One shuffled epoch of mini-batch SGD on the squared error, by hand."""
    x, y = make_data()
    n = len(x)

    def step():
        w, b = np.zeros(D, np.float32), np.float32(0.0)
        order = np.random.default_rng(0).permutation(n)
        for start in range(0, n, BATCH):
            index = order[start : start + BATCH]
            xb = x[index]
            residual = xb @ w
            residual += b
            residual -= y[index]
            scale = 2 * LR / len(index)
            w -= scale * (residual @ xb)
            b -= scale * residual.sum()
        return harness.Lazy(lambda: _mse(x, y, w, b))

    return step


def ill_conditioned_check() -> str:
    """On a design with cond ~1e10, thalweg's predictions match float64 lstsq's."""
    from thalweg.models import LinearRegression

    rng = np.random.default_rng(1)
    n, d = 5_000, 20
    u, _ = np.linalg.qr(rng.standard_normal((n, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (u * np.logspace(0, -10, d)) @ v.T  # singular values 1 … 1e-10
    y = x @ rng.standard_normal(d) + 1e-3 * rng.standard_normal(n)
    design = np.hstack([x, np.ones((n, 1))])
    reference = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    model = LinearRegression(solver="ols").fit(x, y)
    fitted = x @ model.coef_ + model.intercept_
    difference = float(np.linalg.norm(fitted - reference) / np.linalg.norm(reference))
    ok = difference <= 1e-6
    return (
        f"linear ols, cond(X) ≈ {np.linalg.cond(x):.0e}: ‖ŷ − ŷ_lstsq‖/‖ŷ_lstsq‖ = "
        f"{difference:.1e} (must be ≤ 1e-6), solver_ = {model.solver_!r} "
        + ("OK" if ok else "FAILED")
    )


def run(settings: harness.Settings) -> harness.Table:
    try:
        from thalweg.models import LinearRegression  # noqa: F401
    except ImportError as error:
        raise harness.Pending(f"thalweg.models.LinearRegression: {error}") from None
    table = harness.Table(
        title=f"LinearRegression, {N:,} × {D} float32",
        note=(
            "Seconds per fit (ols) or per epoch (SGD), median over rounds; ratios are "
            "thalweg's speed over the peer's (median of per-round paired ratios, quartiles). "
            "Targets (issue 5): ols ≤ 0.1× scikit-learn's time (ratio ≥ 10×), coefficients "
            "within 1e-4 of float64 lstsq; SGD epoch ≤ 1.5× NumPy's (ratio ≥ 0.67×)."
        ),
        columns=[
            "workload",
            "thalweg s",
            "peer s",
            "peer",
            "thalweg/peer",
            "target met",
            "rounds",
        ],
    )
    slow = settings.one_shot()
    line = ill_conditioned_check()
    print("  check", line, flush=True)
    table.checks.append(line)
    with harness.Workers(["thalweg", "scikit-learn", "numpy"]) as workers:
        for title, entrants, peer, target in (
            (
                "ols",
                [
                    harness.Contestant("thalweg", "bench.linear:thalweg_ols"),
                    harness.Contestant("scikit-learn", "bench.linear:sklearn_ols"),
                ],
                "scikit-learn",
                10.0,
            ),
            (
                f"SGD, batch {BATCH}, 1 epoch",
                [
                    harness.Contestant("thalweg", "bench.linear:thalweg_sgd"),
                    harness.Contestant("numpy", "bench.linear:numpy_sgd"),
                ],
                "numpy",
                1 / 1.5,
            ),
        ):
            results = workers.check(entrants, 1)
            if title == "ols":
                ok = results["thalweg"] <= 1e-4
                line = (
                    "linear ols: max |coefficient − float64 lstsq| thalweg "
                    f"{results['thalweg']:.1e}, scikit-learn {results['scikit-learn']:.1e} "
                    "(thalweg must be ≤ 1e-4) " + ("OK" if ok else "FAILED")
                )
            else:
                ok = True
                line = (
                    f"linear SGD: training MSE after one epoch thalweg {results['thalweg']:.5f}, "
                    f"numpy {results['numpy']:.5f} (same epoch and batch size; thalweg "
                    "standardizes, so shown, not compared)"
                )
            print("  check", line, flush=True)
            table.checks.append(line)
            if not ok:
                continue
            timing = workers.interleave(entrants, slow)
            ratio = timing.speed_ratio("thalweg", peer)
            table.rows.append(
                [
                    title,
                    f"{timing.median('thalweg'):.3f}",
                    f"{timing.median(peer):.3f}",
                    peer,
                    harness.fmt_ratio(ratio),
                    harness.verdict(ratio, target),
                    timing.rounds_note,
                ]
            )
            print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
