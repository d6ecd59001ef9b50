"""Every Python example in the README and in docs/ runs.

Blocks of one file run in order in one namespace (later examples may use earlier
ones), in a temporary working directory so files they write do not litter the repo.
Excerpts of library code that are shown, not run, are fenced as ```py instead.
Examples run clean: a warning (ConvergenceWarning, a feature-names warning, any
UserWarning, a FutureWarning such as a deprecated ``seed=``) fails the page, so what
a reader copies does not greet them with one.
"""

import re
import warnings
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.name)
def test_python_examples_in_docs_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for number, block in enumerate(python_blocks(page), start=1):
        if block.lstrip().startswith(">>>"):
            continue  # doctest-style transcripts are shown, not run
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)
                warnings.simplefilter("error", FutureWarning)  # e.g. seed= for random_state=
                exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"{page.name}, python block {number} failed: {error!r}\n{block}")
