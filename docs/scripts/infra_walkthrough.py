"""The walkthrough of docs/infra.md, end to end, with the real command line and server.

    python docs/scripts/infra_walkthrough.py [FOLDER]

1. train a classifier on the bundled breast-cancer data (run 1 in the run store);
2. serve it with a feature log; send it "device" traffic: the same kind of rows, but
   the device computes ``mean_area`` differently (its own preprocessing, the smile
   bot's uncropped photos);
3. catch it: ``thalweg skew`` on the log (exit 3 with --fail-on-skew), and Rule #37's
   mismatch between served features and the same rows recomputed offline;
4. relabel with two raters (simulated, 14 % single-rater error) and keep agreements;
5. retrain with the agreed labels (run 2), evaluate both models on the same held-out
   rows (runs 3 and 4), and compare the runs.
"""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

THALWEG = [sys.executable, "-m", "thalweg"]


def run(*args: str, folder: Path, check: bool = True) -> subprocess.CompletedProcess:
    print(f"\n$ thalweg {' '.join(args)}", flush=True)
    result = subprocess.run([*THALWEG, *args], cwd=folder, capture_output=True, text=True)
    print(result.stdout, end="")
    print(result.stderr, end="", file=sys.stderr)
    if check and result.returncode not in (0, 3):
        raise SystemExit(f"thalweg {args[0]} failed with exit code {result.returncode}")
    print(f"(exit code {result.returncode})")
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("thalweg-runs.sqlite", "thalweg-runs.sqlite-wal", "thalweg-runs.sqlite-shm"):
        (folder / stale).unlink(missing_ok=True)
    run("datasets", "export", "breast-cancer", "cancer.csv", folder=folder)
    with open(folder / "cancer.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    training, later = [rows[i] for i in order[:300]], [rows[i] for i in order[300:469]]
    holdout = [rows[i] for i in order[469:]]
    for name, part in (("train.csv", training), ("later.csv", later), ("holdout.csv", holdout)):
        with open(folder / name, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", *rows[0]])
            writer.writeheader()
            for index, row in enumerate(part):
                writer.writerow({"id": f"{name[0]}{index}", **row})

    run("train", "train.csv", "--target", "target", "--ignore", "id", "-o", "cancer.thalweg",
        "-q", folder=folder)  # fmt: skip

    port = free_port()
    print(f"\n$ thalweg serve cancer.thalweg --port {port} --log served/ &")
    server = subprocess.Popen(
        [*THALWEG, "serve", "cancer.thalweg", "--port", str(port), "--log", "served"],
        cwd=folder, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    print(server.stdout.readline(), end="")
    features = [k for k in rows[0] if k != "target"]
    with open(folder / "later.csv", newline="") as handle:
        offline = list(csv.DictReader(handle))
    try:
        for row in offline:  # one request per row, as a device would send them
            sent = {k: float(row[k]) for k in features}
            sent["mean_area"] = sent["mean_area"] / 100  # the device's own preprocessing
            body = json.dumps({"rows": [{"id": row["id"], **sent}]}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/predict", body, {"content-type": "application/json"}
            )
            urllib.request.urlopen(request).read()
        time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        print(server.communicate(timeout=60)[0], end="")

    run("skew", "cancer.thalweg", "served", "--report", "skew.html", "--fail-on-skew",
        folder=folder)  # fmt: skip
    run("skew", "cancer.thalweg", "served", "--offline", "later.csv", "--key", "id",
        "--json", folder=folder, check=False)  # fmt: skip

    # Two raters per served row, each wrong 14 % of the time.
    with open(folder / "ratings.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "rater", "label"])
        for row in offline:
            truth = row["target"]
            for rater in rng.choice(["ann", "bob", "cy"], 2, replace=False):
                wrong = rng.random() < 0.14
                writer.writerow([row["id"], rater, str(1 - int(truth)) if wrong else truth])
    run("labels", "ratings.csv", "--method", "two-rater", "-o", "labels.csv", folder=folder)

    with open(folder / "labels.csv", newline="") as handle:
        agreed = {r["item"]: r["label"] for r in csv.DictReader(handle) if r["label"]}
    with open(folder / "train2.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", *rows[0]])
        writer.writeheader()
        for index, row in enumerate(training):
            writer.writerow({"id": f"t{index}", **row})
        for row in offline:
            if row["id"] in agreed:
                writer.writerow({**row, "target": agreed[row["id"]]})
    run("train", "train2.csv", "--target", "target", "--ignore", "id", "-o", "cancer2.thalweg",
        "-q", folder=folder)  # fmt: skip
    run("evaluate", "cancer.thalweg", "holdout.csv", "-q", folder=folder)
    run("evaluate", "cancer2.thalweg", "holdout.csv", "-q", folder=folder)
    run("runs", "list", folder=folder)
    run("runs", "compare", "1", "2", "--report", "compare.html", folder=folder)
    run("runs", "compare", "3", "4", folder=folder)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "infra-walkthrough"))
