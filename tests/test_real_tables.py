"""Columns as real tables have them (issue 16 §2): dates, identifiers, rare categories,
missing values and text, on small tables built in the shape of public ones (a daily
weather table, a cars table, a penguins table)."""

import datetime as dt
import warnings

import numpy as np
import pytest
from conftest import assert_one_line_error
from hypothesis import given, settings
from hypothesis import strategies as st

from thalweg.data import CalendarFeatures, OneHotEncoder, preprocessor_from_config
from thalweg.data.calendar import calendar_parts
from thalweg.data.columns import CATEGORICAL, DATE, NUMERIC, column_kinds, typed_column
from thalweg.errors import DataError
from thalweg.metrics import accuracy, log_loss
from thalweg.models import LinearRegression, LogisticRegression
from thalweg.models.tabular import IdentifierWarning, TabularModel

WEATHER = np.array(["drizzle", "fog", "rain", "snow", "sun"])


def weather(days: int = 730, seed: int = 0) -> dict:
    """Daily weather from 2012-01-01: ISO dates, temperatures, wind, and a 5-class
    ``weather`` driven by the season (rain in winter, sun in summer)."""
    rng = np.random.default_rng(seed)
    day = np.arange(days)
    winter = np.cos(2 * np.pi * (day - 15) / 365.25)  # 1 in mid-January, -1 in mid-July
    logits = np.column_stack(
        [0 * winter, -1 + 0 * winter, 1.2 * winter, 2.5 * winter - 2.5, -1.5 * winter]
    )
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = [rng.choice(WEATHER, p=p) for p in probabilities]
    dates = np.datetime64("2012-01-01") + day
    return {
        "date": np.array([str(d) for d in dates], dtype=object),
        "temp_max": 15 - 8 * winter + rng.normal(0, 3, days),
        "wind": rng.gamma(3, 1.2, days),
        "weather": np.array(labels, dtype=object),
    }


def cars(n: int = 406, seed: int = 0) -> dict:
    """Cars: a name on (nearly) every row, a ``model`` column of ~300 models (a few
    common, most seen once or twice), numbers, and ``mpg`` to predict."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, 301) ** 1.1
    model = rng.choice([f"model {k}" for k in range(300)], n, p=popularity / popularity.sum())
    weight = rng.normal(3000, 800, n).clip(1600, 5000)
    year = rng.integers(70, 83, n)
    origin = rng.choice(["usa", "europe", "japan"], n, p=[0.62, 0.18, 0.2])
    mpg = 46 - 0.0075 * weight + 0.75 * (year - 70) + 2.5 * (origin != "usa")
    return {
        "name": np.array([f"{m} custom {rng.integers(1e6)}" for m in model], dtype=object),
        "model": model.astype(object),
        "weight": weight,
        "year": year,
        "origin": origin.astype(object),
        "mpg": mpg + rng.normal(0, 2.5, n),
    }


def penguins(n: int = 344, seed: int = 0) -> dict:
    """Penguins: species to predict from an island, measurements and a sex (text with
    gaps), and a year with three values; two birds were never measured."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Chinstrap", "Gentoo"], n, p=[0.44, 0.2, 0.36])
    code = np.searchsorted(["Adelie", "Chinstrap", "Gentoo"], species)
    island = np.where(
        species == "Gentoo", "Biscoe", np.where(species == "Chinstrap", "Dream", "Torgersen")
    ).astype(object)
    bill = np.array([38.8, 48.8, 47.5])[code] + rng.normal(0, 2.5, n)
    depth = np.array([18.3, 18.4, 15.0])[code] + rng.normal(0, 1, n)
    flipper = np.array([190.0, 196.0, 217.0])[code] + rng.normal(0, 6, n)
    sex = rng.choice(["male", "female"], n).astype(object)
    sex[rng.choice(n, 11, replace=False)] = None
    for column in (bill, depth, flipper):
        column[[3, 271]] = np.nan
    year = rng.choice([2007, 2008, 2009], n)
    return {
        "island": island,
        "bill_length_mm": bill,
        "bill_depth_mm": depth,
        "flipper_length_mm": flipper,
        "sex": sex,
        "year": year,
        "species": species.astype(object),
    }


def split(table: dict, train: float = 0.7) -> tuple[dict, dict]:
    n = len(next(iter(table.values())))
    cut = int(train * n)
    return {k: v[:cut] for k, v in table.items()}, {k: v[cut:] for k, v in table.items()}


# ------------------------------------------------------------------------------- dates


@settings(max_examples=60, deadline=None)
@given(st.integers(-40_000 * 86_400_000_000, 60_000 * 86_400_000_000))
def test_calendar_parts_agree_with_pythons_calendar(microseconds):
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=microseconds)
    days = microseconds / 86_400_000_000
    start = dt.datetime(moment.year, 1, 1)
    length = (dt.datetime(moment.year + 1, 1, 1) - start).days
    into_year = (moment - start) / dt.timedelta(days=1)
    parts = {name: float(values[0]) for name, values in calendar_parts(np.array([days])).items()}
    assert parts["month"] == pytest.approx((moment.month - 1) / 12)
    assert parts["weekday"] == pytest.approx(moment.weekday() / 7)
    assert parts["yearday"] == pytest.approx((moment.timetuple().tm_yday - 1) / length)
    assert parts["year"] == pytest.approx(moment.year + into_year / length, abs=1e-6)
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    assert parts["hour"] == pytest.approx(seconds / 86400, abs=1e-6)


def test_iso_dates_and_date_times_are_a_date_column_and_stray_values_are_named():
    kinds = column_kinds(
        {
            "day": np.array(["2012-01-31", None, "2012-02-29"], dtype=object),
            "stamp": np.array(["2012-01-31T08:30", "2012-01-31 09:00:15.5Z"], dtype=object)[
                [0, 1, 1]
            ],
            "when": np.array(["2012-01-01", "2012-01-02"], dtype="datetime64[D]")[[0, 1, 1]],
            "word": np.array(["2012-01-31", "soon", "later"], dtype=object),
        }
    )
    assert kinds == {"day": DATE, "stamp": DATE, "when": DATE, "word": CATEGORICAL}
    assert typed_column("day", np.array(["1970-01-03"], dtype=object), DATE).tolist() == [2.0]
    with pytest.raises(DataError, match=r"column 'day' holds dates, but row 3 holds '2012-02-30'"):
        column_kinds({"day": np.array(["2012-02-28", "2012-02-29", "2012-02-30"], dtype=object)})


def test_a_date_column_becomes_calendar_inputs_that_learn_the_season(tmp_path):
    train, test = split({k: v for k, v in weather().items() if k in ("date", "weather")})
    calendar = TabularModel(LogisticRegression()).fit(train, "weather")
    assert calendar.columns_ == [{"name": "date", "kind": DATE}]
    assert calendar.feature_names_out_[:3] == ["date:year", "date:month_sin", "date:month_cos"]
    assert calendar.column_report_[0]["became"].startswith("calendar: year; month")
    # One-hot dates (the old way) give each day an input no later day ever uses.
    one_hot = TabularModel(
        LogisticRegression(), categorical=["date"], keep=["date"], min_frequency=1
    ).fit(train, "weather")
    truth = test["weather"]
    majority = np.mean(truth == max(set(train["weather"]), key=list(train["weather"]).count))
    scores = {}
    for name, model in (("calendar", calendar), ("one-hot", one_hot)):
        probabilities = model.predict_proba(test)
        scores[name] = (
            accuracy(truth, model.predict(test)),
            log_loss(truth, probabilities, labels=model.classes_),
        )
    assert scores["calendar"][0] > majority + 0.1
    assert scores["calendar"][1] < scores["one-hot"][1] - 0.1
    # The model file carries the calendar: predict reads the dates the same way.
    calendar.save(tmp_path / "weather.thalweg")
    loaded = TabularModel.load(tmp_path / "weather.thalweg")
    np.testing.assert_allclose(loaded.predict_proba(test), calendar.predict_proba(test))
    with pytest.raises(DataError, match=r"column 'date' held dates in training, but row 2 holds"):
        loaded.predict({"date": np.array(["2016-01-01", "tomorrow"], dtype=object)})


def test_calendar_features_round_trip_and_add_the_time_of_day_when_there_is_one():
    stamps = np.array([["2012-01-01T06:00"], ["2012-01-01T18:00"]], dtype=object)
    calendar = CalendarFeatures().fit(stamps)
    again = preprocessor_from_config(calendar.to_config())
    assert again.get_feature_names_out(["t"])[-2:] == ["t:hour_sin", "t:hour_cos"]
    hours = again.transform(stamps)[:, -2:]
    np.testing.assert_allclose(hours, [[1.0, 0.0], [-1.0, 0.0]], atol=1e-9)  # 6:00 and 18:00


# ------------------------------------------------------------------------- identifiers


def test_a_name_on_every_row_is_left_out_and_rare_models_share_other():
    train, test = split(cars())
    with pytest.warns(IdentifierWarning, match=r"column 'name' left out: a different value"):
        model = TabularModel(LinearRegression()).fit(train, "mpg")
    assert [c["name"] for c in model.columns_] == ["model", "weight", "year", "origin"]
    assert model.left_out_[0]["name"] == "name"
    report = {entry["name"]: entry for entry in model.column_report_}
    assert "keep=['name'] uses it" in report["name"]["became"]
    assert report["year"]["became"] == "number"  # 13 values: a quantity, no hint
    # Models seen in fewer than 5 training rows share one input with unseen ones.
    encoder = model.encoder_
    frequent, rare = encoder.categories_[0], encoder.infrequent_categories_[0]
    assert len(frequent) < 40 < len(rare)
    counts = {m: list(train["model"]).count(m) for m in set(train["model"])}
    assert all(counts[m] >= 5 for m in frequent) and all(counts[m] < 5 for m in rare)
    assert report["model"]["inputs"] == len(frequent) + 1
    other = model.feature_names_out_.index("model=__other__")
    rows = model.transform({**test, "model": np.array([rare[0], "model 999"] * 61, dtype=object)})
    assert rows[:2, other].tolist() == [1.0, 1.0]
    # Kept (with every category its own input), the name only lets the model memorize.
    with warnings.catch_warnings():
        warnings.simplefilter("error", IdentifierWarning)
        memorized = TabularModel(LinearRegression(), keep=["name"], min_frequency=1)
        memorized.fit(train, "mpg")
    assert memorized.score(test, "mpg") < model.score(test, "mpg") - 0.1


def test_min_frequency_as_a_share_and_old_encoder_files_without_rare_categories():
    column = np.array([["a"]] * 50 + [["b"]] * 45 + [["c"]] * 5, dtype=object)
    encoder = OneHotEncoder(min_frequency=0.1).fit(column)
    assert encoder.get_feature_names_out(["x"]) == ["x=a", "x=b", "x=__other__"]
    np.testing.assert_array_equal(
        encoder.inverse_transform(encoder.transform(column[-1:])), [[None]]
    )
    config = OneHotEncoder(handle_unknown="other").fit(column).to_config()
    del config["state"]["infrequent_categories_"], config["params"]["min_frequency"]
    old = preprocessor_from_config(config)  # a model file written before min_frequency
    assert old.get_feature_names_out(["x"]) == ["x=a", "x=b", "x=c", "x=__other__"]
    with pytest.raises(DataError, match="min_frequency must be a whole number"):
        TabularModel(LinearRegression(), min_frequency=0).fit({"x": np.ones(3)}, np.ones(3))


# --------------------------------------------------------- missing values and text


def test_penguins_with_gaps_and_text_train_and_few_valued_numbers_stay_numbers():
    table = penguins()
    with pytest.raises(DataError, match=r"bill_length_mm \(2\).*sex \(11\)"):
        TabularModel(LogisticRegression()).fit(table, "species")
    train, test = split(table)
    model = TabularModel(LogisticRegression(), missing="mean").fit(train, "species")
    kinds = {c["name"]: c["kind"] for c in model.columns_}
    assert kinds == {
        "island": CATEGORICAL,
        "bill_length_mm": NUMERIC,
        "bill_depth_mm": NUMERIC,
        "flipper_length_mm": NUMERIC,
        "sex": CATEGORICAL,
        "year": NUMERIC,  # three whole values: still a quantity
    }
    year = next(e for e in model.column_report_ if e["name"] == "year")
    assert "3 distinct values" in year["became"] and "categorical=['year']" in year["became"]
    assert model.score(test, "species") > 0.9
    declared = TabularModel(LogisticRegression(), missing="mean", categorical=["year"])
    assert "year=2008" in declared.fit(train, "species").feature_names_out_


# -------------------------------------------------------------------- the command line


def test_train_says_what_each_column_became_and_predict_reads_dates_the_same_way(cli, tmp_path):
    from thalweg.io import write_csv

    table = weather(days=400)
    table["station"] = np.array([f"reading {i}" for i in range(400)], dtype=object)
    write_csv(tmp_path / "weather.csv", table)
    result = cli("train", "weather.csv", "--target", "weather", "--json")
    became = {c["name"]: c["became"] for c in result.json["columns"]}
    assert became["date"].startswith("calendar: year; month, day of week, day of year")
    assert became["station"].endswith("(--keep station uses it)")
    assert became["temp_max"] == "number" and became["weather"] == "target"
    human = cli("train", "weather.csv", "--target", "weather", "--ignore", "wind", "--report",
                "r.html")  # fmt: skip
    assert "│ date " in human.out and "left out (--ignore wind)" in human.out
    page = (tmp_path / "r.html").read_text()
    assert "<th>became</th>" in page and "calendar: year; month" in page
    assert cli("predict", "model.thalweg", "weather.csv", "-o", "p.csv").code == 0
    assert_one_line_error(
        cli("predict", "model.thalweg", "weather.csv", "--threshold", "2"), "threshold"
    )
    bad = {k: v[:3] for k, v in table.items()}
    bad["date"] = np.array(["2013-01-01", "2013-01-02", "2013-02-31"], dtype=object)
    write_csv(tmp_path / "bad.csv", bad)
    assert_one_line_error(cli("predict", "model.thalweg", "bad.csv"), "'date'", "2013-02-31")
