"""Load test of ``thalweg serve`` on loopback, feature logging on.

``python -m bench.serve_load`` (``--quick``: 3-second phases) trains a classifier on the
bundled wine data (13 numeric columns) plus a categorical column, starts ``thalweg
serve`` with ``--log`` in a child process, and drives it over keep-alive HTTP/1.1
connections from this process (an asyncio client on uvloop, written for low overhead,
as ``wrk`` would be):

1. single-row requests from 32 concurrent clients: requests/s, p50 / p99 latency;
2. 1,000-row requests from 4 concurrent clients: rows/s, p50 / p99 latency.

Targets (issue 15): >= 1,000 single-row requests/s with p99 <= 25 ms under 32 clients,
and >= 200,000 rows/s in 1,000-row requests. The client shares the machine's cores with
the server, as it would on one 2-core box; both numbers are printed as measured.

Checks, so a fast wrong server cannot pass: every response is 200; sampled responses
equal ``TabularModel.predict`` on the same rows; after SIGTERM the feature log holds
exactly the rows served (nothing dropped, nothing lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGETS = {"single_rps": 1000.0, "single_p99_ms": 25.0, "batch_rows_per_s": 200_000.0}


def make_model(folder: Path) -> tuple[Path, list[dict]]:
    """A logistic regression on wine + a categorical column; the rows to send."""
    from thalweg.datasets import load
    from thalweg.models import LogisticRegression
    from thalweg.models.tabular import TabularModel

    X, y, names = load("wine")
    rng = np.random.default_rng(0)
    table = {name: X[:, j] for j, name in enumerate(names)}
    table["region"] = rng.choice(np.array(["north", "south", "east"], dtype=object), len(y))
    model = TabularModel(LogisticRegression()).fit(table, y)
    path = folder / "wine.thalweg"
    model.save(path)
    rows = [
        {name: (float(v[i]) if name != "region" else str(v[i])) for name, v in table.items()}
        for i in range(len(y))
    ]
    return path, rows


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request_bytes(port: int, rows: list[dict]) -> bytes:
    body = json.dumps({"rows": rows}).encode()
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(b":", 1)[1]) for line in lines if line.lower().startswith(b"content-length")
    )
    return status, await reader.readexactly(length)


async def load(
    port: int, payloads: list[bytes], clients: int, seconds: float, keep: int = 50
) -> dict:
    """``clients`` connections sending ``payloads`` in turn for ``seconds``."""
    latencies: list[float] = []
    kept: list[tuple[int, bytes]] = []  # (payload index, body) of some responses
    failures = 0
    deadline = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        index = number
        while time.perf_counter() < deadline:
            payload = index % len(payloads)
            started = time.perf_counter()
            writer.write(payloads[payload])
            status, body = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures += 1
            elif len(kept) < keep and index % 97 == 0:
                kept.append((payload, body))
            index += clients
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    latency = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(latency, 50)),
        "p99_ms": float(np.percentile(latency, 99)),
        "failures": failures,
        "kept": kept,
    }


def check_answers(model_path: Path, batches: list[list[dict]], kept) -> int:
    """Compare kept responses with the model's own predictions; return rows checked."""
    from thalweg.models.tabular import TabularModel

    model = TabularModel.load(model_path)
    checked = 0
    for payload, body in kept:
        rows = batches[payload]
        table = {name: np.asarray([r[name] for r in rows], dtype=object) for name in rows[0]}
        answer = json.loads(body)
        expected = model.predict(table).tolist()
        if answer["predictions"] != expected:
            raise SystemExit(f"wrong predictions from the server for payload {payload}")
        np.testing.assert_allclose(answer["probabilities"], model.predict_proba(table), rtol=1e-9)
        checked += len(rows)
    return checked


def run(
    seconds: float, clients: int, batch_clients: int, log_rows: bool = True, workers: int = 1
) -> dict:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    folder = Path(tempfile.mkdtemp(prefix="thalweg-serve-bench-"))
    model_path, rows = make_model(folder)
    port = free_port()
    log = folder / "served"
    server = subprocess.Popen(
        [sys.executable, "-m", "thalweg", "serve", str(model_path), "--port", str(port),
         "--workers", str(workers), *(["--log", str(log)] if log_rows else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ready = server.stdout.readline()
    if "serving" not in ready:
        raise SystemExit(f"the server did not start: {server.stderr.read()}")
    try:
        singles = [[row] for row in rows]
        big = [(rows * 6)[i : i + 1000] for i in range(0, 60, 7)]  # 9 different 1,000-row bodies
        warm = asyncio.run(load(port, [request_bytes(port, b) for b in singles[:8]], 4, 0.5))
        single = asyncio.run(
            load(port, [request_bytes(port, b) for b in singles], clients, seconds)
        )
        batch = asyncio.run(
            load(port, [request_bytes(port, b) for b in big], batch_clients, seconds)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=120)
    if server.returncode != 0:
        raise SystemExit(f"the server exited with {server.returncode}: {err}")
    checked = check_answers(model_path, singles, single["kept"]) + check_answers(
        model_path, big, batch["kept"]
    )
    from thalweg.serving import read_feature_log

    logged = len(read_feature_log(log)) if log_rows else 0
    sent = warm["requests"] + single["requests"] + batch["requests"] * 1000
    if log_rows and logged != sent:
        raise SystemExit(f"the feature log holds {logged:,} rows, but {sent:,} were served")
    return {
        "single": {k: v for k, v in single.items() if k != "kept"},
        "batch": {k: v for k, v in batch.items() if k != "kept"}
        | {"rows_per_second": batch["requests_per_second"] * 1000},
        "checked_rows": checked,
        "logged_rows": logged,
        "server_summary": out.strip().splitlines()[-1] if out.strip() else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3-second phases")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--no-log", action="store_true", help="serve without the feature log")
    parser.add_argument("--workers", type=int, default=1, help="thalweg serve --workers")
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else args.seconds
    result = run(
        seconds, args.clients, args.batch_clients, log_rows=not args.no_log, workers=args.workers
    )
    single, batch = result["single"], result["batch"]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"single-row, {args.clients} clients: {single['requests_per_second']:,.0f} req/s "
        f"(target >= {TARGETS['single_rps']:,.0f}), p50 {single['p50_ms']:.2f} ms, "
        f"p99 {single['p99_ms']:.2f} ms (target <= {TARGETS['single_p99_ms']:.0f}), "
        f"{single['failures']} failed"
    )
    print(
        f"1,000-row, {args.batch_clients} clients: {batch['rows_per_second']:,.0f} rows/s "
        f"(target >= {TARGETS['batch_rows_per_s']:,.0f}), p50 {batch['p50_ms']:.1f} ms, "
        f"p99 {batch['p99_ms']:.1f} ms, {batch['failures']} failed"
    )
    print(
        f"checked {result['checked_rows']:,} predictions against TabularModel.predict; feature "
        f"log: {result['logged_rows']:,} rows, every row served ({result['server_summary']})"
    )
    return 1 if single["failures"] or batch["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
