"""The commands that landed after issue 10's adversarial suite, under the same promises:
``train-detector``, ``detect``, ``datasets export faces-scenes --part``, ``skew`` on image
models and folders, ``cluster``, ``embed``, ``export`` (ONNX), ``profile-model``, ``train
DIR/`` and the playground's ``PATCH /api/sessions/{id}``. Every case gives exit 0 with
its named outputs, or exit 2 with one line, and no other file changes (see
docs/security.md). The models and folders are tiny and made once per module."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import save_file

from thalweg.cli import main

BIG = str(10**12)

# ----------------------------------------------------------------------------- fixtures


def run(capsys, *args):
    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(folder: Path) -> dict:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files


def header_and_tensors(path: Path):
    with safe_open(path, "np") as stored:
        return json.loads(stored.metadata()["thalweg"]), {
            k: stored.get_tensor(k) for k in stored.keys()
        }


def tampered(source: Path, target: Path, edit_header=None, edit_tensors=None) -> None:
    header, tensors = header_and_tensors(source)
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, str(target), metadata={"thalweg": json.dumps(header)})


def first_weight(tensors: dict) -> str:
    return next(k for k in sorted(tensors) if k.endswith("weight") and tensors[k].ndim == 4)


def widen(tensors):
    key = first_weight(tensors)
    tensors[key] = np.zeros((*tensors[key].shape[:-1], tensors[key].shape[-1] + 1), np.float32)


def drop(tensors):
    del tensors[first_weight(tensors)]


def nan(tensors):
    tensors[first_weight(tensors)] = np.full_like(tensors[first_weight(tensors)], np.nan)


def state(name, value):
    def edit(header):
        header["state"][name]["value"] = value

    return edit


def param(name, value):
    def edit(header):
        header["params"][name] = value

    return edit


def negative_anchors(tensors):
    tensors["anchors_"] = tensors["anchors_"].copy()
    tensors["anchors_"][:, 2] *= -1


# (file, header edit, tensor edit) for both a detector and a CNN
TAMPERED = {
    "shape": (None, widen),
    "missing": (None, drop),
    "nan": (None, nan),
    "imgshape": (state("image_shape_", [1, 100000, 100000]), None),
    "imgzero": (state("image_shape_", [1, 0, 8]), None),
    "pixrange": (state("pixel_range_", [1.0, 0.0]), None),
    "pixtext": (state("pixel_range_", "x"), None),
}
DETECTOR_ONLY = {
    "fmaps": (state("feature_map_sizes_", [[1, 1]]), None),
    "ratios": (param("aspect_ratios", [1.0, 2.0]), None),
    "anchors": (None, negative_anchors),
    "nms": (param("nms", "bogus"), None),
}


def write_images(folder: Path, classes: int, per_class: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for c in range(classes):
        (folder / f"c{c}").mkdir(parents=True)
        for k in range(per_class):
            pixels = (rng.random((size, size)) * 255 * (c + 1) / classes).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"c{c}" / f"{k}.png")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One folder with every input, made once: scenes and boxes, a tiny image folder,
    a detector, a CNN, a table model and its data, tampered copies, bad box CSVs."""
    root = tmp_path_factory.mktemp("new-commands")
    here = os.getcwd()
    os.chdir(root)
    try:
        os.environ["THALWEG_RUNS"] = "off"
        assert main(["datasets", "export", "scenes", "scenes", "--n", "10"]) == 0
        write_images(root / "small", classes=2, per_class=6, size=8)
        assert main(["datasets", "export", "wine", "wine.csv"]) == 0
        tiny = ["--epochs", "1", "-q"]
        assert (
            main(["train", "small", "--layers", "conv2,pool,dense4", "-o", "cnn.thalweg", *tiny])
            == 0
        )
        assert (
            main(
                [
                    *TD_SMALL[:4],
                    "--channels",
                    "4,8,8",
                    "--size",
                    "48,48",
                    "-o",
                    "det.thalweg",
                    *tiny,
                ]
            )
            == 0
        )
        assert main(["train", "wine.csv", "-t", "target", "-o", "tab.thalweg", "-q"]) == 0
    finally:
        os.environ.pop("THALWEG_RUNS", None)
        os.chdir(here)
    (root / "bad").mkdir()
    for base in ("det", "cnn"):
        edits = {**TAMPERED, **(DETECTOR_ONLY if base == "det" else {})}
        for name, (header_edit, tensor_edit) in edits.items():
            tampered(root / f"{base}.thalweg", root / "bad" / f"{base}-{name}.thalweg",
                     header_edit, tensor_edit)  # fmt: skip
        raw = (root / f"{base}.thalweg").read_bytes()
        (root / "bad" / f"{base}-cut.thalweg").write_bytes(raw[: len(raw) // 2])
    (root / "empty").mkdir()
    (root / "notimages" / "a").mkdir(parents=True)
    (root / "notimages" / "a" / "x.png").write_text("not an image")
    shutil.copytree(root / "scenes", root / "cut-scenes")
    scene = root / "cut-scenes" / "scene_0003.png"
    scene.write_bytes(scene.read_bytes()[: scene.stat().st_size // 2])
    lines = (root / "scenes" / "boxes.csv").read_text().splitlines()
    head, first, rest = lines[0], lines[1].split(","), "\n".join(lines[2:]) + "\n"

    def boxes(name, row):
        (root / f"boxes-{name}.csv").write_text(f"{head}\n{row}\n{rest}")

    boxes("inverted", f"{first[0]},30,30,10,10,face")
    boxes("outside", f"{first[0]},500,500,900,900,face")
    boxes("unknown", "ghost.png,1,1,10,10,face")
    boxes("text", f"{first[0]},abc,1,10,10,face")
    boxes("nan", f"{first[0]},nan,1,10,10,face")
    boxes("huge", f"{first[0]},1e308,1,1e309,10,face")
    boxes("nolabel", f"{first[0]},1,1,10,10,")
    (root / "boxes-nocolumn.csv").write_text("image,x_min,y_min,x_max,label\n")
    (root / "boxes-twice.csv").write_text("image,x_min,x_min,y_min,x_max,y_max,label\n")
    (root / "boxes-empty.csv").write_text("")
    rng = np.random.default_rng(0)
    rows = "\n".join(",".join(f"{v:.3f}" for v in row) for row in rng.normal(size=(30, 3)))
    (root / "num.csv").write_text("a,b,c\n" + rows + "\n")
    return root


@pytest.fixture
def work(made, tmp_path, monkeypatch):
    """A fresh copy of the inputs for one case."""
    folder = tmp_path / "w"
    shutil.copytree(made, folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("THALWEG_RUNS", "off")
    return folder


# ------------------------------------------------------------------ the table of cases

TD = ["train-detector", "scenes", "-b", "scenes/boxes.csv", "--epochs", "1", "-q"]
TD_SMALL = [*TD, "--channels", "4,8,8", "--size", "48,48"]
DETECT = ["detect", "det.thalweg", "scenes"]
IMAGES = ["train", "small", "--epochs", "1", "-q", "--layers", "conv2,pool,dense4"]

# name -> (arguments, words the one-line error must hold, or None: exit 0 writing OUTPUTS)
CASES = {
    # train-detector: outputs
    "td over its boxes": ([*TD, "-o", "scenes/boxes.csv"], ["inside the image folder"]),
    "td report over its boxes": ([*TD, "--report", "scenes/boxes.csv"], ["inside the image"]),
    "td into a file's folder": ([*TD, "-o", "wine.csv/m.thalweg"], ["is a file, not a folder"]),
    "td images are a file": (
        ["train-detector", "wine.csv", "-b", "scenes/boxes.csv"],
        ["not a folder"],
    ),
    # train-detector: absurd options
    "td --channels 0": ([*TD, "--channels", "0"], ["--channels"]),
    "td --channels huge": (
        [*TD, "--channels", "100000,100000,100000"],
        ["training this detector", "--channels"],
    ),
    "td --channels fewer blocks than maps": (
        [*TD, "--channels", "100,100"],
        ["--feature-maps 2", "1 block(s)"],
    ),
    "td --feature-maps 99": ([*TD, "--feature-maps", "99"], ["--feature-maps 99", "give"]),
    "td --workers 10^12": ([*TD, "--workers", BIG], ["--workers", "at most"]),
    "td --seed -1": ([*TD, "--seed", "-1"], ["--seed"]),
    "td --epochs 0": ([*TD, "--epochs", "0"], ["--epochs"]),
    "td --learning-rate nan": ([*TD, "--learning-rate", "nan"], ["--learning-rate"]),
    "td --learning-rate 1e300 diverges": (
        [*TD_SMALL, "--learning-rate", "1e300"],
        ["training diverged", "smaller learning rate"],
    ),
    "td --size 10^5": ([*TD, "--size", "100000,100000"], ["needs", "--size"]),
    "td --batch-size 10^12 is capped by the images": (
        [*TD_SMALL, "--batch-size", BIG, "-o", "d.thalweg"],
        None,
    ),
    # train-detector: images and boxes
    "td empty folder": (["train-detector", "empty", "-b", "scenes/boxes.csv"], ["no image files"]),
    "td a file that is not an image": (
        ["train-detector", "notimages", "-b", "scenes/boxes.csv"],
        ["not an image Pillow can read"],
    ),
    "td a truncated PNG": (
        ["train-detector", "cut-scenes", "-b", "scenes/boxes.csv"],
        ["truncated"],
    ),
    "td boxes: a missing column": (
        [*TD[:2], "-b", "boxes-nocolumn.csv"],
        ["missing column(s) y_max"],
    ),
    "td boxes: a column twice": ([*TD[:2], "-b", "boxes-twice.csv"], ["x_min twice"]),
    "td boxes: empty file": ([*TD[:2], "-b", "boxes-empty.csv"], ["is empty"]),
    "td boxes: inverted": ([*TD[:2], "-b", "boxes-inverted.csv"], ["line 2", "x_max (10) < x_min"]),
    "td boxes: outside the image": ([*TD[:2], "-b", "boxes-outside.csv"], ["outside the image"]),
    "td boxes: unknown image": ([*TD[:2], "-b", "boxes-unknown.csv"], ["ghost.png"]),
    "td boxes: text": ([*TD[:2], "-b", "boxes-text.csv"], ["'abc', not a number"]),
    "td boxes: nan": ([*TD[:2], "-b", "boxes-nan.csv"], ["must be finite"]),
    "td boxes: huge": ([*TD[:2], "-b", "boxes-huge.csv"], ["must be finite"]),
    "td boxes: empty label": ([*TD[:2], "-b", "boxes-nolabel.csv"], ["label is empty"]),
    "td boxes: a folder": ([*TD[:2], "-b", "scenes"], ["is a folder"]),
    "td boxes: a model file": ([*TD[:2], "-b", "det.thalweg"], ["not UTF-8"]),
    # detect
    "detect over its model": ([*DETECT, "-o", "det.thalweg"], ["is the model file"]),
    "detect into its images": ([*DETECT, "-o", "scenes/out.csv"], ["inside the images"]),
    "detect report over its boxes": (
        [*DETECT, "-b", "scenes/boxes.csv", "--report", "scenes/boxes.csv"],
        ["inside the images"],
    ),
    "detect with a table model": (["detect", "tab.thalweg", "scenes"], ["not a detector"]),
    "detect with a CNN": (["detect", "cnn.thalweg", "scenes"], ["not a detector"]),
    "detect with a CSV as model": (["detect", "wine.csv", "scenes"], ["is not a thalweg file"]),
    "detect an empty folder": (["detect", "det.thalweg", "empty"], ["no image files"]),
    "detect a truncated PNG": (["detect", "det.thalweg", "cut-scenes"], ["truncated"]),
    "detect --min-score 2": ([*DETECT, "--min-score", "2"], ["--min-score"]),
    "detect --min-score nan": ([*DETECT, "--min-score", "nan"], ["--min-score"]),
    "detect --workers 10^12": ([*DETECT, "--workers", BIG], ["--workers", "at most"]),
    "detect --boxes unknown image": ([*DETECT, "-b", "boxes-unknown.csv"], ["ghost.png"]),
    "detect --boxes a folder": ([*DETECT, "-b", "small"], ["is a folder"]),
    "detect": ([*DETECT, "-o", "found.csv", "-q"], None),
    "predict with a detector": (["predict", "det.thalweg", "small"], ["thalweg detect"]),
    "evaluate with a detector": (["evaluate", "det.thalweg", "small"], ["thalweg detect"]),
    # datasets export --part
    "export --part bogus": (
        ["datasets", "export", "faces-scenes", "fs", "--n", "3", "--part", "bogus"],
        ["part 'bogus'", "all, train, test"],
    ),
    "export --part on wine": (
        ["datasets", "export", "wine", "w.csv", "--part", "test"],
        ["faces-scenes only"],
    ),
    "export --part over a file": (
        ["datasets", "export", "faces-scenes", "wine.csv", "--n", "3", "--part", "test"],
        ["not a folder"],
    ),
    "export --part into a full folder": (
        ["datasets", "export", "faces-scenes", "scenes", "--n", "3", "--part", "test"],
        ["not an empty folder"],
    ),
    "export faces-scenes --n 10^12": (
        ["datasets", "export", "faces-scenes", "fs", "--n", BIG, "--part", "train"],
        ["needs", "--n"],
    ),
    "export scenes --n 10^12": (["datasets", "export", "scenes", "fs", "--n", BIG], ["--n"]),
    "export --seed -1": (["datasets", "export", "faces-scenes", "fs", "--seed", "-1"], ["--seed"]),
    # skew on images
    "skew report over its model": (
        ["skew", "cnn.thalweg", "small", "--report", "cnn.thalweg"],
        ["is the model file"],
    ),
    "skew report over its data": (
        ["skew", "tab.thalweg", "wine.csv", "--report", "wine.csv"],
        ["is the data file"],
    ),
    "skew report inside its images": (
        ["skew", "cnn.thalweg", "small", "--report", "small/r.html"],
        ["inside the image folder"],
    ),
    "skew an image model on a table": (["skew", "cnn.thalweg", "wine.csv"], ["image model"]),
    "skew a table model on images": (["skew", "tab.thalweg", "small"], ["table model"]),
    "skew a detector": (["skew", "det.thalweg", "scenes"], ["is a detector"]),
    "skew an empty folder": (["skew", "cnn.thalweg", "empty"], ["no image files"]),
    "skew a truncated PNG": (["skew", "cnn.thalweg", "cut-scenes"], ["truncated"]),
    "skew --feature-threshold nan": (
        ["skew", "cnn.thalweg", "small", "--feature-threshold", "brightness=nan"],
        ["brightness", "finite"],
    ),
    "skew --threshold -1": (["skew", "cnn.thalweg", "small", "--threshold", "-1"], ["--threshold"]),
    # cluster and embed
    "cluster --k 10^12": (["cluster", "num.csv", "--k", BIG], ["between 1 and 10000"]),
    "cluster --k above the rows": (["cluster", "num.csv", "--k", "31"], ["n_samples=30"]),
    "cluster --seed -1": (["cluster", "num.csv", "--k", "2", "--seed", "-1"], ["--seed"]),
    "cluster an image folder": (["cluster", "small", "--k", "2"], ["is a folder, not a table"]),
    "cluster over its data": (["cluster", "num.csv", "--k", "2", "-o", "num.csv"], ["data file"]),
    "embed --seed -1": (["embed", "num.csv", "--seed", "-1"], ["--seed"]),
    "embed --noise inf": (["embed", "num.csv", "--noise", "inf"], ["noise", "finite"]),
    "embed --hidden huge": (["embed", "num.csv", "--hidden", "100000,100000"], ["needs"]),
    "embed an image folder": (["embed", "small"], ["is a folder, not a table"]),
    # export (ONNX) and profile-model
    "onnx over its model": (["export", "cnn.thalweg", "cnn.thalweg"], ["is the model file"]),
    "onnx a detector": (["export", "det.thalweg", "d.onnx"], ["cannot be exported"]),
    "onnx into a device": (["export", "cnn.thalweg", "/dev/null"], ["character device"]),
    "onnx": (["export", "cnn.thalweg", "c.onnx"], None),
    "profile a detector": (["profile-model", "det.thalweg"], ["profiles MLP and CNN"]),
    "profile --repeats 10^12": (["profile-model", "cnn.thalweg", "--repeats", BIG], ["--repeats"]),
    "profile --threads 10^12": (["profile-model", "cnn.thalweg", "--threads", BIG], ["cores"]),
    "profile --data a truncated PNG": (
        ["profile-model", "cnn.thalweg", "--data", "cut-scenes", "--repeats", "5"],
        ["truncated"],
    ),
    # train DIR/
    "train DIR into itself": ([*IMAGES, "-o", "small/m.thalweg"], ["inside the image folder"]),
    "train DIR --stream": ([*IMAGES, "--stream"], ["--stream apply to tables only"]),
    "train DIR --workers 10^12": ([*IMAGES, "--workers", BIG], ["--workers"]),
    "train DIR --size 10^5": ([*IMAGES, "--size", "100000,100000"], ["needs"]),
    "train DIR a lone class": (["train", "notimages"], ["at least two class sub-folders"]),
    "train DIR --learning-rate 1e300 diverges": (
        [*IMAGES, "--learning-rate", "1e300"],
        ["training diverged"],
    ),
    "train a table with --layers": (
        ["train", "wine.csv", "-t", "target", "--layers", "conv8"],
        ["--layers apply to image folders only"],
    ),
    "train a table with --size": (
        ["train", "wine.csv", "-t", "target", "--size", "8,8"],
        ["--size apply to image folders only"],
    ),
}
# Tampered model files: every command that loads an image model refuses each in one line.
for _name in TAMPERED:
    for _command in (
        ["predict", "{}", "small"],
        ["export", "{}", "x.onnx"],
        ["skew", "{}", "small"],
    ):
        _args = [a.format(f"bad/cnn-{_name}.thalweg") for a in _command]
        CASES[f"{_command[0]} a CNN file: {_name}"] = (_args, ["bad/cnn-"])
for _name in (*TAMPERED, *DETECTOR_ONLY, "cut"):
    CASES[f"detect a detector file: {_name}"] = (
        ["detect", f"bad/det-{_name}.thalweg", "scenes"],
        [f"bad/det-{_name}.thalweg"],
    )
OUTPUTS = {
    "detect": {"found.csv"},
    "onnx": {"c.onnx"},
    "td --batch-size 10^12 is capped by the images": {"d.thalweg"},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_exit_0_or_one_line_and_changes_no_other_file(work, capsys, case):
    args, words = CASES[case]
    before = snapshot(work)
    code, out, err = run(capsys, *args)
    after = snapshot(work)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    if words is None:
        assert code == 0, err
        assert changed == OUTPUTS[case], changed
        return
    assert_one_line_error(type("R", (), {"code": code, "out": out, "err": err}), *words)
    assert not changed, changed


def test_a_tampered_detector_is_named_for_what_is_wrong(work, capsys):
    """The derived state of a detector is checked against its parameters on load."""
    code, _out, err = run(capsys, "inspect", "bad/det-fmaps.thalweg")
    assert code == 2 and "feature_map_sizes_" in err
    code, _out, err = run(capsys, "inspect", "bad/det-ratios.thalweg")
    assert code == 2 and "anchors_" in err and "aspect_ratios" in err
    code, _out, err = run(capsys, "inspect", "bad/det-anchors.thalweg")
    assert code == 2 and "anchors_" in err


def test_a_diverged_detector_writes_no_model(work, capsys):
    code, _out, err = run(capsys, *TD_SMALL, "--learning-rate", "1e300", "-o", "nan.thalweg")
    assert code == 2 and "training diverged" in err
    assert not Path("nan.thalweg").exists()


# ------------------------------------------------------------------ the library


def test_the_library_refuses_the_same_mistakes_with_thalweg_errors():
    from thalweg.backend import as_generator
    from thalweg.datasets import load
    from thalweg.errors import OptionError, ThalwegError
    from thalweg.models.detector import SSDDetector
    from thalweg.monitoring import SkewThresholds

    with pytest.raises(OptionError, match="seed must be 0 or more"):
        as_generator(-1)
    with pytest.raises(ThalwegError, match="seed must be 0 or more"):
        load("faces-scenes", n=3, seed=-1)
    with pytest.raises(ThalwegError, match="needs"):
        load("scenes", n=10**12)
    with pytest.raises(OptionError, match="finite"):
        SkewThresholds(features={"x": float("nan")})
    with pytest.raises(OptionError, match="finite"):
        SkewThresholds(psi=float("inf"))
    images = np.zeros((4, 1, 16, 16))
    boxes = [{"boxes": [[1, 1, 8, 8]], "labels": ["a"]}] * 4
    with pytest.raises(OptionError, match="feature_maps"):
        SSDDetector(channels=(4, 8), feature_maps=3, max_epochs=1).fit(images, boxes)
    with pytest.raises(OptionError, match="random_state must be 0 or more"):
        SSDDetector(channels=(4, 8), feature_maps=1, random_state=-1).fit(images, boxes)


# ------------------------------------------------------------------ the playground PATCH


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("starlette", reason="the playground extra is not installed")
    pytest.importorskip("uvicorn", reason="the playground extra is not installed")
    from playground_server import running_server

    with running_server() as running:
        yield running


PATCHES = {
    "NaN": ('{"learning_rate": NaN}', 400, "learning_rate"),
    "Infinity": ('{"learning_rate": Infinity}', 400, "learning_rate"),
    "a bool rate": ('{"learning_rate": true}', 400, "got True"),
    "a bool seed": ('{"data_seed": false}', 400, "got False"),
    "a list": ('{"learning_rate": [0.1]}', 400, "learning_rate"),
    "null": ('{"data_seed": null}', 400, "data_seed"),
    "a rate of 400 digits": ('{"learning_rate": ' + "9" * 400 + "}", 400, "learning_rate"),
    "a seed of 400 digits": ('{"data_seed": ' + "9" * 400 + "}", 400, "data_seed"),
    "a seed of 1e300": ('{"data_seed": 1e300}', 400, "data_seed"),
    "a seed past 2^32": ('{"data_seed": 4294967296}', 400, "0 to 4294967295"),
    "a key twice": ('{"learning_rate": 0.1, "learning_rate": 3}', 400, "given twice"),
    "not an object": ("[0.1]", 400, "JSON object"),
    "not JSON": ("{learning_rate", 400, "not valid JSON"),
    "an unknown key": ('{"rate": 1}', 400, "allowed: learning_rate, data_seed"),
    "a good rate": ('{"learning_rate": 0.3}', 200, None),
    "a seed as a whole float": ('{"data_seed": 7.0}', 200, None),
}


@pytest.mark.parametrize("case", sorted(PATCHES))
def test_a_hostile_session_change_is_a_short_4xx(server, case):
    body, status, words = PATCHES[case]
    session = server.create(seed=1)["id"]
    reply = server.request(
        "PATCH", f"/api/sessions/{session}", body, {"content-type": "application/json"}
    )
    assert reply.status == status, reply.body
    if words is not None:
        error = reply.json["error"]
        assert words in error and len(error) < 300 and "\n" not in error


def test_an_unknown_session_is_a_404_that_does_not_echo_a_long_id(server):
    reply = server.request("PATCH", "/api/sessions/" + "a" * 5000, {"learning_rate": 0.1})
    assert reply.status == 404 and len(reply.json["error"]) < 300


def test_session_changes_during_a_running_stream_all_apply(server):
    from thalweg.playground.frames import decode_frame

    session = server.create(seed=2)["id"]
    path = f"/api/sessions/{session}"
    with server.websocket(session) as socket:
        socket.send(json.dumps({"type": "play", "epochs_per_frame": 1}))
        statuses = []
        for k in range(12):
            frame = decode_frame(socket.recv(timeout=20))
            socket.send(json.dumps({"type": "ack"}))
            body = {"learning_rate": (0.01, 0.3)[k % 2]} if k % 3 else {"data_seed": k}
            statuses.append(server.request("PATCH", path, body).status)
        assert statuses == [200] * 12
        later = decode_frame(socket.recv(timeout=20))
        assert later["epoch"] >= frame["epoch"]
    state = server.request("GET", f"{path}/state").json
    assert state["config"]["learning_rate"] == 0.3  # the last change (k = 11) holds
