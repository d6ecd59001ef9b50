"""What every figure shares: its look, a new Agg figure, safe text, sampled scatters.

matplotlib is imported inside the functions only, never when this module is imported.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------
# Look: one palette and one set of rc settings for every figure.
# --------------------------------------------------------------------------------------

BLUE = "#0877bd"  # Playground's positive class
ORANGE = "#f59322"  # Playground's negative class
INK = "#1f2937"
GREY = "#6b7280"
LIGHT = "#e5e7eb"
# Class k gets CLASS_COLORS[k]: binary labels are orange (first class) and blue (second).
CLASS_COLORS = (
    ORANGE,
    BLUE,
    "#2e9e5b",
    "#8e5ec4",
    "#d64545",
    "#1f9fa8",
    "#a0522d",
    "#d45fa5",
    "#7a7a7a",
    "#9a9a2a",
)

_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.edgecolor": "#9ca3af",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": LIGHT,
    "grid.linewidth": 0.8,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlepad": 8,
    "axes.labelsize": 9.5,
    "axes.labelcolor": INK,
    "text.color": INK,
    "font.size": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "image.interpolation": "nearest",
}

# Figures are sized in inches for a laptop screen: the report shows them at 100 CSS
# pixels per inch, so a 5.6-inch figure takes 560 pixels, two to a row.
WIDTH = 5.6
HEIGHT = 4.0
_MAX_CLASSES_COLORED = len(CLASS_COLORS)


def _styled(plot_function: Callable) -> Callable:
    """Draw inside thalweg's rc settings, without touching the caller's global ones."""

    @functools.wraps(plot_function)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return plot_function(*args, **kwargs)

    return wrapper


def _new_figure(width: float = WIDTH, height: float = HEIGHT, **subplots: Any):
    """A Figure on an Agg canvas (no pyplot) with constrained layout, and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(**subplots)


def _text(value: Any) -> str:
    """A user-provided string made safe for matplotlib: a ``$`` would start math mode."""
    return str(value).replace("$", r"\$")


def _diverging_colormap():
    """Orange (low) through near-white to blue (high), as in the Playground."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("thalweg", [ORANGE, "#f7f7f7", BLUE])


def _class_color(index: int) -> str:
    return CLASS_COLORS[index % _MAX_CLASSES_COLORED]


def _pale(color: str, amount: float = 0.65) -> tuple[float, float, float]:
    """``color`` mixed with white; the background of a class region."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1.0 - c) * amount for c in to_rgb(color))


# --------------------------------------------------------------------------------------
# Many points: draw a fixed sample of them, compute on all of them.
# --------------------------------------------------------------------------------------


def _sample(n: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` points, the same ones every time.

    A scatter of a million points takes long to draw and shows no more than a few
    thousand; metrics are always computed on every point.
    """
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def _shown(n_shown: int, n: int) -> str:
    return f"{n:,}" if n_shown == n else f"{n_shown:,} of {n:,}"
