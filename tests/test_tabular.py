"""TabularModel: column typing, missing values, unknown categories, one model file."""

import numpy as np
import pandas as pd
import pytest

from thalweg.data.columns import CATEGORICAL, NUMERIC, column_kinds, infer_task, typed_column
from thalweg.errors import DataError, FileFormatError, OptionError
from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor
from thalweg.models.tabular import TabularModel


def text(*values):
    return np.array(values, dtype=object)


def mixed_table(n=120, seed=0):
    """Two numeric columns, one categorical; the label depends on all three."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    city = rng.choice(["oslo", "paris", "rome"], size=n)
    label = np.where(x + (city == "rome") * 2.0 - 0.5 > 0, "yes", "no")
    return {"x": x, "z": z, "city": city.astype(object)}, label


# ------------------------------------------------------------------------ column types


def test_text_that_is_mostly_numbers_names_the_bad_row_and_column():
    with pytest.raises(DataError, match=r"column 'age' holds numbers, but row 3 holds 'x'"):
        column_kinds({"age": text("1", "2", "x", "4")})


def test_text_with_few_numbers_is_categorical_and_all_numbers_is_numeric():
    kinds = column_kinds({"size": text("S", "M", "1", "L"), "n": text("1", " 2", None, "3.5")})
    assert kinds == {"size": CATEGORICAL, "n": NUMERIC}


def test_declared_categorical_wins_and_unknown_names_are_an_error():
    assert column_kinds({"zip": np.array([1, 2])}, categorical=["zip"]) == {"zip": CATEGORICAL}
    with pytest.raises(DataError, match="not in the data"):
        column_kinds({"zip": np.array([1, 2])}, categorical=["zap"])


def test_category_labels_have_one_spelling_for_equal_numbers():
    labels = typed_column("c", np.array([1.0, 2.5, np.nan]), CATEGORICAL)
    assert labels.tolist() == ["1", "2.5", None]
    assert typed_column("c", text(1, "1"), CATEGORICAL).tolist() == ["1", "1"]


def test_infinite_values_are_reported_by_row():
    with pytest.raises(DataError, match="row 2 is infinite"):
        typed_column("x", np.array([1.0, np.inf]), NUMERIC)


@pytest.mark.parametrize(
    ("values", "task", "words"),
    [
        (np.array([0, 1, 2, 1]), "classification", "3 distinct whole numbers"),
        (text("cat", "dog", "cat"), "classification", "text"),
        (np.array([True, False, True]), "classification", "true/false"),
        (np.array([0.5, 1.0, 2.25]), "regression", "fractions"),
        (np.arange(50), "regression", "50 distinct whole numbers"),
    ],
)
def test_infer_task_says_which_and_why(values, task, words):
    chosen, why = infer_task("y", values)
    assert chosen == task
    assert words in why


def test_infer_task_refuses_a_one_class_target():
    with pytest.raises(DataError, match="single value"):
        infer_task("y", np.array([3, 3, 3]))


# ------------------------------------------------------------------------ fit / predict


def test_fit_one_hot_encodes_categories_and_predicts_by_column_name():
    table, label = mixed_table()
    model = TabularModel(LogisticRegression()).fit(table, label)
    assert model.feature_names_out_ == [
        "x",
        "z",
        "city=oslo",
        "city=paris",
        "city=rome",
        "city=__other__",
    ]
    assert model.score(table, label) > 0.9
    reordered = {"extra": np.zeros(120), "city": table["city"], "z": table["z"], "x": table["x"]}
    np.testing.assert_array_equal(model.predict(reordered), model.predict(table))


def test_unknown_category_goes_to_other_or_raises_by_policy():
    table, label = mixed_table()
    new = {"x": np.array([0.0]), "z": np.array([0.0]), "city": text("lima")}
    TabularModel(LogisticRegression()).fit(table, label).predict(new)  # no error
    strict = TabularModel(LogisticRegression(), unknown="error").fit(table, label)
    with pytest.raises(DataError, match="'lima'"):
        strict.predict(new)


def test_a_missing_column_at_predict_time_is_named():
    table, label = mixed_table()
    model = TabularModel(LogisticRegression()).fit(table, label)
    with pytest.raises(DataError, match=r"lacks column\(s\) 'city'"):
        model.predict({"x": table["x"], "z": table["z"]})


def test_text_in_a_numeric_column_at_predict_time_is_a_clear_error():
    table, label = mixed_table()
    model = TabularModel(LogisticRegression()).fit(table, label)
    with pytest.raises(DataError, match="should hold numbers"):
        model.predict({"x": text("a", "b"), "z": np.zeros(2), "city": text("oslo", "rome")})


def test_missing_values_error_lists_columns_and_counts():
    table, label = mixed_table()
    table["x"][:3] = np.nan
    table["city"][5] = None
    with pytest.raises(DataError, match=r"4 row\(s\).*x \(3\), city \(1\)"):
        TabularModel(LogisticRegression()).fit(table, label)


def test_missing_drop_skips_rows_and_mean_fills_with_training_statistics():
    table, label = mixed_table()
    table["x"][:3] = np.nan
    table["city"][5] = None
    dropped = TabularModel(LogisticRegression(), missing="drop").fit(table, label)
    assert dropped.n_dropped_ == 4
    filled = TabularModel(LogisticRegression(), missing="mean").fit(table, label)
    assert filled.n_dropped_ == 0
    assert filled.fill_values_["x"] == pytest.approx(np.nanmean(table["x"]))
    assert filled.fill_values_["city"] in ("oslo", "paris", "rome")
    assert len(filled.predict({"x": np.array([np.nan]), "z": np.zeros(1), "city": text(None)}))
    with pytest.raises(DataError, match="missing values"):
        dropped.predict({"x": np.array([np.nan]), "z": np.zeros(1), "city": text("oslo")})
    assert dropped.complete_rows(
        {"x": np.array([np.nan, 1.0]), "z": np.zeros(2), "city": text("a", "b")}
    ).tolist() == [False, True]


def test_an_all_missing_column_is_an_error():
    table, label = mixed_table()
    table["z"] = np.full(120, np.nan)
    with pytest.raises(DataError, match="'z' is empty"):
        TabularModel(LogisticRegression(), missing="mean").fit(table, label)


def test_a_text_target_for_a_regressor_is_an_error():
    table, label = mixed_table()
    with pytest.raises(DataError, match="regression needs numbers"):
        TabularModel(LinearRegression()).fit(table, label)


def test_target_by_name_and_dataframe_input():
    table, label = mixed_table()
    frame = pd.DataFrame({**table, "label": label})
    model = TabularModel(LogisticRegression()).fit(frame, "label")
    assert model.target_ == "label"
    assert [c["name"] for c in model.columns_] == ["x", "z", "city"]


def test_crosses_add_squares_and_products_of_numeric_columns_only():
    table, label = mixed_table()
    model = TabularModel(LogisticRegression(), crosses=True).fit(table, label)
    assert "x*z" in model.feature_names_out_ and "x^2" in model.feature_names_out_
    assert not any("city*" in name for name in model.feature_names_out_)


def test_validation_rows_give_a_validation_loss_every_epoch():
    table, label = mixed_table()
    train = {k: v[:80] for k, v in table.items()}
    held_out = {k: v[80:] for k, v in table.items()}
    for estimator in (
        LogisticRegression(solver="gd", max_epochs=20),
        MLPClassifier(max_epochs=5, random_state=0),
    ):
        model = TabularModel(estimator).fit(train, label[:80], validation=(held_out, label[80:]))
        history = model.estimator_.history_
        assert len(history["val_loss"]) == len(history) and np.isfinite(history["val_loss"]).all()
    numbers = table["x"] * 3 + 1
    for estimator in (LinearRegression(solver="gd", max_epochs=20), MLPRegressor(max_epochs=5)):
        model = TabularModel(estimator).fit(
            train, numbers[:80], validation=(held_out, numbers[80:])
        )
        assert np.isfinite(model.estimator_.history_["val_loss"]).all()
    assert not hasattr(model.estimator_, "_fit_extras")


def test_a_threshold_decides_predictions_and_metrics_and_balanced_batches_reach_the_estimator():
    from thalweg.data.balancing import BalancedBatches

    table, label = mixed_table()
    balanced = BalancedBatches(seed=0)
    model = TabularModel(LogisticRegression(solver="gd", max_epochs=5, tol=None))
    model.fit(table, label, batches=balanced)
    assert sum(balanced.class_counts().values()) > 0  # trained on the factory's batches
    yes = model.predict_proba(table)[:, 1]
    strict = model.prediction_table(table, threshold=0.9)["prediction"]
    assert strict.tolist() == np.where(yes >= 0.9, "yes", "no").tolist()
    evaluation = model.evaluate(table, label, threshold=0.9)
    assert evaluation.threshold == 0.9
    assert evaluation.metrics["accuracy"] == pytest.approx(np.mean(strict == label))
    assert evaluation.metrics["baseline_accuracy"] == pytest.approx(
        max(np.mean(label == "yes"), np.mean(label == "no"))
    )
    regressor = TabularModel(LinearRegression()).fit(table, table["x"] * 2)
    with pytest.raises(OptionError, match=r"threshold=0\.5 applies to classifiers"):
        regressor.evaluate(table, table["x"] * 2, threshold=0.5)
    with pytest.raises(OptionError, match="from 0 to 1"):
        model.prediction_table(table, threshold=1.5)


# ------------------------------------------------------------------------ model files


@pytest.mark.parametrize("missing", ["error", "mean"])
def test_save_and_load_give_the_same_predictions(tmp_path, missing):
    table, label = mixed_table()
    model = TabularModel(
        MLPClassifier(max_epochs=20, random_state=0), missing=missing, crosses=True
    )
    model.fit(table, label)
    path = tmp_path / "m.thalweg"
    model.save(path, metadata={"note": "hello"})
    loaded = TabularModel.load(path)
    np.testing.assert_allclose(loaded.predict_proba(table), model.predict_proba(table))
    assert loaded.metadata_ == {
        "note": "hello",
        "thalweg_version": loaded.metadata_["thalweg_version"],
    }
    assert loaded.columns_ == model.columns_ and loaded.missing == missing


def test_the_model_file_is_safetensors_with_a_json_header_and_no_pickle(tmp_path):
    import json
    import struct

    table, label = mixed_table()
    path = tmp_path / "m.thalweg"
    TabularModel(LogisticRegression()).fit(table, label).save(path)
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    meta = json.loads(header["__metadata__"]["thalweg"])
    assert meta["kind"] == "estimator" and meta["tabular"]["columns"][2]["kind"] == "categorical"
    assert b"pickle" not in data and b"\x80\x04" not in data[:16]


def test_loading_something_else_is_a_file_format_error(tmp_path):
    import thalweg

    other = tmp_path / "net.thalweg"
    thalweg.save(thalweg.nn.Linear(2, 1, rng=0), other)
    with pytest.raises(FileFormatError, match="not a model trained on a table"):
        TabularModel.load(other)
    bare = tmp_path / "bare.thalweg"
    LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1]).save(bare)
    with pytest.raises(FileFormatError, match="without column information"):
        TabularModel.load(bare)
