"""One self-contained HTML report of a trained model (layer 5).

The report shows the data, the model and its settings, the training curves, the test
metrics, diagnostic plots, the decision surface of a two-feature model and the learned
weights. It is a single file: images are embedded PNGs and styles are inline, so it
opens offline and can be mailed or archived as is. See ``docs/report.md``.

>>> from thalweg.report import ReportInput, write_report  # doctest: +SKIP
>>> write_report("report.html", ReportInput(...))  # doctest: +SKIP
PosixPath('report.html')
"""

from __future__ import annotations

import os
from pathlib import Path

from thalweg.files import atomic_write
from thalweg.report.figures import draw_figures
from thalweg.report.inputs import ReportInput, Surface, check_report
from thalweg.report.sections import render_page
from thalweg.report.tabular import table_model_report

__all__ = ["ReportInput", "Surface", "render_html", "table_model_report", "write_report"]


def render_html(report: ReportInput) -> str:
    """The report as one HTML document (a string), without writing it anywhere.

    Raises ValueError if the parts of ``report`` do not fit together.
    """
    check_report(report)
    return render_page(report, draw_figures(report))


def write_report(path: str | os.PathLike, report: ReportInput) -> Path:
    """Write ``report`` as one self-contained HTML file at ``path``; return the path.

    The whole page is rendered in memory first and then written atomically (a
    temporary file renamed into place): if anything fails, an existing file at ``path``
    is left as it was and no partial file is left behind.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write, e.g. ``"report.html"``. Missing folders are created.
    report : ReportInput
        What to show.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> report = ReportInput(
    ...     title="Tiny", task="regression", model_name="LinearRegression()",
    ...     hyperparameters={}, seed=0, seconds=0.01, data_summary={"rows": 4},
    ...     metrics={"r2": 0.9}, y_true=np.array([1.0, 2.0, 3.0, 4.0]),
    ...     y_pred=np.array([1.1, 1.9, 3.2, 3.9]))
    >>> out = write_report(os.path.join(tempfile.mkdtemp(), "report.html"), report)
    >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    True
    """
    document = render_html(report)  # everything that can fail happens before the write
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(document.encode("utf-8"))
    return path
