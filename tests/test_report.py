"""The HTML report: its sections, embedded images, no network, escaping, atomic writes,
and one real render in headless Chromium (images load, no console error).

Reports are built the way the CLI builds them: small real models from thalweg.models
trained on thalweg.datasets, metrics from thalweg.metrics.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from thalweg import metrics, plot
from thalweg.data import train_val_test_split
from thalweg.datasets import load
from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier
from thalweg.report import ReportInput, Surface, render_html, write_report
from thalweg.report.html import CONTENT_SECURITY_POLICY

HOSTILE = "<script>alert(1)</script>"
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def build_report(
    dataset: str,
    model,
    task: str,
    *,
    n: int | None = None,
    surface: bool = False,
    labels: list | None = None,
    feature_names: list[str] | None = None,
) -> ReportInput:
    """Split, fit, evaluate on the test split and fill a ReportInput, as the CLI does."""
    X, y, names = load(dataset, **({"n": n, "noise": 0.1, "seed": 0} if n else {}))
    if labels is not None:
        y = np.asarray(labels, dtype=object)[y]  # named classes, e.g. strings
    names = feature_names or names
    classification = task == "classification"
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(
        X, y, seed=0, stratify=y if classification else None
    )
    X_fit, y_fit = np.vstack([X_tr, X_va]), np.concatenate([y_tr, y_va])
    start = time.perf_counter()
    model.fit(X_fit, y_fit)
    seconds = time.perf_counter() - start

    y_pred = model.predict(X_te)
    if classification:
        y_score = model.predict_proba(X_te)
        classes = model.classes_.tolist()
        scores = y_score[:, 1] if len(classes) == 2 else y_score
        scored = {
            "accuracy": metrics.accuracy(y_te, y_pred),
            "roc_auc": metrics.roc_auc(y_te, scores, multi_class="ovr"),
            "log_loss": metrics.log_loss(y_te, y_score, labels=classes),
        }
    else:
        y_score, classes = None, None
        scored = {
            "r2": metrics.r2(y_te, y_pred),
            "rmse": metrics.mean_squared_error(y_te, y_pred) ** 0.5,
            "mae": metrics.mean_absolute_error(y_te, y_pred),
        }
    if hasattr(model, "coefs_"):
        weights = {f"layer {i}": w for i, w in enumerate(model.coefs_, 1)}
    else:
        weights = {"coefficients": np.asarray(model.coef_)}

    report_surface = None
    if surface:
        if not classification:
            predict = model.predict
        elif len(classes) == 2:
            predict = lambda grid: model.predict_proba(grid)[:, 1]  # noqa: E731
        else:
            predict = lambda grid: model.predict_proba(grid).argmax(axis=1)  # noqa: E731
        report_surface = Surface(tuple(names), predict, X_fit, y_fit, X_te, y_te)

    columns = [{"name": name, "type": "float64", "missing": 0} for name in names]
    columns.append(
        {"name": "label", "type": "int64" if classification else "float64", "missing": 0}
    )
    return ReportInput(
        title=f"{dataset}: {type(model).__name__}",
        task=task,
        model_name=repr(model),
        hyperparameters=model.get_params(),
        seed=0,
        seconds=seconds,
        data_summary={
            "source": f"data/{dataset}.csv",
            "rows": len(y),
            "columns": columns,
            "target": "label",
            "splits": {"train": len(y_tr), "validation": len(y_va), "test": len(y_te)},
        },
        metrics=scored,
        y_true=y_te,
        y_pred=y_pred,
        y_score=y_score,
        classes=classes,
        history=getattr(model, "history_", None),
        weights=weights,
        feature_names=list(names),
        surface=report_surface,
        target_values=y,
    )


@pytest.fixture(scope="module")
def binary_report() -> ReportInput:
    """Logistic regression with an L1 penalty: some coefficients are exactly zero."""
    model = LogisticRegression(
        solver="gd",
        l1=0.02,
        max_epochs=60,
        early_stopping=True,
        n_iter_no_change=10,
        random_state=0,
    )
    return build_report("breast_cancer", model, "classification")


@pytest.fixture(scope="module")
def multiclass_report() -> ReportInput:
    model = MLPClassifier(hidden=(8,), max_epochs=60, early_stopping=True, random_state=0)
    return build_report("iris", model, "classification")


@pytest.fixture(scope="module")
def regression_report() -> ReportInput:
    model = LinearRegression(solver="gd", max_epochs=60, early_stopping=True, random_state=0)
    return build_report("diabetes", model, "regression")


@pytest.fixture(scope="module")
def surface_report() -> ReportInput:
    """Two input features: the Playground's decision surface."""
    model = MLPClassifier(hidden=(8, 8), activation="tanh", max_epochs=40, random_state=0)
    return build_report("xor", model, "classification", n=200, surface=True)


@pytest.fixture(scope="module")
def closed_form_surface_report() -> ReportInput:
    """Two features, regression, fitted in closed form: a surface and no history."""
    return build_report("plane", LinearRegression(), "regression", n=200, surface=True)


@pytest.fixture(scope="module")
def all_reports(
    binary_report, multiclass_report, regression_report, surface_report, closed_form_surface_report
) -> dict[str, ReportInput]:
    return {
        "binary": binary_report,
        "multiclass": multiclass_report,
        "regression": regression_report,
        "surface": surface_report,
        "closed_form_surface": closed_form_surface_report,
    }


@pytest.fixture(scope="module")
def documents(all_reports) -> dict[str, str]:
    """Each report rendered once, for the tests that only read the page."""
    return {name: render_html(report) for name, report in all_reports.items()}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def section_ids(document: str) -> set[str]:
    return set(re.findall(r'\sid="([^"]+)"', document))


def embedded_images(document: str) -> list[bytes]:
    return [base64.b64decode(payload) for payload in IMAGE.findall(document)]


# --------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------

EVERY_REPORT = {"data", "model", "training", "metrics", "diagnostics"}


def test_binary_classification_report_has_every_section_and_figure(tmp_path, binary_report):
    path = write_report(tmp_path / "report.html", binary_report)

    assert path == tmp_path / "report.html"
    document = path.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    figures = {"generalization-curve", "confusion-matrix", "roc", "precision-recall"}
    figures |= {"calibration", "weights"}
    assert EVERY_REPORT | figures <= section_ids(document)
    assert "surface" not in section_ids(document)
    images = embedded_images(document)
    assert len(images) == len(figures)
    assert all(width > 100 and height > 100 for width, height in map(png_size, images))
    # The data summary: split sizes, class balance, every column with its type.
    for text in ("Class balance", "validation", "mean_radius", "float64", "Hyperparameters"):
        assert text in document
    # L1 zeroed some coefficients, and the caption tells the reader what that means.
    assert np.any(binary_report.weights["coefficients"] == 0.0)
    assert "exactly 0" in document


def test_multiclass_report_draws_one_vs_rest_curves(documents):
    document = documents["multiclass"]

    assert EVERY_REPORT | {"roc", "precision-recall", "calibration", "weights"} <= section_ids(
        document
    )
    assert "one class against all the others" in document
    assert "Classification, 3 classes" in document
    assert "Weights per layer" in document


def test_regression_report_shows_predictions_residuals_and_target_distribution(documents):
    document = documents["regression"]

    ids = section_ids(document)
    assert EVERY_REPORT | {"predictions", "target-distribution", "weights"} <= ids
    assert not ids & {"roc", "confusion-matrix", "calibration", "surface"}
    assert "R²" in document and "RMSE" in document
    assert len(embedded_images(document)) == 4  # target, curve, predictions, coefficients


def test_two_feature_report_draws_the_decision_surface(documents):
    document = documents["surface"]

    assert "surface" in section_ids(document)
    assert "Decision surface" in document
    assert len(embedded_images(document)) == 7


def test_closed_form_model_report_has_a_surface_and_explains_the_missing_curve(documents):
    document = documents["closed_form_surface"]

    ids = section_ids(document)
    assert "surface" in ids and "generalization-curve" not in ids
    assert "Regression surface" in document
    assert "fitted in closed form" in document


def test_report_loads_nothing_from_outside_and_runs_no_script(documents):
    for name, document in documents.items():
        for url in ("http://", "https://", "url("):
            assert url not in document, f"{name} report contains {url}"
        links = re.findall(r'\s(?:src|href)\s*=\s*["\']?([^"\'\s>]*)', document)
        assert links, name
        assert all(link.startswith(("data:image/png;base64,", "#")) for link in links), name
        assert "<script" not in document.lower()
        assert "Content-Security-Policy" in document  # and so no fetch would be allowed


def test_report_escapes_every_user_provided_string():
    model = MLPClassifier(hidden=(4,), max_epochs=5, random_state=0)
    report = build_report(
        "iris",
        model,
        "classification",
        labels=["setosa", HOSTILE, "a & b"],
        feature_names=[HOSTILE, "price ($)", "a $x$ b", 'quote " here'],
    )
    report.title = f"Report {HOSTILE}"
    report.data_summary["source"] = f"/data/{HOSTILE}.csv"
    report.data_summary["target"] = HOSTILE
    report.hyperparameters["activation"] = HOSTILE

    document = render_html(report)

    assert HOSTILE not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert "<script" not in document.lower()
    assert "quote &quot; here" in document
    assert len(embedded_images(document)) == 6  # "$" in names did not break matplotlib


def test_figure_the_data_cannot_support_is_replaced_by_a_note(binary_report, tmp_path):
    # A test split holding a single class: ROC and PR curves are undefined, not a crash.
    only_ones = binary_report.y_true == 1
    report = ReportInput(
        **{
            **vars(binary_report),
            "y_true": binary_report.y_true[only_ones],
            "y_pred": binary_report.y_pred[only_ones],
            "y_score": binary_report.y_score[only_ones],
        }
    )

    document = write_report(tmp_path / "report.html", report).read_text(encoding="utf-8")

    assert document.count("This figure could not be drawn") == 3  # ROC, PR, calibration
    assert "confusion-matrix" in section_ids(document)


# --------------------------------------------------------------------------------------
# Writing safely
# --------------------------------------------------------------------------------------


def _broken_plot(*args, **kwargs):
    raise RuntimeError("a bug while drawing the training curve")


def test_failing_figure_does_not_clobber_an_existing_report(tmp_path, binary_report, monkeypatch):
    path = tmp_path / "report.html"
    write_report(path, binary_report)
    good = path.read_bytes()
    monkeypatch.setattr(plot, "plot_history", _broken_plot)

    with pytest.raises(RuntimeError, match="training curve"):
        write_report(path, binary_report)

    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary left


def test_failing_figure_leaves_no_file_behind(tmp_path, binary_report, monkeypatch):
    monkeypatch.setattr(plot, "plot_history", _broken_plot)

    with pytest.raises(RuntimeError):
        write_report(tmp_path / "new" / "report.html", binary_report)

    assert list(tmp_path.rglob("*.html*")) == []  # neither the report nor a temporary


def test_interrupted_write_leaves_no_partial_file(tmp_path, regression_report, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("the good old report")

    def interrupted_fsync(fd):
        raise KeyboardInterrupt  # Ctrl-C after the bytes went out, before the rename

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        write_report(path, regression_report)

    assert path.read_text() == "the good old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_inconsistent_report_input_is_rejected_before_anything_is_written(
    tmp_path, regression_report
):
    report = ReportInput(**{**vars(regression_report), "y_pred": regression_report.y_pred[:-1]})

    with pytest.raises(ValueError, match="y_pred"):
        write_report(tmp_path / "report.html", report)
    with pytest.raises(ValueError, match="task"):
        write_report(tmp_path / "report.html", ReportInput(**{**vars(report), "task": "ranking"}))
    assert list(tmp_path.iterdir()) == []


def test_importing_thalweg_and_its_report_does_not_import_matplotlib():
    code = "import sys, thalweg, thalweg.report, thalweg.plot; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------------------
# A real browser: Chromium, driven over the DevTools protocol on a pipe.
# --------------------------------------------------------------------------------------

INSTALL_HINT = (
    "the report test renders the report in headless Chromium, which is not installed: "
    "run `make test` (it installs it with `apt-get install -y chromium`), "
    "or set CHROMIUM=/path/to/chromium"
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # containers and CI often run as root, where the sandbox refuses
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",  # DevTools protocol on file descriptors 3 (in) and 4 (out)
]


def find_chromium() -> str | None:
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _away_from_3_and_4(fd: int) -> int:
    """The same pipe end on a descriptor >= 10, clear of the two Chromium reads and writes."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


# Starts Chromium with our pipe ends on descriptors 3 and 4, where it looks for them.
# (A Python trampoline, because sh cannot redirect descriptors above 9.)
LAUNCH_ON_FDS_3_AND_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execvp(sys.argv[3], sys.argv[3:])"
)


class DevTools:
    """Just enough of the Chrome DevTools protocol: send a command, wait for a message.

    Messages are JSON objects separated by NUL bytes on a pair of pipes.
    """

    def __init__(self, binary: str, profile: Path, log: Path):
        to_chrome_read, self.to_chrome = map(_away_from_3_and_4, os.pipe())
        self.from_chrome, from_chrome_write = map(_away_from_3_and_4, os.pipe())
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"]
        pipe_ends = (to_chrome_read, from_chrome_write)
        self.log = log
        with open(log, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCH_ON_FDS_3_AND_4, *map(str, pipe_ends), *command],
                pass_fds=pipe_ends,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        reply = self.wait_for(lambda m, i=self.next_id: m.get("id") == i)
        assert "error" not in reply, f"{method} failed: {reply['error']}"
        return reply.get("result", {})

    def wait_for(self, matches, timeout: float = 20.0) -> dict:
        """The first message that ``matches``; every other message is kept in events."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if matches(message):
                    return message
                self.events.append(message)
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.from_chrome], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"Chromium did not answer in {timeout} s; see {self.log}")
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                raise EOFError(f"Chromium exited: {self.log.read_text(errors='replace')[-2000:]}")
            self.buffer += chunk

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()  # only the browser this test started
            self.process.wait()
        finally:
            os.close(self.to_chrome)
            os.close(self.from_chrome)


IMAGES_SCRIPT = """JSON.stringify([...document.images].map(
    image => ({alt: image.alt, complete: image.complete, width: image.naturalWidth})))"""


def open_in_chromium(browser: DevTools, path: Path) -> dict:
    """Load ``path`` in a fresh tab: its images, console errors and network requests."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": path.as_uri()}, session=session)
    browser.wait_for(
        lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session
    )
    result = browser.send(
        "Runtime.evaluate", {"expression": IMAGES_SCRIPT, "returnByValue": True}, session=session
    )
    events = [e for e in browser.events if e.get("sessionId") == session]
    errors = [
        json.dumps(e["params"])[:300]
        for e in events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    requests = [
        e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
    ]
    browser.send("Target.closeTarget", {"targetId": target})
    return {"images": json.loads(result["result"]["value"]), "errors": errors, "requests": requests}


# A page with every fault the browser test looks for, to prove that it finds them.
FAULTY_POLICY = f"{CONTENT_SECURITY_POLICY}; script-src 'unsafe-inline'"
FAULTY_PAGE = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{FAULTY_POLICY}">
</head><body><img src="data:image/png;base64,bm90IGEgcG5n" alt="not a png">
<img src="https://example.invalid/logo.png" alt="remote"><script>console.error("boom")</script>
</body></html>"""


def check_page(name: str, page: dict, expected_images: int) -> None:
    """Fail unless every image loaded and nothing was logged as an error or fetched."""
    assert len(page["images"]) == expected_images > 0, name
    broken = [image["alt"] for image in page["images"] if not image["complete"]]
    broken += [image["alt"] for image in page["images"] if image["width"] <= 0]
    assert not broken, f"{name}: images that did not load: {broken}"
    assert not page["errors"], f"{name}: console errors: {page['errors']}"
    outside = [url for url in page["requests"] if not url.startswith(("file:", "data:"))]
    assert not outside, f"{name}: requests outside the file: {outside}"


def test_report_renders_in_headless_chromium(tmp_path, documents):
    binary = find_chromium()
    if binary is None:
        pytest.fail(INSTALL_HINT)
    # Two reports cover every kind of figure: a classifier with a surface, a regressor.
    pages = {
        "classification": documents["surface"],
        "regression": documents["regression"],
        "faulty": FAULTY_PAGE,
    }
    for name, document in pages.items():
        (tmp_path / f"{name}.html").write_text(document, encoding="utf-8")

    browser = DevTools(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        loaded = {name: open_in_chromium(browser, tmp_path / f"{name}.html") for name in pages}
    finally:
        browser.close()

    for name in ("classification", "regression"):
        expected = len(embedded_images(pages[name]))
        check_page(name, loaded[name], expected)
    # The same checks catch a broken image, a blocked fetch and a console error.
    faulty = loaded["faulty"]
    assert [image["width"] for image in faulty["images"]] == [0, 0]
    assert any("boom" in error for error in faulty["errors"])
    assert any("example.invalid" in error for error in faulty["errors"])  # blocked by the CSP
    with pytest.raises(AssertionError, match="did not load"):
        check_page("faulty", faulty, 2)
