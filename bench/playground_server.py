"""The web playground's speed: epochs per second with frames, alone and four at once, and
frames per second drawn by the page in real headless Chromium.

The server runs as it does for a learner (``python -m thalweg playground`` in its own
process); clients are WebSocket connections from this process that play a session and
acknowledge every frame the moment it arrives (the page acknowledges after drawing), so
the server, not the client, sets the pace. The network is the largest the page offers:
6 hidden layers of 8 neurons, all 7 features, 250 training points (spiral, 50 %),
batch 10. The TensorFlow Playground trains one epoch per animation frame in the
browser, about 60 epochs/s.

Targets (issue 12): one session ≥ 120 epochs/s including the frames it sends; the page
≥ 30 frames/s; four sessions at once ≥ 30 epochs/s each.

    python -m bench --only playground-server [--quick]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

from bench import harness

LARGEST = {
    "dataset": "spiral",
    "hidden": [8, 8, 8, 8, 8, 8],
    "features": ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"],
    "batch_size": 10,
    "train_fraction": 0.5,
    "seed": 1,
}
PAGE_SPEED = 2  # epochs per frame: the page's default
TARGETS = {"one": 120.0, "four": 30.0, "page_fps": 30.0}


class ServerProcess:
    """``thalweg playground`` in a child process, on a free port."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "thalweg", "playground", "--no-browser", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = self.process.stdout.readline()
        if not line.startswith("thalweg playground: http://"):
            self.process.kill()
            raise harness.Pending(f"the server did not start: {line!r}")
        self.url = line.split()[2].rstrip("/")
        self.port = int(self.url.rsplit(":", 1)[1])

    def create(self, config: dict) -> str:
        import urllib.request

        request = urllib.request.Request(
            self.url + "/api/sessions",
            data=json.dumps(config).encode(),
            headers={"content-type": "application/json"},
            method="POST",
        )
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(request, timeout=60) as reply:
            return json.loads(reply.read())["id"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=30)


def play(server: ServerProcess, session: str, epochs_per_frame: int, seconds: float, warmup: float):
    """Play ``session`` for ``warmup + seconds``; epochs/s and frames/s over the last
    ``seconds``."""
    from websockets.sync.client import connect

    from thalweg.playground.frames import decode_frame

    url = f"ws://127.0.0.1:{server.port}/api/sessions/{session}/stream"
    with connect(url, proxy=None) as socket:
        socket.recv(timeout=30)
        socket.send(json.dumps({"type": "ack"}))
        socket.send(json.dumps({"type": "play", "epochs_per_frame": epochs_per_frame}))
        start = time.perf_counter()
        first = None
        frames = 0
        while True:
            frame = decode_frame(socket.recv(timeout=60))
            socket.send(json.dumps({"type": "ack"}))
            now = time.perf_counter()
            if first is None and now - start >= warmup:
                first = (now, frame["epoch"])
            elif first is not None:
                frames += 1
                if now - first[0] >= seconds:
                    elapsed = now - first[0]
                    socket.send(json.dumps({"type": "pause"}))
                    return (frame["epoch"] - first[1]) / elapsed, frames / elapsed


def concurrent(server: ServerProcess, n: int, seconds: float, warmup: float) -> list[float]:
    sessions = [server.create({**LARGEST, "seed": i}) for i in range(n)]
    results: list = [None] * n

    def client(i: int) -> None:
        results[i] = play(server, sessions[i], PAGE_SPEED, seconds, warmup)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r[0] for r in results]


def page_frame_rate(server: ServerProcess, seconds: float, warmup: float):
    """Frames drawn per second and epochs/s seen by the page in headless Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise harness.Pending(f"playwright is not installed ({error})") from None
    binary = shutil.which(os.environ.get("CHROMIUM", "chromium")) or shutil.which("chromium")
    if binary is None:
        raise harness.Pending("Chromium is not installed (make chromium)")
    hash_ = "&".join(
        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in LARGEST.items()
    )
    stats = "window.thalwegPlayground.stats"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=binary, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server.url}/#{hash_}")
        deadline = time.monotonic() + 30
        while not page.evaluate(f"!!(window.thalwegPlayground && {stats}.framesDrawn > 0)"):
            if time.monotonic() > deadline:
                raise RuntimeError("the page drew no frame in 30 s")
            time.sleep(0.05)
        page.click("[data-testid=play]")
        time.sleep(warmup)
        frames0, epoch0, t0 = page.evaluate(
            f"[{stats}.framesDrawn, {stats}.epoch, performance.now()]"
        )
        time.sleep(seconds)
        frames1, epoch1, t1 = page.evaluate(
            f"[{stats}.framesDrawn, {stats}.epoch, performance.now()]"
        )
        page.click("[data-testid=play]")
        browser.close()
    elapsed = (t1 - t0) / 1000
    return (frames1 - frames0) / elapsed, (epoch1 - epoch0) / elapsed


def engine_breakdown(repeats: int) -> dict:
    """Where one epoch's time goes, in this process: training steps, evaluation, a frame."""
    from thalweg.playground.config import normalize_config
    from thalweg.playground.run import PlaygroundRun
    from thalweg.playground.session import Session

    run = PlaygroundRun(normalize_config(LARGEST))
    session = Session("bench", run)
    run.train(3)
    timings = {"train": [], "evaluate": [], "frame": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        for inputs, targets in run.batches:  # the body of train_epoch, without _evaluate
            loss = run.loss_function(run.model(inputs), targets)
            run.optimizer.zero_grad()
            loss.backward()
            run.optimizer.step()
        t1 = time.perf_counter()
        run.epoch += 1
        run._evaluate()
        t2 = time.perf_counter()
        session.frame()
        t3 = time.perf_counter()
        timings["train"].append(t1 - t0)
        timings["evaluate"].append(t2 - t1)
        timings["frame"].append(t3 - t2)
    return {name: statistics.median(values) for name, values in timings.items()}


def verdict(value: float, target: float) -> str:
    return "yes" if value >= target else "**no**"


def run(settings: harness.Settings) -> harness.Table:
    quick = settings.rounds < 9
    seconds, warmup = (3.0, 1.0) if quick else (10.0, 2.0)
    try:
        import starlette  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as error:
        raise harness.Pending(f"the playground extra is not installed ({error})") from None
    table = harness.Table(
        title="Playground server: epochs and frames per second (6 × 8 network, all 7 features)",
        note=(
            f"The largest network the page offers (6 hidden layers of 8, 7 features, 250 "
            f"training points, batch 10); server in its own process, one engine thread. "
            f"WebSocket clients acknowledge each frame at once; the page acknowledges after "
            f"drawing. {seconds:.0f} s windows after {warmup:.0f} s of warm-up. A frame holds "
            "the 100 × 100 output heat map, a 20 × 20 map per node (7 inputs, 48 hidden, the "
            "output) and every weight. The TensorFlow Playground runs about 60 epochs/s "
            "(one per animation frame). Targets (issue 12): ≥ 120 epochs/s for one session, "
            "≥ 30 epochs/s each for four, ≥ 30 frames/s drawn by the page."
        ),
        columns=["scenario", "epochs/s (per session)", "frames/s", "target", "met"],
    )
    server = ServerProcess()
    try:
        for epochs_per_frame, label in (
            (PAGE_SPEED, f"1 session, {PAGE_SPEED} epochs/frame (the page's default)"),
            (1, "1 session, 1 epoch/frame"),
            (100, "1 session, fast-forward (100 epochs/frame)"),
        ):
            session = server.create(LARGEST)
            epochs, frames = play(server, session, epochs_per_frame, seconds, warmup)
            target = f"≥ {TARGETS['one']:.0f} epochs/s" if epochs_per_frame == PAGE_SPEED else "–"
            met = verdict(epochs, TARGETS["one"]) if epochs_per_frame == PAGE_SPEED else "–"
            table.rows.append([label, f"{epochs:.0f}", f"{frames:.0f}", target, met])
            print("  " + " | ".join(table.rows[-1]), flush=True)
        rates = concurrent(server, 4, seconds, warmup)
        table.rows.append(
            [
                f"4 sessions at once, {PAGE_SPEED} epochs/frame",
                f"{min(rates):.0f} (slowest), {statistics.median(rates):.0f} (median)",
                "–",
                f"≥ {TARGETS['four']:.0f} epochs/s each",
                verdict(min(rates), TARGETS["four"]),
            ]
        )
        print("  " + " | ".join(table.rows[-1]), flush=True)
        try:
            fps, epochs = page_frame_rate(server, seconds, warmup)
            table.rows.append(
                [
                    f"the page in headless Chromium, {PAGE_SPEED} epochs/frame",
                    f"{epochs:.0f}",
                    f"{fps:.0f}",
                    f"≥ {TARGETS['page_fps']:.0f} frames/s",
                    verdict(fps, TARGETS["page_fps"]),
                ]
            )
        except harness.Pending as reason:
            table.rows.append(
                ["the page in headless Chromium", "–", "–", "≥ 30 frames/s", str(reason)]
            )
        print("  " + " | ".join(table.rows[-1]), flush=True)
    finally:
        server.stop()
    parts = engine_breakdown(20 if quick else 60)
    total = sum(parts.values())
    table.rows.append(
        [
            "engine only, in this process: one epoch + one frame",
            f"{1 / total:.0f}",
            "–",
            "–",
            f"ms: train {parts['train'] * 1e3:.2f} (25 steps), evaluate "
            f"{parts['evaluate'] * 1e3:.2f}, frame {parts['frame'] * 1e3:.2f}",
        ]
    )
    print("  " + " | ".join(table.rows[-1]), flush=True)
    table.checks.append(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")
    return table


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(run(harness.Settings.quick() if quick else harness.Settings()).text())
