"""Small charts drawn as inline SVG: crisp at any zoom, no image files, no script.

Used by the pages that compare things (``thalweg runs compare``, ``thalweg skew``),
where a chart is a few lines or bars and matplotlib would be a heavy way to draw them.
Every label goes through :func:`~thalweg.report.html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thalweg.report.html import Html, escape

# Distinguishable for most colour-blind readers (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")
WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 46


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values spanning ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


def _frame(title: str, x_label: str, y_label: str, body: str) -> Html:
    return Html(
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-family="system-ui, '
        f'sans-serif" font-size="12"><title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="600">{escape(title)}</text>'
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'fill="#6b7280">{escape(x_label)}</text>'
        f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle" fill="#6b7280">{escape(y_label)}</text>{body}</svg>'
    )


def line_chart(
    series: Sequence[tuple[str, Sequence[Sequence[float]]]],
    *,
    title: str,
    x_label: str = "epoch",
    y_label: str = "",
) -> Html:
    """Lines, one per ``(label, [[x, y], ...])``, on shared axes, with a legend.

    >>> svg = line_chart([("run 1", [[1, 0.9], [2, 0.5]])], title="loss")
    >>> svg.count("<polyline")
    1
    """
    points = [(x, y) for _, line in series for x, y in line if y is not None]
    if not points:
        return _frame(title, x_label, y_label, "")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_low, x_high = min(xs), max(xs)
    y_low, y_high = min(ys), max(ys)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    if y_high == y_low:
        pad = abs(y_low) * 0.1 or 1.0
        y_low, y_high = y_low - pad, y_high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(x: float) -> float:
        return LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def y_of(y: float) -> float:
        return TOP + (1 - (y - y_low) / (y_high - y_low)) * plot_h

    parts = []
    for tick in _ticks(y_low, y_high):
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">'
            f"{_label(tick)}</text>"
        )
    for tick in _ticks(x_low, x_high):
        x = x_of(tick)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
            f'fill="#6b7280">{_label(tick)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#9ca3af"/>'
    )
    for index, (label, line) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        coordinates = " ".join(
            f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in line if y is not None and math.isfinite(y)
        )
        if coordinates:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                f'points="{coordinates}"><title>{escape(label)}</title></polyline>'
            )
        legend_x = LEFT + 8 + (index % 4) * 120
        legend_y = TOP + 14 + (index // 4) * 16
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 9}" width="12" height="4" fill="{color}"/>'
            f'<text x="{legend_x + 16}" y="{legend_y - 4}">{escape(label)}</text>'
        )
    return _frame(title, x_label, y_label, "".join(parts))


def paired_bars(
    labels: Sequence[str],
    first: Sequence[float],
    second: Sequence[float],
    *,
    title: str,
    names: tuple[str, str] = ("training", "served"),
    y_label: str = "share of rows",
) -> Html:
    """Two bars per label (e.g. a bin's share in training and in served data).

    >>> paired_bars(["a", "b"], [0.5, 0.5], [0.9, 0.1], title="city").count("<rect")
    6
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([*first, *second, 1e-12])
    slot = plot_w / max(len(labels), 1)
    bar = max(slot * 0.38, 1.0)
    parts = []
    for tick in _ticks(0.0, top):
        y = TOP + (1 - tick / top) * plot_h
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#6b7280">'
            f"{_label(tick)}</text>"
        )
    show_every = max(1, math.ceil(len(labels) / 12))
    for index, label in enumerate(labels):
        x = LEFT + index * slot + slot / 2
        for offset, value, color in (
            (-bar, first[index], PALETTE[0]),
            (0, second[index], PALETTE[1]),
        ):
            height = value / top * plot_h
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{TOP + plot_h - height:.1f}" width="{bar:.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{escape(label)}: '
                f"{value:.3g}</title></rect>"
            )
        if index % show_every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                f'fill="#6b7280">{escape(str(label)[:12])}</text>'
            )
    for index, name in enumerate(names):
        legend_x = WIDTH - RIGHT - 200 + index * 100
        parts.append(
            f'<rect x="{legend_x}" y="{TOP - 12}" width="12" height="8" fill="{PALETTE[index]}"/>'
            f'<text x="{legend_x + 16}" y="{TOP - 4}">{escape(name)}</text>'
        )
    return _frame(title, "", y_label, "".join(parts))
