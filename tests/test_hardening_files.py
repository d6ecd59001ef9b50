"""Adversarial tests of how thalweg writes and opens files (``thalweg.files``): an output
never destroys an input, only regular files are replaced, symlinks are written
through, outputs of one command are committed together, killed runs' temporaries are
cleaned up, and inputs that are not regular files are named as what they are."""

import os
import socket
import stat
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalweg.errors import FileFormatError, OutputPathError, PartialWriteError
from thalweg.files import (
    atomic_write,
    check_input_file,
    check_outputs,
    remove_stale_temporaries,
    write_together,
)


def snapshot(folder):
    """Every file below ``folder`` with its bytes (links as their targets)."""
    files = {}
    for root, dirs, names in os.walk(folder):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            if os.path.islink(path):
                files[path] = ("link", os.readlink(path))
            elif stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, "rb") as handle:
                    files[path] = handle.read()
            else:
                files[path] = ("special", stat.S_IFMT(os.lstat(path).st_mode))
    return files


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "data.csv").write_text("x,y\n1,2\n")
    (tmp_path / "model.thalweg").write_bytes(b"model bytes")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "part.parquet").write_bytes(b"part")
    os.symlink(tmp_path / "model.thalweg", tmp_path / "link-to-model")
    os.link(tmp_path / "data.csv", tmp_path / "hardlink-to-data.csv")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# ----------------------------------------------------------------- outputs vs inputs


def spellings(folder, name):
    """Different paths that all name ``folder / name``."""
    return [
        folder / name,
        folder / "sub" / ".." / name,
        folder / "." / name,
        os.path.relpath(folder / name),
    ]


@pytest.mark.parametrize("name", ["data.csv", "model.thalweg"])
@pytest.mark.parametrize("spelling", range(4))
def test_an_output_that_is_an_input_under_any_spelling_is_refused(folder, name, spelling):
    inputs = {"the model file": folder / "model.thalweg", "the data file": folder / "data.csv"}
    output = spellings(folder, name)[spelling]
    with pytest.raises(OutputPathError, match="this command reads; writing it would destroy"):
        check_outputs({"--out": output}, inputs)


@pytest.mark.parametrize(
    ("output", "input_name"),
    [
        ("link-to-model", "model.thalweg"),  # a symlink to an input
        ("hardlink-to-data.csv", "data.csv"),  # another name of the same inode
        ("model.thalweg", "link-to-model"),  # the input given through a link
    ],
)
def test_links_to_an_input_are_the_input(folder, output, input_name):
    with pytest.raises(OutputPathError, match="this command reads"):
        check_outputs({"-o": folder / output}, {"the input": folder / input_name})


def test_an_output_inside_an_input_folder_is_refused(folder):
    with pytest.raises(OutputPathError, match="inside the data"):
        check_outputs({"--out": folder / "sub" / "m.thalweg"}, {"the data": folder / "sub"})


def test_two_outputs_with_the_same_name_are_refused(folder):
    with pytest.raises(OutputPathError, match="--report and --out are both"):
        check_outputs({"--report": folder / "a.html", "--out": folder / "sub/../a.html"})


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("sub", "is a folder"),
        ("fifo", "a FIFO"),
        ("/dev/null", "a character device"),
        ("data.csv/model.thalweg", "is a file, not a folder"),
        ("data.csv/deeper/model.thalweg", "is a file, not a folder"),
    ],
)
def test_outputs_that_cannot_be_written_are_refused_before_any_work(folder, output, words):
    before = snapshot(folder)
    with pytest.raises(OutputPathError, match=words):
        check_outputs({"--out": folder / output})
    assert snapshot(folder) == before


def test_outputs_that_can_be_written_pass(folder):
    chosen = check_outputs(
        {"--out": folder / "new" / "deep" / "m.thalweg", "--report": None},
        {"the data file": folder / "data.csv", "nothing": None},
    )
    assert list(chosen) == ["--out"]
    assert not (folder / "new").exists()  # checking creates nothing


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.sampled_from([".", "..", "sub", "data.csv", "model.thalweg"]), max_size=4))
def test_any_path_that_resolves_to_an_input_is_refused(folder, parts):
    path = folder.joinpath(*parts) if parts else folder
    real = os.path.realpath(path)
    inputs = {"the data file": folder / "data.csv", "the model file": folder / "model.thalweg"}
    try:
        check_outputs({"--out": path}, inputs)
    except OutputPathError:
        return
    assert real not in {os.path.realpath(p) for p in inputs.values()}
    assert not os.path.isdir(real)


# ----------------------------------------------------------------- what gets replaced


@pytest.mark.parametrize("target", ["fifo", "sub", "/dev/null"])
def test_atomic_write_never_replaces_a_non_regular_file(folder, target):
    path = folder / target if not target.startswith("/") else target
    mode = os.stat(path).st_mode
    with pytest.raises(OutputPathError, match=r"folder|not a regular file"):
        with atomic_write(path, "w") as handle:
            handle.write("x")
    assert stat.S_IFMT(os.stat(path).st_mode) == stat.S_IFMT(mode)
    assert not [p for p in os.listdir(folder) if p.endswith(".tmp")]


def test_a_socket_is_not_replaced(tmp_path):
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    try:
        with pytest.raises(OutputPathError, match="a socket"):
            check_outputs({"-o": path})
        with pytest.raises(OutputPathError), atomic_write(path) as handle:
            handle.write(b"x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


def test_a_symlink_is_written_through_and_kept(folder):
    with atomic_write(folder / "link-to-model", "w") as handle:
        handle.write("new model")
    assert os.path.islink(folder / "link-to-model")
    assert (folder / "model.thalweg").read_text() == "new model"


def test_a_symlink_into_another_folder_writes_there(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "real.txt").write_text("old")
    os.symlink("../b/real.txt", tmp_path / "a" / "link.txt")
    with atomic_write(tmp_path / "a" / "link.txt", "w") as handle:
        handle.write("new")
    assert (tmp_path / "b" / "real.txt").read_text() == "new"
    assert os.readlink(tmp_path / "a" / "link.txt") == "../b/real.txt"
    assert sorted(os.listdir(tmp_path / "a")) == ["link.txt"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    os.symlink("target.txt", tmp_path / "link.txt")
    with atomic_write(tmp_path / "link.txt", "w") as handle:
        handle.write("made")
    assert (tmp_path / "target.txt").read_text() == "made"
    assert os.path.islink(tmp_path / "link.txt")


# ----------------------------------------------------------------- committed together


def test_files_written_together_appear_only_when_the_block_succeeds(tmp_path):
    (tmp_path / "model").write_text("old model")
    with write_together():
        with atomic_write(tmp_path / "model", "w") as handle:
            handle.write("new model")
        with atomic_write(tmp_path / "report", "w") as handle:
            handle.write("report")
        assert (tmp_path / "model").read_text() == "old model"
        assert not (tmp_path / "report").exists()
    assert (tmp_path / "model").read_text() == "new model"
    assert (tmp_path / "report").read_text() == "report"
    assert sorted(os.listdir(tmp_path)) == ["model", "report"]


def test_a_failure_inside_the_block_changes_nothing(tmp_path):
    (tmp_path / "model").write_text("old model")
    with pytest.raises(RuntimeError), write_together():
        with atomic_write(tmp_path / "model", "w") as handle:
            handle.write("new model")
        raise RuntimeError("the report could not be rendered")
    assert os.listdir(tmp_path) == ["model"]
    assert (tmp_path / "model").read_text() == "old model"


def test_a_failed_rename_names_what_was_written_and_what_was_not(tmp_path):
    with pytest.raises(PartialWriteError) as caught, write_together():
        with atomic_write(tmp_path / "first", "w") as handle:
            handle.write("1")
        with atomic_write(tmp_path / "second", "w") as handle:
            handle.write("2")
        (tmp_path / "second").mkdir()  # the destination becomes a folder before the commit
    message = str(caught.value)
    assert "written: " + str(tmp_path / "first") in message
    assert "not written (unchanged): " + str(tmp_path / "second") in message
    assert (tmp_path / "first").read_text() == "1"
    assert (tmp_path / "second").is_dir()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


# ----------------------------------------------------------------- killed runs


def test_a_killed_runs_temporary_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.thalweg"
    # A process that starts writing and is killed (SIGKILL: no cleanup can run).
    code = (
        "import os, sys, time\n"
        "from thalweg.files import atomic_write\n"
        f"with atomic_write({str(target)!r}) as f:\n"
        "    f.write(b'half'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    leftover = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert len(leftover) == 1 and leftover[0].startswith(".model.thalweg.")
    process.kill()
    process.wait()
    with atomic_write(target) as handle:
        handle.write(b"whole")
    assert os.listdir(tmp_path) == ["model.thalweg"]
    assert target.read_bytes() == b"whole"


def test_a_live_runs_temporary_and_other_files_are_kept(tmp_path):
    target = tmp_path / "model.thalweg"
    live = tmp_path / f".model.thalweg.{os.getppid()}-abcdefgh.tmp"  # a running process
    other = tmp_path / f".other.thalweg.{2**22 + 7}-abcdefgh.tmp"  # another destination
    mine = tmp_path / ".model.thalweg.not-a-temporary"
    for path in (live, other, mine):
        path.write_text("x")
    assert remove_stale_temporaries(target) == []
    assert live.exists() and other.exists() and mine.exists()
    assert remove_stale_temporaries(target, whole_folder=True) == [other]  # pid is gone


# ----------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("fifo", "not a regular file (it is a FIFO"),
        ("/dev/zero", "not a regular file (it is a character device"),
        ("sub", "is a folder, not a file"),
        ("missing.csv", "no such file"),
    ],
)
def test_inputs_that_are_not_regular_files_are_named(folder, name, words):
    path = folder / name if not name.startswith("/") else name
    with pytest.raises(FileFormatError, match=words.replace("(", r"\(")):
        check_input_file(path)


def test_a_broken_symlink_names_its_target(tmp_path):
    os.symlink("gone.csv", tmp_path / "data.csv")
    with pytest.raises(FileFormatError, match=r"symbolic link to gone\.csv, which does not exist"):
        check_input_file(tmp_path / "data.csv")
