"""The ``thalweg`` command line, run for real: in-process through ``thalweg.cli.main``
(fast) and as ``python -m thalweg`` subprocesses (exit codes, Ctrl-C)."""

import csv
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def people(path: Path, n: int = 90, seed: int = 0) -> Path:
    """Age and income (numeric), city (text), and a text label that depends on them."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        age, income = rng.integers(18, 80), round(float(rng.normal(50, 15)), 2)
        city = str(rng.choice(["oslo", "paris", "rome"]))
        buys = "yes" if (income > 50) ^ (city == "rome") else "no"
        rows.append([age, income, city, buys])
    return write_csv(path, ["age", "income", "city", "buys"], rows)


@pytest.fixture
def wine(cli):
    assert cli("datasets", "export", "wine", "wine.csv").code == 0
    return Path("wine.csv")


def no_temporary_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["train"],
        ["profile-input"],
        ["evaluate"],
        ["predict"],
        ["inspect"],
        ["demo"],
        ["datasets"],
        ["datasets", "export"],
    ],
)
def test_every_command_help_shows_an_example(cli, command):
    result = cli(*command, "--help")
    assert result.code == 0
    assert "$ thalweg" in result.out or "thalweg demo" in result.out


def _command_tree():
    """Every command and sub-command of the real app, as (words, click command)."""
    import typer.main

    from thalweg.cli.app import build_app
    from thalweg.cli.recording import record_runs

    app = build_app()
    record_runs(app)  # as main() does: train and evaluate gain --runs
    found, todo = [], [((), typer.main.get_command(app))]
    while todo:
        words, command = todo.pop()
        found.append((words, command))
        for name, sub in getattr(command, "commands", {}).items():
            todo.append(((*words, name), sub))
    return found


def test_command_help_paragraphs_are_unwrapped_so_the_terminal_wraps_them():
    """A docstring's single line breaks would break lines mid-sentence in any terminal
    narrower or wider than the source: each paragraph reaches Typer as one line."""
    tree = _command_tree()
    assert len(tree) > 15
    for words, command in tree:
        help_text = command.help or ""
        single_breaks = help_text.replace("\n\n", "").count("\n")
        assert single_breaks == 0, f"thalweg {' '.join(words)}: {help_text!r}"


def test_flags_show_no_value_type_in_help(cli):
    """A flag takes no value: ``--quiet``, ``--json``, ``--help`` show no ``<bool>``
    (which reads as if they wanted one), on every command and sub-command."""
    for words, _ in _command_tree():
        result = cli(*words, "--help")
        assert result.code == 0, words
        assert "--help" in result.out and "<bool>" not in result.out, words


def test_every_option_the_docs_show_exists():
    """Each ``thalweg COMMAND ... --option`` in README.md and docs/ names a real option of
    that command (options renamed by later work leave no stale examples behind)."""
    commands = {words: command for words, command in _command_tree()}
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown, stale = 0, []
    for page in pages:
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            match = re.search(r"(?:^|\$ |`)(?:\.venv/bin/)?thalweg ([a-z][^`|#]*)", line)
            if not match:
                continue
            words = match.group(1).split()
            used = 0
            while used < len(words) and tuple(words[: used + 1]) in commands:
                used += 1
            if used == 0:
                continue
            command = commands[tuple(words[:used])]
            options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
            for word in words[used:]:
                option = re.match(r"^--?[a-zA-Z][\w-]*", word)
                if option:
                    shown += 1
                    if option.group(0) not in options:
                        stale.append(f"{page.name}:{number}: {option.group(0)}")
    assert shown > 50
    assert not stale, stale


# ------------------------------------------------------------------------ datasets


def test_datasets_lists_generators_and_bundled_files_as_json(cli):
    result = cli("datasets", "--json")
    assert result.code == 0
    names = [d["name"] for d in result.json["datasets"]]
    assert {"spiral", "wine", "diabetes"} <= set(names)


def test_datasets_export_writes_a_csv_with_a_target_column(cli):
    result = cli("datasets", "export", "iris", "iris.csv")
    assert result.code == 0 and "iris.csv" in result.out
    with open("iris.csv") as handle:
        header = next(csv.reader(handle))
    assert header[-1] == "target" and len(header) == 5


def test_exporting_an_unknown_dataset_is_one_line(cli):
    assert_one_line_error(cli("datasets", "export", "nope", "x.csv"), "unknown dataset")


# --------------------------------------------------------------------------- train


def test_train_prints_the_task_a_metrics_table_and_the_paths(cli, wine):
    result = cli("train", wine, "--target", "target")
    assert result.code == 0, result.err
    first = result.out.splitlines()[0]
    assert first.startswith("task: classification, because target 'target'")
    assert "accuracy" in result.out and "wrote model: model.thalweg" in result.out
    assert Path("model.thalweg").exists()
    assert no_temporary_files(Path("."))


def test_train_json_is_the_only_thing_on_stdout(cli, wine):
    result = cli("train", wine, "--target", "target", "--json")
    summary = result.json  # parses: nothing else was printed
    assert summary["task"] == "classification" and summary["model"] == "LogisticRegression"
    assert summary["splits"] == {"train": 107, "validation": 36, "test": 35}
    assert summary["metrics"]["test"]["accuracy"] > 0.9
    assert summary["written"] == {"model": "model.thalweg"}


def test_quiet_prints_nothing(cli, wine):
    result = cli("train", wine, "--target", "target", "--quiet")
    assert result.code == 0 and result.out == "" and result.err == ""


@pytest.mark.parametrize(
    ("values", "task", "model"),
    [
        (["a", "b"] * 20, "classification", "LogisticRegression"),
        ([0, 1, 2, 3] * 10, "classification", "LogisticRegression"),
        ([i * 0.37 for i in range(40)], "regression", "LinearRegression"),
        (list(range(40)), "regression", "LinearRegression"),
    ],
)
def test_auto_picks_the_task_from_the_target(cli, values, task, model):
    rng = np.random.default_rng(0)
    write_csv(Path("d.csv"), ["x", "y"], [[float(rng.normal()), v] for v in values])
    summary = cli("train", "d.csv", "--target", "y", "--json").json
    assert (summary["task"], summary["model"]) == (task, model)
    assert "because target 'y'" in summary["task_reason"]


def test_mlp_with_hidden_layers_and_options(cli, wine):
    summary = cli(
        "train", wine, "--target", "target", "--hidden", "8", "--activation", "tanh",
        "--optimizer", "momentum", "--learning-rate", "0.05", "--batch-size", "16",
        "--epochs", "30", "--l2", "0.001", "--early-stopping", "--json",
    ).json  # fmt: skip
    assert summary["model"] == "MLPClassifier"
    assert 1 <= summary["epochs_run"] <= 30


def test_train_stops_early_on_its_validation_rows_unless_told_not_to(cli, wine):
    from thalweg.models.tabular import TabularModel

    cli("train", wine, "--target", "target", "--model", "mlp", "--quiet")
    estimator = TabularModel.load("model.thalweg").estimator_
    assert estimator.early_stopping and estimator.tol is None  # the validation loss decides
    assert estimator.hidden == (100,)
    losses = estimator.history_["val_loss"]
    if estimator.history_.stop_reason.startswith("early stopping"):  # the best epoch kept
        assert estimator.history_.best_epoch == int(np.argmin(losses)) + 1
    cli("train", wine, "--target", "target", "--no-early-stopping", "--l2", "0", "--quiet")
    estimator = TabularModel.load("model.thalweg").estimator_
    assert not estimator.early_stopping and estimator.tol == 1e-4 and estimator.l2_ == 0
    assert_one_line_error(
        cli("train", wine, "--target", "target", "--stream", "--early-stopping", "--split",
            "0.8,0.2"),
        "--early-stopping needs validation rows",
    )  # fmt: skip


def test_categorical_columns_missing_values_and_crosses_end_up_in_the_model(cli, tmp_path):
    people(tmp_path / "people.csv")
    lines = (tmp_path / "people.csv").read_text().splitlines()
    lines[3] = ",".join(["", *lines[3].split(",")[1:]])  # a missing age
    (tmp_path / "people.csv").write_text("\n".join(lines) + "\n")
    assert_one_line_error(
        cli("train", "people.csv", "--target", "buys"), "missing values", "age (1)", "--missing"
    )
    dropped = cli("train", "people.csv", "--target", "buys", "--missing", "drop", "--json").json
    assert dropped["dropped_rows"] == 1
    assert (
        cli("train", "people.csv", "--target", "buys", "--missing", "mean", "--crosses").code == 0
    )
    info = cli("inspect", "model.thalweg", "--json").json
    columns = {c["name"]: c for c in info["preprocessing"]["columns"]}
    assert columns["city"]["kind"] == "categorical"
    assert columns["city"]["categories"] == ["oslo", "paris", "rome"]
    assert columns["age"]["fill"] == pytest.approx(columns["age"]["fill"])
    assert "age*income" in info["preprocessing"]["features"]


def test_declaring_a_numeric_column_categorical(cli, tmp_path):
    people(tmp_path / "people.csv")
    assert cli("train", "people.csv", "--target", "buys", "--categorical", "age").code == 0
    info = cli("inspect", "model.thalweg", "--json").json
    kinds = {c["name"]: c["kind"] for c in info["preprocessing"]["columns"]}
    assert kinds["age"] == "categorical"


def test_parquet_and_npz_files_train_like_csv(cli, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    y = (x[:, 0] > 0).astype(int)
    pq.write_table(pa.table({"a": x[:, 0], "b": x[:, 1], "y": y}), tmp_path / "d.parquet")
    np.savez(tmp_path / "d.npz", X=x, feature_names=np.array(["a", "b"]), y=y)
    for name in ("d.parquet", "d.npz"):
        summary = cli("train", name, "--target", "y", "--json").json
        assert summary["task"] == "classification" and summary["metrics"]["test"]["accuracy"] > 0.8


def test_an_identifier_column_is_left_out_with_a_line_and_rare_classes_a_clear_error(cli, tmp_path):
    rows = [[f"person {i}", i % 7, "a" if i % 2 else "b"] for i in range(60)]
    write_csv(tmp_path / "ids.csv", ["name", "x", "y"], rows)
    result = cli("train", "ids.csv", "--target", "y")
    assert result.code == 0 and result.err == ""
    line = next(line for line in result.out.splitlines() if "│ name" in line)
    assert "left out: a different value in 36 of 36 rows" in line  # the training rows
    assert "(--keep name uses it)" in line
    info = cli("inspect", "model.thalweg", "--json").json
    assert [c["name"] for c in info["preprocessing"]["columns"]] == ["x"]
    kept = cli("train", "ids.csv", "--target", "y", "--keep", "name", "--min-frequency", "1")
    assert kept.code == 0
    info = cli("inspect", "model.thalweg", "--json").json
    assert [c["name"] for c in info["preprocessing"]["columns"]] == ["name", "x"]
    rows[0][2] = "c"  # a class with one row cannot be in all three splits
    write_csv(tmp_path / "rare.csv", ["name", "x", "y"], rows)
    assert_one_line_error(
        cli("train", "rare.csv", "--target", "y", "--ignore", "name"),
        "'c' (1 row)",
        "--split 0.8,0.2",
    )


def test_ignored_columns_are_not_model_inputs(cli, tmp_path):
    people(tmp_path / "people.csv")
    assert cli("train", "people.csv", "--target", "buys", "--ignore", "age,city").code == 0
    info = cli("inspect", "model.thalweg", "--json").json
    assert [c["name"] for c in info["preprocessing"]["columns"]] == ["income"]


# ------------------------------------------------------------------ evaluate, predict


def test_evaluate_reports_metrics_on_new_labelled_data(cli, wine):
    cli("train", wine, "--target", "target", "--quiet")
    result = cli("evaluate", "model.thalweg", wine, "--json")
    assert result.code == 0
    assert result.json["rows"] == 178 and result.json["metrics"]["accuracy"] > 0.9


def test_evaluate_needs_the_target_column(cli, wine):
    cli("train", wine, "--target", "target", "--quiet")
    write_csv(Path("unlabelled.csv"), ["alcohol"], [[1.0]])
    assert_one_line_error(cli("evaluate", "model.thalweg", "unlabelled.csv"), "'target'")


def test_predict_matches_columns_by_name_and_ignores_extra_ones(cli, tmp_path):
    people(tmp_path / "people.csv")
    cli("train", "people.csv", "--target", "buys", "--quiet")
    straight = cli("predict", "model.thalweg", "people.csv")
    assert straight.code == 0
    lines = (tmp_path / "people.csv").read_text().splitlines()
    header = lines[0].split(",")
    order = [2, 1, 0]  # city, income, age: another order, plus an extra column, no target
    shuffled = [",".join(["note", *(header[i] for i in order)])]
    for line in lines[1:]:
        cells = line.split(",")
        shuffled.append(",".join(["whatever", *(cells[i] for i in order)]))
    (tmp_path / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    moved = cli("predict", "model.thalweg", "shuffled.csv")
    assert moved.code == 0 and moved.out == straight.out
    assert straight.out.splitlines()[0] == "prediction,probability_no,probability_yes"


def test_predict_writes_csv_atomically_with_probabilities(cli, wine):
    cli("train", wine, "--target", "target", "--quiet")
    result = cli("predict", "model.thalweg", wine, "-o", "out/predictions.csv")
    assert result.code == 0 and "predictions.csv" in result.out
    with open("out/predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 178 and set(rows[0]) == {
        "prediction",
        "probability_0",
        "probability_1",
        "probability_2",
    }
    assert no_temporary_files(Path("."))


def test_predict_with_a_missing_or_wrongly_typed_column_is_one_line(cli, tmp_path):
    people(tmp_path / "people.csv")
    cli("train", "people.csv", "--target", "buys", "--quiet")
    write_csv(tmp_path / "no_city.csv", ["age", "income"], [[30, 40.0]])
    assert_one_line_error(cli("predict", "model.thalweg", "no_city.csv"), "'city'", "add them")
    write_csv(tmp_path / "words.csv", ["age", "income", "city"], [["old", "rich", "oslo"]] * 3)
    assert_one_line_error(cli("predict", "model.thalweg", "words.csv"), "'age'", "numbers")


def test_unseen_categories_follow_the_model_policy(cli, tmp_path):
    people(tmp_path / "people.csv")
    write_csv(tmp_path / "lima.csv", ["age", "income", "city"], [[30, 60.0, "lima"]])
    cli("train", "people.csv", "--target", "buys", "--quiet")
    assert cli("predict", "model.thalweg", "lima.csv").code == 0
    cli("train", "people.csv", "--target", "buys", "--unknown", "error", "--quiet")
    assert_one_line_error(cli("predict", "model.thalweg", "lima.csv"), "'lima'", "not seen")


def test_inspect_shows_architecture_parameters_settings_and_metrics(cli, wine):
    cli("train", wine, "--target", "target", "--model", "mlp", "--hidden", "4", "--quiet")
    result = cli("inspect", "model.thalweg")
    assert result.code == 0
    for words in ("Linear(13→4) → ReLU → Linear(4→3)", "parameters", "preprocessing", "epochs"):
        assert words in result.out
    info = cli("inspect", "model.thalweg", "--json").json
    assert info["parameters"] == 13 * 4 + 4 + 4 * 3 + 3
    assert info["training"]["options"]["hidden"] == [4]
    assert info["metrics"]["test"]["accuracy"] > 0.5


def test_inspect_shows_what_l2_auto_resolved_to(cli, wine):
    """A logistic regression's default l2="auto" is 1/(2·training rows): inspect shows the
    number the fit used beside the setting."""
    cli("train", wine, "--target", "target", "--quiet")
    info = cli("inspect", "model.thalweg", "--json").json
    assert info["hyperparameters"]["l2"] == "auto"
    rows = info["training"]["data"]["splits"]["train"]
    assert info["resolved"]["l2"] == pytest.approx(1 / (2 * rows))
    assert re.search(r"l2\s+│ auto \(0\.00\d+\)", cli("inspect", "model.thalweg").out)


# ------------------------------------------------------------------------------ demo


def test_demo_learns_the_spiral_and_writes_the_report(cli):
    result = cli("demo", "--json")
    assert result.code == 0, result.err
    summary = result.json
    assert summary["model"] == "MLPClassifier"
    assert summary["metrics"]["test"]["accuracy"] >= 0.95
    report = Path(summary["written"]["report"])
    assert report == Path("thalweg-demo/report.html")
    assert report.read_text().lstrip().lower().startswith("<!doctype html")


# ------------------------------------------------------------------------- bad input


def bad_files(folder: Path) -> None:
    write_csv(folder / "stray.csv", ["a", "b", "y"], [[1, 2, 0], [2, 3, 1], [3, "x", 0], [4, 5, 1]])
    write_csv(folder / "allnan.csv", ["a", "b", "y"], [[i, "", i % 2] for i in range(6)])
    write_csv(folder / "oneclass.csv", ["a", "y"], [[i, "yes"] for i in range(6)])
    write_csv(folder / "ok.csv", ["a", "y"], [[i, i % 2] for i in range(12)])
    (folder / "empty.csv").write_text("")
    (folder / "header.csv").write_text("a,y\n")
    (folder / "binary.csv").write_bytes(b"\x00\x01\x02garbage")
    (folder / "data.xlsx").write_text("x")
    (folder / "fake.thalweg").write_text("not a model")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["train", "nope.csv", "--target", "y"], ["nope.csv", "no such file"]),
        (["train", "empty.csv", "--target", "y"], ["empty.csv", "empty"]),
        (["train", "header.csv", "--target", "y"], ["no data rows"]),
        (["train", "binary.csv", "--target", "y"], ["not UTF-8 text"]),
        (["train", "data.xlsx", "--target", "y"], ["'.xlsx'", "CSV"]),
        (["train", "stray.csv", "--target", "label"], ["'label' is not in the data", "a, b, y"]),
        (["train", "stray.csv", "--target", "y"], ["column 'b'", "row 3", "'x'"]),
        (["train", "allnan.csv", "--target", "y"], ["'b' is empty", "--ignore b"]),
        (["train", "oneclass.csv", "--target", "y"], ["single value", "'yes'"]),
        (["predict", "fake.thalweg", "stray.csv"], ["not a thalweg file"]),
        (["inspect", "stray.csv"], ["not a thalweg file"]),
        (["evaluate", "missing.thalweg", "stray.csv"], ["no such file"]),
        (["train", "stray.csv", "--target", "y", "--model", "forest"], ["'--model'", "forest"]),
        (["train", "stray.csv", "--target", "y", "--hidden", "8,x"], ["'--hidden'"]),
        (["train", "stray.csv", "--target", "y", "--split", "0.5,0.6"], ["'--split'", "add up"]),
        (["train", "stray.csv", "--target", "y", "--epochs", "0"], ["'--epochs'"]),
        (["train", "stray.csv", "--target", "y", "--l2", "-1"], ["'--l2'"]),
        (["train", "stray.csv", "--target", "y", "--batch-size", "none"], ["'--batch-size'"]),
        (["train", "stray.csv"], ["'--target'"]),
        (["train", "ok.csv", "--target", "y", "--resume"], ["no checkpoint"]),
        (["train", "ok.csv", "--target", "y", "--out", "."], ["is a folder"]),
        (
            ["train", "ok.csv", "--target", "y", "--out", "ok.csv"],
            ["is the data file this command reads"],
        ),
        (["train", "ok.csv", "--target", "y", "--model", "logistic", "--hidden", "4"], ["mlp"]),
        (["train", "stray.csv", "--target", "y", "--nope"], ["No such option"]),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(cli, tmp_path, args, words):
    bad_files(tmp_path)
    assert_one_line_error(cli(*args), *words)


def test_bad_input_through_python_m_thalweg_has_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "thalweg", "train", "missing.csv", "--target", "y"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert (
        result.stderr.strip()
        == "error: missing.csv: no such file; check the path (and the current folder)"
    )


def test_a_bug_exits_1_with_its_traceback(cli, wine, monkeypatch):
    from thalweg.models.tabular import TabularModel

    def broken(*args, **kwargs):
        raise RuntimeError("deliberate bug")

    monkeypatch.setattr(TabularModel, "evaluate", broken)
    result = cli("train", wine, "--target", "target")
    assert result.code == 1
    assert "Traceback" in result.err and "deliberate bug" in result.err


# ------------------------------------------------------------------------ atomicity


def test_a_failing_run_leaves_an_existing_model_untouched(cli, wine, tmp_path):
    cli("train", wine, "--target", "target", "--quiet")
    good = Path("model.thalweg").read_bytes()
    bad_files(tmp_path)
    assert cli("train", "stray.csv", "--target", "y").code == 2
    assert cli("train", "oneclass.csv", "--target", "y").code == 2
    assert Path("model.thalweg").read_bytes() == good
    assert cli("evaluate", "model.thalweg", wine).code == 0


def test_a_crash_while_writing_keeps_the_old_file_and_leaves_no_temporary(cli, wine, monkeypatch):
    cli("train", wine, "--target", "target", "--quiet")
    good = Path("model.thalweg").read_bytes()

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    result = cli("train", wine, "--target", "target", "--model", "mlp", "--epochs", "2")
    assert result.code != 0
    assert Path("model.thalweg").read_bytes() == good
    assert no_temporary_files(Path("."))


# ---------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def thalweg(*args):
        return [sys.executable, "-m", "thalweg", *args]

    subprocess.run(
        thalweg("datasets", "export", "spiral", "s.csv", "--n", "3000"),
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    command = ["train", "s.csv", "--target", "target", "--hidden", "16", "--batch-size", "1"]
    process = subprocess.Popen(
        thalweg(*command, "--epochs", "500"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    first = process.stdout.readline()  # printed just before training starts
    assert first.startswith("task:"), first + process.stderr.read()
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    checkpoint = tmp_path / "model.thalweg.checkpoint"
    assert checkpoint.exists() and not (tmp_path / "model.thalweg").exists()
    match = re.search(
        r"interrupted at epoch (\d+), step \d+; checkpoint saved to (\S+); resume with: (.*)", err
    )
    assert match, err
    assert match.group(2) == "model.thalweg.checkpoint"
    resume = shlex.split(match.group(3))
    assert resume[-1] == "--resume" and resume[1:-1] == [*command, "--epochs", "500"]

    # Resume, finishing the interrupted epoch only (--epochs may change on resume).
    epoch = match.group(1)
    finished = subprocess.run(
        thalweg(*command, "--epochs", epoch, "--resume", "--json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout)["epochs_run"] == int(epoch)
    assert (tmp_path / "model.thalweg").exists() and not checkpoint.exists()


def test_resuming_with_other_options_is_refused(cli, wine, tmp_path):
    from thalweg.files import write_container
    from thalweg.models.auto import TrainOptions
    from thalweg.models.table_training import data_fingerprint

    state = {"fingerprint": data_fingerprint("other data", TrainOptions(target="target"))}
    write_container(
        tmp_path / "model.thalweg.checkpoint",
        {},
        {"kind": "checkpoint", "callbacks": [{"class": "Checkpoint", "state": state}]},
    )
    assert_one_line_error(
        cli("train", wine, "--target", "target", "--resume"), "other data or options"
    )


# -------------------------------------------------------------------------- the docs


def console_commands(page: Path) -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", page.read_text(), flags=re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_readme_walk_through_on_wine_runs_without_warnings(cli):
    """The README's console blocks on the bundled wine table, as a fresh user types them
    (``.venv/bin/thalweg ...``), in order, in one folder: each succeeds and warns of nothing."""
    blocks = re.findall(r"```console\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    commands = [
        line[2:].split("#")[0]
        for block in blocks
        if "wine.csv" in block
        for line in block.splitlines()
        if line.startswith("$ ")
    ]
    assert len(commands) >= 6
    for command in commands:
        args = shlex.split(command)
        assert args[0] == ".venv/bin/thalweg", command
        result = cli(*args[1:])
        assert result.code == 0, f"{command}\n{result.err}"
        assert "warning" not in result.err.lower(), f"{command}\n{result.err}"


def test_every_command_in_docs_cli_md_runs(cli):
    commands = console_commands(ROOT / "docs" / "cli.md")
    assert len(commands) >= 8
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "thalweg", command
        if args[1] == "demo":
            continue  # run (and its accuracy checked) by test_demo_learns_the_spiral...
        result = cli(*args[1:])
        assert result.code == 0, f"{command}\n{result.err}"
