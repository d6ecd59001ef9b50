"""Data where teams keep it: s3:// (a real S3-compatible server, moto's, started here),
fsspec's memory:// and file:// stores, and http:// (a local web server), through every
command that reads data, --stream, --dask and thalweg.data.stream.

The S3 server checks signatures (``INITIAL_NO_AUTH_ACTION_COUNT``): a wrong secret is
refused as it would be by AWS. Credentials come from the environment only, and never
reach a message, a model file or a report.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

from thalweg.data import stream
from thalweg.data.filesystems import is_url, locate, redact
from thalweg.io import read_table, write_csv

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None,
    reason="needs moto[server] and s3fs (the dev extra)",
)
BUCKET = "tables"
SECRET_IN_URL = "hunter2-in-the-url"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def points(n: int = 300, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    label = np.where(a - 0.5 * b + 0.3 * rng.normal(size=n) > 0, "yes", "no").astype(object)
    return {"a": a, "b": b, "label": label}


def write_parquet(path: Path, table: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({k: list(v) for k, v in table.items()}), path, row_group_size=64)


@pytest.fixture(scope="module")
def local_data(tmp_path_factory) -> Path:
    """The same data as on the server, on disk: table.csv, parts/ (2 Parquet files), and
    matrix.npy (3 columns, the last one the target)."""
    folder = tmp_path_factory.mktemp("store")
    table = points()
    write_csv(folder / "table.csv", table)
    (folder / "parts").mkdir()
    write_parquet(folder / "parts" / "part-0.parquet", {k: v[:150] for k, v in table.items()})
    write_parquet(folder / "parts" / "part-1.parquet", {k: v[150:] for k, v in table.items()})
    y = (table["label"] == "yes").astype(np.float64)
    np.save(folder / "matrix.npy", np.column_stack([table["a"], table["b"], y]))
    return folder


@pytest.fixture(scope="module")
def s3(local_data):
    """A moto S3 server on a free port, with an IAM user whose key the tests use."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # Requests after the first 3 (the IAM setup below) must be signed by a real key.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the moto server did not start")
            time.sleep(0.1)
        import boto3

        setup = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        anonymous = {"aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **setup, **anonymous)
        iam.create_user(UserName="trainer")
        key = iam.create_access_key(UserName="trainer")["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*"}]}
        policy["Statement"][0]["Resource"] = "*"
        iam.put_user_policy(UserName="trainer", PolicyName="all", PolicyDocument=json.dumps(policy))
        credentials = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        client = boto3.client(
            "s3",
            **setup,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        client.create_bucket(Bucket=BUCKET)
        for path in local_data.rglob("*.*"):
            client.upload_file(str(path), BUCKET, path.relative_to(local_data).as_posix())
        yield credentials
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def aws(s3, monkeypatch):
    """The server's credentials in this process's environment (as a user would set)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name, value in s3.items():
        monkeypatch.setenv(name, value)
    return s3


def everything_written(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# ------------------------------------------------------------------------------ library


def test_redact_drops_passwords_queries_and_fragments_only():
    assert redact("s3://AKIA:secret@bucket/a/b.csv") == "s3://bucket/a/b.csv"
    assert redact("https://host:8443/t.csv?X-Amz-Signature=abc") == "https://host:8443/t.csv?…"
    assert redact("data/local.csv") == "data/local.csv"
    assert is_url("gs://b/k") and not is_url("C:/data.csv") and not is_url(Path("a"))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("gs://bucket/t.csv", ["gcsfs", "pip install 'thalweg[gcs]'"]),
        ("az://container/t.csv", ["adlfs", "pip install 'thalweg[azure]'"]),
        ("ftpx://host/t.csv", ["cannot read ftpx://", "s3://"]),
    ],
)
def test_a_missing_package_or_unknown_scheme_is_one_line_naming_the_fix(cli, url, words):
    if "gcsfs" in words and importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here")
    if "adlfs" in words and importlib.util.find_spec("adlfs") is not None:
        pytest.skip("adlfs is installed here")
    assert_one_line_error(cli("train", url, "--target", "y"), *words)


def test_without_s3fs_an_s3_url_says_which_extra_to_install(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if it were not installed
    assert_one_line_error(
        cli("train", "s3://bucket/t.csv", "--target", "y"), "s3fs", "pip install 'thalweg[s3]'"
    )


def test_stream_reads_parquet_csv_and_npy_from_s3_exactly_as_from_disk(aws, local_data):
    def batches(source, target, **options):
        s = stream(source, target=target, batch_size=50, seed=3, **options)
        return [(X.copy(), np.asarray(y).copy()) for X, y in s]

    for name, target, options in (
        ("parts/", "label", {}),
        ("table.csv", "label", {"shuffle_buffer": 0}),
        ("matrix.npy", -1, {"read_rows": 64}),
    ):
        remote = batches(f"s3://{BUCKET}/{name}", target, **options)
        local = batches(str(local_data / name), target, **options)
        assert len(remote) == len(local) > 1
        for (X_r, y_r), (X_l, y_l) in zip(remote, local, strict=True):
            np.testing.assert_array_equal(X_r, X_l)
            np.testing.assert_array_equal(y_r, y_l)


def test_memory_and_file_urls_read_through_fsspec(local_data):
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/thalweg-test/table.csv", (local_data / "table.csv").read_bytes())
    try:
        from_memory = read_table("memory://thalweg-test/table.csv")
        streamed = stream("memory://thalweg-test/table.csv", target="label", batch_size=300)
        X, y = next(iter(streamed))
    finally:
        memory.rm("/thalweg-test", recursive=True)
    from_file = read_table(f"file://{local_data / 'table.csv'}")
    local = read_table(local_data / "table.csv")
    for table in (from_memory, from_file):
        np.testing.assert_array_equal(table["a"], local["a"])
        assert table["label"].tolist() == local["label"].tolist()
    assert X.shape == (300, 2) and sorted(set(y.tolist())) == ["no", "yes"]


def test_a_store_location_names_files_and_lists_folders(aws):
    folder = locate(f"s3://{BUCKET}/parts/")
    assert folder.is_dir() and folder.is_remote
    names = [str(f) for f in folder.files((".parquet",))]
    assert names == [f"s3://{BUCKET}/parts/part-0.parquet", f"s3://{BUCKET}/parts/part-1.parquet"]
    assert not locate(f"s3://{BUCKET}/nothing.csv").exists()


# ------------------------------------------------------------------------------ CLI


def test_train_evaluate_and_predict_read_s3_urls(cli, aws, local_data, tmp_path):
    url = f"s3://{BUCKET}/table.csv"
    remote = cli("train", url, "-t", "label", "--epochs", "5", "-o", "s3.thalweg", "--json")
    assert remote.code == 0, remote.err
    local = cli(
        "train", local_data / "table.csv", "-t", "label", "--epochs", "5", "-o", "local.thalweg"
    )
    assert local.code == 0, local.err
    assert cli("predict", "s3.thalweg", url, "-o", "remote.csv").code == 0
    assert cli("predict", "local.thalweg", local_data / "table.csv", "-o", "local.csv").code == 0
    assert Path("remote.csv").read_text() == Path("local.csv").read_text()  # same model
    evaluated = cli("evaluate", "s3.thalweg", url, "--json")
    assert evaluated.code == 0, evaluated.err
    assert evaluated.json["data"] == url and evaluated.json["rows"] == 300


def test_stream_trains_from_an_s3_folder_like_from_disk(cli, aws, local_data):
    runs = []
    for data in (f"s3://{BUCKET}/parts/", local_data / "parts"):
        result = cli("train", data, "-t", "label", "--stream", "--epochs", "2", "--json")
        assert result.code == 0, result.err
        runs.append(result.json)
    remote, local = runs
    assert remote["rows"] == local["rows"] == 300
    assert remote["metrics"] == local["metrics"]


@pytest.mark.skipif(importlib.util.find_spec("distributed") is None, reason="needs dask")
def test_dask_workers_read_their_partitions_from_s3_and_train_as_from_disk(aws, local_data):
    import warnings

    from thalweg import distributed
    from thalweg.models import LogisticRegression

    models = []
    # The workers are separate processes: they inherit this environment's credentials
    # and read their own partitions from the server; the driver only lists the files.
    with distributed.connect("local:1") as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the data is small"
        for data in (f"s3://{BUCKET}/parts/", str(local_data / "parts")):
            frame = distributed.read_table(data)[["a", "b", "label"]]
            model = LogisticRegression(solver="gd", max_epochs=5, tol=None, seed=0)
            models.append(distributed.fit(model, frame, target="label", client=client))
    remote, local = models
    np.testing.assert_allclose(remote.coef_, local.coef_, rtol=1e-6)
    assert remote.classes_.tolist() == ["no", "yes"]


def test_refused_credentials_are_one_line_that_names_the_fix_not_the_secret(cli, aws, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    for args in (
        ["train", f"s3://{BUCKET}/table.csv", "-t", "label"],
        ["train", f"s3://{BUCKET}/parts/", "-t", "label", "--stream"],
    ):
        result = cli(*args)
        assert_one_line_error(result, "refused access", "AWS_ACCESS_KEY_ID")
        assert "wrong-secret-value" not in result.err


def test_no_secret_reaches_the_model_file_the_report_or_the_output(cli, aws, tmp_path):
    url = f"s3://AKIAEXAMPLE:{SECRET_IN_URL}@{BUCKET}/table.csv?X-Amz-Signature={SECRET_IN_URL}"
    out = tmp_path / "out"
    result = cli(
        "train", url, "-t", "label", "--epochs", "3", "-o", out / "m.thalweg",
        "--report", out / "r.html", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    evaluated = cli("evaluate", out / "m.thalweg", url, "--json")
    predicted = cli("predict", out / "m.thalweg", url, "-o", out / "p.csv")
    written = everything_written(tmp_path)  # the model, report, predictions, run store
    assert list(tmp_path.glob("*.sqlite"))  # the runs were recorded, redacted
    for secret in (SECRET_IN_URL, aws["AWS_SECRET_ACCESS_KEY"]):
        for text in (result.out, result.err, evaluated.out, predicted.out, predicted.err):
            assert secret not in text
        assert secret.encode() not in written
    assert result.json["written"]["model"].endswith("m.thalweg")
    assert f"s3://{BUCKET}/table.csv?…".encode() in written  # the source, redacted


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def test_an_http_url_trains_like_the_file(cli, local_data):
    handler = functools.partial(QuietHandler, directory=str(local_data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/table.csv?token=abc"
        result = cli("train", url, "-t", "label", "--epochs", "3", "--json")
        missing = cli("train", url.replace("table", "absent"), "-t", "label")
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 0, result.err
    assert result.json["rows"] == 300
    assert_one_line_error(missing, "absent.csv", "no such file")
    assert "token=abc" not in missing.err


def test_cluster_and_embed_read_urls_and_keep_no_secret(cli, local_data, tmp_path):
    # The command line saved in their model files is redacted like train's.
    handler = functools.partial(QuietHandler, directory=str(local_data))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    out = tmp_path / "out"
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/table.csv?token={SECRET_IN_URL}"
        clustered = cli(
            "cluster", url, "-k", "2", "--ignore", "label", "-o", out / "c.thalweg",
            "--report", out / "c.html", "--json",
        )  # fmt: skip
        embedded = cli(
            "embed", url, "--epochs", "3", "--ignore", "label", "--save", out / "e.thalweg",
            "-o", out / "codes.csv",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert clustered.code == 0, clustered.err
    assert embedded.code == 0, embedded.err
    written = everything_written(out)
    for text in (clustered.out, clustered.err, embedded.out, embedded.err):
        assert SECRET_IN_URL not in text
    assert SECRET_IN_URL.encode() not in written
    redacted = f"http://127.0.0.1:{server.server_address[1]}/table.csv?…"
    assert clustered.json["data"] == redacted
    from thalweg.files import read_metadata

    for name, key in (("c.thalweg", "clustering"), ("e.thalweg", "embedding")):
        command = read_metadata(out / name)[key]["command"]
        assert command.startswith("thalweg ") and redacted in command


def test_a_local_copy_is_removed_after_reading(aws, monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    read_table(f"s3://{BUCKET}/table.csv")
    assert not list(tmp_path.iterdir())
    shutil.rmtree(tmp_path, ignore_errors=True)
