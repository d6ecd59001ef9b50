"""The command line under hostile and damaged input (issue 10): every case gives exit 0
with correct output, or exit 2 with one line, and no file other than the command's
named outputs changes. Plus signals (SIGTERM, SIGHUP, Ctrl-C outside training),
closed pipes, checkpoints owned by their run, and outputs committed together."""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

from thalweg.cli import main

# ----------------------------------------------------------------------------- data


def write_data(path: Path, n: int = 60, seed: int = 0, target=None) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["x1,x2,color,y"]
    for i in range(n):
        x1, x2 = rng.normal(), rng.normal()
        color = rng.choice(["red", "green", "blue"])
        label = target(i) if target else ("yes" if x1 + (color == "red") > 0.2 else "no")
        lines.append(f"{x1:.4f},{x2:.4f},{color},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder with data.csv and model.thalweg trained on it by the command line."""
    folder = tmp_path_factory.mktemp("trained")
    write_data(folder / "data.csv")
    here = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["train", "data.csv", "-t", "y", "-q"]) == 0
    finally:
        os.chdir(here)
    return folder


@pytest.fixture
def work(trained, tmp_path, monkeypatch):
    """A fresh copy of the trained folder, plus links, a FIFO and a folder."""
    for name in ("data.csv", "model.thalweg"):
        shutil.copy(trained / name, tmp_path / name)
    os.symlink("model.thalweg", tmp_path / "link-to-model")
    os.link(tmp_path / "data.csv", tmp_path / "hardlink.csv")
    os.symlink("/dev/zero", tmp_path / "zero.csv")
    os.mkfifo(tmp_path / "pipe.csv")
    os.mkfifo(tmp_path / "fifo.thalweg")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THALWEG_RUNS", "off")  # the run store is tested on its own below
    return tmp_path


def snapshot(folder: Path) -> dict:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            files[path.name] = ("link", os.readlink(path))
        elif path.is_file():
            files[str(path.relative_to(folder))] = path.read_bytes()
        else:
            files[str(path.relative_to(folder))] = ("other",)
    return files


def run(capsys, *args):
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------ the table of cases

# (arguments, words the one-line error must hold; None: the command must succeed)
CASES = {
    "predict over its model": (
        ["predict", "model.thalweg", "data.csv", "-o", "model.thalweg"],
        ["is the model file this command reads"],
    ),
    "evaluate's report over its model": (
        ["evaluate", "model.thalweg", "data.csv", "--report", "model.thalweg"],
        ["is the model file this command reads"],
    ),
    "predict over its data": (
        ["predict", "model.thalweg", "data.csv", "-o", "data.csv"],
        ["is the data file this command reads"],
    ),
    "predict over a link to its model": (
        ["predict", "model.thalweg", "data.csv", "-o", "link-to-model"],
        ["is the model file this command reads"],
    ),
    "predict over a hard link to its data": (
        ["predict", "model.thalweg", "data.csv", "-o", "hardlink.csv"],
        ["is the data file this command reads"],
    ),
    "predict over its model, spelled differently": (
        ["predict", "model.thalweg", "data.csv", "-o", "sub/../model.thalweg"],
        ["is the model file this command reads"],
    ),
    "train over its data": (["train", "data.csv", "-t", "y", "-o", "data.csv"], ["data file"]),
    "train's report over its data": (
        ["train", "data.csv", "-t", "y", "--report", "data.csv"],
        ["data file"],
    ),
    "model and report with one name": (
        ["train", "data.csv", "-t", "y", "-o", "m.thalweg", "--report", "m.thalweg"],
        ["--out and --report are both"],
    ),
    "train into a FIFO": (["train", "data.csv", "-t", "y", "-o", "fifo.thalweg"], ["FIFO"]),
    "predict into a device": (
        ["predict", "model.thalweg", "data.csv", "-o", "/dev/null"],
        ["character device"],
    ),
    "an output below a file": (
        ["train", "data.csv", "-t", "y", "-o", "data.csv/m.thalweg"],
        ["is a file, not a folder"],
    ),
    "an output that is a folder": (["train", "data.csv", "-t", "y", "-o", "sub"], ["is a folder"]),
    "a folder as the model": (["inspect", "sub"], ["is a folder"]),
    "a FIFO as the model": (["inspect", "fifo.thalweg"], ["not a regular file", "FIFO"]),
    "a FIFO as the data": (["train", "pipe.csv", "-t", "y"], ["not a regular file", "FIFO"]),
    "/dev/zero as the data": (
        ["predict", "model.thalweg", "zero.csv"],
        ["not a regular file", "character device"],
    ),
    "the data as the model": (["inspect", "data.csv"], ["is not a thalweg file"]),
    "a negative seed": (["train", "data.csv", "-t", "y", "--seed", "-1"], ["--seed"]),
    "an unknown encoding": (
        ["predict", "model.thalweg", "data.csv", "--encoding", "klingon"],
        ["unknown text encoding"],
    ),
    "--categorical naming the target": (
        ["train", "data.csv", "-t", "y", "--categorical", "y"],
        ["--categorical y lists the target", "--task classification"],
    ),
    "export of 10^12 rows": (
        ["datasets", "export", "spiral", "big.csv", "--n", str(10**12)],
        ["needs", "--n"],
    ),
    "export over a folder": (["datasets", "export", "wine", "sub"], ["is a folder"]),
    "cluster over its data": (
        ["cluster", "data.csv", "--k", "2", "--ignore", "y", "-o", "data.csv"],
        ["is the data file this command reads"],
    ),
    "cluster's model and report with one name": (
        ["cluster", "data.csv", "--k", "2", "-o", "c.thalweg", "--report", "c.thalweg"],
        ["--out and --report are both"],
    ),
    "cluster with an unknown encoding": (
        ["cluster", "data.csv", "--k", "2", "--encoding", "klingon"],
        ["unknown text encoding"],
    ),
    "embed's codes over its data": (
        ["embed", "data.csv", "--ignore", "y", "-o", "hardlink.csv"],
        ["is the data file this command reads"],
    ),
    "embed's model into a FIFO": (
        ["embed", "data.csv", "--ignore", "y", "--save", "fifo.thalweg"],
        ["FIFO"],
    ),
    "embed's codes and model with one name": (
        ["embed", "data.csv", "-o", "e.out", "--save", "e.out"],
        ["--output and --save are both"],
    ),
    "predict": (["predict", "model.thalweg", "data.csv", "-o", "out.csv"], None),
    "inspect": (["inspect", "model.thalweg"], None),
    "cluster": (["cluster", "data.csv", "--k", "2", "--ignore", "y", "-q"], None),
}
OUTPUTS = {"predict": {"out.csv"}, "cluster": {"clusters.thalweg"}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_exit_0_or_one_line_and_changes_no_other_file(work, capsys, case):
    args, words = CASES[case]
    before = snapshot(work)
    code, out, err = run(capsys, *args)
    after = snapshot(work)
    if words is None:
        assert code == 0, err
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert changed <= OUTPUTS.get(case, set()), changed
        return
    assert_one_line_error(type("R", (), {"code": code, "out": out, "err": err}), *words)
    assert after == before


def test_the_run_store_is_never_an_output(work, capsys, monkeypatch):
    monkeypatch.delenv("THALWEG_RUNS")
    assert run(capsys, "evaluate", "model.thalweg", "data.csv")[0] == 0
    store = (work / "thalweg-runs.sqlite").read_bytes()
    code, _out, err = run(capsys, "train", "data.csv", "-t", "y", "-o", "thalweg-runs.sqlite")
    assert code == 2 and "is the run store this command reads" in err
    assert (work / "thalweg-runs.sqlite").read_bytes()[:16] == store[:16]


def test_a_fifo_or_a_device_as_data_is_refused_and_never_read_with_runs_recorded(work):
    env = {key: value for key, value in os.environ.items() if key != "THALWEG_RUNS"}
    for data in ("pipe.csv", "zero.csv"):  # reading either would block or never end
        finished = subprocess.run(
            [sys.executable, "-m", "thalweg", "train", data, "-t", "y"],
            cwd=work,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert finished.returncode == 2, finished.stderr
        assert "not a regular file" in finished.stderr


# ------------------------------------------------------------------ messages (section 4)


def test_a_target_of_numbers_with_one_text_label(work, capsys):
    write_data(work / "mixed.csv", target=lambda i: "oops" if i % 20 == 7 else str(i % 3))
    code, _out, err = run(capsys, "train", "mixed.csv", "-t", "y", "-q")
    assert code == 2 and "row 8 holds 'oops'" in err and "--task classification" in err
    assert "--categorical" not in err
    code, _out, err = run(capsys, "train", "mixed.csv", "-t", "y", "--task", "classification")
    assert code == 0, err
    code, _out, err = run(capsys, "evaluate", "model.thalweg", "mixed.csv", "--json")
    assert code == 0, err


def test_split_advice_is_not_the_split_already_given(work, capsys):
    write_data(work / "rare.csv", target=lambda i: "lonely" if i == 0 else ("a", "b")[i % 2])
    code, _out, err = run(capsys, "train", "rare.csv", "-t", "y", "--split", "0.8,0.2")
    assert code == 2 and "'lonely' (1 row)" in err
    assert "--split" not in err
    code, _out, err = run(capsys, "train", "rare.csv", "-t", "y")
    assert code == 2 and "--split 0.8,0.2" in err


def test_predict_never_suggests_an_option_it_does_not_have(work, capsys):
    lines = (work / "data.csv").read_text().splitlines()
    lines[3] = "abc," + lines[3].split(",", 1)[1]
    (work / "bad.csv").write_text("\n".join(lines) + "\n")
    code, _out, err = run(capsys, "predict", "model.thalweg", "bad.csv")
    assert code == 2 and "'x1' held numbers in training, but row 3 holds 'abc'" in err
    assert "--categorical" not in err


def test_a_huge_cell_in_predict_is_named_not_given_probability_one(work, capsys):
    lines = (work / "data.csv").read_text().splitlines()
    lines[2] = "1e308," + lines[2].split(",", 1)[1]
    (work / "huge.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "predict", "model.thalweg", "huge.csv")
    assert code == 2 and "column 'x1', row 2 holds 1e+308" in err
    assert out == ""


def test_evaluate_says_which_labels_it_never_saw(work, capsys):
    write_data(work / "new.csv", seed=5, target=lambda i: "maybe" if i < 4 else "yes")
    code, out, err = run(capsys, "evaluate", "model.thalweg", "new.csv", "--json")
    assert code == 0, err
    assert "warning: 4 row(s) have labels the model never saw in training ('maybe')" in err
    assert "roc_auc" not in out and "log_loss" not in out


def test_latin1_data_says_how_to_read_it_and_encoding_reads_it(work, capsys):
    text = (work / "data.csv").read_text().replace("red", "rød")
    (work / "latin.csv").write_bytes(text.encode("latin-1"))
    code, out, err = run(capsys, "predict", "model.thalweg", "latin.csv")
    assert code == 2 and "--encoding latin-1" in err
    code, out, err = run(capsys, "predict", "model.thalweg", "latin.csv", "--encoding", "latin-1")
    assert code == 0, err
    assert out.count("\n") == 61


def test_markup_and_escapes_in_a_model_are_shown_not_obeyed(work, capsys):
    names = ["[/]", "price[usd]", "\x1b]0;pwned\x07", "[link=file:///etc/passwd]x"]
    rows = ["{},{},{},{},y".format(*names)]
    rng = np.random.default_rng(0)
    for i in range(40):
        rows.append(f"{rng.normal():.3f},{rng.normal():.3f},[/bold],{i},{'ab'[i % 2]}")
    (work / "evil.csv").write_text("\n".join(rows) + "\n")
    code, out, err = run(capsys, "train", "evil.csv", "-t", "y", "-o", "evil.thalweg", "-q")
    assert code == 0, err
    code, out, err = run(capsys, "inspect", "evil.thalweg")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out
    assert "price[usd]" in out and "[/]" in out and "[/bold]" in out


# ------------------------------------------------------------------ memory options


def test_size_options_are_checked_against_memory_before_allocating(work, capsys, monkeypatch):
    monkeypatch.setenv("THALWEG_MEMORY_LIMIT", "1G")
    code, _out, err = run(capsys, "train", "data.csv", "-t", "y", "--hidden", "100000,100000")
    assert code == 2 and "hidden 100000,100000" in err and "limit" in err
    assert _out == ""  # refused before the plan is announced
    big = str(10**12)
    stream = ["train", "data.csv", "-t", "y", "--stream", "--ignore", "color"]
    code, _out, err = run(capsys, *stream, "--shuffle-buffer", big)
    assert code == 2 and "--shuffle-buffer" in err, err
    code, _out, err = run(capsys, *stream, "--batch-size", str(10**9))
    assert code == 2, err
    assert not Path("model.thalweg.checkpoint").exists()


# ------------------------------------------------------------------ written together


def test_a_report_that_fails_leaves_the_old_model(work, capsys, monkeypatch):
    import thalweg.report
    from thalweg.errors import DataError

    before = (work / "model.thalweg").read_bytes()

    def broken(*args, **kwargs):
        raise DataError("the report cannot be drawn")

    monkeypatch.setattr(thalweg.report, "table_model_report", broken)
    code, _out, err = run(capsys, "train", "data.csv", "-t", "y", "--report", "r.html", "-q")
    assert code == 2 and "cannot be drawn" in err
    assert (work / "model.thalweg").read_bytes() == before
    assert not (work / "r.html").exists()
    assert not [p for p in os.listdir(work) if p.endswith(".tmp")]


def test_a_cluster_report_that_fails_leaves_no_model(work, capsys, monkeypatch):
    import thalweg.report.clustering
    from thalweg.errors import DataError

    def broken(*args, **kwargs):
        raise DataError("the report cannot be drawn")

    monkeypatch.setattr(thalweg.report.clustering, "cluster_report", broken)
    args = ["cluster", "data.csv", "--k", "2", "--ignore", "y", "--report", "c.html", "-q"]
    code, _out, err = run(capsys, *args)
    assert code == 2 and "cannot be drawn" in err
    assert not (work / "clusters.thalweg").exists() and not (work / "c.html").exists()
    assert not [p for p in os.listdir(work) if p.endswith(".tmp")]


def test_cluster_and_embed_read_latin1_with_encoding(work, capsys):
    text = (work / "data.csv").read_text().replace("red", "rød")
    (work / "latin.csv").write_bytes(text.encode("latin-1"))
    code, _out, err = run(capsys, "cluster", "latin.csv", "--k", "2", "--ignore", "y", "-q")
    assert code == 2 and "--encoding latin-1" in err
    code, _out, err = run(
        capsys, "cluster", "latin.csv", "--k", "2", "--ignore", "y", "--encoding", "latin-1", "-q"
    )
    assert code == 0, err
    embed = ["embed", "latin.csv", "--ignore", "y", "--epochs", "2", "--encoding", "latin-1"]
    code, out, err = run(capsys, *embed)
    assert code == 0, err
    assert out.splitlines()[0] == "code_0,code_1,reconstruction_error"
    assert len(out.splitlines()) == 61


def test_model_and_report_are_both_written(work, capsys):
    code, _out, err = run(
        capsys, "train", "data.csv", "-t", "y", "-o", "m2.thalweg", "--report", "r.html", "--json"
    )
    assert code == 0, err
    assert (work / "m2.thalweg").exists() and (work / "r.html").exists()


# ------------------------------------------------------------------ checkpoints


def test_a_finished_run_keeps_another_runs_checkpoint_and_says_so(work, capsys):
    from thalweg.files import write_container

    other = work / "model.thalweg.checkpoint"
    write_container(other, {}, {"kind": "checkpoint", "run_id": "someone-else"})
    kept = other.read_bytes()
    code, out, err = run(capsys, "train", "data.csv", "-t", "y")
    assert code == 0, err
    assert other.read_bytes() == kept
    assert "kept the checkpoint model.thalweg.checkpoint" in out


# ------------------------------------------------------------------ interrupts


def test_ctrl_c_outside_training_is_an_interruption(work, capsys, monkeypatch):
    import thalweg.io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(thalweg.io, "read_table", interrupted)
    code, _out, err = run(capsys, "predict", "model.thalweg", "data.csv")
    assert code == 130
    assert err.startswith("interrupted;") and "Traceback" not in err


def test_a_swallowed_ctrl_c_still_ends_the_run_as_interrupted(work, capsys, monkeypatch):
    import thalweg.io

    real = thalweg.io.read_table

    def swallowing(*args, **kwargs):  # a library that catches the interrupt and goes on
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(thalweg.io, "read_table", swallowing)
    code, _out, err = run(capsys, "predict", "model.thalweg", "data.csv", "-o", "p.csv")
    assert code == 130, err
    assert "interrupted" in err


def thalweg_process(folder, *args, **kwargs):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "thalweg", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_save_a_checkpoint_like_ctrl_c(work, name, code):
    write_data(work / "long.csv", n=2000)
    model = (work / "model.thalweg").read_bytes()
    command = ["train", "long.csv", "-t", "y", "--hidden", "8", "--batch-size", "1"]
    process = thalweg_process(work, *command, "--epochs", "500")
    first = process.stdout.readline()
    assert first.startswith("task:"), first + process.stderr.read()
    time.sleep(0.5)
    process.send_signal(getattr(signal, name))
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "checkpoint saved to model.thalweg.checkpoint" in err
    assert "Traceback" not in err
    assert (work / "model.thalweg").read_bytes() == model  # the old model is untouched
    assert (work / "model.thalweg.checkpoint").exists()


def test_predict_into_a_closed_pipe_exits_0(work):
    write_data(work / "many.csv", n=20000)
    process = thalweg_process(work, "predict", "model.thalweg", "many.csv")
    assert process.stdout.readline().startswith("prediction")
    process.stdout.close()  # like `| head -1`
    err = process.stderr.read()
    assert process.wait(timeout=60) == 0, err
    assert err == ""


# ------------------------------------------------------------------ folders of images


def write_images(folder: Path, n: int = 24, seed: int = 0) -> Path:
    """A folder of class sub-folders (circle, square, triangle) of 8×8 PNG files."""
    from thalweg.data import write_image_folder
    from thalweg.datasets import shapes

    X, y, names = shapes(n=n, size=8, seed=seed)
    write_image_folder(folder, X, y, names)
    return folder


IMAGE_TRAIN = ["--layers", "conv2,pool,dense4", "--epochs", "1", "--augment", "none"]


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """A folder with photos/ (class sub-folders) and model.thalweg, a CNN trained on it."""
    folder = tmp_path_factory.mktemp("image_model")
    write_images(folder / "photos")
    here = os.getcwd()
    os.chdir(folder)
    try:
        assert main(["train", "photos", *IMAGE_TRAIN, "-q"]) == 0
    finally:
        os.chdir(here)
    return folder


@pytest.fixture
def images(image_model, tmp_path, monkeypatch):
    """A fresh copy of the image folder and its model."""
    shutil.copytree(image_model / "photos", tmp_path / "photos")
    shutil.copy(image_model / "model.thalweg", tmp_path / "model.thalweg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THALWEG_RUNS", "off")
    return tmp_path


IMAGE_CASES = {
    "train's model inside the image folder": (
        ["train", "photos", "-o", "photos/m.thalweg"],
        ["--out photos/m.thalweg is inside the image folder"],
    ),
    "train's report inside a class folder": (
        ["train", "photos", "--report", "photos/circle/r.html"],
        ["--report", "is inside the image folder"],
    ),
    "train's cache inside the image folder": (
        ["train", "photos", "--cache", "photos/cache"],
        ["--cache photos/cache is inside the image folder"],
    ),
    "train's cache is the image folder": (
        ["train", "photos", "--cache", "photos"],
        ["--cache photos is the image folder"],
    ),
    "train's cache is a file": (["train", "photos", "--cache", "model.thalweg"], ["not a folder"]),
    "train's model over its checkpoint's folder": (
        ["train", "photos", "-o", "photos"],
        ["is a folder"],
    ),
    "train images with a table option": (
        ["train", "photos", "--encoding", "latin-1"],
        ["--encoding apply to tables only"],
    ),
    "predict into the image folder": (
        ["predict", "model.thalweg", "photos", "-o", "photos/p.csv"],
        ["--output photos/p.csv is inside the image folder"],
    ),
    "predict over the image it reads": (
        ["predict", "model.thalweg", "photos/circle/00001.png", "-o", "photos/circle/00001.png"],
        ["is the data file this command reads"],
    ),
    "predict an image with a threshold": (
        ["predict", "model.thalweg", "photos", "--threshold", "0.3"],
        ["--threshold is for table models"],
    ),
    "evaluate's report inside the image folder": (
        ["evaluate", "model.thalweg", "photos", "--report", "photos/r.html"],
        ["inside the image folder"],
    ),
    "evaluate's report over its model": (
        ["evaluate", "model.thalweg", "photos", "--report", "model.thalweg"],
        ["is the model file this command reads"],
    ),
    "evaluate a folder that is not there": (
        ["evaluate", "model.thalweg", "nowhere"],
        ["nowhere"],
    ),
    "export over its model": (
        ["export", "model.thalweg", "model.thalweg"],
        ["is the model file this command reads"],
    ),
    "export into a folder": (["export", "model.thalweg", "photos"], ["is a folder"]),
    "export of a folder as the model": (["export", "photos", "m.onnx"], ["is a folder"]),
    "profile of an image folder as the model": (["profile-model", "photos"], ["is a folder"]),
    "datasets export into a folder of images": (
        ["datasets", "export", "shapes", "photos", "--n", "6"],
        ["photos exists and is not an empty folder"],
    ),
    "datasets export into a file": (
        ["datasets", "export", "shapes", "model.thalweg", "--n", "6"],
        ["is a regular file, not a folder"],
    ),
    "predict images": (["predict", "model.thalweg", "photos", "-o", "p.csv"], None),
    "evaluate images": (["evaluate", "model.thalweg", "photos", "--json"], None),
    "export": (["export", "model.thalweg", "m.onnx"], None),
    "datasets export": (["datasets", "export", "shapes", "new", "--n", "6"], None),
}
# what each successful case writes (a folder: everything inside it too)
IMAGE_OUTPUTS = {"predict images": {"p.csv"}, "export": {"m.onnx"}, "datasets export": {"new"}}


@pytest.mark.parametrize("case", sorted(IMAGE_CASES))
def test_each_image_case_is_exit_0_or_one_line_and_changes_no_other_file(images, capsys, case):
    args, words = IMAGE_CASES[case]
    if case == "export" and importlib.util.find_spec("onnx") is None:
        pytest.skip("onnx is an optional dependency")
    before = snapshot(images)
    code, out, err = run(capsys, *args)
    after = snapshot(images)
    if words is None:
        assert code == 0, err
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        allowed = IMAGE_OUTPUTS.get(case, set())
        assert all(k.split("/")[0] in allowed for k in changed), changed
        return
    assert_one_line_error(type("R", (), {"code": code, "out": out, "err": err}), *words)
    assert after == before


def _truncated_png(folder: Path) -> bytes:
    whole = sorted(folder.glob("*.png"))[0].read_bytes()
    return whole[: len(whole) // 2]


@pytest.mark.parametrize(
    "content",
    [lambda folder: b"this is not a picture", _truncated_png],
    ids=["garbage", "truncated"],
)
@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_a_corrupt_image_is_named_in_one_line_and_nothing_is_written(
    images, capsys, content, command
):
    circles = images / "photos" / "circle"
    (circles / "broken.png").write_bytes(content(circles))
    before = snapshot(images)
    args = {
        "train": ["train", "photos", *IMAGE_TRAIN, "--report", "r.html"],
        "predict": ["predict", "model.thalweg", "photos", "-o", "p.csv"],
        "evaluate": ["evaluate", "model.thalweg", "photos", "--report", "r.html"],
    }[command]
    code, out, err = run(capsys, *args)
    result = type("R", (), {"code": code, "out": "" if command == "train" else out, "err": err})
    assert_one_line_error(result, "broken.png", "not an image", "remove or replace")
    assert snapshot(images) == before


def test_files_that_are_not_images_are_ignored(images, capsys):
    (images / "photos" / "README.md").write_text("# shapes\n")
    (images / "photos" / "circle" / "notes.txt").write_text("drawn by numpy\n")
    (images / "photos" / ".thumbnails").mkdir()
    (images / "photos" / ".thumbnails" / "x.png").write_bytes(b"hidden, never read")
    code, out, err = run(capsys, "train", "photos", *IMAGE_TRAIN, "-o", "m.thalweg", "--json")
    assert code == 0, err
    assert '"images": 24' in out
    code, out, err = run(capsys, "predict", "model.thalweg", "photos")
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 24  # the header, then one row per image


def test_an_empty_class_folder_is_a_one_line_error(images, capsys):
    (images / "photos" / "hexagon").mkdir()
    code, out, err = run(capsys, "train", "photos", *IMAGE_TRAIN)
    result = type("R", (), {"code": code, "out": out, "err": err})
    assert_one_line_error(result, "hexagon (0)", "at least two class sub-folders with images")
    assert not (images / "model.thalweg.checkpoint").exists()


def test_class_names_from_folders_are_shown_escaped(images, capsys):
    photos = images / "photos"
    os.rename(photos / "circle", photos / "\x1b]0;pwned\x07")
    os.rename(photos / "square", photos / "[blink]price[usd]")
    code, out, err = run(capsys, "train", "photos", *IMAGE_TRAIN, "-o", "evil.thalweg")
    assert code == 0, err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b]0;pwned\\x07" in out and "[blink]price[usd]" in out
    code, out, err = run(capsys, "inspect", "evil.thalweg")
    assert code == 0, err
    assert "\x1b" not in out and "\\x1b]0;pwned\\x07" in out
    assert "[blink]price[usd]" in out


def test_image_sizes_and_networks_are_checked_against_memory_first(images, capsys, monkeypatch):
    monkeypatch.setenv("THALWEG_MEMORY_LIMIT", "256M")
    code, out, err = run(capsys, "train", "photos", "--size", "20000,20000")
    result = type("R", (), {"code": code, "out": out, "err": err})
    assert_one_line_error(result, "decoding 24 images of 1×20000×20000", "--size")
    code, out, err = run(capsys, "train", "photos", "--layers", "conv4096,conv4096,dense100000")
    result = type("R", (), {"code": code, "out": out, "err": err})
    assert_one_line_error(result, "training this CNN", "--layers")
    assert not (images / "model.thalweg.checkpoint").exists()


def test_sigterm_during_image_training_saves_a_checkpoint_that_resumes(images):
    from thalweg.files import read_metadata

    model = (images / "model.thalweg").read_bytes()
    command = ["train", "photos", "--layers", "conv2,pool,dense4", "--augment", "none"]
    command += ["--batch-size", "1", "--patience", "1000"]
    process = thalweg_process(images, *command, "--epochs", "1000")
    first = process.stdout.readline()
    assert first.startswith("24 images of 3 classes"), first + process.stderr.read()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "checkpoint saved to model.thalweg.checkpoint" in err and "--resume" in err
    assert "Traceback" not in err
    assert (images / "model.thalweg").read_bytes() == model  # the old model is untouched
    epoch = read_metadata(images / "model.thalweg.checkpoint")["epoch"]
    more = ["--epochs", str(epoch + 1), "--resume", "-q"]
    finished = subprocess.run(
        [sys.executable, "-m", "thalweg", *command, *more],
        cwd=images,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    assert not (images / "model.thalweg.checkpoint").exists()  # the model supersedes it
    assert (images / "model.thalweg").read_bytes() != model
