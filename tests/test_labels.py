"""Rater labels: aggregation and agreement against crowd-kit, scikit-learn, statsmodels."""

import csv
import warnings

import numpy as np
import pytest
from conftest import assert_one_line_error
from sklearn.metrics import cohen_kappa_score

from thalweg.labels import (
    agreement_summary,
    cohen_kappa,
    dawid_skene,
    fleiss_kappa,
    krippendorff_alpha,
    leave_one_out_agreement,
    majority_vote,
    ratings_from_table,
    single_rater_error_from_disagreement,
    two_rater_policy,
)

pd = pytest.importorskip("pandas")
# crowd-kit, a test oracle here, trips pandas' deprecation warnings: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:crowdkit")


def simulated(n_items=300, per_item=3, classes=3, seed=0, accuracies=(0.9, 0.8, 0.7, 0.55, 0.6)):
    """Raters of known accuracy labelling items of known class."""
    rng = np.random.default_rng(seed)
    raters = [f"r{i}" for i in range(len(accuracies))]
    truth = rng.integers(0, classes, n_items)
    rows = {"item": [], "rater": [], "label": []}
    for item in range(n_items):
        for r in rng.choice(len(raters), per_item, replace=False):
            right = rng.random() < accuracies[r]
            label = truth[item] if right else rng.integers(0, classes)
            rows["item"].append(f"i{item:04d}")
            rows["rater"].append(raters[r])
            rows["label"].append(f"c{label}")
    table = {k: np.asarray(v, dtype=object) for k, v in rows.items()}
    return table, {f"i{i:04d}": f"c{t}" for i, t in enumerate(truth)}


def as_frame(table):
    return pd.DataFrame({"task": table["item"], "worker": table["rater"], "label": table["label"]})


def crowdkit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("crowdkit.aggregation")


@pytest.mark.parametrize("seed", [0, 1])
def test_dawid_skene_equals_crowd_kit(seed):
    table, truth = simulated(n_items=150, seed=seed)
    reference = crowdkit().DawidSkene(n_iter=100).fit(as_frame(table))
    ours = dawid_skene(ratings_from_table(table))
    expected = reference.probas_.loc[ours.items, ours.classes].to_numpy()
    np.testing.assert_allclose(ours.posteriors, expected, atol=1e-9)
    assert ours.labels == reference.labels_.loc[ours.items].tolist()
    assert ours.details["iterations"] == len(reference.loss_history_)
    for rater, matrix in ours.details["confusion"].items():
        errors = reference.errors_.loc[rater]
        for given, row in enumerate(ours.classes):
            if row in errors.index:
                np.testing.assert_allclose(matrix[given], errors.loc[row, ours.classes], atol=1e-9)
    right = np.mean(
        [label == truth[item] for item, label in zip(ours.items, ours.labels, strict=True)]
    )
    accuracy = ours.details["rater_accuracy"]
    assert right > 0.85 and accuracy["r0"] > accuracy["r3"]  # it finds the good rater


def test_majority_vote_equals_crowd_kit_and_reports_ties():
    table, _ = simulated(per_item=2, seed=3)
    reference = crowdkit().MajorityVote().fit(as_frame(table))
    ours = majority_vote(ratings_from_table(table))
    probabilities = reference.probas_.loc[ours.items]
    for item, label, status, confidence in zip(
        ours.items, ours.labels, ours.status, ours.confidence, strict=True
    ):
        row = probabilities.loc[item].fillna(0)
        if status == "tie":
            assert label is None and (row == row.max()).sum() > 1
        else:
            assert label == reference.labels_.loc[item]
            assert confidence == pytest.approx(row.max())
    assert ours.details["ties"] == ours.status.count("tie") > 0


def test_agreement_statistics_equal_the_references():
    statsmodels = pytest.importorskip("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(4)
    a = rng.integers(0, 3, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 3, 200))
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    counts = rng.multinomial(5, [0.5, 0.3, 0.2], size=80)
    assert fleiss_kappa(counts) == pytest.approx(statsmodels.fleiss_kappa(counts), abs=1e-12)

    agreement = pytest.importorskip("nltk.metrics.agreement")
    table, _ = simulated(n_items=60, per_item=3, seed=5)
    triples = list(zip(table["rater"], table["item"], table["label"], strict=True))
    expected = agreement.AnnotationTask(data=triples).alpha()
    ratings = ratings_from_table(table)
    assert krippendorff_alpha(ratings.counts()) == pytest.approx(expected, abs=1e-9)
    # Unequal numbers of ratings per item: alpha still applies.
    uneven = {k: v[:-1] for k, v in table.items()}
    triples = list(zip(uneven["rater"], uneven["item"], uneven["label"], strict=True))
    expected = agreement.AnnotationTask(data=triples).alpha()
    ours = krippendorff_alpha(ratings_from_table(uneven).counts())
    assert ours == pytest.approx(expected, abs=1e-9)


def test_two_rater_policy_keeps_agreements_and_does_the_cost_arithmetic():
    table = {
        "item": np.array(["a", "a", "b", "b", "c", "c", "d", "d", "d", "e"], dtype=object),
        "rater": np.array(["x", "y", "x", "y", "x", "y", "x", "y", "z", "x"], dtype=object),
        "label": np.array(["1", "1", "0", "0", "1", "0", "0", "1", "0", "1"], dtype=object),
    }
    result = two_rater_policy(ratings_from_table(table))
    assert result.labels == ["1", "0", None, None, None]
    assert result.status == ["agreed", "agreed", "disagreed", "disagreed", "single"]
    cost = result.details["cost"]
    assert cost["disagreement_rate"] == 0.5  # c and d out of four items rated twice
    assert (
        cost["ratings_per_kept_label"] == 4.0 and cost["extra_cost_vs_two_ratings_per_item"] == 1.0
    )
    assert cost["resend_ratings_per_item"] == 2.5
    e = single_rater_error_from_disagreement(0.5, 2)
    assert 2 * e * (1 - e) == pytest.approx(0.5)  # binary raters: d = 2e(1 - e)
    assert cost["expected_error_of_kept_labels"] == pytest.approx(e * e / 0.5)
    # The story's numbers: 14 % single-rater error, two raters.
    d = 2 * 0.14 * 0.86
    assert single_rater_error_from_disagreement(d, 2) == pytest.approx(0.14)


def test_leave_one_out_agreement_does_not_count_the_raters_own_vote():
    table = {
        "item": np.array(["a", "a", "a", "b", "b", "b"], dtype=object),
        "rater": np.array(["x", "y", "z", "x", "y", "z"], dtype=object),
        "label": np.array(["1", "1", "0", "1", "1", "1"], dtype=object),
    }
    agreement = leave_one_out_agreement(ratings_from_table(table))
    assert agreement["z"] == {"ratings": 2, "compared": 2, "agreement": 0.5}
    assert agreement["x"]["compared"] == 1  # on item a, the others (y: 1, z: 0) tie
    summary = agreement_summary(ratings_from_table(table))
    assert summary["fleiss_kappa_items"] == 2 and "cohen_kappa" not in summary


# ------------------------------------------------------------------------ command line


def write(path, rows, header=("item", "rater", "label")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_labels_command_writes_labels_and_a_summary(cli, tmp_path):
    table, _ = simulated(n_items=80, per_item=3, classes=2, seed=6)
    rows = list(zip(table["item"], table["rater"], table["label"], strict=True))
    write(tmp_path / "votes.csv", rows, header=("image", "worker", "answer"))
    names = ("--item", "image", "--rater", "worker", "--label", "answer")
    result = cli(
        "labels", "votes.csv", "--method", "dawid-skene", *names, "-o", "out.csv", "--json"
    )
    assert result.code == 0, result.err
    summary = result.json
    assert summary["agreement"]["raters"] == 5 and "krippendorff_alpha" in summary["agreement"]
    assert set(summary["raters"]) == {"r0", "r1", "r2", "r3", "r4"}
    with open(tmp_path / "out.csv") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 80 and {"item", "label", "confidence", "p_c0", "p_c1"} <= set(written[0])
    expected = dawid_skene(ratings_from_table(table))
    assert [r["label"] for r in written] == expected.labels

    pairs = [(i, r, lab) for i, r, lab in rows if r in ("r0", "r1")]
    write(tmp_path / "two.csv", pairs)
    two = cli("labels", "two.csv", "--method", "two-rater", "-o", "two-out.csv")
    assert two.code == 0 and "ratings per kept label" in two.out and "Cohen's κ" in two.out
    majority = cli("labels", "votes.csv", *names, "--json").json
    assert majority["method"] == "majority" and majority["written"] == {}


def test_labels_command_answers_bad_input_in_one_line(cli, tmp_path):
    write(tmp_path / "no-rater.csv", [("a", "x")], header=("item", "label"))
    assert_one_line_error(cli("labels", "no-rater.csv"), "rater", "--rater")
    write(tmp_path / "one.csv", [("a", "x", "1"), ("b", "x", "0")])
    assert_one_line_error(cli("labels", "one.csv"), "one rater")
    write(tmp_path / "empty.csv", [])
    assert_one_line_error(cli("labels", "empty.csv"))
    write(tmp_path / "nobody.csv", [("a", "x", "1"), ("b", "y", "0"), ("c", "", "")])
    assert_one_line_error(cli("labels", "nobody.csv"), "'c'", "rated by nobody")
    write(tmp_path / "fine.csv", [("a", "x", "1"), ("a", "y", "0")])
    assert_one_line_error(cli("labels", "fine.csv", "--method", "vote"), "vote")
    assert_one_line_error(cli("labels", "fine.csv", "-o", "fine.csv"), "ratings file")
