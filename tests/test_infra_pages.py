"""The pages of `thalweg runs compare --report` and `thalweg skew --report`, in Chromium."""

import json

import numpy as np
import pytest
from test_report import INSTALL_HINT, DevTools, find_chromium

from thalweg.io import write_csv
from thalweg.models import LogisticRegression
from thalweg.models.tabular import TabularModel
from thalweg.tracking import start_run

CHARTS_SCRIPT = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => {
      const box = s.getBoundingClientRect();
      return {width: box.width, height: box.height, lines: s.querySelectorAll('polyline').length,
              bars: s.querySelectorAll('rect').length};
  }),
  flagged: [...document.querySelectorAll('tr.flagged td:first-child')].map(td => td.textContent),
  differs: [...document.querySelectorAll('tr.differs td:first-child')].map(td => td.textContent),
  title: document.title,
})"""


def load(browser: DevTools, path) -> tuple[dict, list[str], list[str]]:
    """The page's charts and marked rows, its console errors, and what it fetched."""
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
        "Runtime.evaluate", {"expression": CHARTS_SCRIPT, "returnByValue": True}, session=session
    )
    events = [e for e in browser.events if e.get("sessionId") == session]
    errors = [
        json.dumps(e["params"])[:300]
        for e in events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    fetched = [
        e["params"]["request"]["url"]
        for e in events
        if e["method"] == "Network.requestWillBeSent"
        and not e["params"]["request"]["url"].startswith(("file:", "data:"))
    ]
    browser.send("Target.closeTarget", {"targetId": target})
    return json.loads(result["result"]["value"]), errors, fetched


def test_compare_and_skew_pages_render_in_chromium(cli, tmp_path):
    binary = find_chromium()
    if binary is None:
        pytest.fail(INSTALL_HINT)
    for rate in (0.1, 0.3):
        with start_run(f"lr {rate}", store=tmp_path / "thalweg-runs.sqlite") as run:
            run.log_params(learning_rate=rate, epochs=5)
            for epoch in range(1, 6):
                run.log_metric("loss", 1 / (epoch * rate), step=epoch)
            run.log_metric("accuracy", 0.8 + rate / 10)
    assert cli("runs", "compare", "1", "2", "--report", "compare.html").code == 0

    rng = np.random.default_rng(0)
    table = {
        "<b>x</b>": rng.normal(size=500),
        "city": rng.choice(np.array(["a", "b"], dtype=object), 500),
    }
    labels = (table["<b>x</b>"] > 0).astype(np.int64)
    TabularModel(LogisticRegression()).fit(table, labels).save(tmp_path / "model.thalweg")
    write_csv(tmp_path / "new.csv", dict(table, **{"<b>x</b>": table["<b>x</b>"] * 4}))
    assert cli("skew", "model.thalweg", "new.csv", "--report", "skew.html").code == 0

    browser = DevTools(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        compare, compare_errors, compare_fetched = load(browser, tmp_path / "compare.html")
        skew, skew_errors, skew_fetched = load(browser, tmp_path / "skew.html")
    finally:
        browser.close()

    assert not compare_errors and not compare_fetched and not skew_errors and not skew_fetched
    assert set(compare["differs"]) == {"learning_rate", "accuracy"}  # epochs are equal
    (curve,) = compare["charts"]
    assert curve["lines"] == 2 and curve["width"] > 200 and curve["height"] > 100
    assert skew["flagged"][0] == "<b>x</b>"  # escaped: shown as text, not markup
    assert len(skew["charts"]) >= 3  # both features and the predictions
    assert all(chart["bars"] > 2 and chart["width"] > 200 for chart in skew["charts"])
