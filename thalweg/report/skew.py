"""The page of ``thalweg skew ... --report skew.html``: training vs served, per feature.

One self-contained HTML file (no script, nothing fetched): a verdict, the table of every
feature's metrics with the flagged values marked, the Rule #37 feature-mismatch table
when there is one, and for each feature a chart of its training and served shares per
bin (numeric deciles of training) or per category.
"""

from __future__ import annotations

import datetime as dt

from thalweg.report.html import (
    STYLESHEET,
    Html,
    element,
    join,
    note,
    page,
    section,
    table,
)
from thalweg.report.svg import paired_bars

EXTRA_STYLE = """
td.flag { color: #b91c1c; font-weight: 650; }
tr.flagged td:first-child { color: #b91c1c; font-weight: 650; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr));
  gap: 18px; }
.verdict { font-size: 18px; font-weight: 650; }
.verdict.bad { color: #b91c1c; } .verdict.good { color: #047857; }
"""
MAX_CHARTS = 40

COLUMNS = [
    ("distance", "TFDV distance"),
    ("psi", "PSI"),
    ("ks", "KS"),
    ("mean_shift", "mean shift (sd)"),
    ("std_shift", "std shift (sd)"),
    ("missing_change", "missing Δ"),
    ("unseen_share", "unseen share"),
]


def _cell(feature: dict, metric: str) -> Html:
    value = feature.get(metric)
    text = "—" if value is None else f"{value:.4g}"
    if metric == "distance" and value is not None:
        text += f" ({'JS' if feature['metric'] == 'jensen_shannon' else 'L∞'})"
    flagged = metric in feature["flags"]
    return element("td", text, class_="num flag" if flagged else "num")


def _row(feature: dict) -> Html:
    cells = [element("td", feature["name"]), element("td", feature["kind"])]
    cells += [_cell(feature, metric) for metric, _ in COLUMNS]
    cells.append(element("td", ", ".join(feature["unseen"][:5]) or "—"))
    cells.append(element("td", "flagged" if feature["flags"] else "ok"))
    return element("tr", join(cells, ""), class_="flagged" if feature["flags"] else None)


def skew_page(report: dict, *, model: str, data: str) -> str:
    """The whole HTML page for a :class:`~thalweg.monitoring.SkewReport` (as a dict)."""
    features = report["features"]
    flagged = report["flagged"]
    verdict = (
        element("p", f"Skew found in: {', '.join(flagged)}", class_="verdict bad")
        if flagged
        else element("p", "No skew found: nothing passed its threshold.", class_="verdict good")
    )
    header = element(
        "header",
        element(
            "div",
            join(
                [
                    element("h1", f"Training/serving skew: {data}"),
                    element(
                        "p",
                        f"{report['rows']:,} {report.get('unit', 'rows')} of {data} against "
                        f"the training data of {model}",
                        class_="subtitle",
                    ),
                    verdict,
                ]
            ),
            class_="wrap",
        ),
        class_="top",
    )
    rows = [*features]
    if report.get("predictions"):
        rows.append(report["predictions"])
    head = join(
        [
            element("th", "feature"),
            element("th", "kind"),
            *(element("th", label, class_="num") for _, label in COLUMNS),
            element("th", "unseen categories"),
            element("th", "verdict"),
        ],
        "",
    )
    metrics_table = element(
        "div",
        element(
            "table",
            Html(
                f"<thead><tr>{head}</tr></thead><tbody>{join((_row(f) for f in rows), '')}</tbody>"
            ),
        ),
        class_="scroll",
    )
    thresholds = report["thresholds"]
    legend = (
        f"Flagged (red) when: TFDV distance > {thresholds['distance']:g} (Jensen–Shannon "
        f"divergence for numeric features, L-infinity distance for categorical ones; "
        f"per-feature thresholds: {thresholds['features'] or 'none'}), PSI > "
        f"{thresholds['psi']:g}, KS > {thresholds['ks']:g}, |mean shift| > "
        f"{thresholds['mean_shift']:g} training sd, std shift ≤ "
        f"{1 / thresholds['std_ratio'] - 1:g} or ≥ {thresholds['std_ratio'] - 1:g} training sd "
        f"(the std halved or doubled), |missing Δ| > {thresholds['missing_change']:g}, "
        f"unseen share > {thresholds['unseen_share']:g}."
    )
    notes = join(note(text) for text in report.get("notes", []))
    parts = [section("features", "Features", legend, join([notes, metrics_table]))]
    mismatch = report.get("mismatch")
    if mismatch:
        parts.append(
            section(
                "mismatch",
                "Served features vs recomputed (Rule #37)",
                f"{mismatch['rows_mismatched']:,} of {mismatch['rows']:,} rows "
                f"({mismatch['row_mismatch_rate']:.1%}) have a feature that differs from the "
                f"same raw row's feature recomputed offline ({mismatch.get('source', '')}).",
                table(
                    ["feature", "rows differing", "mean |difference|", "max |difference|"],
                    [
                        [
                            f["name"],
                            f"{f['mismatch_rate']:.1%}",
                            f"{f['mean_abs_difference']:.4g}",
                            f"{f['max_abs_difference']:.4g}",
                        ]
                        for f in mismatch["features"]
                    ],
                    numeric=(1, 2, 3),
                ),
            )
        )
    shown = sorted(rows, key=lambda f: not f["flags"])[:MAX_CHARTS]
    charts = [
        paired_bars(
            f["buckets"],
            f["training_shares"],
            f["new_shares"],
            title=f"{f['name']}{' (flagged)' if f['flags'] else ''}",
        )
        for f in shown
        if f["buckets"]
    ]
    parts.append(
        section(
            "distributions",
            "Distributions",
            f"Each feature's share of {report.get('unit', 'rows')} per bin: training (blue) and "
            "the new data (orange). Numeric bins are the training deciles, so training fills "
            "each about equally."
            + (
                " Image features are statistics of each image: brightness (mean intensity), "
                "contrast (its standard deviation), sharpness (variance of the Laplacian) and "
                "subject share (the share of the frame holding the middle 90% of its edge "
                "energy)."
                if report.get("unit") == "images"
                else ""
            ),
            element("div", join(charts, ""), class_="charts"),
        )
    )
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    body = join(
        [
            header,
            element("main", join(parts), class_="wrap"),
            element("footer", f"Written by thalweg skew on {generated}.", class_="wrap"),
        ]
    )
    document = page(f"Skew: {data}", "thalweg", body)
    return document.replace(
        f"<style>{STYLESHEET}</style>", f"<style>{STYLESHEET}{EXTRA_STYLE}</style>"
    )
