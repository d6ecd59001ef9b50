"""Weights: coefficient bars or heat map for a linear model, histograms for a network."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from thalweg.errors import DataError, ShapeError
from thalweg.plot._figure import (
    BLUE,
    GREY,
    INK,
    ORANGE,
    WIDTH,
    _diverging_colormap,
    _new_figure,
    _styled,
    _text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


_MAX_BARS = 40


def _weights_of(weights: Any) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """``(coefficients, {})`` for a linear model, ``(None, layers)`` for a network."""
    if hasattr(weights, "coefs_"):  # an MLP: a weight matrix per layer
        return None, {f"layer {i}": np.asarray(w) for i, w in enumerate(weights.coefs_, 1)}
    if hasattr(weights, "coef_"):
        return np.asarray(weights.coef_, dtype=float), {}
    if isinstance(weights, Mapping):
        if "coefficients" in weights:
            return np.asarray(weights["coefficients"], dtype=float), {}
        return None, {str(name): np.asarray(w, dtype=float) for name, w in weights.items()}
    if isinstance(weights, list | tuple) and all(np.ndim(w) == 2 for w in weights):
        return None, {f"layer {i}": np.asarray(w, dtype=float) for i, w in enumerate(weights, 1)}
    return np.asarray(weights, dtype=float), {}


@_styled
def plot_weights(
    weights: Any,
    *,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence | None = None,
) -> Figure:
    """Learned weights: a bar per feature for a linear model, histograms for a network.

    Coefficients that are exactly zero (what an L1 penalty does to useless features) are
    drawn as hollow circles and their names greyed out. A multi-class linear model
    (one row of coefficients per class) is drawn as a features × classes heat map.

    Parameters
    ----------
    weights : fitted model, array, list of arrays or dict
        A model with ``coef_`` (linear) or ``coefs_`` (MLP); an array of coefficients
        ``(n_features,)`` or ``(n_classes, n_features)``; a list of per-layer weight
        matrices (each 2-D); or a dict ``{"coefficients": array}`` or
        ``{"layer 1": matrix, ...}`` (the report's ``ReportInput.weights``).
    feature_names : sequence of str, optional
        Names for the coefficients. Default: x1, x2, ...
    class_names : sequence, optional
        Names of the rows of a multi-class coefficient matrix.

    Examples
    --------
    >>> fig = plot_weights([0.8, 0.0, -0.3], feature_names=["age", "zip", "income"])
    >>> fig.axes[0].get_title(loc="left")
    'Coefficients: 1 of 3 exactly zero'
    """
    coefficients, layers = _weights_of(weights)
    if coefficients is None:
        if not layers:
            raise DataError("plot_weights: no weights to draw; pass a fitted model or arrays")
        return _weight_histograms(layers)
    if coefficients.ndim == 2 and coefficients.shape[0] == 1:
        coefficients = coefficients[0]  # binary logistic regression: one row
    n_features = coefficients.shape[-1]
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(1, n_features + 1)]
    if len(feature_names) != n_features:
        raise ShapeError(
            f"plot_weights: {len(feature_names)} feature names for {n_features} coefficients; "
            "pass one name per coefficient (after preprocessing)"
        )
    names = [_text(name) for name in feature_names]
    if coefficients.ndim == 1:
        return _coefficient_bars(coefficients, names)
    if class_names is None:
        class_names = [f"class {i}" for i in range(coefficients.shape[0])]
    return _coefficient_heatmap(coefficients, names, [_text(c) for c in class_names])


def _zero_summary(coefficients: np.ndarray) -> str:
    zeros = int(np.sum(coefficients == 0.0))
    return f"{zeros} of {coefficients.size} exactly zero" if zeros else "none exactly zero"


def _coefficient_bars(coefficients: np.ndarray, names: list[str]) -> Figure:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shown = np.arange(coefficients.size)
    title = f"Coefficients: {_zero_summary(coefficients)}"
    if coefficients.size > _MAX_BARS:
        # Too many bars to read: keep the largest, in their original order.
        shown = np.sort(np.argsort(-np.abs(coefficients), kind="stable")[:_MAX_BARS])
        title += f" (showing the {_MAX_BARS} largest)"
    values = coefficients[shown]
    rows = np.arange(len(shown))
    figure, ax = _new_figure(WIDTH, 1.4 + 0.24 * len(shown))
    colors = [BLUE if v > 0 else ORANGE for v in values]
    ax.barh(rows, values, color=colors, height=0.7)
    zero = values == 0.0
    ax.plot(
        np.zeros(zero.sum()),
        rows[zero],
        linestyle="none",
        marker="o",
        markersize=6,
        markerfacecolor="white",
        markeredgecolor=GREY,
    )
    ax.axvline(0.0, color=GREY, linewidth=0.8)
    # Symmetric limits: the sign reads at a glance, and circles at 0 are never clipped.
    reach = float(np.max(np.abs(values))) or 1.0
    ax.set_xlim(-1.08 * reach, 1.08 * reach)
    ax.set_yticks(rows, [names[i] for i in shown])
    for label, is_zero in zip(ax.get_yticklabels(), zero, strict=True):
        if is_zero:
            label.set_color("#9ca3af")
    ax.invert_yaxis()  # first feature on top, as in the data
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("weight")
    ax.set_ylabel("feature")
    ax.set_title(title)
    handles = [Patch(color=BLUE, label="positive"), Patch(color=ORANGE, label="negative")]
    if zero.any():
        handles.append(
            Line2D([], [], linestyle="none", marker="o", markerfacecolor="white",
                   markeredgecolor=GREY, label="exactly 0 (dropped, e.g. by L1)")
        )  # fmt: skip
    figure.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    return figure


def _coefficient_heatmap(coefficients: np.ndarray, names: list[str], classes: list[str]) -> Figure:
    n_classes, n_features = coefficients.shape
    limit = float(np.max(np.abs(coefficients))) or 1.0
    figure, ax = _new_figure(
        min(max(4.2, 2.6 + 0.9 * n_classes), 11.0), 1.4 + 0.26 * min(n_features, 3 * _MAX_BARS)
    )
    image = ax.imshow(
        coefficients.T, cmap=_diverging_colormap(), vmin=-limit, vmax=limit, aspect="auto"
    )
    ax.grid(False)
    if n_features * n_classes <= 200:
        for i in range(n_features):
            for j in range(n_classes):
                value = coefficients[j, i]
                text = "0" if value == 0.0 else f"{value:.2g}"
                color = "#9ca3af" if value == 0.0 else INK
                ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=color)
    ax.set_xticks(range(n_classes), classes)
    ax.set_yticks(range(n_features), names)
    ax.tick_params(length=0)
    ax.set_xlabel("class")
    ax.set_ylabel("feature")
    ax.set_title(f"Coefficients per class: {_zero_summary(coefficients)}")
    colorbar = figure.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label("weight (0 shown as '0')")
    return figure


def _weight_histograms(layers: dict[str, np.ndarray]) -> Figure:
    n = len(layers)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    figure, axes = _new_figure(
        min(2 * WIDTH - 0.4, 3.6 * columns + 0.4), 3.0 * rows, nrows=rows, ncols=columns
    )
    axes = np.atleast_1d(axes).ravel()
    for ax, (name, matrix) in zip(axes, layers.items(), strict=False):
        values = matrix.ravel()
        shape = "→".join(str(s) for s in matrix.shape) if matrix.ndim == 2 else str(matrix.shape)
        ax.hist(values, bins=min(40, max(8, values.size // 4)), color=BLUE, alpha=0.85)
        ax.axvline(0.0, color=GREY, linewidth=0.8)
        zeros = int(np.sum(values == 0.0))
        note = f", {zeros} exactly 0" if zeros else ""
        ax.set_title(f"{_text(name)}: {shape}", fontsize=10)
        ax.set_xlabel(f"weight ({values.size} values{note})")
        ax.set_ylabel("count")
    for ax in axes[n:]:
        ax.set_visible(False)
    figure.suptitle("Weights per layer", x=0.02, ha="left", fontweight="bold", fontsize=11)
    return figure
