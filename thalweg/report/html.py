"""HTML building blocks of the report: escaping, tables, figures and the page around them.

Strings from the user (column names, class labels, paths, hyperparameter values) are
escaped on the way in: every helper here escapes what it is given, unless it is
already markup, marked as such by wrapping it in :class:`Html`. So a column named
``<script>`` shows up as text, never as a tag.

The page carries a Content-Security-Policy that allows only inline styles and
``data:`` images: even a page edited by hand cannot fetch anything or run a script.
"""

from __future__ import annotations

import datetime
import html
import math
from collections.abc import Iterable, Sequence

import numpy as np

from thalweg.report.figures import ReportFigure

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class Html(str):
    """A string that is already safe markup; :func:`escape` passes it through unchanged."""


def escape(value: object) -> Html:
    """``value`` as text that cannot open a tag or leave an attribute."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def join(parts: Iterable[object], separator: str = "\n") -> Html:
    """Concatenate markup, escaping any part that is not :class:`Html`."""
    return Html(separator.join(escape(part) for part in parts))


def format_number(value: float | int) -> str:
    """Integers with thousands separators, floats to 4 significant digits."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return "—"
    return f"{value:.4g}"


def format_value(value: object) -> str:
    """A hyperparameter or summary value as short text."""
    if value is None:
        return "—"
    if isinstance(value, bool | np.bool_ | int | np.integer | float | np.floating):
        return format_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value) if value else "—"
    return str(value)


def format_seconds(seconds: float) -> str:
    """``0.84 s``, ``12 ms``, ``2 min 05 s``, ``1 h 02 min``."""
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60.0:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def element(tag: str, content: object = "", **attributes: object) -> Html:
    """``<tag attr="...">content</tag>``; ``class_`` becomes ``class``."""
    attrs = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for name, value in attributes.items()
        if value is not None
    )
    return Html(f"<{tag}{attrs}>{escape(content)}</{tag}>")


def table(
    header: Sequence[object] | None,
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    class_: str | None = None,
) -> Html:
    """A table (no header row when ``header`` is None); ``numeric`` columns right-aligned."""
    numeric = set(numeric)
    body = join(
        (
            element(
                "tr",
                join(
                    (
                        element("td", cell, class_="num" if i in numeric else None)
                        for i, cell in enumerate(row)
                    ),
                    "",
                ),
            )
            for row in rows
        ),
        "",
    )
    head = Html("")
    if header is not None:
        cells = join(
            (
                element("th", h, class_="num" if i in numeric else None)
                for i, h in enumerate(header)
            ),
            "",
        )
        head = Html(f"<thead><tr>{cells}</tr></thead>")
    return element("table", Html(f"{head}<tbody>{body}</tbody>"), class_=class_)


def share_bar(fraction: float, color: str = "var(--blue)") -> Html:
    """A small horizontal bar, ``fraction`` of its track filled."""
    width = f"{100 * max(0.0, min(1.0, fraction)):.1f}%"
    fill = element("span", "", class_="fill", style=f"width:{width};background:{color}")
    return element("span", fill, class_="track")


def note(content: object, kind: str = "info") -> Html:
    """A callout box: ``info`` (blue) or ``warning`` (orange)."""
    return element("div", content, class_=f"note {kind}")


def figure(item: ReportFigure) -> Html:
    """A figure with its title and how-to-read caption, or the reason it is missing."""
    if item.png_base64 is None:
        # The image carries its own title; without one, the reader needs the heading.
        body = join(
            [
                element("h3", item.title),
                note(f"This figure could not be drawn: {item.missing}", "warning"),
            ]
        )
    else:
        body = Html(
            f'<img src="data:image/png;base64,{item.png_base64}" '
            f'width="{item.width}" height="{item.height}" alt="{escape(item.title)}">'
        )
    content = join([body, element("figcaption", item.how_to_read)])
    return element("figure", content, id=item.anchor, class_="wide" if item.wide else None)


def figure_grid(items: Sequence[ReportFigure]) -> Html:
    """Figures two to a row; a lone figure gets its caption beside it instead."""
    single = len(items) == 1 and not items[0].wide
    return element(
        "div",
        join(figure(item) for item in items),
        class_="figures single" if single else "figures",
    )


def section(anchor: str, title: str, intro: object, body: object) -> Html:
    """A card of the report: heading, one-paragraph introduction, content."""
    intro_html = element("p", intro, class_="intro") if intro else Html("")
    return element("section", join([element("h2", title), intro_html, body]), id=anchor)


def page_header(
    title: str, subtitle: str, stats: Sequence[tuple[str, str]], seed, version: str
) -> Html:
    """The top of a report: title, one line of context, the numbers a reader wants
    first (``stats``: ``(label, value)`` cards), and what made the page."""
    cards = join(
        element(
            "div",
            join([element("span", label, class_="label"), element("span", value, class_="value")]),
            class_="stat",
        )
        for label, value in stats
    )
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    seed = "none" if seed is None else seed
    body = join(
        [
            element("h1", title),
            element("p", subtitle, class_="subtitle"),
            element("div", cards, class_="stats"),
            element("p", f"thalweg {version} · seed {seed} · generated {generated}", class_="meta"),
        ]
    )
    return element("header", element("div", body, class_="wrap"), class_="top")


def page(title: str, generator: str, body: object) -> Html:
    """The whole HTML document around ``body``."""
    return Html(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="{escape(generator)}">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{STYLESHEET}</style>\n"
        f"</head>\n<body>\n{escape(body)}\n</body>\n</html>\n"
    )


STYLESHEET = """
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --page: #f4f5f7; --card: #ffffff;
  --blue: #0877bd; --orange: #f59322; --slate: #475569;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--page); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
}
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); padding: 28px 0 22px; }
header.top h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
header.top .subtitle { color: var(--muted); margin: 0 0 18px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 12px; }
.stat { border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px;
  background: #fafbfc; }
.stat .label { display: block; font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
  color: var(--muted); }
.stat .value { display: block; font-size: 23px; font-weight: 650;
  font-variant-numeric: tabular-nums; }
.meta { color: var(--muted); font-size: 13px; margin: 14px 0 0; }
nav { position: sticky; top: 0; z-index: 1; background: rgba(255, 255, 255, .96);
  border-bottom: 1px solid var(--line); }
nav .wrap { display: flex; flex-wrap: wrap; gap: 4px 18px; padding-top: 9px; padding-bottom: 9px; }
nav a { color: var(--slate); text-decoration: none; font-size: 14px; }
nav a:hover { color: var(--blue); }
main { padding-bottom: 40px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: 22px 26px; margin: 22px 0; scroll-margin-top: 52px; }
h2 { font-size: 20px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.intro { color: var(--muted); margin: 0 0 16px; max-width: 80ch; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr));
  gap: 18px 32px; align-items: start; }
table { border-collapse: collapse; font-size: 14px; margin: 0 0 8px; }
th, td { padding: 6px 12px 6px 0; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
  font-weight: 600; white-space: nowrap; }
.bar { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meaning td:last-child { color: var(--muted); }
.scroll { max-height: 380px; overflow: auto; border-bottom: 1px solid var(--line); }
.scroll table { margin: 0; width: 100%; }
.scroll thead th { position: sticky; top: 0; background: var(--card); }
.track { display: inline-block; width: 90px; height: 8px; border-radius: 4px;
  background: var(--line); vertical-align: middle; margin-right: 8px; }
.fill { display: block; height: 100%; border-radius: 4px; }
.splits { display: flex; height: 30px; border-radius: 7px; overflow: hidden; margin: 4px 0 6px; }
.splits span { display: flex; align-items: center; justify-content: center; color: #fff;
  font-size: 13px; white-space: nowrap; overflow: hidden; min-width: 2px; }
.missing { color: #b45309; font-weight: 600; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 500px), 1fr));
  gap: 28px 28px; }
figure { margin: 0; scroll-margin-top: 52px; }
figure.wide { grid-column: 1 / -1; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 13.5px; color: #4b5563; margin-top: 8px; max-width: 75ch; }
.figures.single { display: block; }
.figures.single figure { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.figures.single figcaption { flex: 1 1 260px; margin-top: 28px; }
.figures.single .note { flex-basis: 100%; }
.note { border-radius: 8px; padding: 10px 14px; margin: 0 0 14px; font-size: 14px; }
.note.info { background: #eff6ff; border-left: 4px solid var(--blue); }
.note.warning { background: #fff7ed; border-left: 4px solid var(--orange); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px;
  background: #f3f4f6; padding: 1px 5px; border-radius: 4px; word-break: break-word; }
footer { color: var(--muted); font-size: 13px; padding: 8px 0 36px; }
@media print {
  nav { display: none; }
  body { background: #fff; }
  section, figure { break-inside: avoid; }
}
"""
