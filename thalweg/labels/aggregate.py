"""From several raters' labels to one label per item: majority vote, the two-rater
policy, Dawid–Skene.

Each method returns a :class:`LabelSet`: per item the label (None when the method
cannot decide), a confidence where the method gives one, and a status word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from thalweg.labels.ratings import Ratings

# crowd-kit's floor for probabilities before a logarithm (its _EPS).
EPSILON = 1e-10


@dataclass
class LabelSet:
    """One label per item (in the ratings' first-appearance order of items)."""

    method: str
    items: list[str]
    labels: list[str | None]
    status: list[str]  # majority: decided/tie; two-rater: agreed/disagreed/single; DS: decided
    confidence: list[float | None]
    votes: list[str]  # each item's ratings, "a|b|a"
    posteriors: np.ndarray | None = None  # Dawid–Skene: (items, classes)
    classes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def table(self) -> dict[str, np.ndarray]:
        """The output CSV's columns: item, label, status, confidence, votes (and one
        ``p_<class>`` posterior column per class for Dawid–Skene)."""
        columns = {
            "item": np.asarray(self.items, dtype=object),
            "label": np.asarray(self.labels, dtype=object),
            "status": np.asarray(self.status, dtype=object),
            "confidence": np.asarray(
                [np.nan if c is None else c for c in self.confidence], dtype=np.float64
            ),
            "votes": np.asarray(self.votes, dtype=object),
        }
        if self.posteriors is not None:
            for j, label in enumerate(self.classes):
                columns[f"p_{label}"] = self.posteriors[:, j]
        return columns


def _votes(ratings: Ratings) -> list[str]:
    per_item: list[list[str]] = [[] for _ in range(ratings.n_items)]
    for item, label in zip(ratings.item_codes.tolist(), ratings.label_codes.tolist(), strict=True):
        per_item[item].append(ratings.classes[label])
    return ["|".join(labels) for labels in per_item]


def _ordered(ratings: Ratings, values: list) -> list:
    return [values[i] for i in ratings.item_order]


def majority_vote(ratings: Ratings) -> LabelSet:
    """The most frequent label of each item; a tie is reported (``status="tie"``,
    label None), never broken silently. Confidence: the winning label's share of votes.

    >>> from thalweg.labels.ratings import ratings_from_table
    >>> import numpy as np
    >>> table = {"item": np.array(list("aaabb")), "rater": np.array(list("xyzxy")),
    ...          "label": np.array(["cat", "cat", "dog", "cat", "dog"])}
    >>> result = majority_vote(ratings_from_table(table))
    >>> result.labels, result.status
    (['cat', None], ['decided', 'tie'])
    """
    counts = ratings.counts()
    top = counts.max(axis=1)
    winners = counts == top[:, None]
    tie = winners.sum(axis=1) > 1
    best = counts.argmax(axis=1)
    shares = top / counts.sum(axis=1)
    labels = [None if tie[i] else ratings.classes[best[i]] for i in range(ratings.n_items)]
    status = ["tie" if tie[i] else "decided" for i in range(ratings.n_items)]
    return LabelSet(
        method="majority",
        items=_ordered(ratings, ratings.items),
        labels=_ordered(ratings, labels),
        status=_ordered(ratings, status),
        confidence=_ordered(ratings, [float(s) for s in shares]),
        votes=_ordered(ratings, _votes(ratings)),
        classes=ratings.classes,
        details={"ties": int(tie.sum())},
    )


def single_rater_error_from_disagreement(disagreement: float, n_classes: int) -> float:
    """The error rate ``e`` of one rater implied by two raters' disagreement rate ``d``,
    for independent raters with equal error rates whose mistakes spread evenly over the
    other classes: ``d = 2e - e^2 K / (K - 1)``, solved for ``e`` (binary: ``d = 2e(1-e)``).

    >>> round(single_rater_error_from_disagreement(2 * 0.14 * 0.86, 2), 6)
    0.14
    """
    k = n_classes / (n_classes - 1)
    root = max(0.0, 1.0 - disagreement * k)
    return (1.0 - math.sqrt(root)) / k


def two_rater_policy(ratings: Ratings) -> LabelSet:
    """Keep the items whose first two ratings agree; list the others to re-send or drop.

    Items with one rating are listed as ``single`` (they need a second). Ratings beyond
    an item's first two (in file order) are not used. ``details["cost"]`` holds the
    arithmetic (see ``docs/infra.md``): with ``d`` the share of disagreeing items,

    * keeping only agreements costs ``2 / (1 - d)`` ratings per kept label, i.e.
      ``1 / (1 - d) - 1`` more than rating every item twice;
    * re-sending disagreements to a third rater costs ``2 + d`` ratings per item;
    * three raters and a majority vote cost 3 ratings per item, +50 % over two;
    * a single rater's error rate ``e`` follows from ``d``
      (:func:`single_rater_error_from_disagreement`), and among kept labels the share
      wrong (both raters wrong, the same way) is ``e^2 / (K - 1) / (1 - d)``.
    """
    first: dict[int, int] = {}
    second: dict[int, int] = {}
    for item, label in zip(ratings.item_codes.tolist(), ratings.label_codes.tolist(), strict=True):
        if item not in first:
            first[item] = label
        elif item not in second:
            second[item] = label
    labels, status, confidence = [], [], []
    for item in range(ratings.n_items):
        if item not in second:
            labels.append(None)
            status.append("single")
        elif first[item] == second[item]:
            labels.append(ratings.classes[first[item]])
            status.append("agreed")
        else:
            labels.append(None)
            status.append("disagreed")
        confidence.append(None)
    paired = len(second)
    disagreed = status.count("disagreed")
    d = disagreed / paired if paired else 0.0
    e = single_rater_error_from_disagreement(d, ratings.n_classes)
    kept_wrong = (e * e / (ratings.n_classes - 1)) / (1 - d) if d < 1 else None
    cost = {
        "items_rated_twice": paired,
        "agreed": paired - disagreed,
        "disagreed": disagreed,
        "single": ratings.n_items - paired,
        "disagreement_rate": d,
        "ratings_per_kept_label": 2 / (1 - d) if d < 1 else None,
        "extra_cost_vs_two_ratings_per_item": 1 / (1 - d) - 1 if d < 1 else None,
        "resend_ratings_per_item": 2 + d,
        "extra_cost_of_three_raters": 0.5,
        "single_rater_error_estimate": e,
        "expected_error_of_kept_labels": kept_wrong,
    }
    return LabelSet(
        method="two-rater",
        items=_ordered(ratings, ratings.items),
        labels=_ordered(ratings, labels),
        status=_ordered(ratings, status),
        confidence=confidence,
        votes=_ordered(ratings, _votes(ratings)),
        classes=ratings.classes,
        details={"cost": cost},
    )


def _majority_probabilities(ratings: Ratings) -> np.ndarray:
    counts = ratings.counts().astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def _m_step(ratings: Ratings, posteriors: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Each rater's confusion matrix ``errors[rater, given, true]``: the expected count
    of (given, true) pairs, floored at EPSILON where the rater gave that label, then
    normalised over ``given`` for every true class."""
    errors = np.zeros((len(ratings.raters), ratings.n_classes, ratings.n_classes))
    np.add.at(errors, (ratings.rater_codes, ratings.label_codes), posteriors[ratings.item_codes])
    errors = np.where(used[:, :, None], np.maximum(errors, EPSILON), 0.0)
    return errors / errors.sum(axis=1, keepdims=True)


def _e_step(ratings: Ratings, priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Each item's posterior over classes: prior times the likelihood of its ratings."""
    with np.errstate(divide="ignore"):
        log_errors = np.log2(errors)
    log_likelihood = np.zeros((ratings.n_items, ratings.n_classes))
    np.add.at(
        log_likelihood, ratings.item_codes, log_errors[ratings.rater_codes, ratings.label_codes]
    )
    log_likelihood += np.log2(np.maximum(priors, EPSILON))
    scaled = np.exp2(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def _evidence_lower_bound(ratings, posteriors, priors, errors) -> float:
    """crowd-kit's convergence measure, term for term (per rating, the expected log
    error plus log prior; plus the posteriors' entropy), divided by the ratings."""
    with np.errstate(divide="ignore"):
        per_rating = np.log(errors[ratings.rater_codes, ratings.label_codes])
    per_rating = per_rating + np.log(np.maximum(priors, EPSILON))
    weights = posteriors[ratings.item_codes]
    joint = float(np.sum(np.where(weights > 0, weights * per_rating, 0.0)))
    clipped = np.maximum(posteriors, EPSILON)
    entropy = float(-(np.log(clipped) * clipped).sum())
    return (joint + entropy) / len(ratings)


def dawid_skene(ratings: Ratings, max_iterations: int = 100, tol: float = 1e-5) -> LabelSet:
    """Dawid & Skene (1979): EM over per-rater confusion matrices and item posteriors.

    Follows crowd-kit's ``DawidSkene`` step by step, so the results agree: start from
    the majority vote's label shares; M-step: confusion matrices from the posteriors
    (:func:`_m_step`), priors as the posteriors' mean; E-step: posteriors from priors and
    confusion matrices, in base-2 logarithms; stop when the evidence lower bound per
    rating improves by less than ``tol``, or after ``max_iterations``.

    ``details``: ``priors``, ``confusion`` (rater -> ``[given][true]`` matrix),
    ``rater_accuracy`` (``sum_c prior_c * confusion[c][c]``), ``iterations``.
    """
    posteriors = _majority_probabilities(ratings)
    used = np.zeros((len(ratings.raters), ratings.n_classes), dtype=bool)
    used[ratings.rater_codes, ratings.label_codes] = True
    priors = posteriors.mean(axis=0)
    errors = _m_step(ratings, posteriors, used)
    previous = -np.inf
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        posteriors = _e_step(ratings, priors, errors)
        priors = posteriors.mean(axis=0)
        errors = _m_step(ratings, posteriors, used)
        bound = _evidence_lower_bound(ratings, posteriors, priors, errors)
        posteriors = np.maximum(posteriors, EPSILON)  # as crowd-kit leaves them
        if bound - previous < tol:
            break
        previous = bound
    best = posteriors.argmax(axis=1)
    accuracy = np.einsum("c,rcc->r", priors, errors)
    return LabelSet(
        method="dawid-skene",
        items=_ordered(ratings, ratings.items),
        labels=_ordered(ratings, [ratings.classes[b] for b in best]),
        status=_ordered(ratings, ["decided"] * ratings.n_items),
        confidence=_ordered(ratings, [float(p) for p in posteriors.max(axis=1)]),
        votes=_ordered(ratings, _votes(ratings)),
        posteriors=posteriors[ratings.item_order],
        classes=ratings.classes,
        details={
            "iterations": iterations,
            "priors": dict(zip(ratings.classes, priors.tolist(), strict=True)),
            "confusion": {rater: errors[r].tolist() for r, rater in enumerate(ratings.raters)},
            "rater_accuracy": dict(zip(ratings.raters, accuracy.tolist(), strict=True)),
        },
    )
