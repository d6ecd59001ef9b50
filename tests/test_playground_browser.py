"""The playground page in real headless Chromium (Playwright drives Debian's ``chromium``).

Few and quick: the page loads without a console error under its Content-Security-Policy,
trains the spiral, reproduces a run from its link, and takes a good and a bad CSV.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

pytest.importorskip("starlette", reason="the playground extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from playground_server import running_server  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONTROLS = ("play", "step", "reset", "epoch", "train-loss", "test-loss", "heatmap", "add-layer")
CONTROLS += ("remove-layer", "fast-forward", "speed", "upload", "diagnosis", "export-model")
GOOD_CSV = "size,weight,fruit\n" + "".join(
    f"{s},{w},{'melon' if s + w > 10 else 'plum'}\n" for s in range(1, 9) for w in range(2, 8)
)
BAD_CSV = "size,weight,fruit\n" + "1,2,plum\n3,4,melon\n" * 6 + "5,heavy,plum\n"


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def server():
    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = find_chromium()
    if binary is None:
        pytest.fail("the playground's page tests need Chromium: run `make test` (it installs it)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A tab on the playground that records console errors and uncaught exceptions."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.goto(url)
        self.wait_for("window.thalwegPlayground && window.thalwegPlayground.stats.framesDrawn > 0")

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def wait_for(self, expression: str, timeout: float = 30.0):
        """Poll ``expression`` in the page until it is truthy (the page's CSP forbids
        Playwright's own eval-based waiting)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.page.evaluate(
                f"(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()"
            )
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}; errors: {self.errors}")
            time.sleep(0.05)

    def click(self, testid: str) -> None:
        self.page.click(f"[data-testid={testid}]")

    def number(self, testid: str) -> float:
        return float(self.page.get_attribute(f"[data-testid={testid}]", "data-value"))

    def new_session(self, click: str) -> None:
        """Click ``click`` and wait until the new run's first frame is drawn."""
        before = self.js("window.thalwegPlayground.stats.readySession")
        self.click(click)
        self.wait_for(
            f"window.thalwegPlayground.stats.readySession !== {json.dumps(before)} && "
            "window.thalwegPlayground.page.lastFrame"  # the new stream's first frame
        )

    def step(self, times: int) -> None:
        for _ in range(times):
            epoch = int(self.number("epoch"))
            self.click("step")
            shown = "Number(document.querySelector('[data-testid=epoch]').dataset.value)"
            self.wait_for(f"{shown} === {epoch + 1}")

    def close(self) -> None:
        self.context.close()


HEATMAP_COLOURS = """(() => {
  const canvas = document.querySelector('[data-testid=heatmap]');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 4) {
    seen.add(data[i] * 65536 + data[i + 1] * 256 + data[i + 2]);
  }
  return seen.size;
})()"""


def test_the_page_trains_the_spiral_with_added_layers(server, browser):
    tab = Page(browser, server.url + "/#seed=5")  # a fixed seed: the same run every time
    try:
        assert tab.errors == []
        for testid in (*CONTROLS, *(f"dataset-{name}" for name in ("circle", "xor", "gauss"))):
            assert tab.page.query_selector(f"[data-testid={testid}]"), testid
        tab.new_session("dataset-spiral")
        tab.new_session("add-layer")
        assert "dataset=spiral" in tab.page.url and "hidden=4%2C2%2C2" in tab.page.url
        assert tab.js("document.querySelectorAll('.node.hidden').length") == 8
        first_test_loss = tab.number("test-loss")
        tab.page.select_option("[data-testid=speed]", "20")
        tab.click("play")
        tab.wait_for("window.thalwegPlayground.stats.epoch >= 200", timeout=60)
        tab.click("play")  # pause
        tab.wait_for("!window.thalwegPlayground.page.playing")
        assert tab.number("test-loss") < first_test_loss - 0.01  # 0.698 -> 0.660 at epoch 200
        assert tab.js(HEATMAP_COLOURS) > 5  # the decision surface is not one colour
        assert tab.js("window.thalwegPlayground.stats.framesDrawn") >= 10
        with tab.page.expect_download() as download:
            tab.click("export-python")
        assert download.value.suggested_filename == "playground_spiral.py"
        assert "from thalweg.datasets import spiral" in open(download.value.path()).read()
        assert tab.errors == []
    finally:
        tab.close()


def test_a_link_reproduces_the_run(server, browser):
    link = server.url + "/#dataset=xor&noise=10&hidden=3&learning_rate=0.1&seed=11"
    losses = []
    for _ in range(2):
        tab = Page(browser, link)
        try:
            tab.step(3)
            losses.append((tab.number("train-loss"), tab.number("test-loss")))
            assert "seed=11" in tab.page.url and "learning_rate=0.1" in tab.page.url
            assert tab.errors == []
        finally:
            tab.close()
    assert losses[0] == losses[1]
    # the same run through the API gives the same numbers
    session = server.create(dataset="xor", noise=10, hidden=[3], learning_rate=0.1, seed=11)
    reply = server.request("POST", f"/api/sessions/{session['id']}/step", {"epochs": 3}).json
    assert losses[0] == (reply["train_loss"], reply["test_loss"])


def test_a_new_learning_rate_keeps_the_run_going(server, browser):
    # As in the TensorFlow Playground: the learning rate is the one setting that does not
    # reset the network; the regularization rate (like everything else) starts a new run.
    tab = Page(browser, server.url + "/#dataset=xor&hidden=3&learning_rate=0.03&seed=4")
    try:
        session = tab.js("window.thalwegPlayground.stats.readySession")
        tab.step(3)
        tab.page.select_option("[data-testid=learning-rate]", "1")
        tab.wait_for("location.hash.includes('learning_rate=1&')")
        tab.step(2)  # the counter goes on from 3: same run, same weights
        assert tab.number("epoch") == 5
        assert tab.js("window.thalwegPlayground.stats.readySession") == session
        shown = (tab.number("train-loss"), tab.number("test-loss"))
        tab.new_session("reset")  # reset starts over with the rate now chosen
        assert tab.number("epoch") == 0 and "learning_rate=1&" in tab.page.url
        before = tab.js("window.thalwegPlayground.stats.readySession")
        tab.page.select_option("[data-testid=regularization-rate]", "0.1")
        tab.wait_for(f"window.thalwegPlayground.stats.readySession !== {json.dumps(before)}")
        assert tab.errors == []
    finally:
        tab.close()
    # the server applied the new rate from the next step: the same moves through the API
    # give the same numbers, and they differ from a run that kept 0.03
    config = {"dataset": "xor", "hidden": [3], "learning_rate": 0.03, "seed": 4}
    losses = []
    for change in (True, False):
        session = server.create(**config)["id"]
        server.request("POST", f"/api/sessions/{session}/step", {"epochs": 3})
        if change:
            server.request("PATCH", f"/api/sessions/{session}", {"learning_rate": 1})
        reply = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 2}).json
        losses.append((reply["train_loss"], reply["test_loss"]))
    assert shown == losses[0] and shown != losses[1]


def test_regenerate_draws_new_points_for_the_same_network(server, browser):
    # As in the TensorFlow Playground: Regenerate draws new data and the network trains on.
    tab = Page(browser, server.url + "/#dataset=xor&hidden=3&seed=4")
    points = "JSON.stringify(window.thalwegPlayground.page.state.data.train.x)"
    try:
        session = tab.js("window.thalwegPlayground.stats.readySession")
        before = tab.js(points)
        tab.step(3)
        tab.click("regenerate")
        tab.wait_for("window.thalwegPlayground.stats.regenerated === 1")
        assert tab.js("window.thalwegPlayground.stats.readySession") == session  # same run
        assert tab.js(points) != before
        assert "seed=4&data_seed=" in tab.page.url
        data_seed = int(tab.page.url.split("data_seed=")[1].split("&")[0])
        tab.step(2)  # the counter goes on from 3
        assert tab.number("epoch") == 5
        shown, link = (tab.number("train-loss"), tab.number("test-loss")), tab.page.url
        regenerated = tab.js(points)
        tab.new_session("new-weights")  # new starting weights for the same points
        assert tab.number("epoch") == 0 and tab.js(points) == regenerated
        assert f"data_seed={data_seed}&" in tab.page.url and "seed=4&" not in tab.page.url
        assert tab.errors == []
    finally:
        tab.close()
    linked = Page(browser, link)  # the link: these points, the same starting weights
    try:
        assert linked.number("epoch") == 0 and linked.js(points) == regenerated
        assert linked.errors == []
    finally:
        linked.close()
    # the server did what the API does: the same moves give the same numbers
    session = server.create(dataset="xor", hidden=[3], seed=4)["id"]
    server.request("POST", f"/api/sessions/{session}/step", {"epochs": 3})
    server.request("PATCH", f"/api/sessions/{session}", {"data_seed": data_seed})
    reply = server.request("POST", f"/api/sessions/{session}/step", {"epochs": 2}).json
    assert shown == (reply["train_loss"], reply["test_loss"])


def test_csv_uploads_train_or_explain_in_the_page(server, browser):
    tab = Page(browser, server.url + "/")
    try:
        before = tab.js("window.thalwegPlayground.stats.readySession")
        tab.page.set_input_files(
            "[data-testid=upload]",
            files=[{"name": "fruit.csv", "mimeType": "text/csv", "buffer": GOOD_CSV.encode()}],
        )
        tab.wait_for(
            f"window.thalwegPlayground.stats.readySession !== {json.dumps(before)} && "
            "document.querySelector('[data-testid=dataset-upload]') && "
            "window.thalwegPlayground.page.lastFrame"
        )
        assert "48 rows" in tab.page.inner_text("[data-testid=upload-info]")
        assert "dataset=upload-" in tab.page.url
        tab.step(2)
        tab.page.set_input_files(
            "[data-testid=upload]",
            files=[{"name": "broken.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}],
        )
        tab.wait_for("document.querySelector('[data-testid=upload-error]').textContent")
        message = tab.page.inner_text("[data-testid=upload-error]")
        assert "broken.csv" in message and "'weight'" in message and "not a number" in message
        tab.step(1)  # the page still works
        # the only console line is the browser's note about the refused upload (HTTP 400)
        assert all("400" in error for error in tab.errors), tab.errors
        assert len(tab.errors) <= 1
    finally:
        tab.close()
