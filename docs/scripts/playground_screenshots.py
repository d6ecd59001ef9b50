"""Regenerate docs/playground.md's screenshots: the page in headless Chromium.

Starts ``thalweg playground`` on a free port, opens each run's link, trains it to the
given epoch with the page's own buttons, and saves a PNG in docs/images/.

Run: ``.venv/bin/python docs/scripts/playground_screenshots.py`` (needs the playground
extra, playwright and Debian's chromium: ``make test`` installs them).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

IMAGES = Path(__file__).resolve().parent.parent / "images"
ALL = "x1,x2,x1sq,x2sq,x1x2,sinx1,sinx2"
SHOTS = [
    # file, link (URL state), epochs to train, what to crop: (x, y, width, height) or None
    (
        "playground-spiral.png",
        "dataset=spiral&features=x1,x2,sinx1,sinx2&hidden=8,8&seed=1",
        300,
        None,
    ),
    ("playground-xor.png", "dataset=xor&features=x1x2&hidden=&seed=1", 60, (0, 75, 1400, 560)),
    (
        "playground-overfitting.png",
        f"dataset=gauss&noise=50&train_fraction=0.1&features={ALL}&hidden=8,8,8"
        "&learning_rate=0.1&seed=1&show_test=true",
        300,
        (1000, 150, 400, 560),
    ),
]


def wait(page, expression, timeout=60):
    deadline = time.monotonic() + timeout
    while not page.evaluate(
        f"(() => {{ try {{ return !!({expression}); }} catch (e) {{ return false; }} }})()"
    ):
        if time.monotonic() > deadline:
            raise TimeoutError(expression)
        time.sleep(0.05)


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "thalweg", "playground", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = server.stdout.readline().split()[2].rstrip("/")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            for name, link, epochs, crop in SHOTS:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"{url}/#{link}")
                wait(page, "window.thalwegPlayground.stats.framesDrawn > 0")
                page.select_option("[data-testid=speed]", "5")
                page.click("[data-testid=play]")
                wait(page, f"window.thalwegPlayground.stats.epoch >= {epochs}")
                page.click("[data-testid=play]")
                wait(page, "!window.thalwegPlayground.page.playing")
                time.sleep(0.5)
                options = {"path": str(IMAGES / name)}
                if crop:
                    x, y, width, height = crop
                    options["clip"] = {"x": x, "y": y, "width": width, "height": height}
                page.screenshot(**options)
                print("wrote", IMAGES / name)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
