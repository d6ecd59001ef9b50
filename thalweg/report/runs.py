"""The page of ``thalweg runs compare ... --report compare.html``: runs side by side.

One self-contained HTML file (no script, nothing fetched): the runs, their parameters
with the differing ones highlighted, their final metrics with the best one marked,
whether they read the same data, and every learning curve drawn with all runs on one
chart.
"""

from __future__ import annotations

import datetime as dt

from thalweg.report.html import (
    STYLESHEET,
    Html,
    element,
    format_seconds,
    format_value,
    join,
    page,
    section,
    table,
)
from thalweg.report.svg import line_chart

EXTRA_STYLE = """
tr.differs td { background: #fff7ed; }
tr.differs td:first-child { font-weight: 600; }
td.best { color: #047857; font-weight: 650; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr));
  gap: 18px; }
"""


def _run_label(run: dict) -> str:
    return f"run {run['id']}" + (f" ({run['name']})" if run.get("name") else "")


def _cell_row(cells: list, *, css: str | None = None) -> Html:
    return element("tr", join(cells, ""), class_=css)


def compare_page(comparison: dict, *, store: str = "") -> str:
    """The whole HTML page for :func:`thalweg.tracking.compare_runs`'s result."""
    runs = comparison["runs"]
    labels = [_run_label(run) for run in runs]
    header = element(
        "header",
        element(
            "div",
            join(
                [
                    element("h1", f"Comparing {len(runs)} runs"),
                    element(
                        "p",
                        f"{', '.join(labels)} from {store}" if store else ", ".join(labels),
                        class_="subtitle",
                    ),
                ]
            ),
            class_="wrap",
        ),
        class_="top",
    )
    overview = table(
        ["run", "kind", "status", "duration", "command"],
        [
            [
                label,
                run.get("kind") or "",
                run.get("status") or "",
                format_seconds(run["duration"]) if run.get("duration") is not None else "—",
                element("code", run.get("command") or "—"),
            ]
            for label, run in zip(labels, runs, strict=True)
        ],
    )

    def side_by_side(rows: list[dict], what: str, best: bool = False) -> Html:
        if not rows:
            return element("p", f"No {what} were recorded for these runs.")
        head = join([element("th", what[:-1]), *(element("th", label) for label in labels)], "")
        body = []
        for row in rows:
            cells = [element("td", row["name"])]
            for index, value in enumerate(row["values"]):
                css = "best" if best and row.get("best") == index else None
                cells.append(element("td", format_value(value), class_=css))
            body.append(_cell_row(cells, css="differs" if row["differs"] else None))
        return element(
            "table", Html(f"<thead><tr>{head}</tr></thead><tbody>{join(body, '')}</tbody>")
        )

    differing = sum(row["differs"] for row in comparison["params"])
    params = section(
        "params",
        "Parameters",
        f"{differing} of {len(comparison['params'])} parameters differ (highlighted).",
        side_by_side(comparison["params"], "parameters"),
    )
    metrics = section(
        "metrics",
        "Final metrics",
        "The best value of each metric is in green (lowest for losses and errors, "
        "highest otherwise).",
        side_by_side(comparison["metrics"], "metrics", best=True),
    )
    data_rows = [
        {
            "name": row["role"],
            "values": [(h or "—")[:16] for h in row["sha256"]],
            "differs": row["differs"],
        }
        for row in comparison["data"]
    ]
    data = section(
        "data",
        "Data read",
        "The first 16 hex digits of each data set's SHA-256: the same digits, the same bytes.",
        side_by_side(data_rows, "data sets"),
    )
    charts = [
        line_chart(
            [(label, points) for label, points in zip(labels, lines, strict=True) if points],
            title=name,
            y_label=name,
        )
        for name, lines in comparison["curves"].items()
    ]
    curves = section(
        "curves",
        "Learning curves",
        "Each metric logged per epoch, all runs on one chart.",
        element("div", join(charts, ""), class_="charts")
        if charts
        else element("p", "None of these runs logged per-epoch metrics."),
    )
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    body = join(
        [
            header,
            element(
                "main",
                join([section("runs", "Runs", "", overview), params, metrics, data, curves]),
                class_="wrap",
            ),
            element("footer", f"Written by thalweg runs compare on {generated}.", class_="wrap"),
        ]
    )
    document = page(f"Comparing runs {', '.join(str(r['id']) for r in runs)}", "thalweg", body)
    return document.replace(
        f"<style>{STYLESHEET}</style>", f"<style>{STYLESHEET}{EXTRA_STYLE}</style>"
    )
