"""Regression: predicted against actual with residuals, and the target's distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError, ShapeError
from thalweg.plot._figure import (
    BLUE,
    GREY,
    HEIGHT,
    INK,
    ORANGE,
    WIDTH,
    _new_figure,
    _sample,
    _shown,
    _styled,
    _text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@_styled
def plot_predictions(
    y_true: Sequence | np.ndarray,
    y_pred: Sequence | np.ndarray,
    *,
    target_name: str = "target",
    max_points: int = 5000,
) -> Figure:
    """Regression diagnostics: predicted against actual, and residuals against predicted.

    Left: points on the dashed diagonal are perfect predictions. Right: residuals
    (actual − predicted) should scatter evenly around 0 with no pattern; a curve or a
    funnel means the model misses structure or its error grows with the value.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    target_name : str
        Name of the target, for the axis labels.
    max_points : int, default 5000
        Draw at most this many points (a fixed random sample); R² and RMSE use them all.

    Examples
    --------
    >>> fig = plot_predictions([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 3.8])
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['Predicted vs actual', 'Residuals']
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    if y_true.shape != y_pred.shape:
        raise ShapeError(
            f"plot_predictions: y_true has {y_true.size} values but y_pred has {y_pred.size}; "
            "pass predictions for the same samples"
        )
    residuals = y_true - y_pred
    name = _text(target_name)
    alpha = 0.75 if y_true.size < 500 else 0.4  # dense clouds need more transparency
    shown = _sample(y_true.size, max_points)
    points = {"s": 16, "alpha": alpha, "color": BLUE, "edgecolors": "white", "linewidths": 0.4}

    figure, (left, right) = _new_figure(2 * WIDTH - 0.4, HEIGHT + 0.2, ncols=2)
    low = min(y_true.min(), y_pred.min())
    high = max(y_true.max(), y_pred.max())
    left.plot([low, high], [low, high], color=GREY, linestyle="--", linewidth=1.0, label="y = x")
    left.scatter(y_true[shown], y_pred[shown], **points)
    rmse = math.sqrt(metrics.mean_squared_error(y_true, y_pred))
    summary = f"RMSE {rmse:.4g}"
    if y_true.size >= 2 and np.ptp(y_true) > 0:
        summary = f"R² {metrics.r2(y_true, y_pred):.3f}   " + summary
    summary += f"\n{_shown(shown.size, y_true.size)} samples"
    left.text(0.03, 0.96, summary, transform=left.transAxes, va="top", fontsize=9, color=INK)
    left.legend(loc="lower right")
    left.set_title("Predicted vs actual")
    left.set_xlabel(f"actual {name}")
    left.set_ylabel(f"predicted {name}")

    right.axhline(0.0, color=GREY, linestyle="--", linewidth=1.0)
    right.scatter(y_pred[shown], residuals[shown], **points)
    right.set_title("Residuals")
    right.set_xlabel(f"predicted {name}")
    right.set_ylabel("residual (actual − predicted)")
    return figure


@_styled
def plot_target_distribution(
    values: Sequence | np.ndarray, *, name: str = "target", bins: int = 30
) -> Figure:
    """Histogram of a numeric column (the regression target), with its mean and median.

    Examples
    --------
    >>> fig = plot_target_distribution([1.0, 2.0, 2.5, 3.0, 10.0], name="price")
    >>> fig.axes[0].get_xlabel()
    'price'
    """
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise DataError(f"plot_target_distribution: {name} has no finite values to draw")
    figure, ax = _new_figure(WIDTH, HEIGHT - 0.6)
    ax.hist(values, bins=bins, color=BLUE, alpha=0.85, edgecolor="white", linewidth=0.5)
    mean, median = float(values.mean()), float(np.median(values))
    ax.axvline(mean, color=ORANGE, linewidth=1.5, label=f"mean {mean:.4g}")
    ax.axvline(median, color=INK, linestyle="--", linewidth=1.2, label=f"median {median:.4g}")
    ax.legend(loc="upper right")
    ax.set_title(f"Distribution of {_text(name)} ({values.size} values)")
    ax.set_xlabel(_text(name))
    ax.set_ylabel("count")
    return figure
