"""`thalweg serve`: a real server process on a free port, real requests, a real SIGTERM."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from thalweg.models import LinearRegression, LogisticRegression
from thalweg.models.tabular import TabularModel
from thalweg.serving import FeatureLogger, read_feature_log
from thalweg.serving.featurelog import LoggedBatch
from thalweg.serving.rows import table_from_csv, table_from_json


def training_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 2, n)
    city = rng.choice(np.array(["Oslo", "Rome", "Lima"], dtype=object), n)
    label = np.where(size + (city == "Rome") * 2 > 11, "big", "small").astype(object)
    return {"size": size, "city": city, "label": label}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serving")
    model = TabularModel(LogisticRegression()).fit(training_table(), "label")
    path = folder / "model.thalweg"
    model.save(path, {"metrics": {"test": {"accuracy": 0.9}}})
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`thalweg serve` in its own process."""

    def __init__(self, model: Path, folder: Path, *options: str):
        self.port = free_port()
        self.log = folder / "served"
        command = [sys.executable, "-m", "thalweg", "serve", str(model), "--port", str(self.port)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [*command, "--log", str(self.log), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ready_line = self.process.stdout.readline()
        assert "serving" in self.ready_line, self.process.stderr.read()

    def request(self, method, path, body=None, content_type="application/json"):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"content-type": content_type} if body is not None else {}
        if isinstance(body, dict | list):
            body = json.dumps(body)
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, json.loads(data)

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, self.ready_line + out + err


@pytest.fixture(scope="module")
def server(model_file, tmp_path_factory):
    running = Server(model_file, tmp_path_factory.mktemp("server"))
    yield running
    if running.process.poll() is None:
        running.stop()


def rows_of(table, start, stop):
    return [
        {"size": float(table["size"][i]), "city": str(table["city"][i])} for i in range(start, stop)
    ]


def test_predict_answers_what_the_model_predicts(server, model_file):
    model = TabularModel.load(model_file)
    table = training_table(40, seed=1)
    status, answer = server.request("POST", "/predict", {"rows": rows_of(table, 0, 40)})
    assert status == 200
    assert answer["predictions"] == model.predict(table).tolist()
    assert answer["classes"] == model.classes_.tolist()
    np.testing.assert_allclose(answer["probabilities"], model.predict_proba(table), rtol=1e-12)
    csv_body = "size,city\n" + "\n".join(f"{r['size']!r},{r['city']}" for r in rows_of(table, 0, 5))
    status, from_csv = server.request("POST", "/predict", csv_body, "text/csv")
    assert status == 200 and from_csv["predictions"] == answer["predictions"][:5]


def test_mistakes_get_a_4xx_and_one_line_naming_the_problem(server):
    def error(status_expected, *args):
        status, answer = server.request(*args)
        assert status == status_expected, answer
        assert list(answer) == ["error"] and "\n" not in answer["error"]
        return answer["error"]

    assert "'city'" in error(422, "POST", "/predict", {"rows": [{"size": 1.0}]})
    assert "'size'" in error(422, "POST", "/predict", {"rows": [{"size": "big", "city": "Oslo"}]})
    assert "row 2" in error(
        422, "POST", "/predict", {"rows": [{"size": 1, "city": "Oslo"}, {"city": "Rome"}]}
    )
    assert "missing" in error(422, "POST", "/predict", {"rows": [{"size": None, "city": "Oslo"}]})
    assert "JSON" in error(400, "POST", "/predict", "{not json")
    assert "rows" in error(400, "POST", "/predict", {"data": []})
    assert "not supported" in error(415, "POST", "/predict", "x", "application/xml")
    assert "no route" in error(404, "GET", "/nowhere")
    assert "not allowed" in error(405, "GET", "/predict")
    status, health = server.request("GET", "/healthz")
    assert status == 200 and health["status"] == "ok"  # the server lives on


def test_model_route_shows_schema_classes_and_training_metrics(server, model_file):
    status, info = server.request("GET", "/model")
    assert status == 200
    assert info["columns"] == [
        {"name": "size", "type": "numeric"},
        {"name": "city", "type": "categorical", "categories": ["Lima", "Oslo", "Rome"]},
    ]
    assert info["classes"] == ["big", "small"] and info["target"] == "label"
    assert info["metrics"] == {"test": {"accuracy": 0.9}}
    assert server.ready_line.split(" on ")[1].startswith("http://127.0.0.1:")


def test_no_body_gets_a_500_and_bad_values_are_named(server):
    # Each of these once answered 500 (an overflow, a recursion, a CSV field limit) or
    # 200 with a lone surrogate that then stopped the feature log for good.
    huge_int = b'{"rows": [{"size": 1' + b"0" * 400 + b', "city": "Oslo"}]}'
    bodies = [
        (huge_int, "application/json", 422, "infinite"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested"),
        (b'{"rows": [{"size": 1, "city": "\\ud800"}]}', "application/json", 400, "surrogate"),
        (b'{"rows": [{"size": NaN, "city": "Oslo"}]}', "application/json", 422, "missing"),
        (b'{"rows": [{"size": Infinity, "city": "Oslo"}]}', "application/json", 422, "infinite"),
        (b'{"rows": [{"size": true, "city": "Oslo"}]}', "application/json", 422, "'size'"),
        (b'{"rows": [], "columns": {}}', "application/json", 400, "either"),
        (b'{"columns": {"size": [1, 2], "city": ["Oslo"]}}', "application/json", 400, "lengths"),
        (b'{"columns": {"size": [1]}}', "application/json", 422, "'city'"),
        (b"size,city\n1," + b"a" * 200_000 + b"\n", "text/csv", 200, None),
        ("size,city\n1,Zürich\n".encode("latin-1"), "text/csv", 400, "UTF-8"),
        (b"size,size,city\n1,2,Oslo\n", "text/csv", 400, "twice"),
        (b"size,city\nNA,Oslo\n", "text/csv", 422, "missing"),  # as thalweg predict reads NA
    ]
    for body, content_type, status, word in bodies:
        got, answer = server.request("POST", "/predict", body, content_type)
        assert got == status, (body[:60], answer)
        if word is not None:
            assert list(answer) == ["error"] and word in answer["error"], answer
    status, health = server.request("GET", "/healthz")
    assert status == 200 and health["feature_log"]["error"] is None
    assert health["feature_log"]["dropped_rows"] == 0


def test_columns_form_answers_as_the_rows_form(server):
    table = training_table(30, seed=4)
    rows = rows_of(table, 0, 30)
    columns = {"size": [r["size"] for r in rows], "city": [r["city"] for r in rows]}
    by_rows = server.request("POST", "/predict", {"rows": rows})
    by_columns = server.request("POST", "/predict", {"columns": columns})
    assert by_rows[0] == by_columns[0] == 200 and by_rows[1] == by_columns[1]


def test_concurrent_small_requests_each_get_their_own_answer(server, model_file):
    # Requests arriving together are predicted in one model call (micro-batching); a
    # bad one among them must not spoil, or take the answers of, its neighbours.
    model = TabularModel.load(model_file)
    table = training_table(64, seed=5)
    expected = model.predict_proba(table)
    answers: dict[int, tuple] = {}

    def client(first):
        for i in range(first, 64, 16):
            body = {"rows": rows_of(table, i, i + 1)}
            if i % 21 == 0:
                body["rows"][0]["size"] = "oops"
            answers[i] = server.request("POST", "/predict", body)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, (status, answer) in answers.items():
        if i % 21 == 0:
            assert status == 422 and "'size'" in answer["error"] and "row 1" in answer["error"]
        else:
            assert status == 200, answer
            np.testing.assert_allclose(answer["probabilities"][0], expected[i], rtol=1e-12)
    status, health = server.request("GET", "/healthz")
    assert health["batches"] < health["requests"]  # some requests did share a model call


def test_sigterm_flushes_the_feature_log_with_inputs_features_and_predictions(server, model_file):
    model = TabularModel.load(model_file)
    table = training_table(57, seed=2)
    sent = rows_of(table, 0, 57)
    for start in range(0, 57, 19):  # three requests, one with an extra "id" field
        rows = [dict(r, id=i) if start == 38 else r for i, r in enumerate(sent[start : start + 19])]
        assert server.request("POST", "/predict", {"rows": rows})[0] == 200
    code, output = server.stop()
    assert code == 0, output
    assert "stopped; feature log:" in output
    log = read_feature_log(server.log)
    served = [i for i in range(len(log)) if log.inputs["city"][i] is not None]
    mine = np.isin(log.inputs["size"], table["size"])
    assert mine.sum() == 57 and len(served) == len(log)
    order = np.argsort(log.request_ids[mine] * 1000 + log.rows_in_request[mine], kind="stable")
    sizes = log.inputs["size"][mine][order]
    np.testing.assert_array_equal(sizes, table["size"])
    np.testing.assert_allclose(log.features[mine][order], model.transform(table))
    assert log.predictions[mine][order].tolist() == model.predict(table).tolist()
    np.testing.assert_allclose(
        log.probabilities["big"][mine][order], model.predict_proba(table)[:, 0]
    )
    ids = log.extra_column("id")[mine][order]
    assert ids[38:].tolist() == list(range(19)) and ids[:38].tolist() == [None] * 38
    assert log.metadata["model_sha256"]
    # Every row answered 200 in this module is in the log once: nothing lost, nothing
    # doubled, whether it was predicted alone or in a micro-batch.
    keys = log.request_ids * 100_000 + log.rows_in_request
    assert len(np.unique(keys)) == len(log)
    assert f"{len(log)} rows" in output


def test_log_fraction_samples_rows_and_the_body_cap_answers_413(model_file, tmp_path):
    server = Server(model_file, tmp_path, "--log-fraction", "0.5", "--max-body", "1")
    try:
        table = training_table(400, seed=3)
        status, _ = server.request("POST", "/predict", {"rows": rows_of(table, 0, 400)})
        assert status == 200
        status, answer = server.request("POST", "/predict", "x" * (2 * 1024 * 1024))
        assert status == 413 and "limit" in answer["error"]
    finally:
        code, output = server.stop()
    assert code == 0, output
    logged = len(read_feature_log(server.log))
    assert 120 < logged < 280  # Binomial(400, 0.5): ± 8 standard deviations


def test_a_port_in_use_is_one_clear_error(model_file, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "thalweg", "serve", str(model_file), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: cannot listen") and "--port" in result.stderr


# ------------------------------------------------------------------ the parts, in process


def test_request_bodies_become_the_same_table_from_json_and_csv():
    columns = [("size", "numeric"), ("city", "categorical")]
    table, extras, n = table_from_json(
        b'{"rows": [{"size": 1, "city": "Oslo"}, {"size": null, "city": 3, "id": "a"}]}', columns
    )
    assert n == 2 and extras == [None, '{"id": "a"}']
    assert table["size"].dtype == np.float64 and np.isnan(table["size"][1])
    model = TabularModel(LinearRegression()).fit(
        {"size": np.arange(6.0), "city": np.array(["Oslo", "3"] * 3, dtype=object)},
        np.arange(6.0),
    )
    typed = model.typed_columns(table_from_csv(b"size,city\n1,Oslo\n,3\n", columns)[0])
    assert typed["size"].tolist()[0] == 1.0 and typed["city"].tolist() == ["Oslo", "3"]


def test_logging_never_waits_for_the_disk_and_close_writes_everything(tmp_path, monkeypatch):
    logger = FeatureLogger(
        tmp_path / "log", [("x", "numeric")], ["x"], None, max_pending_rows=30, flush_seconds=0.01
    )
    released = threading.Event()
    original = FeatureLogger._write

    def slow_disk(self, batches):
        released.wait(30)
        original(self, batches)

    monkeypatch.setattr(FeatureLogger, "_write", slow_disk)

    def batch(i):
        values = np.array([float(i)] * 10)
        return LoggedBatch(i, 0, np.arange(10, dtype=np.int32), {"x": values}, None,
                           values[:, None], values, None)  # fmt: skip

    accepted = [logger.log(batch(i)) for i in range(5)]  # the writer is stuck meanwhile
    assert accepted[:3] == [True, True, True] and accepted[3:] == [False, False]
    assert logger.stats()["dropped_rows"] == 20
    released.set()
    logger.close()
    log = read_feature_log(tmp_path / "log")
    assert sorted(set(log.inputs["x"].tolist())) == [0.0, 1.0, 2.0]
    assert logger.stats()["logged_rows"] == 30 and logger.stats()["pending_rows"] == 0


def test_files_roll_after_rows_per_file_and_readers_see_only_complete_files(tmp_path):
    logger = FeatureLogger(
        tmp_path, [("x", "numeric")], ["x"], ["a", "b"], rows_per_file=25, flush_seconds=0.01
    )
    for i in range(6):
        values = np.arange(10.0) + 10 * i
        logger.log(
            LoggedBatch(
                i,
                0,
                np.arange(10, dtype=np.int32),
                {"x": values},
                None,
                values[:, None],
                np.array(["a"] * 10, dtype=object),
                np.full((10, 2), 0.5),
            )
        )
    deadline = time.monotonic() + 30
    while logger.stats()["logged_rows"] < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    complete = sorted(p.name for p in tmp_path.glob("features-*.parquet"))
    assert len(complete) == 2  # 25 + 25 rows; the last 10 wait in the open, hidden file
    logger.close()
    log = read_feature_log(tmp_path)
    assert len(list(tmp_path.glob("features-*.parquet"))) == 3
    assert sorted(log.inputs["x"].tolist()) == list(np.arange(60.0))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_batch_the_log_cannot_hold_is_dropped_alone(tmp_path):
    # A lone surrogate cannot be written as UTF-8: that batch is lost (and counted),
    # the ones before and after it are logged, and logging goes on.
    logger = FeatureLogger(tmp_path, [("city", "categorical")], ["x"], None, flush_seconds=0.01)

    def batch(i, city):
        return LoggedBatch(i, 0, np.arange(1, dtype=np.int32), {"city": np.array([city], object)},
                           None, np.ones((1, 1)), np.array([float(i)]), None)  # fmt: skip

    logger.log(batch(1, "Oslo"))
    logger.log(batch(2, "\ud800"))
    logger.log(batch(3, "Rome"))
    logger.close()
    stats = logger.stats()
    assert stats["logged_rows"] == 2 and stats["dropped_rows"] == 1 and stats["error"] is None
    assert "surrogate" in stats["last_bad_batch"]
    assert read_feature_log(tmp_path).inputs["city"].tolist() == ["Oslo", "Rome"]


def test_a_prediction_that_is_not_finite_is_refused_naming_the_row(tmp_path):
    # JSON has no Infinity: the answer would not parse. The row is named instead.
    from thalweg.errors import DataError
    from thalweg.serving.predictor import Predictor

    table = training_table(50)
    model = TabularModel(LinearRegression()).fit(
        {"size": table["size"], "city": table["city"]}, table["size"] * 3
    )
    model.save(tmp_path / "regression.thalweg")
    predictor = Predictor(tmp_path / "regression.thalweg")
    rows = {"size": np.array([10.0, 1e308]), "city": np.array(["Oslo", "Rome"], dtype=object)}
    # refused before predicting: a value whose square overflows is named by column and row
    with pytest.raises(DataError, match=r"row 2(: .* not a finite number| holds 1e\+308)"):
        predictor.predict(rows)
    answer = json.loads(predictor.answer(predictor.predict({k: v[:1] for k, v in rows.items()})))
    assert answer["predictions"] == pytest.approx([30.0], rel=0.05)


def test_a_date_column_is_logged_as_iso_text_and_reads_back_to_the_same_features(tmp_path):
    from thalweg.models.monitoring import model_skew, served_feature_mismatch
    from thalweg.serving.predictor import Predictor

    days = np.datetime64("2015-01-01") + np.arange(200)
    table = {
        "day": np.array([str(d) + "T06:30" for d in days], dtype=object),
        "size": np.linspace(0, 1, 200),
        "label": np.array(["a", "b"] * 100, dtype=object),
    }
    TabularModel(LogisticRegression()).fit(table, "label").save(tmp_path / "m.thalweg")
    predictor = Predictor(tmp_path / "m.thalweg")
    assert predictor.describe()["columns"][0] == {"name": "day", "type": "date"}
    served = {"day": table["day"][:5], "size": table["size"][:5]}
    prediction = predictor.predict(served)
    logger = FeatureLogger(
        tmp_path / "log", predictor.columns, predictor.model.feature_names_out_, ["a", "b"]
    )
    logger.log(LoggedBatch(1, 0, np.arange(5, dtype=np.int32), prediction.inputs, None,
                           prediction.features, prediction.predictions,
                           prediction.probabilities))  # fmt: skip
    logger.close()
    log = read_feature_log(tmp_path / "log")
    assert log.inputs["day"].tolist() == [str(d) + "T06:30:00" for d in days[:5]]
    mismatch = served_feature_mismatch(predictor.model, log.inputs, log.features)
    assert mismatch["row_mismatch_rate"] == 0
    report = model_skew(predictor.model, log.inputs, predictions=log.predictions)
    assert next(f for f in report.features if f.name == "day").kind == "numeric"
