"""Training/serving skew: the statistics a model keeps, the distances, `thalweg skew`."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from thalweg.io import write_csv
from thalweg.models import LogisticRegression
from thalweg.models.monitoring import model_skew, served_feature_mismatch
from thalweg.models.tabular import TabularModel
from thalweg.monitoring import (
    SkewThresholds,
    align_histograms,
    column_profile,
    compare_column,
    feature_mismatch,
    jensen_shannon_divergence,
    ks_statistic,
    l_infinity_distance,
    population_stability_index,
)
from thalweg.serving import FeatureLogger
from thalweg.serving.featurelog import LoggedBatch

CITIES = np.array(["Oslo", "Rome", "Lima", "Kyiv"], dtype=object)


def population(n, seed):
    """Rows from one fixed distribution: training and unshifted samples alike."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(3, 0.5, n)
    age = rng.integers(18, 80, n).astype(np.float64)
    city = rng.choice(CITIES, n, p=[0.4, 0.3, 0.2, 0.1])
    score = rng.normal(0, 1, n)
    label = np.where(income / 20 + score + (city == "Rome") > 2, "yes", "no").astype(object)
    return {"income": income, "age": age, "city": city, "score": score, "label": label}


@pytest.fixture(scope="module")
def model():
    training = population(3000, seed=0)
    validation = population(500, seed=1)
    return TabularModel(LogisticRegression()).fit(
        training, "label", validation=(validation, "label")
    )


def features_of(table):
    return {k: v for k, v in table.items() if k != "label"}


# ----------------------------------------------------------------- distances vs references


def test_jensen_shannon_matches_scipy_on_aligned_histograms():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), 400)
        b = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), 300)
        first, second = (column_profile(v, "numeric")["histogram"] for v in (a, b))
        p, q = align_histograms(first, second)
        expected = jensenshannon(p / p.sum(), q / q.sum(), base=2) ** 2  # scipy: the distance
        assert jensen_shannon_divergence(first, second) == pytest.approx(expected, abs=1e-12)


def test_histograms_are_aligned_as_tfdv_does():
    # [0, 2] with 4 values and [1, 3] with 2: cut at 0, 1, 2, 3, counts spread uniformly.
    p, q = align_histograms({"edges": [0, 2], "counts": [4]}, {"edges": [1, 3], "counts": [2]})
    assert p.tolist() == [2, 2, 0] and q.tolist() == [0, 1, 1]
    # A point bucket (a constant feature) becomes its own bucket, outside every range.
    p, q = align_histograms(
        {"edges": [0, 1, 2], "counts": [3, 1]}, {"edges": [5, 5], "counts": [7]}
    )
    assert p.tolist() == [3, 1, 0] and q.tolist() == [0, 0, 7]
    assert (
        jensen_shannon_divergence(
            {"edges": [0, 1], "counts": [1]}, {"edges": [5, 5], "counts": [1]}
        )
        == 1.0
    )


def test_l_infinity_psi_and_ks_by_their_definitions():
    assert l_infinity_distance({"a": 2, "b": 2}, {"a": 1, "c": 3}) == pytest.approx(0.75)
    expected = (0.2 - 0.5) * np.log(0.2 / 0.5) + (0.8 - 0.5) * np.log(0.8 / 0.5)
    assert population_stability_index([0.5, 0.5], [0.2, 0.8]) == pytest.approx(expected)
    rng = np.random.default_rng(1)
    for shift in (0.0, 0.3, 1.0):
        a, b = rng.normal(size=4000), rng.normal(shift, 1, 700)
        percentiles = np.quantile(a, np.linspace(0, 1, 101), method="inverted_cdf")
        assert ks_statistic(percentiles, b) == pytest.approx(ks_2samp(a, b).statistic, abs=0.011)
    whole = rng.integers(0, 3, 4000).astype(float)  # ties: a discrete feature
    percentiles = np.quantile(whole, np.linspace(0, 1, 101), method="inverted_cdf")
    sample = rng.integers(0, 2, 500).astype(float)
    assert ks_statistic(percentiles, sample) == pytest.approx(
        ks_2samp(whole, sample).statistic, abs=0.011
    )


def test_feature_mismatch_counts_rows_and_sizes():
    served = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    offline = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.5]])
    report = feature_mismatch(served, offline, ["a", "b"])
    assert report["rows_mismatched"] == 1 and report["row_mismatch_rate"] == pytest.approx(1 / 3)
    assert report["features"][0] == {
        "name": "b",
        "mismatch_rate": pytest.approx(1 / 3),
        "mean_abs_difference": 0.5,
        "max_abs_difference": 0.5,
    }
    float32 = served.astype(np.float32).astype(np.float64)
    assert feature_mismatch(float32, served, ["a", "b"])["rows_mismatched"] == 0


# ------------------------------------------------------------------ what the model keeps


def test_the_model_file_keeps_compact_training_statistics(model, tmp_path):
    model.save(tmp_path / "m.thalweg")
    loaded = TabularModel.load(tmp_path / "m.thalweg")
    assert loaded.feature_statistics_ == model.feature_statistics_
    income = loaded.feature_statistics_["income"]
    assert income["count"] == 3000 and len(income["quantiles"]) == 101
    assert income["mean"] == pytest.approx(population(3000, 0)["income"].mean())
    assert loaded.feature_statistics_["city"]["counts"]["Oslo"] > 1000
    assert loaded.prediction_statistics_["source"] == "validation"
    assert sum(loaded.prediction_statistics_["counts"].values()) == 500
    size = len(json.dumps(loaded.feature_statistics_))
    assert size < 4 * 3500  # bounded: a few KB per feature, whatever the row count


# --------------------------------------------------------------- shifted and unshifted


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_unshifted_samples_of_the_training_distribution_are_not_flagged(model, seed):
    report = model_skew(model, features_of(population(600, seed)))
    assert report.flagged == [], [f.to_dict() for f in report.features if f.flags]


def test_injected_shifts_are_flagged_on_the_feature_that_moved(model):
    base = features_of(population(800, seed=21))
    scaled = dict(base, income=base["income"] * 3)
    report = model_skew(model, scaled)
    income = next(f for f in report.features if f.name == "income")
    assert income.distance > 0.3 and "distance" in income.flags and income.mean_shift > 1
    assert {f.name for f in report.features if f.flags} == {"income"}

    constant = dict(base, age=np.full(800, 40.0))
    age = next(f for f in model_skew(model, constant).features if f.name == "age")
    assert age.std_shift == pytest.approx(-1.0) and "distance" in age.flags

    city = base["city"].copy()
    city[:160] = "Paris"  # a category training never saw, 20 % of rows
    cities = next(f for f in model_skew(model, dict(base, city=city)).features if f.name == "city")
    assert cities.unseen == ["Paris"] and cities.unseen_share == pytest.approx(0.2)
    assert "unseen_share" in cities.flags

    holes = base["score"].copy()
    holes[::5] = np.nan
    score = next(
        f for f in model_skew(model, dict(base, score=holes)).features if f.name == "score"
    )
    assert score.missing_change == pytest.approx(0.2) and score.flags == ["missing_change"]


def test_per_feature_thresholds_and_predictions_shift(model):
    base = features_of(population(800, seed=31))
    nudged = dict(base, income=base["income"] * 1.25)
    income = next(f for f in model_skew(model, nudged).features if f.name == "income")
    strict = SkewThresholds(features={"income": income.distance / 2}, psi=10, ks=1, mean_shift=9)
    relaxed = model_skew(model, nudged, thresholds=strict)
    assert [f.name for f in relaxed.features if "distance" in f.flags] == ["income"]
    rich = dict(base, income=base["income"] * 10)  # everyone predicted "yes"
    assert "(predictions)" in model_skew(model, rich).flagged


def test_compare_column_ignores_missing_values_in_the_distance():
    training = column_profile(np.arange(100.0), "numeric")
    values = np.concatenate([np.arange(100.0), np.full(10, np.nan)])
    result = compare_column("x", training, values)
    assert result.distance == pytest.approx(0.0, abs=1e-12)
    assert result.missing_rate == pytest.approx(10 / 110)


# ------------------------------------------------------------------ Rule #37 and the CLI


def write_log(folder, model, table, features=None):
    logger = FeatureLogger(
        folder,
        [(c["name"], c["kind"]) for c in model.columns_],
        model.feature_names_out_,
        model.classes_.tolist(),
        flush_seconds=0.01,
    )
    inputs, computed = model.typed_transform(table)
    n = len(computed)
    probabilities = model.predict_proba(table)
    extras = [json.dumps({"id": i}) for i in range(n)]
    logger.log(
        LoggedBatch(
            1,
            0,
            np.arange(n, dtype=np.int32),
            inputs,
            extras,
            computed if features is None else features,
            model.predict(table),
            probabilities,
        )
    )
    logger.close()


def test_served_features_recomputed_offline_show_a_mismatch_when_serving_differs(model):
    table = features_of(population(200, seed=41))
    served = model.transform(table)
    assert served_feature_mismatch(model, table, served)["rows_mismatched"] == 0
    device = dict(table, income=table["income"] * 1.1)  # the device's own preprocessing
    report = served_feature_mismatch(model, table, model.transform(device))
    assert report["row_mismatch_rate"] == 1.0
    assert (
        report["features"][0]["name"] == "income" and report["features"][0]["mismatch_rate"] == 1.0
    )
    assert all(f["mismatch_rate"] == 0 for f in report["features"][1:])


def test_skew_command_gates_on_shift_and_reads_feature_logs(cli, tmp_path, model):
    model.save(tmp_path / "model.thalweg")
    same = population(600, seed=51)
    write_csv(tmp_path / "same.csv", features_of(same))
    shifted = dict(features_of(same), income=same["income"] * 3)
    write_csv(tmp_path / "shifted.csv", shifted)

    calm = cli("skew", "model.thalweg", "same.csv", "--fail-on-skew", "--json")
    assert calm.code == 0 and calm.json["flagged"] == []
    alarm = cli("skew", "model.thalweg", "shifted.csv", "--fail-on-skew", "--report", "skew.html")
    assert alarm.code == 3 and "income" in alarm.out and "skew found in: income" in alarm.out
    page = (tmp_path / "skew.html").read_text()
    assert "income (flagged)" in page and "<script" not in page
    assert cli("skew", "model.thalweg", "shifted.csv").code == 0  # no gate: report only

    table = features_of(population(300, seed=52))
    write_log(tmp_path / "served", model, table)
    logged = cli("skew", "model.thalweg", "served", "--json").json
    assert logged["rows"] == 300 and logged["mismatch"]["rows_mismatched"] == 0
    # The same rows as the device computed them: every income feature differs.
    device = model.transform(dict(table, income=table["income"] * 1.1))
    write_log(tmp_path / "device", model, table, features=device)
    write_csv(tmp_path / "raw.csv", dict(table, id=np.arange(300)))
    crop = cli("skew", "model.thalweg", "device", "--offline", "raw.csv", "--key", "id", "--json")
    assert crop.json["mismatch"]["row_mismatch_rate"] == 1.0
    assert crop.json["mismatch"]["features"][0]["name"] == "income"
    assert "(feature mismatch)" in crop.json["flagged"]


def test_skew_command_answers_mistakes_in_one_line(cli, tmp_path, model):
    model.save(tmp_path / "model.thalweg")
    write_csv(tmp_path / "partial.csv", {"income": np.arange(5.0)})
    assert_one_line_error(cli("skew", "model.thalweg", "partial.csv"), "age")
    write_csv(tmp_path / "fine.csv", features_of(population(50, seed=61)))
    thresholds = ("--feature-threshold", "nope=0.1")
    assert_one_line_error(cli("skew", "model.thalweg", "fine.csv", *thresholds), "nope")
    bad = ("--feature-threshold", "income")
    assert_one_line_error(cli("skew", "model.thalweg", "fine.csv", *bad), "NAME=VALUE")
    assert_one_line_error(cli("skew", "model.thalweg", "fine.csv", "--key", "id"), "--offline")
    old = TabularModel.load(tmp_path / "model.thalweg")
    old.feature_statistics_ = None
    old.save(tmp_path / "old.thalweg")
    assert_one_line_error(cli("skew", "old.thalweg", "fine.csv"), "no training statistics")
    few = cli("skew", "model.thalweg", "fine.csv")
    assert few.code == 0 and "only 50 rows" in few.out


def test_infinite_values_are_compared_as_tfdv_does_not_crash(model):
    # TFDV keeps infinities in buckets of their own, never matched with the other
    # side's. A regressor's prediction overflowing to inf once crashed the report.
    p, q = align_histograms(
        {"edges": [0, 1], "counts": [2]}, {"edges": [0, 1], "counts": [1], "infinite": 1}
    )
    assert p.tolist() == [2, 0] and q.tolist() == [1, 1]
    training = column_profile(np.arange(100.0), "numeric")
    values = np.append(np.arange(100.0), [np.inf, -np.inf])
    compared = compare_column("x", training, values)
    expected = jensenshannon([1, 0], [100 / 102, 2 / 102], base=2) ** 2
    assert compared.distance == pytest.approx(expected, abs=1e-6)
    assert compared.mean_shift == pytest.approx(0.0, abs=1e-9)  # over the finite values


def test_quantiles_of_a_long_periodic_column_see_every_phase(monkeypatch):
    # Evenly spaced rows of a column alternating 0, 1 saw only the zeros: the profile
    # said "all 0" and the same data was flagged as skewed (KS 0.5).
    from thalweg.monitoring import profile

    monkeypatch.setattr(profile, "MAX_SORTED", 1000)
    values = np.where(np.arange(1999) % 2 == 0, 0.0, 1.0)  # step 2 between sampled rows
    training = column_profile(values, "numeric")
    assert training["quantiles"][25] == 0.0 and training["quantiles"][75] == 1.0
    assert compare_column("x", training, values[:500]).flags == []
