"""KMeans against scikit-learn's KMeans (Lloyd) and MiniBatchKMeans.

Data: scikit-learn's digits (1,797 × 64, k = 10) and 1,000,000 × 20 float64 blobs
(``make_blobs``, 8 centres, k = 8), as they come (no scaling). Both libraries run with
their defaults (k-means++ seeds, ``n_init="auto"``, ``tol=1e-4``; mini-batch: batches of
1024, stopped by scikit-learn's smoothed-inertia rule).

* **Quality**, checked before timing: the mean inertia over seeds 0–9 (digits) or 0–4
  (blobs), one fit each, both libraries, must be within 1 % of scikit-learn's KMeans;
  mini-batch is shown against both peers. On the blobs also the adjusted Rand index
  against the true blobs.
* **Speed**: seconds per fit, interleaved. A contestant's step fits with the next seed
  of 0, 1, …, 9, 0, … so both see the same seeds in the same order (mini-batch run lengths
  depend on the seed: scikit-learn's stopping rule ends some runs after 12 batches and
  others after hundreds). Targets (issue 17): ≤ 1.0× scikit-learn's time, both algorithms.
"""

from __future__ import annotations

import itertools
import sys
import time
from functools import cache

import numpy as np

from bench import harness

BLOBS_N, BLOBS_D, BLOBS_K = 1_000_000, 20, 8
DIGITS_K = 10
QUALITY_SEEDS = {"digits": range(10), "blobs": range(5)}


@cache
def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().data


@cache
def blobs() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(n_samples=BLOBS_N, n_features=BLOBS_D, centers=BLOBS_K, random_state=0)


def data(name: str) -> np.ndarray:
    return digits() if name == "digits" else blobs()[0]


def k_of(name: str) -> int:
    return DIGITS_K if name == "digits" else BLOBS_K


def make_model(library: str, algorithm: str, k: int, seed: int):
    if library == "thalweg":
        from thalweg.models import KMeans

        return KMeans(k, algorithm=algorithm, random_state=seed)
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if algorithm == "lloyd":
        return KMeans(k, random_state=seed)
    return MiniBatchKMeans(k, random_state=seed)


def fitter(library: str, algorithm: str, name: str):
    """A harness step: fit with seeds 0, 1, 2, … in turn; the check reads the inertia."""
    X, k = data(name), k_of(name)
    seeds = itertools.cycle(range(10))

    def step():
        model = make_model(library, algorithm, k, next(seeds)).fit(X)
        return harness.Lazy(lambda: model.inertia_)

    return step


def quality(name: str) -> tuple[list[str], bool]:
    """Mean inertia over ``QUALITY_SEEDS`` for the four (library, algorithm) pairs."""
    from sklearn.metrics import adjusted_rand_score

    X, k = data(name), k_of(name)
    truth = blobs()[1] if name == "blobs" else None
    means, ari = {}, {}
    for library in ("thalweg", "scikit-learn"):
        for algorithm in ("lloyd", "minibatch"):
            models = [make_model(library, algorithm, k, s).fit(X) for s in QUALITY_SEEDS[name]]
            means[library, algorithm] = float(np.mean([m.inertia_ for m in models]))
            if truth is not None:
                ari[library, algorithm] = min(adjusted_rand_score(truth, m.labels_) for m in models)
    reference = means["scikit-learn", "lloyd"]
    lines, ok = [], True
    for algorithm in ("lloyd", "minibatch"):
        ours, theirs = means["thalweg", algorithm], means["scikit-learn", algorithm]
        within = ours <= 1.01 * reference
        ok &= within or algorithm == "minibatch"
        seeds = len(QUALITY_SEEDS[name])
        line = (
            f"kmeans {name} {algorithm}: mean inertia over {seeds} seeds thalweg {ours:.6g}, "
            f"scikit-learn {theirs:.6g} ({ours / theirs - 1:+.2%}); vs scikit-learn's "
            f"KMeans {ours / reference - 1:+.2%} (must be ≤ +1%) " + ("OK" if within else "OVER")
        )
        if ari:
            ours_ari, theirs_ari = ari["thalweg", algorithm], ari["scikit-learn", algorithm]
            line += (
                f"; worst adjusted Rand index vs the true blobs thalweg {ours_ari:.4f}, "
                f"scikit-learn {theirs_ari:.4f}"
            )
        lines.append(line)
    return lines, ok


def run(settings: harness.Settings) -> harness.Table:
    try:
        from thalweg.models import KMeans  # noqa: F401
    except ImportError as error:
        raise harness.Pending(f"thalweg.models.KMeans: {error}") from None
    table = harness.Table(
        title="KMeans: digits (1,797 × 64, k = 10) and blobs (1,000,000 × 20, k = 8)",
        note=(
            "Seconds per fit with each library's defaults (k-means++, n_init='auto'), seeds "
            "0, 1, 2, … in turn, median over rounds; ratios are thalweg's speed over the "
            "peer's (median of per-round paired ratios, quartiles). Target (issue 17): "
            "≥ 1.00× against KMeans (Lloyd) and MiniBatchKMeans; mean inertia within 1 % of "
            "scikit-learn's KMeans (checks below)."
        ),
        columns=["workload", "thalweg s", "peer s", "peer", "thalweg/peer", "target met", "rounds"],
    )
    with harness.Workers(["thalweg", "scikit-learn"]) as workers:
        for name in ("digits", "blobs"):
            started = time.perf_counter()
            lines, ok = quality(name)
            for line in lines:
                print("  check", line, flush=True)
            table.checks += lines
            print(f"  (quality checks took {time.perf_counter() - started:.0f} s)", flush=True)
            if not ok:
                continue
            timing_settings = settings if name == "digits" else settings.one_shot()
            for algorithm, peer in (("lloyd", "KMeans"), ("minibatch", "MiniBatchKMeans")):
                entrants = [
                    harness.Contestant(
                        "thalweg", "bench.kmeans:fitter", ("thalweg", algorithm, name)
                    ),
                    harness.Contestant(
                        "scikit-learn", "bench.kmeans:fitter", ("scikit-learn", algorithm, name)
                    ),
                ]
                timing = workers.interleave(entrants, timing_settings)
                ratio = timing.speed_ratio("thalweg", "scikit-learn")
                table.rows.append(
                    [
                        f"{name}, {algorithm}",
                        f"{timing.median('thalweg'):.4f}",
                        f"{timing.median('scikit-learn'):.4f}",
                        peer,
                        harness.fmt_ratio(ratio),
                        harness.verdict(ratio, 1.0),
                        timing.rounds_note,
                    ]
                )
                print("  " + " | ".join(table.rows[-1]), flush=True)
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
