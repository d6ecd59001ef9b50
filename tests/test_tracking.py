"""Run tracking: the SQLite store, start_run, the Tracking callback, and `thalweg runs`."""

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_one_line_error

from thalweg import losses, nn, optim
from thalweg.files import read_metadata
from thalweg.tracking import (
    MIGRATIONS,
    RunNotFoundError,
    RunStore,
    RunStoreError,
    active_run,
    compare_runs,
    fingerprint,
    start_run,
)
from thalweg.tracking import store as store_module
from thalweg.train import Tracking, fit


def sha256_of(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ----------------------------------------------------------------------------- Python


def test_start_run_records_params_metrics_history_and_finishes(tmp_path):
    path = tmp_path / "runs.sqlite"
    with start_run("try", params={"lr": 0.1, "hidden": (8, 2)}, store=path) as run:
        assert active_run() is run
        run.log_params(epochs=3)
        for epoch in (1, 2, 3):
            run.log_metric("loss", 1.0 / epoch, step=epoch)
        run.log_metric("accuracy", 0.5)
        run.log_metric("accuracy", 0.75)  # a final value logged again replaces it
    assert active_run() is None
    with RunStore(path) as store:
        record = store.get_run(run.id)
    assert record["status"] == "finished" and record["duration"] >= 0
    assert record["params"] == {"lr": 0.1, "hidden": [8, 2], "epochs": 3}
    assert record["metrics"] == {"accuracy": 0.75}
    assert record["history"]["loss"] == [[1, 1.0], [2, 0.5], [3, 1.0 / 3]]


def test_an_exception_marks_the_run_failed_and_ctrl_c_interrupted(tmp_path):
    path = tmp_path / "runs.sqlite"
    with pytest.raises(ValueError), start_run(store=path) as failed:
        raise ValueError("bad learning rate")
    with pytest.raises(KeyboardInterrupt), start_run(store=path) as stopped:
        raise KeyboardInterrupt
    with RunStore(path) as store:
        assert store.get_run(failed.id)["status"] == "failed"
        assert "bad learning rate" in store.get_run(failed.id)["error"]
        assert store.get_run(stopped.id)["status"] == "interrupted"


def test_fit_inside_a_run_logs_each_epoch_without_being_asked(tmp_path):
    X = np.linspace(-1, 1, 32, dtype=np.float32).reshape(-1, 1)
    model = nn.Linear(1, 1, rng=0)
    with start_run(store=tmp_path / "r.sqlite") as run:
        history = fit(
            model, losses.mse, optim.SGD(model.parameters(), lr=0.2), X, 2 * X, epochs=4, verbose=0
        )
    explicit = nn.Linear(1, 1, rng=0)
    with start_run(store=tmp_path / "r.sqlite") as other:
        fit(
            explicit,
            losses.mse,
            optim.SGD(explicit.parameters(), lr=0.2),
            X,
            2 * X,
            epochs=2,
            verbose=0,
            callbacks=[Tracking(other, prefix="a/")],
        )
    with RunStore(tmp_path / "r.sqlite") as store:
        logged = store.get_run(run.id)
        assert [v for _, v in logged["history"]["loss"]] == pytest.approx(history["loss"])
        assert logged["params"]["fit.optimizer"] == "SGD"
        assert "seconds" not in logged["history"]  # timings are not learning curves
        assert list(store.get_run(other.id)["history"]) == ["a/loss", "a/lr"]


def test_fingerprint_hashes_files_and_folders_and_reads_schemas(tmp_path):
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("a,b\n1,x\n")
    info = fingerprint(csv_file)
    assert info["sha256"] == sha256_of(csv_file)
    assert info["columns"] == [{"name": "a"}, {"name": "b"}]
    np.savez(tmp_path / "arrays.npz", X=np.zeros((3, 2), np.float32), y=np.arange(3))
    arrays = fingerprint(tmp_path / "arrays.npz")["columns"]
    assert arrays[0] == {"name": "X", "type": "float32", "shape": [3, 2]}
    (tmp_path / "images" / "cat").mkdir(parents=True)
    (tmp_path / "images" / "cat" / "1.png").write_bytes(b"123")
    before = fingerprint(tmp_path / "images")
    assert before["files"] == 1 and before["subfolders"] == ["cat"]
    (tmp_path / "images" / "cat" / "1.png").write_bytes(b"124")
    assert fingerprint(tmp_path / "images")["sha256"] != before["sha256"]


def test_compare_runs_lines_up_params_and_picks_the_best_metric():
    runs = [
        {"id": 1, "params": {"lr": 0.1}, "metrics": {"loss": 0.3, "acc": 0.9}, "history": {}},
        {"id": 2, "params": {"lr": 0.1, "l2": 1}, "metrics": {"loss": 0.2, "acc": 0.8}},
    ]
    table = compare_runs(runs)
    assert [(p["name"], p["values"], p["differs"]) for p in table["params"]] == [
        ("l2", [None, 1], True),
        ("lr", [0.1, 0.1], False),
    ]
    best = {m["name"]: m["best"] for m in table["metrics"]}
    assert best == {"loss": 1, "acc": 0}


# ---------------------------------------------------------------------- reliability

WRITER = textwrap.dedent(
    """
    import sys
    from thalweg.tracking import start_run
    path, label, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for _ in range(2):
        with start_run(label, store=path) as run:
            for step in range(count):
                run.log_metric("loss", step / count, step=step)
                run.log_params({f"p{step % 7}": step})
    """
)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "runs.sqlite"
    count = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), label, str(count)])
        for label in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with RunStore(path) as store:
        runs = store.list_runs()
        assert sorted(r["name"] for r in runs) == ["a", "a", "b", "b"]
        for run in runs:
            record = store.get_run(run["id"])
            assert record["status"] == "finished"
            assert [s for s, _ in record["history"]["loss"]] == list(range(count))
        assert store.integrity() == "ok"


SLEEPER = textwrap.dedent(
    """
    import sys, time
    from thalweg.tracking import start_run
    with start_run("doomed", store=sys.argv[1]) as run:
        for step in range(1000000):
            run.log_metric("loss", 1.0, step=step)
            if step == 5:
                print("ready", flush=True)
            time.sleep(0.001)
    """
)


def test_a_killed_run_is_marked_interrupted_and_the_store_stays_sound(tmp_path):
    path = tmp_path / "runs.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", SLEEPER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    os.kill(process.pid, signal.SIGKILL)  # no handler, no cleanup: the hard case
    process.wait(timeout=30)
    process.stdout.close()
    with RunStore(path) as store:
        (run,) = store.list_runs()
        assert run["status"] == "interrupted"
        assert len(store.get_run(run["id"])["history"]["loss"]) >= 6
        assert store.integrity() == "ok"


def test_a_running_run_of_a_live_process_is_left_running(tmp_path):
    path = tmp_path / "runs.sqlite"
    with start_run(store=path) as run, RunStore(path) as other:
        assert other.get_run(run.id)["status"] == "running"


def test_schema_migrations_upgrade_an_old_store_and_keep_its_runs(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    with start_run("old", store=path) as run:
        run.log_metric("loss", 0.5)

    def add_tags(connection):
        connection.execute("CREATE TABLE tags (run_id INTEGER, tag TEXT)")

    monkeypatch.setattr(store_module, "MIGRATIONS", [*MIGRATIONS, add_tags])
    with RunStore(path) as store:
        assert store.connection.execute("PRAGMA user_version").fetchone()[0] == 2
        assert store.connection.execute("SELECT count(*) FROM tags").fetchone()[0] == 0
        assert store.get_run(run.id)["metrics"] == {"loss": 0.5}


def test_a_store_from_a_newer_thalweg_or_another_program_is_refused(tmp_path):
    newer = tmp_path / "newer.sqlite"
    RunStore(newer).close()
    with sqlite3.connect(newer) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(RunStoreError, match="newer thalweg"):
        RunStore(newer)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(RunStoreError, match="not a thalweg run store"):
        RunStore(foreign)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(RunStoreError, match="not a thalweg run store"):
        RunStore(garbage)
    with RunStore(tmp_path / "fine.sqlite") as store, pytest.raises(RunNotFoundError):
        store.get_run(7)


# --------------------------------------------------------------------- command line


def test_train_and_evaluate_record_runs_that_runs_lists_shows_and_compares(cli, tmp_path):
    assert cli("datasets", "export", "wine", "wine.csv").code == 0
    assert cli("train", "wine.csv", "--target", "target", "--epochs", "5", "-q").code == 0
    model_hash = sha256_of(tmp_path / "model.thalweg")
    train = ["train", "wine.csv", "--target", "target", "--epochs", "7", "--l2", "0.1"]
    assert cli(*train, "-o", "second.thalweg", "-q").code == 0
    assert cli("evaluate", "model.thalweg", "wine.csv", "-q").code == 0

    listed = cli("runs", "list", "--json").json["runs"]
    assert [(r["id"], r["kind"], r["status"]) for r in listed] == [
        (3, "evaluate", "finished"),
        (2, "train", "finished"),
        (1, "train", "finished"),
    ]
    first = cli("runs", "show", "1", "--json").json
    assert first["command"].startswith("thalweg train wine.csv --target target")
    assert first["params"]["epochs"] == 5 and first["params"]["target"] == "target"
    (data,) = first["data"]
    assert data["sha256"] == sha256_of(tmp_path / "wine.csv")
    assert data["columns"][0] == {"name": "alcohol"} and data["size"] > 0
    assert [(a["name"], a["sha256"]) for a in first["artefacts"]] == [("out", model_hash)]
    assert len(first["history"]["loss"]) == 5 and len(first["history"]["val_loss"]) == 5
    assert 0 <= first["metrics"]["test_accuracy"] <= 1
    assert first["thalweg_version"] and first["duration"] > 0
    evaluated = cli("runs", "show", "3", "--json").json
    assert {d["role"] for d in evaluated["data"]} == {"model_file", "data"}
    assert "accuracy" in evaluated["metrics"] and not evaluated["artefacts"]

    compared = cli("runs", "compare", "1", "2", "--report", "compare.html", "--json").json
    differing = {p["name"] for p in compared["params"] if p["differs"]}
    assert {"epochs", "l2", "out"} <= differing and "target" not in differing
    assert [row["differs"] for row in compared["data"]] == [False]
    page = (tmp_path / "compare.html").read_text()
    assert page.count("<polyline") >= 4  # loss and val_loss, two runs each
    assert "Content-Security-Policy" in page and "<script" not in page

    human = cli("runs", "compare", "1", "2")
    assert human.code == 0 and "epochs" in human.out
    assert cli("runs", "delete", "3").code == 0
    assert [r["id"] for r in cli("runs", "list", "--json").json["runs"]] == [2, 1]


def test_cluster_and_embed_record_runs_like_train(cli, tmp_path):
    assert cli("datasets", "export", "wine", "wine.csv").code == 0
    cluster = ["cluster", "wine.csv", "--ignore", "target", "--k", "2..3", "--report", "r.html"]
    assert cli(*cluster, "-q").code == 0
    embed = ["embed", "wine.csv", "--ignore", "target", "--epochs", "15", "--hidden", "8"]
    written = []  # the second run overwrites the first's files
    for _ in range(2):
        assert cli(*embed, "--save", "coder.thalweg", "-o", "codes.csv", "-q").code == 0
        names = ("coder.thalweg", "codes.csv")
        written.append(
            {
                "hashes": [sha256_of(tmp_path / name) for name in names],
                "errors": read_csv_column(tmp_path / "codes.csv", "reconstruction_error"),
                "loss": read_metadata(tmp_path / "coder.thalweg")["embedding"]["loss"],
            }
        )
    listed = cli("runs", "list", "--json").json["runs"]
    assert [(r["id"], r["kind"], r["status"]) for r in listed] == [
        (3, "embed", "finished"),
        (2, "embed", "finished"),
        (1, "cluster", "finished"),
    ]
    clustered = cli("runs", "show", "1", "--json").json
    assert clustered["command"].startswith("thalweg cluster wine.csv --ignore target")
    assert clustered["params"]["k"] == [2, 3] and clustered["params"]["ignore"] == ["target"]
    (data,) = clustered["data"]
    assert data["role"] == "data" and data["sha256"] == sha256_of(tmp_path / "wine.csv")
    artefacts = {a["name"]: a["sha256"] for a in clustered["artefacts"]}
    assert artefacts == {
        "out": sha256_of(tmp_path / "clusters.thalweg"),
        "report": sha256_of(tmp_path / "r.html"),
    }
    model = read_metadata(tmp_path / "clusters.thalweg")["clustering"]
    metrics = clustered["metrics"]
    assert metrics["k"] == model["k"] in (2, 3) and metrics["rows"] == 178
    assert metrics["inertia"] == model["inertia"] > 0
    assert metrics["silhouette"] == model["silhouette"]
    for run_id, files in zip((2, 3), written, strict=True):
        embedded = cli("runs", "show", str(run_id), "--json").json
        assert embedded["params"]["epochs"] == 15 and embedded["params"]["code_size"] == 2
        # the second run overwrote coder.thalweg and codes.csv: written, not read
        assert [d["role"] for d in embedded["data"]] == ["data"]
        artefacts = {a["name"]: a["sha256"] for a in embedded["artefacts"]}
        assert artefacts == dict(zip(("save", "output_path"), files["hashes"], strict=True))
        assert len(embedded["history"]["loss"]) == embedded["metrics"]["epochs_run"] <= 15
        error = embedded["metrics"]["reconstruction_error"]
        assert error == pytest.approx(np.mean(files["errors"]), rel=1e-6)
        assert embedded["metrics"]["loss"] == files["loss"]


def read_csv_column(path, name: str) -> list[float]:
    import csv

    with open(path, newline="") as handle:
        return [float(row[name]) for row in csv.DictReader(handle)]


def test_a_failed_or_interrupted_command_is_recorded_as_such(cli, tmp_path, monkeypatch):
    cli("datasets", "export", "wine", "wine.csv")
    assert cli("train", "wine.csv", "--target", "nope").code == 2
    failed = cli("runs", "show", "1", "--json").json
    assert failed["status"] == "failed" and "nope" in failed["error"]

    from thalweg.models import table_training
    from thalweg.train import TrainingInterrupted

    def interrupted(*args, **kwargs):
        raise TrainingInterrupted("training interrupted at epoch 2, step 1")

    monkeypatch.setattr(table_training, "train_table", interrupted)
    assert cli("train", "wine.csv", "--target", "target").code == 130
    assert cli("runs", "show", "2", "--json").json["status"] == "interrupted"


def test_runs_option_environment_and_off_choose_the_store(cli, tmp_path, monkeypatch):
    cli("datasets", "export", "wine", "wine.csv")
    train = ["train", "wine.csv", "--target", "target", "--epochs", "2", "-q"]
    assert cli(*train, "--runs", "elsewhere/mine.sqlite").code == 0
    assert (tmp_path / "elsewhere" / "mine.sqlite").exists()
    monkeypatch.setenv("THALWEG_RUNS", "off")
    assert cli(*train).code == 0
    assert not (tmp_path / "thalweg-runs.sqlite").exists()
    monkeypatch.setenv("THALWEG_RUNS", str(tmp_path / "env.sqlite"))
    assert cli(*train).code == 0
    assert len(cli("runs", "list", "--json").json["runs"]) == 1
    shown = cli("runs", "list", "--runs", "elsewhere/mine.sqlite", "--json").json
    assert len(shown["runs"]) == 1


def test_runs_commands_answer_mistakes_in_one_line(cli, tmp_path):
    assert_one_line_error(cli("runs", "show", "1"), "no run store")
    assert cli("runs", "list").code == 0  # nothing recorded yet is not a mistake
    with start_run(store=tmp_path / "thalweg-runs.sqlite"):
        pass
    assert_one_line_error(cli("runs", "show", "9"), "no run 9")
    assert_one_line_error(cli("runs", "compare", "1"), "at least two")
    assert_one_line_error(cli("runs", "delete", "1", "5"), "no run 5")
    assert len(cli("runs", "list", "--json").json["runs"]) == 1  # nothing was deleted
    with sqlite3.connect(tmp_path / "thalweg-runs.sqlite") as connection:
        connection.execute("PRAGMA user_version = 42")
    assert_one_line_error(cli("runs", "list"), "newer thalweg")
    cli("datasets", "export", "wine", "wine.csv")
    result = cli("train", "wine.csv", "--target", "target")
    assert_one_line_error(result, "newer thalweg")
    assert not (tmp_path / "model.thalweg").exists()  # refused before training


def test_store_is_opened_in_wal_mode(tmp_path):
    with RunStore(tmp_path / "w.sqlite") as store:
        mode = store.connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_file_replaced_with_the_same_size_and_time_is_hashed_again(tmp_path):
    from thalweg.tracking import file_sha256

    path = tmp_path / "model.thalweg"
    path.write_bytes(b"first")
    first = file_sha256(path)
    stat = path.stat()
    replacement = tmp_path / "model.tmp"
    replacement.write_bytes(b"other")  # same size; the same mtime, as within one clock tick
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)  # how thalweg writes every file (atomically)
    assert file_sha256(path) == sha256_of(path) != first


def test_runs_record_the_data_as_read_and_not_an_old_output(cli, tmp_path, monkeypatch):
    cli("datasets", "export", "wine", "wine.csv")
    original = sha256_of(tmp_path / "wine.csv")
    assert cli("train", "wine.csv", "--target", "target", "--epochs", "2", "-q").code == 0
    # A failed run leaves the model file of the first one as it was: not data it read.
    assert cli("train", "wine.csv", "--target", "nope", "--report", "r.html").code == 2
    failed = cli("runs", "show", "2", "--json").json
    assert [d["role"] for d in failed["data"]] == ["data"] and not failed["artefacts"]

    # The data changes while the command runs: the run keeps the hash of what it read.
    from thalweg.models import table_training

    original_train = table_training.train_table

    def train_then_append(*args, **kwargs):
        result = original_train(*args, **kwargs)
        with open(tmp_path / "wine.csv", "a") as handle:
            handle.write("\n")
        return result

    monkeypatch.setattr(table_training, "train_table", train_then_append)
    assert cli("train", "wine.csv", "--target", "target", "--epochs", "2", "-q").code == 0
    (data,) = cli("runs", "show", "3", "--json").json["data"]
    assert data["sha256"] == original and data["changed_during_run"] is True


def test_a_store_locked_too_long_is_one_clear_error_and_training_goes_on(tmp_path, monkeypatch):
    from thalweg.tracking.run import Run

    path = tmp_path / "runs.sqlite"
    monkeypatch.setattr(store_module, "WAIT_FOR_LOCK_SECONDS", 0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    with RunStore(path) as store:
        run = Run(store, store.create_run("training"))
        blocker.execute("BEGIN EXCLUSIVE")  # another process writing, for a long time
        try:
            with pytest.raises(RunStoreError, match="locked by another process"):
                store.create_run("late")
            # a training whose epochs cannot be recorded warns and goes on
            X = np.linspace(-1, 1, 20, dtype=np.float32).reshape(-1, 1)
            model = nn.Linear(1, 1, rng=0)
            with pytest.warns(UserWarning, match="could not record"):
                fit(model, losses.mse, optim.SGD(model.parameters(), lr=0.1), X, 2 * X,
                    epochs=2, verbose=0, callbacks=[Tracking(run)])  # fmt: skip
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
