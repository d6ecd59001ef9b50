"""``thalweg train --stream``, ``thalweg train --dask`` and ``thalweg profile-input``, run
for real through the command line on small generated Parquet and CSV files."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import assert_one_line_error

from thalweg.models.tabular import TabularModel

ROOT = Path(__file__).resolve().parent.parent
needs_dask = pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="needs thalweg[dask]"
)


def points_table(n: int = 3000, seed: int = 0) -> dict:
    """Three numeric features on very different scales, a binary label that depends on
    two of them, and a numeric price (a regression target)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * [1.0, 30.0, 0.1] + [0.0, 100.0, 5.0]
    label = (X[:, 0] + (X[:, 1] - 100) / 30 + 0.3 * rng.standard_normal(n) > 0).astype(np.int64)
    price = 3 * X[:, 0] + (X[:, 1] - 100) / 10 + rng.standard_normal(n)
    return {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": label, "price": price}


def write_parquet(path: Path, table: dict, row_group_size: int = 500) -> Path:
    pq.write_table(pa.table(table), path, row_group_size=row_group_size)
    return path


@pytest.fixture
def points(tmp_path) -> Path:
    return write_parquet(tmp_path / "points.parquet", points_table())


# ------------------------------------------------------------------------- --stream


def test_stream_trains_without_ever_loading_the_file(cli, points, monkeypatch):
    def refuse(path):
        raise AssertionError(f"--stream loaded {path} whole")

    monkeypatch.setattr("thalweg.io.read_table", refuse)
    result = cli(
        "train", points, "--target", "label", "--ignore", "price", "--stream", "--epochs", "3",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    summary = result.json
    assert summary["mode"] == "stream" and summary["model"] == "LogisticRegression"
    splits = summary["splits"]
    assert sum(splits.values()) == summary["rows"] == 3000
    assert 2500 < splits["train"] < 2900 and splits["validation"] > 50 and splits["test"] > 50
    held_out = summary["held_out"]
    assert held_out["test_rows_scored"] == held_out["test_rows"] == splits["test"]
    assert summary["epochs_run"] == 3
    assert summary["metrics"]["test"]["accuracy"] > 0.9
    assert summary["input_balance"]["batch_size"] == 256
    assert summary["input_balance"]["step_seconds"] > 0
    assert Path("model.thalweg").exists()


def test_stream_prints_the_rows_held_out_the_input_balance_and_the_metrics(cli, points):
    result = cli("train", points, "--target", "label", "--ignore", "price", "--stream")
    assert result.code == 0, result.err
    assert "rows: 3,000 (train " in result.out
    assert "held out by row, the same every epoch" in result.out
    assert "input balance: trainer busy" in result.out and "T_step = " in result.out
    assert "test metrics (" in result.out and "held-out rows)" in result.out
    assert "wrote model: model.thalweg" in result.out


def test_a_streamed_model_file_works_with_evaluate_predict_and_inspect(cli, points):
    assert cli("train", points, "-t", "label", "--ignore", "price", "--stream").code == 0
    evaluated = cli("evaluate", "model.thalweg", points, "--json")
    assert evaluated.code == 0, evaluated.err
    assert evaluated.json["rows"] == 3000 and evaluated.json["metrics"]["accuracy"] > 0.9
    predicted = cli("predict", "model.thalweg", points)
    assert predicted.code == 0 and predicted.out.startswith("prediction,probability_0")
    inspected = cli("inspect", "model.thalweg", "--json").json
    assert [c["name"] for c in inspected["preprocessing"]["columns"]] == ["a", "b", "c"]
    assert inspected["training"]["mode"] == "stream"
    assert (
        inspected["training"]["data"]["splits"]["test"]
        == inspected["training"]["held_out"]["test_rows"]
    )


@pytest.mark.parametrize(
    ("model", "target", "estimator"),
    [
        ("auto", "price", "LinearRegression"),
        ("linear", "price", "LinearRegression"),
        ("mlp", "price", "MLPRegressor"),
        ("logistic", "label", "LogisticRegression"),
        ("mlp", "label", "MLPClassifier"),
    ],
)
def test_stream_trains_every_model_kind(cli, points, model, target, estimator):
    other = "label" if target == "price" else "price"
    result = cli(
        "train", points, "-t", target, "--ignore", other, "--stream", "--model", model,
        "--epochs", "20", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.json["model"] == estimator
    metrics = result.json["metrics"]["test"]
    assert metrics["r2"] > 0.8 if target == "price" else metrics["accuracy"] > 0.85


def test_stream_learns_text_labels_and_predicts_them(cli, tmp_path):
    table = points_table(2000)
    table["buys"] = np.where(table.pop("label") == 1, "yes", "no").astype(object)
    write_parquet(tmp_path / "buys.parquet", table)
    result = cli("train", "buys.parquet", "-t", "buys", "--ignore", "price", "--stream", "--json")
    assert result.code == 0, result.err
    assert "text (2 classes: 'no', 'yes')" in result.json["task_reason"]
    assert result.json["metrics"]["test"]["accuracy"] > 0.85
    predicted = cli("predict", "model.thalweg", "buys.parquet").out.splitlines()
    assert predicted[0] == "prediction,probability_no,probability_yes"
    assert {line.split(",")[0] for line in predicted[1:]} == {"no", "yes"}


def test_stream_reads_a_csv_file_and_a_folder_of_parquet_files(cli, tmp_path):
    table = points_table()
    cli("datasets", "export", "wine", "wine.csv")  # a real CSV: 13 numeric columns
    result = cli("train", "wine.csv", "-t", "target", "--stream", "--json")
    assert result.code == 0, result.err
    assert result.json["task"] == "classification" and result.json["rows"] == 178

    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        half = {k: v[i * 1500 : (i + 1) * 1500] for k, v in table.items()}
        write_parquet(folder / f"part-{i}.parquet", half)
    result = cli("train", folder, "-t", "label", "--ignore", "price", "--stream", "--json")
    assert result.code == 0, result.err
    assert result.json["rows"] == 3000


def test_stream_scores_a_uniform_sample_when_the_test_part_is_large(cli, points, monkeypatch):
    monkeypatch.setattr("thalweg.data.holdout.HELD_OUT_ROWS", 40)
    result = cli("train", points, "-t", "label", "--ignore", "price", "--stream")
    assert result.code == 0, result.err
    assert "test metrics (40 of " in result.out and "a uniform sample)" in result.out


def test_stream_early_stopping_watches_the_validation_rows(cli, points):
    result = cli(
        "train", points, "-t", "label", "--ignore", "price", "--stream", "--model", "mlp",
        "--early-stopping", "--epochs", "4",
    )  # fmt: skip
    assert result.code == 0, result.err
    final = cli("inspect", "model.thalweg", "--json").json["final_losses"]
    assert "val_loss" in final


def test_stream_writes_the_report_from_the_held_out_rows(cli, points):
    result = cli(
        "train", points, "-t", "label", "--ignore", "price", "--stream", "--report", "r.html"
    )
    assert result.code == 0, result.err
    assert "wrote report: r.html" in result.out
    assert "LogisticRegression" in Path("r.html").read_text()


def test_a_text_column_is_one_line_naming_it_and_the_in_memory_path(cli, tmp_path):
    table = points_table(300)
    table["city"] = np.where(table["a"] > 0, "oslo", "rome")
    write_parquet(tmp_path / "cities.parquet", table)
    assert_one_line_error(
        cli("train", "cities.parquet", "-t", "label", "--stream"),
        "column 'city' holds text",
        "train without --stream",
        "--ignore city",
    )


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--stream", "--batch-size", "full"], ["mini-batches"]),
        (["--stream", "--shuffle-buffer", "10"], ["--shuffle-buffer 10", "smaller than a batch"]),
        (["--stream", "--crosses"], ["--crosses", "--stream"]),
        (["--stream", "--missing", "mean"], ["--missing mean"]),
        (["--stream", "--resume"], ["--resume", "--stream"]),
        (["--stream", "--dask", "local:2"], ["--stream and --dask", "choose one"]),
        (["--solver", "gd"], ["--solver gd applies to", "(--dask ...)"]),
        (["--shuffle-buffer", "100"], ["--shuffle-buffer 100 applies to", "(--stream)"]),
        (["--stream", "--early-stopping", "--split", "0.8,0.2"], ["three fractions"]),
        (["--stream", "--target", "nope"], ["'nope'", "columns are: a, b, c, label, price"]),
    ],
)
def test_stream_option_mistakes_are_one_line_errors(cli, points, options, words):
    target = [] if "--target" in options else ["--target", "label"]
    assert_one_line_error(cli("train", points, *target, *options), *words)


def test_stream_refuses_files_it_cannot_stream(cli):
    cli("datasets", "export", "iris", "iris.csv")
    np.savez("iris.npz", x=np.arange(3.0), y=np.arange(3.0))
    assert_one_line_error(cli("train", "iris.npz", "-t", "y", "--stream"), "--stream reads")
    assert_one_line_error(cli("train", "missing.parquet", "-t", "y", "--stream"), "no such file")


# ------------------------------------------------------------------------- held out


# ---------------------------------------------------------------------- profile-input


def test_profile_input_reports_rows_per_second_and_the_balance_terms(cli, points):
    result = cli("profile-input", points, "-t", "label", "--batch-size", "64", "--batches", "20")
    assert result.code == 0, result.err
    assert "rows/s" in result.out and "T_g = " in result.out and "B = 64" in result.out
    assert "T_step > T_g·B/C" in result.out
    assert "reading one epoch of 3,000 rows takes about" in result.out
    # The advice names this command line's flags, not the library's parameters.
    assert "(--stream) measures its step" in result.out and "stream=True" not in result.out


def test_profile_input_json_has_the_profile_the_file_layout_and_advice(cli, points):
    result = cli("profile-input", points, "-t", "label", "--batch-size", "64", "--json")
    assert result.code == 0, result.err
    summary = result.json
    assert summary["profile"]["batch_size"] == 64 and summary["profile"]["examples"] > 0
    assert summary["layout"]["kind"] == "parquet" and summary["layout"]["row_groups"] == 6
    assert summary["advice"] and all(isinstance(tip, str) for tip in summary["advice"])


def test_profile_input_advises_converting_csv_to_parquet(cli):
    cli("datasets", "export", "wine", "wine.csv")
    result = cli("profile-input", "wine.csv", "-t", "target")
    assert result.code == 0, result.err
    assert "convert it to Parquet" in result.out


def test_profile_input_mistakes_are_one_line_errors(cli, points):
    assert_one_line_error(cli("profile-input", points, "-t", "nope"), "'nope'")
    assert_one_line_error(
        cli("profile-input", points, "-t", "label", "--batch-size", "64", "--shuffle-buffer", "8"),
        "smaller than a batch",
    )


# -------------------------------------------------------------------------- --dask


@needs_dask
def test_dask_trains_on_a_local_cluster_and_warns_that_the_data_is_small(cli, points):
    result = cli(
        "train", points, "-t", "label", "--ignore", "price", "--dask", "local:2",
        "--epochs", "20", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "is small" in warnings[0] and "without --dask" in warnings[0]
    summary = result.json
    assert summary["mode"] == "dask" and summary["held_out"]["solver"] == "gd"
    assert sum(summary["splits"].values()) == summary["rows"] == 3000
    assert summary["held_out"]["test_rows_scored"] == summary["splits"]["test"]
    assert summary["metrics"]["test"]["accuracy"] > 0.85
    model = TabularModel.load("model.thalweg")
    # The workers trained on exactly the rows the survey counted as training rows.
    assert model.estimator_.history_.rows[0]["examples"] == summary["splits"]["train"]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--dask", "nonsense"], ["not a cluster spec"]),
        (["--dask", "local:2", "--split", "0.6,0.2,0.2"], ["train,test"]),
        (["--dask", "local:2", "--early-stopping"], ["--early-stopping"]),
        (["--dask", "local:2", "--solver", "sgd"], ["--batch-size"]),
        (["--dask", "local:2", "--solver", "lbfgs", "--l1", "0.1"], ["--l1"]),
    ],
)
def test_dask_option_mistakes_are_one_line_errors(cli, points, options, words):
    assert_one_line_error(cli("train", points, "-t", "label", *options), *words)


@needs_dask
def test_dask_data_mistakes_are_one_line_errors_before_any_cluster_starts(cli, points):
    assert_one_line_error(
        cli("train", points, "-t", "nope", "--dask", "local:2"), "'nope'", "columns are"
    )
    assert_one_line_error(
        cli("train", "missing.parquet", "-t", "label", "--dask", "local:2"), "no such file"
    )


def test_dask_not_installed_is_one_line_saying_how_to_install_it(cli, points, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    assert_one_line_error(cli("train", points, "-t", "label", "--dask", "local:2"), "thalweg[dask]")
