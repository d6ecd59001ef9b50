"""The playground's HTTP and WebSocket API, against a real server on a free port."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the playground extra is not installed")
pytest.importorskip("uvicorn", reason="the playground extra is not installed")

from playground_server import multipart, running_server

from thalweg.playground.frames import decode_frame, dequantize

DEFAULTS = {
    "dataset": "circle",
    "noise": 0,
    "train_fraction": 0.5,
    "batch_size": 10,
    "features": ["x1", "x2"],
    "hidden": [4, 2],
    "activation": "tanh",
    "learning_rate": 0.03,
    "regularization": "none",
    "regularization_rate": 0,
    "problem": "classification",
    "loss": "cross_entropy",
    "optimizer": "sgd",
    "data_seed": None,
}

GOOD_CSV = b"width,height,kind\n" + b"".join(
    f"{w},{h},{'big' if w * h > 20 else 'small'}\n".encode()
    for w, h in np.random.default_rng(0).uniform(0, 10, (60, 2)).round(2)
)


@pytest.fixture(scope="module")
def server():
    with running_server() as running:
        yield running


def assert_error(reply, status: int, *words: str) -> None:
    """A 4xx answer: JSON ``{"error": one line}`` naming each of ``words``."""
    assert reply.status == status, (reply.status, reply.body)
    assert reply.headers.get("content-type", "").startswith("application/json")
    body = reply.json
    assert list(body) == ["error"]
    assert "\n" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]


# ------------------------------------------------------------------ basics


def test_healthz_says_ok_and_every_answer_carries_the_security_headers(server):
    reply = server.request("GET", "/healthz")
    assert reply.status == 200 and reply.json == {"status": "ok"}
    page = server.request("GET", "/")
    assert page.status == 200 and b'data-testid="heatmap"' in page.body
    for reply in (page, server.request("GET", "/healthz")):
        policy = reply.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert reply.headers["x-content-type-options"] == "nosniff"
    assert server.request("GET", "/static/playground.js").status == 200


def test_unknown_paths_methods_and_foreign_hosts_get_json_errors(server):
    assert_error(server.request("GET", "/api/nothing"), 404, "/api/nothing")
    assert_error(server.request("PUT", "/api/sessions"), 405, "PUT")
    assert_error(server.request("GET", "/healthz", headers={"host": "evil.example"}), 400, "host")


def test_a_new_session_echoes_the_playground_defaults(server):
    created = server.create()
    config = created["config"]
    assert isinstance(created["id"], str) and created["id"]
    assert {k: v for k, v in config.items() if k != "seed"} == DEFAULTS
    assert isinstance(config["seed"], int)


def test_a_config_is_normalized_and_echoed(server):
    created = server.create(
        dataset="multigauss",
        features=["sinx2", "x1"],
        hidden=[8, 1, 3],
        noise=25,
        train_fraction=0.7,
        batch_size=30,
        activation="relu",
        learning_rate=0.3,
        regularization="l1",
        regularization_rate=0.001,
        optimizer="adam",
        seed=42,
    )
    config = created["config"]
    assert config["problem"] == "regression" and config["loss"] == "squared"
    assert config["features"] == ["x1", "sinx2"]  # the Playground's order
    assert config["hidden"] == [8, 1, 3] and config["seed"] == 42


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"dataset": "moons"}, ["dataset", "circle, xor, gauss, spiral, plane, multigauss"]),
        ({"hidden": [2] * 7}, ["hidden", "at most 6"]),
        ({"hidden": [9]}, ["hidden", "1 to 8"]),
        ({"hidden": [0]}, ["hidden", "1 to 8"]),
        ({"hidden": "4,2"}, ["hidden", "list"]),
        ({"learning_rate": 0}, ["learning_rate", "0.00001 to 10"]),
        ({"learning_rate": -1}, ["learning_rate", "0.00001 to 10"]),
        ({"learning_rate": 11}, ["learning_rate", "0.00001 to 10"]),
        ({"learning_rate": "fast"}, ["learning_rate", "number"]),
        ({"learning_rate": True}, ["learning_rate", "number"]),
        ({"noise": 51}, ["noise", "0 to 50"]),
        ({"train_fraction": 0.95}, ["train_fraction", "0.1 to 0.9"]),
        ({"batch_size": 31}, ["batch_size", "1 to 30"]),
        ({"batch_size": 2.5}, ["batch_size", "whole number"]),
        ({"features": ["x3"]}, ["features", "x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2"]),
        ({"features": []}, ["features", "at least one"]),
        ({"features": ["x1", "x1"]}, ["features", "twice"]),
        ({"activation": "swish"}, ["activation", "relu, tanh, sigmoid, linear"]),
        ({"regularization": "l3"}, ["regularization", "none, l1, l2"]),
        ({"regularization_rate": -0.1}, ["regularization_rate", "0 to 10"]),
        ({"problem": "ranking"}, ["problem", "classification, regression"]),
        ({"dataset": "spiral", "problem": "regression"}, ["problem", "classification"]),
        ({"dataset": "plane", "loss": "cross_entropy"}, ["loss", "squared"]),
        ({"loss": "hinge"}, ["loss", "cross_entropy, squared"]),
        ({"optimizer": "rmsprop"}, ["optimizer", "sgd, momentum, adam"]),
        ({"seed": -1}, ["seed", "0 to"]),
        ({"seed": "abc"}, ["seed", "whole number"]),
        ({"colour": "red"}, ["colour", "dataset", "seed"]),
    ],
)
def test_an_invalid_config_is_a_400_naming_the_field_and_the_allowed_values(server, config, words):
    assert_error(server.request("POST", "/api/sessions", config), 400, *words)


def test_bodies_that_are_not_a_json_object_are_400s_and_huge_ones_413(server):
    assert_error(server.request("POST", "/api/sessions", "{not json"), 400, "JSON")
    assert_error(server.request("POST", "/api/sessions", "[1, 2]"), 400, "object")
    nan = '{"learning_rate": NaN}'
    assert_error(server.request("POST", "/api/sessions", nan), 400, "learning_rate")
    huge = json.dumps({"dataset": "x" * 70_000})
    assert_error(server.request("POST", "/api/sessions", huge), 413, "bytes")


# ------------------------------------------------------------------ step and state


def test_step_trains_and_reports_losses_and_accuracies(server):
    session = server.create(dataset="gauss", seed=1)["id"]
    first = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 3}).json
    assert first["epoch"] == 3
    assert set(first) == {"epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy"}
    second = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 20}).json
    assert second["epoch"] == 23 and second["train_loss"] < first["train_loss"]
    assert second["test_accuracy"] > 0.9
    regression = server.create(dataset="plane", seed=1)["id"]
    reply = server.request("POST", f"/api/sessions/{regression}/step", {}).json
    assert set(reply) == {"epoch", "train_loss", "test_loss"} and reply["epoch"] == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"epochs": 0}, ["epochs", "1 to 10,000"]),
        ({"epochs": 10_001}, ["epochs", "1 to 10,000"]),
        ({"epochs": "5"}, ["epochs", "whole number"]),
        ({"epochs": True}, ["epochs", "whole number"]),
        ({"epoch": 5}, ["epoch", "allowed: epochs"]),
    ],
)
def test_an_invalid_step_is_a_400(server, body, words):
    session = server.create(seed=1)["id"]
    assert_error(server.request("POST", f"/api/sessions/{session}/step", body), 400, *words)


def test_a_new_learning_rate_trains_on_from_the_next_step(server):
    config = {"dataset": "xor", "hidden": [3], "learning_rate": 0.03, "seed": 4}
    changed, unchanged = server.create(**config)["id"], server.create(**config)["id"]
    for session in (changed, unchanged):
        server.request("POST", f"/api/sessions/{session}/step", {"epochs": 3})
    reply = server.request("PATCH", f"/api/sessions/{changed}", {"learning_rate": 1})
    assert reply.status == 200, reply.body
    assert reply.json["epoch"] == 3
    assert reply.json["config"] == {**DEFAULTS, **config, "learning_rate": 1}
    state = server.request("GET", f"/api/sessions/{changed}/state").json
    assert state["config"]["learning_rate"] == 1 and state["epoch"] == 3
    after = [
        server.request("POST", f"/api/sessions/{s}/step", {"epochs": 1}).json
        for s in (changed, unchanged)
    ]
    assert after[0]["epoch"] == after[1]["epoch"] == 4  # the run went on, not back to 0
    assert after[0]["train_loss"] != after[1]["train_loss"]  # with the new rate
    # the same run at rate 1 from the start differs: the first 3 epochs used 0.03
    fresh = server.create(**{**config, "learning_rate": 1})["id"]
    assert server.request("POST", f"/api/sessions/{fresh}/step", {"epochs": 4}).json != after[0]


def test_regenerate_trains_the_same_network_on_new_points(server):
    config = {"dataset": "xor", "hidden": [3], "seed": 4}
    session = server.create(**config)["id"]
    server.request("POST", f"/api/sessions/{session}/step", {"epochs": 3})
    before = server.request("GET", f"/api/sessions/{session}/state").json
    reply = server.request("PATCH", f"/api/sessions/{session}", {"data_seed": 21})
    assert reply.status == 200, reply.body
    assert reply.json["epoch"] == 3 and reply.json["config"] == {
        **DEFAULTS,
        **config,
        "data_seed": 21,
    }
    after = server.request("GET", f"/api/sessions/{session}/state").json
    assert after["network"] == before["network"]  # the same weights
    assert after["epoch"] == 3 and len(after["history"]["epoch"]) == 4
    assert after["data"]["train"] != before["data"]["train"]
    seed_21 = server.create(dataset="xor", seed=21)["id"]  # the points are seed 21's
    assert server.request("GET", f"/api/sessions/{seed_21}/state").json["data"] == after["data"]
    # the link's config (seed 4, data seed 21) gives these points and the same start
    link = server.create(**config, data_seed=21)["id"]
    linked = server.request("GET", f"/api/sessions/{link}/state").json
    assert linked["data"] == after["data"] and linked["epoch"] == 0
    fresh = server.create(**config)["id"]
    assert (
        server.request("GET", f"/api/sessions/{fresh}/state").json["network"] == linked["network"]
    )
    kept = server.create(**config)["id"]  # the same run without Regenerate
    steps = [
        server.request("POST", f"/api/sessions/{s}/step", {"epochs": e}).json
        for s, e in ((session, 1), (kept, 4))
    ]
    assert steps[0]["epoch"] == steps[1]["epoch"] == 4  # the run went on, not back to 0
    assert steps[0]["train_loss"] != steps[1]["train_loss"]  # on other points


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"data_seed": -1}, ["data_seed", "0 to"]),
        ({"data_seed": "abc"}, ["data_seed", "whole number"]),
        ({"regularization_rate": 0.1}, ["regularization_rate", "new run", "POST /api/sessions"]),
        ({"activation": "relu"}, ["activation", "only learning_rate"]),
        ({"learning_rate": 0}, ["learning_rate", "0.00001 to 10"]),
        ({"learning_rate": "0.1"}, ["learning_rate", "number"]),
        ({"rate": 0.1}, ["rate", "allowed: learning_rate, data_seed"]),
        ({}, ["learning_rate or data_seed", "missing"]),
        ({"seed": 3}, ["seed", "only learning_rate and data_seed"]),
    ],
)
def test_an_invalid_session_change_is_a_400(server, body, words):
    session = server.create(seed=1)["id"]
    assert_error(server.request("PATCH", f"/api/sessions/{session}", body), 400, *words)


def test_an_unknown_session_is_a_404_everywhere(server):
    for method, path in [
        ("GET", "/api/sessions/nope/state"),
        ("POST", "/api/sessions/nope/step"),
        ("GET", "/api/sessions/nope/export/model"),
        ("GET", "/api/sessions/nope/export/python"),
        ("DELETE", "/api/sessions/nope"),
        ("PATCH", "/api/sessions/nope"),
    ]:
        assert_error(server.request(method, path), 404, "nope", "POST /api/sessions")
    with server.websocket("nope") as socket:
        message = json.loads(socket.recv(timeout=10))
        assert message["type"] == "error" and "nope" in message["error"]
        with pytest.raises(Exception):  # noqa: B017 - the server closes the stream (4404)
            socket.recv(timeout=10)
    assert socket.close_code == 4404


def test_another_sites_page_cannot_open_the_stream(server):
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus

    session = server.create(seed=1)["id"]
    with pytest.raises(InvalidStatus) as refused:  # the handshake is refused
        with server.websocket(session, additional_headers=Headers(Origin="http://evil.example")):
            pass
    assert refused.value.response.status_code == 403
    with server.websocket(session, additional_headers=Headers(Origin=server.url)) as socket:
        assert decode_frame(socket.recv(timeout=20))["epoch"] == 0


def test_state_has_the_data_the_network_the_history_and_a_heat_map(server):
    session = server.create(dataset="xor", seed=5, hidden=[3])["id"]
    server.request("POST", f"/api/sessions/{session}/step", {"epochs": 4})
    state = server.request("GET", f"/api/sessions/{session}/state").json
    assert state["epoch"] == 4 and state["config"]["dataset"] == "xor"
    assert state["history"]["epoch"] == [0, 1, 2, 3, 4]
    assert state["history"]["train_loss"][-1] == state["train_loss"]
    assert state["network"]["layers"] == [2, 3, 1]
    assert np.asarray(state["network"]["weights"][0]).shape == (2, 3)
    assert len(state["data"]["train"]["x"]) == 250 and len(state["data"]["test"]["y"]) == 250
    cells = np.frombuffer(base64.b64decode(state["heatmap"]["data"]), dtype=np.uint8)
    assert cells.size == 100 * 100 and state["heatmap"]["domain"] == [-6, 6]
    assert server.request("DELETE", f"/api/sessions/{session}").status == 204
    assert server.request("GET", f"/api/sessions/{session}/state").status == 404


def test_a_diverged_run_reports_null_losses_not_a_500(server):
    session = server.create(dataset="plane", learning_rate=10, hidden=[8, 8], seed=0)["id"]
    reply = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 40})
    assert reply.status == 200
    state = server.request("GET", f"/api/sessions/{session}/state").json
    assert state["diagnosis"]["kind"] == "diverged"
    assert state["train_loss"] is None and state["test_loss"] is None
    reply = server.request("GET", f"/api/sessions/{session}/export/model")
    assert_error(reply, 409, "diverged", "learning rate")


# ------------------------------------------------------------------ uploads


def test_a_csv_uploads_as_multipart_or_as_text_and_trains(server):
    body, content_type = multipart({}, {"file": ("boxes.csv", GOOD_CSV)})
    reply = server.request("POST", "/api/datasets", body, {"content-type": content_type})
    assert reply.status == 200, reply.body
    upload = reply.json
    assert upload["x1"] == "width" and upload["x2"] == "height" and upload["label"] == "kind"
    assert upload["problem"] == "classification" and upload["classes"] == ["big", "small"]
    assert upload["rows"] == 60 and upload["filename"] == "boxes.csv"
    as_text = server.request(
        "POST",
        "/api/datasets?x1=height&x2=width&label=kind",
        GOOD_CSV,
        {"content-type": "text/csv"},
    ).json
    assert (as_text["x1"], as_text["x2"]) == ("height", "width")
    listed = server.request("GET", "/api/datasets").json
    assert {d["name"] for d in listed["builtin"]} == {
        "circle",
        "xor",
        "gauss",
        "spiral",
        "plane",
        "multigauss",
    }
    assert upload["id"] in {u["id"] for u in listed["uploads"]}
    created = server.create(dataset=upload["id"], seed=3)
    assert created["config"]["problem"] == "classification"
    step = server.request("POST", f"/api/sessions/{created['id']}/step", {"epochs": 5}).json
    assert step["epoch"] == 5 and 0 <= step["test_accuracy"] <= 1


@pytest.mark.parametrize(
    ("csv", "status", "words"),
    [
        (b"", 400, ["empty"]),
        (b"a,b\n1,2\n", 400, ["two numeric feature columns"]),
        (b"a,b,c\n" + b"1,2,0\n3,4,1\n" * 5 + b"5,x,0\n", 400, ["row 11", "'b'", "not a number"]),
        (b"a,b,c\n" + b"1,2,0\n3,4\n" * 6, 400, ["line 3", "2 values"]),
        (b"a,b,c\n" + b"1,2,red\n3,4,green\n5,6,blue\n" * 4, 400, ["3 different values"]),
        (b"a,b,c\n1,2,0\n3,4,1\n", 400, ["at least 10"]),
        (b"a,b,c\n" + b"1,2,0\n1,3,1\n" * 6, 400, ["'a'", "same value"]),
        (b"\x00\x01binary" * 10, 400, ["not text"]),
        (b"a,b,c\n" + b"1,2,0\n3,4,1\n" * 50_001, 413, ["100,000 rows"]),
    ],
)
def test_a_bad_upload_is_a_4xx_that_says_what_is_wrong(server, csv, status, words):
    reply = server.request("POST", "/api/datasets", csv, {"content-type": "text/csv"})
    assert_error(reply, status, *words)


def test_uploads_are_capped_at_10_mb_and_need_a_known_content_type(server):
    big = b"a,b,c\n" + b"1.000000,2.000000,0\n" * 560_000  # over 10 MB
    assert len(big) > 10 * 2**20
    assert_error(
        server.request("POST", "/api/datasets", big, {"content-type": "text/csv"}), 413, "10 MB"
    )
    assert_error(
        server.request("POST", "/api/datasets", b"{}", {"content-type": "application/json"}),
        415,
        "multipart/form-data",
        "text/csv",
    )
    body, content_type = multipart({"x1": "width"}, {})
    reply = server.request("POST", "/api/datasets", body, {"content-type": content_type})
    assert_error(reply, 400, "file")
    reply = server.request(
        "POST", "/api/datasets?label=nothing", GOOD_CSV, {"content-type": "text/csv"}
    )
    assert_error(reply, 400, "label", "nothing", "width, height, kind")
    reply = server.request("POST", "/api/datasets?colour=1", GOOD_CSV, {"content-type": "text/csv"})
    assert_error(reply, 400, "colour")


# ------------------------------------------------------------------ the stream


def frames_until(socket, condition, limit: int = 400) -> dict:
    """Read frames (acknowledging each) until ``condition(frame)``."""
    for _ in range(limit):
        message = socket.recv(timeout=20)
        assert isinstance(message, bytes), message
        frame = decode_frame(message)
        socket.send(json.dumps({"type": "ack"}))
        if condition(frame):
            return frame
    raise AssertionError("the condition never held")


def test_the_stream_sends_binary_frames_and_obeys_play_pause_step_and_focus(server):
    session = server.create(dataset="spiral", hidden=[5, 3], seed=2)["id"]
    with server.websocket(session) as socket:
        first = frames_until(socket, lambda f: True)
        assert first["epoch"] == 0 and first["heatmap"].shape == (100, 100)
        assert first["maps"].shape == (7 + 5 + 3 + 1, 20, 20)
        assert first["parameters"].size == 2 * 5 + 5 + 5 * 3 + 3 + 3 * 1 + 1
        assert first["history_start"] == 0 and first["history"].shape == (1, 2)
        socket.send(json.dumps({"type": "play", "epochs_per_frame": 3}))
        playing = frames_until(socket, lambda f: f["epoch"] >= 9)
        assert playing["epoch"] % 3 == 0 and playing["playing"]
        assert playing["history_start"] + len(playing["history"]) == playing["epoch"] + 1
        socket.send(json.dumps({"type": "pause"}))
        paused = frames_until(socket, lambda f: not f["playing"])
        socket.send(json.dumps({"type": "step", "epochs": 2}))
        stepped = frames_until(socket, lambda f: f["epoch"] == paused["epoch"] + 2)
        assert not stepped["playing"]
        socket.send(json.dumps({"type": "focus", "node": 7}))  # the first hidden neuron
        focused = frames_until(socket, lambda f: f["focus"] == 7)
        # the big map is that neuron's output; its thumbnail is the same picture, smaller
        big = dequantize(focused["heatmap"])[2::5, 2::5]
        small = dequantize(focused["maps"][7])
        assert np.corrcoef(big.ravel(), small.ravel())[0, 1] > 0.95
        socket.send(json.dumps({"type": "focus", "node": 999}))
        error = json.loads(socket.recv(timeout=10))
        assert error["type"] == "error" and "node" in error["error"]
        socket.send("not json")
        assert "JSON" in json.loads(socket.recv(timeout=10))["error"]
        socket.send(json.dumps({"type": "jump"}))
        assert "play, pause, step, ack, focus" in json.loads(socket.recv(timeout=10))["error"]
        socket.send(json.dumps({"type": "play", "epochs_per_frame": 0}))
        assert "epochs_per_frame" in json.loads(socket.recv(timeout=10))["error"]
        socket.send(json.dumps({"type": "step"}))  # still alive after the bad messages
        frames_until(socket, lambda f: f["epoch"] == stepped["epoch"] + 1)
    state = server.request("GET", f"/api/sessions/{session}/state").json
    assert state["epoch"] == stepped["epoch"] + 1


def test_frames_wait_for_the_page_to_acknowledge_them(server):
    session = server.create(seed=4)["id"]
    with server.websocket(session) as socket:
        socket.recv(timeout=20)  # the first frame, not acknowledged
        socket.send(json.dumps({"type": "play", "epochs_per_frame": 1}))
        socket.recv(timeout=20)  # the second: now two are in flight and the server waits
        time.sleep(0.5)
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.5)
        state = server.request("GET", f"/api/sessions/{session}/state").json
        assert state["epoch"] <= 2  # training waits for the page too
        socket.send(json.dumps({"type": "ack"}))
        assert decode_frame(socket.recv(timeout=20))["epoch"] >= 1


# ------------------------------------------------------------------ limits


def test_the_session_cap_is_a_429_and_idle_sessions_are_reclaimed():
    with running_server(max_sessions=2, idle_seconds=0.6, sweep_seconds=0.2) as small:
        first = small.create(seed=1)["id"]
        small.create(seed=2)
        assert_error(small.request("POST", "/api/sessions", {}), 429, "2 sessions", "10 minutes")
        with small.websocket(first) as socket:
            socket.recv(timeout=20)
            deadline = time.monotonic() + 20
            with pytest.raises(Exception):  # noqa: B017 - closed by the server when idle
                while time.monotonic() < deadline:
                    socket.recv(timeout=20)
            assert socket.close_code == 4000
        assert small.request("GET", f"/api/sessions/{first}/state").status == 404
        assert small.request("POST", "/api/sessions", {}).status == 200  # room again


# ------------------------------------------------------------------ the command


def test_thalweg_playground_serves_until_sigterm_and_warns_about_0_0_0_0():
    command = [sys.executable, "-m", "thalweg", "playground", "--no-browser", "--port", "0"]
    for host, warned in (("127.0.0.1", False), ("0.0.0.0", True)):
        process = subprocess.Popen(
            [*command, "--host", host],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            line = process.stdout.readline()
            assert line.startswith("thalweg playground: http://127.0.0.1:"), line
            url = line.split()[2].rstrip("/")
            from playground_server import DIRECT

            deadline = time.monotonic() + 20
            while True:
                try:
                    with DIRECT.open(url + "/healthz", timeout=5) as reply:
                        assert json.loads(reply.read()) == {"status": "ok"}
                        break
                except OSError:
                    assert time.monotonic() < deadline
                    time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert ("warning: --host 0.0.0.0" in err) is warned
        assert "Traceback" not in err


def test_a_port_in_use_is_one_line_and_exit_2(cli):
    from thalweg.playground.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        result = cli("playground", "--no-browser", "--port", taken.getsockname()[1])
    finally:
        taken.close()
    assert result.code == 2
    assert result.err.startswith("error: port") and "--port" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_the_command_has_help_with_an_example(cli):
    result = cli("playground", "--help")
    assert result.code == 0 and "$ thalweg playground" in result.out
    assert "--no-browser" in result.out and "--port" in result.out and "--host" in result.out


# ------------------------------------------------------------------ exports


def test_exports_download_a_model_for_thalweg_predict_and_a_script_that_retrains(
    server, cli, tmp_path
):
    session = server.create(dataset="circle", hidden=[3], features=["x1sq", "x2sq"], seed=8)["id"]
    trained = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 10}).json
    model = server.request("GET", f"/api/sessions/{session}/export/model")
    assert model.status == 200
    assert 'filename="playground-circle-epoch10.thalweg"' in model.headers["content-disposition"]
    (tmp_path / "model.thalweg").write_bytes(model.body)
    (tmp_path / "points.csv").write_text("x1,x2\n0,0\n5,5\n-4.5,0.5\n")
    result = cli("predict", "model.thalweg", "points.csv")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "prediction,probability_0,probability_1"
    assert [line.split(",")[0] for line in result.out.splitlines()[1:]] == ["1", "0", "0"]
    script = server.request("GET", f"/api/sessions/{session}/export/python")
    assert script.status == 200 and script.headers["content-type"].startswith("text/x-python")
    (tmp_path / "retrain.py").write_bytes(script.body)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "retrain.py")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    expected = (
        f"epoch 10: train loss {trained['train_loss']:.6f}, test loss {trained['test_loss']:.6f}"
    )
    assert expected in done.stdout
