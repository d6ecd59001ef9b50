"""Class-balanced sampling (``Pipeline.balance``), tested statistically with fixed seeds:
the class mix that comes out, what it implies for the loss and for a logistic model's
intercept, ``fit`` on balanced batches, and ``thalweg train --balance``.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_one_line_error

from thalweg.data import Pipeline, stream
from thalweg.data.balancing import acceptance_probabilities, target_proportions
from thalweg.errors import DataError


def imbalanced(n: int = 10_000, positive_share: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < positive_share).astype(np.int64)
    X = rng.normal(size=(n, 2)) + y[:, None]
    return X, y


def within(observed: float, expected: float, n: float, sigmas: float = 4.0) -> bool:
    """A binomial share within ``sigmas`` standard errors of what it should be."""
    return abs(observed - expected) <= sigmas * np.sqrt(expected * (1 - expected) / n)


def test_known_mix_keeps_every_rare_row_and_thins_the_common_class_to_the_target():
    X, y = imbalanced()
    n_rare, n_common = int(y.sum()), int((1 - y).sum())
    pipe = Pipeline.from_arrays(X, y, seed=1).balance().batch(64)
    kept_common = []
    for _ in range(5):  # each epoch: every positive, a fresh random ~n_rare negatives
        labels = np.concatenate([batch_y for _, batch_y in pipe])
        assert int((labels == 1).sum()) == n_rare
        kept_common.append(int((labels == 0).sum()))
    accept = n_rare / n_common  # a_0 = (0.5 / p_0) / (0.5 / p_1) = p_1 / p_0
    for kept in kept_common:
        assert within(kept / n_common, accept, n_common)
    assert len(set(kept_common)) > 1  # a new draw each epoch
    assert pipe.class_counts() == {0: sum(kept_common), 1: 5 * n_rare}
    assert pipe.n_samples is None  # an epoch's length is random now


def test_target_proportions_are_met_with_a_live_estimate_on_a_stream(tmp_path):
    X, y = imbalanced(n=20_000, positive_share=0.3, seed=2)
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    source = stream(tmp_path / "d.npy", target=-1, batch_size=500, seed=0)
    pipe = Pipeline(source).balance({0: 1, 1: 3}).batch(100)  # want 75 % positives
    labels = np.concatenate([batch_y for _, batch_y in pipe])
    assert within(float((labels == 1).mean()), 0.75, len(labels))
    # Positives are the scarce class relative to the target: all of them pass.
    assert int((labels == 1).sum()) == int(y.sum())


def test_examples_balance_by_their_label_or_by_a_label_function():
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(4000) < 0.2, "smile", "neutral")
    pairs = [(np.array([float(i)]), label) for i, label in enumerate(labels)]
    out = np.concatenate([y for _, y in Pipeline(pairs, seed=0).balance().batch(32)])
    assert within(float((out == "smile").mean()), 0.5, len(out), sigmas=5)
    records = [{"x": float(i), "kind": label} for i, label in enumerate(labels)]
    pipe = Pipeline(records, seed=0).balance(label=lambda r: r["kind"])
    kept = np.concatenate([y for _, y in pipe.map(lambda r: (r["x"], r["kind"])).batch(32)])
    assert within(float((kept == "smile").mean()), 0.5, len(kept), sigmas=5)


def test_the_balanced_loss_is_in_expectation_the_class_weighted_loss():
    """E[mean loss over a balanced epoch] = Σ w_c ℓ_i / Σ w_c with w_c ∝ target_c / p_c:
    class weights "balanced" (scikit-learn's n / (k · n_c)) for equal targets."""
    X, y = imbalanced(n=4000, positive_share=0.1, seed=4)
    losses = np.abs(X[:, 0] - 0.3 * X[:, 1])  # any fixed per-row loss of a fixed model
    rows = np.arange(len(y))
    pipe = Pipeline.from_arrays(rows[:, None], y, seed=5).balance().batch(4000)
    total, count = 0.0, 0
    for _ in range(300):
        for kept_rows, _ in pipe:
            total += losses[kept_rows[:, 0]].sum()
            count += len(kept_rows)
    weights = len(y) / (2 * np.bincount(y))  # sklearn compute_class_weight("balanced")
    expected = np.average(losses, weights=weights[y])
    assert total / count == pytest.approx(expected, rel=0.01)
    assert abs(total / count - losses.mean()) > 0.05  # and not the unweighted loss


def test_a_logistic_model_trained_on_balanced_batches_moves_its_intercept_by_the_log_odds():
    """King and Zeng's prior correction: balancing p_1 = 0.1 to 0.5 raises the
    intercept by log(p_0 / p_1) = log 9 ≈ 2.2, and leaves the slope alone."""
    from thalweg.models import LogisticRegression

    rng = np.random.default_rng(6)
    x = rng.normal(size=(30_000, 1))
    p = 1 / (1 + np.exp(-(-2.9 + 1.0 * x[:, 0])))
    y = (rng.random(len(x)) < p).astype(np.int64)
    models = []
    for balanced in (False, True):
        source = Pipeline.from_arrays(x, y, seed=7)
        source = (source.balance() if balanced else source).batch(256)
        model = LogisticRegression(optimizer="adam", learning_rate=0.05, random_state=0)
        models.append(model.fit_stream(source, epochs=8 if balanced else 3))
    plain, balanced = models
    share = y.mean()
    shift = balanced.intercept_[0] - plain.intercept_[0]
    assert shift == pytest.approx(np.log((1 - share) / share), abs=0.3)
    assert balanced.coef_[0, 0] == pytest.approx(plain.coef_[0, 0], abs=0.15)


def test_acceptance_and_target_shares_by_formula():
    assert target_proportions({"a": 2, "b": 2, "c": 0}, ["a", "b", "c", "d"]) == {
        "a": 0.5,
        "b": 0.5,
        "c": 0.0,
        "d": 0.0,
    }
    accept = acceptance_probabilities({0: 0.25, 1: 0.75}, {0: 0.6, 1: 0.4})
    assert accept == pytest.approx({0: (0.25 / 0.6) / (0.75 / 0.4), 1: 1.0})
    assert acceptance_probabilities({0: 1.0}, {0: 0.0, 1: 1.0}) == {0: 0.0, 1: 0.0}


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Pipeline(range(4)).balance("half"), ValueError, "'equal' or a dict"),
        (lambda: Pipeline(range(4)).balance({0: -1}), ValueError, "non-negative"),
        (lambda: list(Pipeline(range(4)).balance().batch(2)), DataError, "pair (features, label)"),
        (
            lambda: list(Pipeline([(1, "a"), (2, "b")]).balance(initial={"a": 1}).batch(2)),
            DataError,
            "'b' is not in initial",
        ),
        (lambda: Pipeline.from_arrays(np.zeros((3, 1)), [0, 1]), DataError, "3 rows but y has 2"),
    ],
)
def test_bad_settings_fail_with_one_clear_message(make, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


# ------------------------------------------------------------------------------ CLI


def fraud_csv(path, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-(-2.5 + 1.5 * a))), "fraud", "ok")
    path.write_text("a,label\n" + "".join(f"{v:.4f},{c}\n" for v, c in zip(a, label, strict=True)))
    return path


def test_train_balance_trains_on_an_equal_mix_and_says_so(cli, tmp_path):
    data = fraud_csv(tmp_path / "fraud.csv")
    result = cli("train", data, "-t", "label", "--balance", "--epochs", "30", "--json")
    assert result.code == 0, result.err
    counts = result.json["trained_class_counts"]
    total = counts["fraud"] + counts["ok"]
    assert within(counts["fraud"] / total, 0.5, total)
    plain = cli("train", data, "-t", "label", "--epochs", "30", "-o", "plain.thalweg", "-q")
    assert plain.code == 0
    shown = cli("train", data, "-t", "label", "--balance", "--epochs", "3", "-o", "b.thalweg")
    assert "balanced batches: trained on" in shown.out and "'fraud' 5" in shown.out


def test_balance_with_regression_or_stream_is_a_one_line_error(cli, tmp_path):
    data = fraud_csv(tmp_path / "fraud.csv")
    assert_one_line_error(cli("train", data, "-t", "a", "--balance"), "--balance", "regression")
    assert_one_line_error(
        cli("train", data, "-t", "label", "--balance", "--stream"), "--balance", "--stream"
    )
