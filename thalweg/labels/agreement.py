"""How much raters agree beyond chance, and how accurate each one is.

* :func:`cohen_kappa`: two raters on the items both rated:
  ``kappa = (p_o - p_e) / (1 - p_e)``, ``p_o`` the share of items they agree on, ``p_e``
  the agreement expected from their own label frequencies.
* :func:`fleiss_kappa`: any number of raters, every item rated ``n`` times (the raters
  may differ per item): ``P_i = (sum_c n_ic^2 - n) / (n (n - 1))``, ``P_bar`` their mean,
  ``P_e = sum_c p_c^2`` with ``p_c`` the share of all ratings in class ``c``.
* :func:`krippendorff_alpha`: nominal alpha, any number of ratings per item (items with
  one rating do not count): ``alpha = 1 - D_o / D_e`` from the coincidence matrix.
* :func:`leave_one_out_agreement`: each rater against the majority of the other ratings
  of the same items (an accuracy estimate that does not count the rater's own vote).
"""

from __future__ import annotations

import numpy as np

from thalweg.labels.ratings import Ratings


def cohen_kappa(first: np.ndarray, second: np.ndarray) -> float:
    """Cohen's kappa of two label sequences over the same items.

    >>> cohen_kappa(np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0]))
    0.5
    """
    first, second = np.asarray(first), np.asarray(second)
    classes = np.union1d(first, second)
    a = np.searchsorted(classes, first)
    b = np.searchsorted(classes, second)
    observed = float(np.mean(a == b))
    p_first = np.bincount(a, minlength=len(classes)) / len(a)
    p_second = np.bincount(b, minlength=len(classes)) / len(b)
    expected = float(p_first @ p_second)
    if expected == 1.0:
        return 1.0 if observed == 1.0 else 0.0  # both raters used one class only
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an ``(items, classes)`` table of rating counts (each row sums
    to the same ``n`` >= 2).

    >>> round(fleiss_kappa(np.array([[2, 0], [0, 2], [1, 1]])), 12)
    0.333333333333
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum(axis=1)
    if len(counts) == 0 or not np.all(n == n[0]) or n[0] < 2:
        raise ValueError("fleiss_kappa needs every item rated the same number (>= 2) of times")
    raters = n[0]
    per_item = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    shares = counts.sum(axis=0) / counts.sum()
    expected = float(np.sum(shares**2))
    if expected == 1.0:
        return 1.0
    return float((per_item.mean() - expected) / (1.0 - expected))


def krippendorff_alpha(counts: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) from an ``(items, classes)`` table of counts.

    >>> round(krippendorff_alpha(np.array([[2, 0], [0, 2], [1, 1]])), 12)
    0.444444444444
    """
    counts = np.asarray(counts, dtype=np.float64)
    per_item = counts.sum(axis=1)
    pairable = per_item >= 2
    counts, per_item = counts[pairable], per_item[pairable]
    # Coincidences: o[c, k] = sum_u n_uc (n_uk - [c == k]) / (m_u - 1).
    weighted = counts / (per_item - 1)[:, None]
    coincidence = weighted.T @ counts - np.diag(weighted.sum(axis=0))
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    disagreement_observed = coincidence.sum() - np.trace(coincidence)
    disagreement_expected = (n * n - np.sum(totals**2)) / (n - 1)
    if disagreement_expected == 0:
        return 1.0
    return float(1.0 - disagreement_observed / disagreement_expected)


def leave_one_out_agreement(ratings: Ratings) -> dict:
    """Each rater against the *other* raters of the same items: the share of a rater's
    ratings equal to the majority label of the item's other ratings (items where the
    others tie, or there are none, are left out). With two ratings per item it is the
    rate of agreeing with the other rater.

    ``{rater: {"ratings", "compared", "agreement"}}``; ``agreement`` is None when
    nothing could be compared.
    """
    counts = ratings.counts()
    others = counts[ratings.item_codes].copy()
    others[np.arange(len(ratings)), ratings.label_codes] -= 1
    top = others.max(axis=1)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    comparable = (top > 0) & unique_top
    agrees = others.argmax(axis=1) == ratings.label_codes
    result = {}
    for r, rater in enumerate(ratings.raters):
        mine = ratings.rater_codes == r
        compared = mine & comparable
        result[rater] = {
            "ratings": int(mine.sum()),
            "compared": int(compared.sum()),
            "agreement": float(agrees[compared].mean()) if compared.any() else None,
        }
    return result


def agreement_summary(ratings: Ratings) -> dict:
    """The agreement statistics that apply to these ratings.

    Cohen's kappa when there are exactly two raters (on the items both rated); Fleiss'
    kappa on the items rated the most common number of times (>= 2); Krippendorff's
    alpha on every item with at least two ratings.
    """
    counts = ratings.counts()
    per_item = counts.sum(axis=1)
    summary: dict = {
        "ratings": len(ratings),
        "items": ratings.n_items,
        "raters": len(ratings.raters),
        "classes": ratings.classes,
        "ratings_per_item": {
            str(k): int(v) for k, v in zip(*np.unique(per_item, return_counts=True), strict=True)
        },
    }
    if len(ratings.raters) == 2:
        by_rater = [
            dict(zip(ratings.item_codes[ratings.rater_codes == r].tolist(),
                     ratings.label_codes[ratings.rater_codes == r].tolist(), strict=True))
            for r in (0, 1)
        ]  # fmt: skip
        common = sorted(set(by_rater[0]) & set(by_rater[1]))
        if common:
            summary["cohen_kappa"] = cohen_kappa(
                np.asarray([by_rater[0][i] for i in common]),
                np.asarray([by_rater[1][i] for i in common]),
            )
            summary["cohen_kappa_items"] = len(common)
    multi = per_item[per_item >= 2]
    if len(multi):
        values, frequency = np.unique(multi, return_counts=True)
        n = int(values[np.argmax(frequency)])
        chosen = per_item == n
        summary["fleiss_kappa"] = fleiss_kappa(counts[chosen])
        summary["fleiss_kappa_items"] = int(chosen.sum())
        summary["fleiss_kappa_ratings_per_item"] = n
        summary["krippendorff_alpha"] = krippendorff_alpha(counts)
    return summary
