"""Plots of training and evaluation, as matplotlib Figures (layer 5).

Each function takes plain arrays (or a fitted model, or a :class:`~thalweg.train.History`)
and returns a new :class:`matplotlib.figure.Figure`. In Jupyter the figure shows itself;
in a script, save it with ``fig.savefig("curve.png")``. The HTML report
(:mod:`thalweg.report`) draws its figures with these same functions.

The figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through
``pyplot``: nothing global changes (no backend switch, no figure kept alive by a
registry), so plotting is safe inside a server or a test run. matplotlib is imported only
when a function here is called, so ``import thalweg`` stays fast.

Colors follow the TensorFlow Playground: orange for the negative class and negative
weights, blue for the positive class and positive weights; training curves are blue and
validation curves orange. Every metric comes from :mod:`thalweg.metrics`.

>>> from thalweg.datasets import load
>>> from thalweg.models import LogisticRegression
>>> X, y, names = load("gaussian", n=200, seed=0)
>>> model = LogisticRegression().fit(X, y)
>>> fig = plot_decision_surface(model, X, y, feature_names=names)
>>> fig.axes[0].get_title(loc="left")
'Decision surface'
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError, ShapeError
from thalweg.train.history import History

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BLUE",
    "CLASS_COLORS",
    "ORANGE",
    "plot_calibration",
    "plot_confusion_matrix",
    "plot_decision_surface",
    "plot_history",
    "plot_precision_recall",
    "plot_predictions",
    "plot_roc",
    "plot_target_distribution",
    "plot_weights",
]

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
_MAX_ANNOTATED_CLASSES = 15
_MAX_LEGEND_CURVES = 10


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
# Training
# --------------------------------------------------------------------------------------


@_styled
def plot_history(
    history: History | Mapping,
    *,
    metric: str = "loss",
    log_scale: bool | None = None,
    show_stop_reason: bool = True,
) -> Figure:
    """Training and validation ``metric`` per epoch on one plot: the generalization curve.

    The epoch that early stopping kept (``history.best_epoch``) is marked, and why
    training stopped (``history.stop_reason``) is written under the plot.

    Parameters
    ----------
    history : History or dict
        A model's ``history_`` (or ``History.to_dict()``), with columns ``epoch``,
        ``metric`` and, when there was validation data, ``"val_" + metric``.
    metric : str, default "loss"
        Which column to draw, e.g. ``"accuracy"``.
    log_scale : bool, optional
        Logarithmic y axis. Default: on when the values span more than a factor of 50.
    show_stop_reason : bool, default True
        Write ``history.stop_reason`` under the plot.

    Examples
    --------
    >>> from thalweg.train import History
    >>> h = History()
    >>> for epoch, (loss, val) in enumerate([(0.9, 1.0), (0.5, 0.6), (0.3, 0.7)], 1):
    ...     h.append({"epoch": epoch, "loss": loss, "val_loss": val})
    >>> fig = plot_history(h)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['training', 'validation']
    """
    from matplotlib.ticker import MaxNLocator

    if isinstance(history, Mapping):
        history = History.from_dict(history)
    if len(history) == 0:
        raise DataError("plot_history: the history is empty; train for at least one epoch")
    epochs = np.asarray(history["epoch"], dtype=float)
    train = np.asarray(history[metric], dtype=float)
    val_key = f"val_{metric}"
    val = np.asarray(history[val_key], dtype=float) if val_key in history.keys() else None
    has_val = val is not None and bool(np.isfinite(val).any())

    figure, ax = _new_figure()
    marker = "o" if len(epochs) < 30 else None  # a few epochs read better as dots
    ax.plot(epochs, train, color=BLUE, marker=marker, markersize=3.5, label="training")
    if has_val:
        ax.plot(epochs, val, color=ORANGE, marker=marker, markersize=3.5, label="validation")

    best = history.best_epoch
    if best is not None and best in epochs:
        at = int(np.flatnonzero(epochs == best)[0])
        ax.axvline(best, color=GREY, linestyle="--", linewidth=1.0, label=f"best epoch ({best})")
        curve = val if has_val else train
        ax.plot([best], [curve[at]], marker="*", markersize=13, color=INK, linestyle="none")

    values = np.concatenate([train, val[np.isfinite(val)] if has_val else []])
    values = values[np.isfinite(values)]
    if log_scale is None:
        log_scale = bool(values.size and values.min() > 0 and values.max() / values.min() > 50.0)
    if log_scale:
        ax.set_yscale("log")

    name = metric.replace("_", " ")
    ax.set_title(
        f"Generalization curve: training vs validation {name}" if has_val else f"Training {name}"
    )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{name} (log scale)" if log_scale else name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best")
    if show_stop_reason and history.stop_reason:
        figure.supxlabel(
            textwrap.fill(f"Stopped: {_text(history.stop_reason)}", 95),
            fontsize=8,
            color=GREY,
            x=0.02,
            ha="left",
        )
    return figure


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------


@_styled
def plot_confusion_matrix(
    y_true: Sequence | np.ndarray,
    y_pred: Sequence | np.ndarray,
    *,
    labels: Sequence | np.ndarray | None = None,
) -> Figure:
    """Counts of each (true class, predicted class) pair, shaded by the share of the row.

    Each cell shows the count and, below it, the fraction of that true class it holds;
    the diagonal holds the correct predictions.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted class labels.
    labels : array-like, optional
        Classes in display order. Default: every label seen, sorted.

    Examples
    --------
    >>> fig = plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1])
    >>> fig.axes[0].get_xlabel()
    'predicted class'
    """
    from matplotlib.colors import LinearSegmentedColormap

    if labels is None:
        labels = np.union1d(np.asarray(y_true), np.asarray(y_pred))
    labels = np.asarray(labels)
    counts = metrics.confusion_matrix(y_true, y_pred, labels=labels)
    share = metrics.confusion_matrix(y_true, y_pred, labels=labels, normalize="true")

    k = len(labels)
    size = min(max(4.4, 1.6 + 0.65 * k), 11.0)  # beyond ~15 classes cells just get smaller
    figure, ax = _new_figure(size + 0.8, size)
    colormap = LinearSegmentedColormap.from_list("thalweg_blues", ["#ffffff", BLUE])
    image = ax.imshow(share, cmap=colormap, vmin=0.0, vmax=1.0)
    ax.grid(False)
    # Numbers in the cells only while they fit; the shading still tells the story.
    for i in range(k if k <= _MAX_ANNOTATED_CLASSES else 0):
        for j in range(k):
            dark = share[i, j] > 0.55
            ax.text(
                j,
                i,
                f"{counts[i, j]:g}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=9 if k <= 6 else 7,
                color="white" if dark else INK,
                fontweight="bold" if i == j else "normal",
            )
    names = [_text(label) for label in labels]
    ax.set_xticks(range(k), names, rotation=30 if max(map(len, names)) > 6 else 0, ha="right")
    ax.set_yticks(range(k), names)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix ({int(counts.sum())} samples)")
    colorbar = figure.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label("share of the row")
    colorbar.outline.set_visible(False)
    return figure


def _one_vs_rest(
    y_true: Sequence | np.ndarray, y_score: Sequence | np.ndarray, classes
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(class name, is_positive 0/1, score)`` for each curve to draw.

    Binary scores (n,) or (n, 2) give one curve, for the second class (scikit-learn's
    positive class: the greater label); (n, k) probabilities give one curve per class.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 1:
        scores = scores[:, 0]
    classes = np.unique(y_true) if classes is None else np.asarray(classes)
    unknown = set(np.unique(y_true).tolist()) - set(classes.tolist())
    if unknown:
        raise DataError(
            f"y_true holds labels {sorted(map(str, unknown))[:5]} that are not among "
            f"classes={classes.tolist()}; pass the classes as they appear in y_true"
        )
    if scores.ndim == 1 or scores.shape[1] == 2:
        if len(classes) != 2:
            raise DataError(
                f"binary scores need two classes, got {len(classes)} ({classes.tolist()}); "
                "pass classes=[negative, positive], or one score column per class"
            )
        column = scores if scores.ndim == 1 else scores[:, 1]
        return [(str(classes[1]), (y_true == classes[1]).astype(int), column)]
    if len(classes) != scores.shape[1]:
        raise ShapeError(
            f"y_score has {scores.shape[1]} columns but there are {len(classes)} classes "
            f"({classes.tolist()}); pass classes= in the column order of y_score"
        )
    return [
        (str(label), (y_true == label).astype(int), scores[:, i]) for i, label in enumerate(classes)
    ]


def _drawable(
    curves: list[tuple[str, np.ndarray, np.ndarray]], what: str
) -> list[tuple[int, str, np.ndarray, np.ndarray]]:
    """The curves whose class has both positives and negatives, with their color index."""
    kept = [
        (i if len(curves) > 1 else 1, name, positive, score)
        for i, (name, positive, score) in enumerate(curves)
        if 0 < positive.sum() < len(positive)
    ]
    if not kept:
        raise DataError(
            f"{what} needs samples of more than one class, but every sample has the same "
            "class; evaluate on data that contains every class (e.g. a stratified split)"
        )
    return kept


def _unit_square(ax: Axes) -> None:
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")


@_styled
def plot_roc(
    y_true: Sequence | np.ndarray,
    y_score: Sequence | np.ndarray,
    *,
    classes: Sequence | np.ndarray | None = None,
) -> Figure:
    """ROC curve with its AUC; one-vs-rest curves, one per class, for multi-class scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.
    y_score : array-like of shape (n_samples,), (n_samples, 2) or (n_samples, n_classes)
        Score (e.g. probability) of the positive class, or class probabilities.
    classes : array-like, optional
        Class labels in the column order of ``y_score``. Default: sorted labels of y_true.

    Examples
    --------
    >>> fig = plot_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fig.axes[0].get_legend().get_texts()[0].get_text()
    'AUC = 0.750'
    """
    curves = _drawable(_one_vs_rest(y_true, y_score, classes), "an ROC curve")
    figure, ax = _new_figure(4.9, 4.4)
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1.0, label="chance (AUC 0.5)")
    aucs = []
    labelled = len(curves) <= _MAX_LEGEND_CURVES  # past that, a legend hides the plot
    for color_index, name, positive, score in curves:
        fpr, tpr, _ = metrics.roc_curve(positive, score)
        auc = metrics.roc_auc(positive, score)
        aucs.append(auc)
        label = f"AUC = {auc:.3f}" if len(curves) == 1 else f"{_text(name)} (AUC {auc:.3f})"
        ax.plot(
            fpr,
            tpr,
            color=_class_color(color_index),
            label=label if labelled else None,
            linewidth=None if labelled else 0.8,
        )
    # The chance line goes last in the legend: the model's curves are what a reader wants.
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[1:] + handles[:1], labels[1:] + labels[:1], loc="lower right")
    _unit_square(ax)
    ax.set_xlabel("false positive rate (1 − specificity)")
    ax.set_ylabel("true positive rate (recall)")
    if len(curves) == 1:
        ax.set_title(f"ROC curve (positive class: {_text(curves[0][1])})")
    else:
        ax.set_title(f"ROC curves, one-vs-rest (mean AUC {np.mean(aucs):.3f})")
    return figure


@_styled
def plot_precision_recall(
    y_true: Sequence | np.ndarray,
    y_score: Sequence | np.ndarray,
    *,
    classes: Sequence | np.ndarray | None = None,
) -> Figure:
    """Precision–recall curve with its average precision (AP); one-vs-rest for multi-class.

    The dashed line is the precision of guessing: the share of positives.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,), (n_samples, 2) or (n_samples, n_classes)
    classes : array-like, optional
        Class labels in the column order of ``y_score``.

    Examples
    --------
    >>> fig = plot_precision_recall([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fig.axes[0].get_xlabel()
    'recall'
    """
    curves = _drawable(_one_vs_rest(y_true, y_score, classes), "a precision-recall curve")
    figure, ax = _new_figure(4.9, 4.4)
    labelled = len(curves) <= _MAX_LEGEND_CURVES
    for color_index, name, positive, score in curves:
        precision, recall, _ = metrics.precision_recall_curve(positive, score)
        ap = metrics.average_precision(positive, score)
        label = f"AP = {ap:.3f}" if len(curves) == 1 else f"{_text(name)} (AP {ap:.3f})"
        ax.plot(
            recall,
            precision,
            color=_class_color(color_index),
            label=label if labelled else None,
            linewidth=None if labelled else 0.8,
        )
        if len(curves) == 1:
            rate = positive.mean()
            ax.axhline(
                rate, color=GREY, linestyle="--", linewidth=1.0, label=f"chance ({rate:.2f})"
            )
    _unit_square(ax)
    if labelled:
        ax.legend(loc="lower left")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    if len(curves) == 1:
        ax.set_title(f"Precision–recall (positive class: {_text(curves[0][1])})")
    else:
        ax.set_title("Precision–recall, one-vs-rest")
    return figure


@_styled
def plot_calibration(
    y_true: Sequence | np.ndarray,
    y_prob: Sequence | np.ndarray,
    *,
    classes: Sequence | np.ndarray | None = None,
    n_bins: int = 10,
) -> Figure:
    """Reliability diagram: observed fraction of positives against predicted probability.

    Points on the diagonal mean "when the model says 70 %, it happens 70 % of the time".
    The legend gives each curve's prediction bias (mean prediction minus the fraction of
    positives; 0 is unbiased). A point's size grows with the number of predictions in its
    bin, which the lower panel counts: small points are noisy.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_prob : array-like of shape (n_samples,), (n_samples, 2) or (n_samples, n_classes)
        Predicted probability of the positive class, or class probabilities
        (then one curve per class, one-vs-rest).
    classes : array-like, optional
        Class labels in the column order of ``y_prob``.
    n_bins : int, default 10
        Equal-width probability bins.

    Examples
    --------
    >>> fig = plot_calibration([0, 0, 1, 1, 1], [0.1, 0.3, 0.6, 0.8, 0.9], n_bins=5)
    >>> fig.axes[1].get_xlabel()
    'predicted probability'
    """
    curves = _drawable(_one_vs_rest(y_true, y_prob, classes), "a calibration curve")
    figure, (top, bottom) = _new_figure(
        4.9, 5.0, nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot(
        [0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1.0, label="perfectly calibrated"
    )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    labelled = len(curves) <= _MAX_LEGEND_CURVES
    for color_index, name, positive, prob in curves:
        prob_true, prob_pred = metrics.calibration_curve(positive, prob, n_bins=n_bins)
        # The same equal-width bins: their sizes tell a solid point from a lone sample.
        bias = metrics.prediction_bias(positive, prob, n_buckets=n_bins)
        count = bias.bucket_count[bias.bucket_count > 0]
        prefix = "" if len(curves) == 1 else f"{_text(name)}, "
        color = _class_color(color_index)
        top.plot(
            prob_pred,
            prob_true,
            marker="o",
            markersize=4,
            color=color,
            label=f"{prefix}bias {bias.overall:+.3f}" if labelled else None,
        )
        top.scatter(prob_pred, prob_true, s=10 + 110 * count / count.max(), color=color, zorder=3)
        bottom.hist(prob, bins=edges, histtype="step", color=color, linewidth=1.4)
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("observed fraction of positives")
    top.legend(loc="upper left")
    if len(curves) == 1:
        top.set_title(f"Calibration (positive class: {_text(curves[0][1])})")
    else:
        top.set_title("Calibration, one-vs-rest")
    bottom.set_xlim(-0.02, 1.02)
    bottom.set_xlabel("predicted probability")
    bottom.set_ylabel("count")
    return figure


# --------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# Two input features: the Playground's picture
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


def _surface_function(model_or_predict, task: str | None, classes, y_values: np.ndarray):
    """``(predict(grid) -> (m,), kind, classes)``; kind is probability, class or value."""
    if hasattr(model_or_predict, "predict_proba") and hasattr(model_or_predict, "classes_"):
        model = model_or_predict
        model_classes = np.asarray(model.classes_)
        if len(model_classes) == 2:
            return (lambda grid: model.predict_proba(grid)[:, 1]), "probability", model_classes
        return (lambda grid: np.argmax(model.predict_proba(grid), axis=1)), "class", model_classes
    if hasattr(model_or_predict, "predict"):
        return model_or_predict.predict, "value", None
    if not callable(model_or_predict):
        raise TypeError(
            "plot_decision_surface: pass a fitted model or a function mapping (m, 2) "
            f"features to (m,) predictions, not {type(model_or_predict).__name__}"
        )
    if task is None:
        is_float = y_values.dtype.kind == "f"
        continuous = is_float and not np.array_equal(y_values, np.round(y_values))
        task = "regression" if continuous else "classification"
    if task == "regression":
        return model_or_predict, "value", None
    if task != "classification":
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    classes = np.unique(y_values) if classes is None else np.asarray(classes)
    return model_or_predict, ("probability" if len(classes) == 2 else "class"), classes


def _two_columns(name: str, X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(
            f"plot_decision_surface: {name} must have shape (n, 2), two input features; "
            f"got {X.shape}"
        )
    return X


def _class_indices(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Position of each label in ``classes``; -1 for a label not in it."""
    lookup = {label: i for i, label in enumerate(classes.tolist())}
    return np.array([lookup.get(label, -1) for label in y.tolist()], dtype=int)


@_styled
def plot_decision_surface(
    model_or_predict: Any,
    X: Sequence | np.ndarray,
    y: Sequence | np.ndarray,
    *,
    X_test: Sequence | np.ndarray | None = None,
    y_test: Sequence | np.ndarray | None = None,
    feature_names: Sequence[str] = ("x1", "x2"),
    classes: Sequence | np.ndarray | None = None,
    task: str | None = None,
    resolution: int = 150,
    max_points: int = 2000,
) -> Figure:
    """The model's output over the plane of two features, with the data on top.

    As in the TensorFlow Playground: the background is the model's prediction at every
    point (orange to blue for the probability of the positive class, one pale color per
    class for multi-class, orange to blue from low to high for regression), the solid
    line is the 0.5 decision boundary, training points have a white edge and test points
    a dark edge.

    Parameters
    ----------
    model_or_predict : fitted model or callable
        A model with ``predict_proba`` and ``classes_`` (classifier) or ``predict``
        (regressor), or a function mapping raw features ``(m, 2)`` to ``(m,)``: the
        probability of the positive class (binary), the index of the predicted class in
        ``classes`` (multi-class), or the predicted value (regression).
    X, y : arrays of shape (n, 2) and (n,)
        Training points and their labels (or targets).
    X_test, y_test : arrays of shape (m, 2) and (m,), optional
        Test points, drawn with a dark edge.
    feature_names : pair of str
        Axis labels.
    classes : array-like, optional
        Class labels, in the order the callable's class indices refer to.
        Default: a model's ``classes_``, or the sorted labels of y and y_test.
    task : "classification" or "regression", optional
        Only for a callable; default: regression when y holds non-integer floats.
    resolution : int, default 150
        Grid points along each axis.
    max_points : int, default 2000
        Draw at most this many training points, and as many test points (a fixed random
        sample of each).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    >>> y = np.array([0, 1, 1, 0])
    >>> fig = plot_decision_surface(lambda g: (g[:, 1] > 0.5).astype(float), X, y)
    >>> fig.axes[0].get_ylabel()
    'x2'
    """
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.lines import Line2D

    X = _two_columns("X", X)
    y = np.asarray(y).ravel()
    has_test = X_test is not None and y_test is not None
    X_test = _two_columns("X_test", X_test) if has_test else np.empty((0, 2))
    y_test = np.asarray(y_test).ravel() if has_test else y[:0]
    predict, kind, classes = _surface_function(
        model_or_predict, task, classes, np.concatenate([y, y_test])
    )

    points = np.vstack([X, X_test])
    low, high = points.min(axis=0), points.max(axis=0)
    pad = np.where(high > low, 0.06 * (high - low), 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    surface = np.asarray(predict(grid), dtype=float).reshape(grid_x.shape)
    extent = (xs[0], xs[-1], ys[0], ys[-1])

    figure, ax = _new_figure(WIDTH, 5.2)
    ax.grid(False)
    show = {"extent": extent, "origin": "lower", "aspect": "auto", "interpolation": "bilinear"}
    handles: list = []
    if kind == "value":
        targets = np.concatenate([y, y_test]).astype(float)
        norm = Normalize(min(surface.min(), targets.min()), max(surface.max(), targets.max()))
        colormap = _diverging_colormap()
        image = ax.imshow(surface, cmap=colormap, norm=norm, alpha=0.65, **show)
        colorbar = figure.colorbar(image, ax=ax, shrink=0.85)
        colorbar.set_label("predicted value (points: actual)")
        point_colors = colormap(norm(targets))
        title = "Regression surface"
    else:
        classes = np.asarray(classes)
        labels = np.concatenate([y, y_test])
        index = _class_indices(labels, classes)
        point_colors = [_class_color(i) if i >= 0 else GREY for i in index]
        if kind == "probability":
            image = ax.imshow(
                surface, cmap=_diverging_colormap(), vmin=0.0, vmax=1.0, alpha=0.6, **show
            )
            ax.contour(grid_x, grid_y, surface, levels=[0.5], colors=[INK], linewidths=1.3)
            colorbar = figure.colorbar(image, ax=ax, shrink=0.85)
            colorbar.set_label(f"P({_text(classes[1])})")
            handles.append(Line2D([], [], color=INK, linewidth=1.3, label="boundary (P = 0.5)"))
        else:
            pale = ListedColormap([_pale(_class_color(i)) for i in range(len(classes))])
            ax.imshow(surface, cmap=pale, vmin=-0.5, vmax=len(classes) - 0.5, **show)
        handles = [
            Line2D([], [], marker="o", linestyle="none", color=_class_color(i), label=_text(c))
            for i, c in enumerate(classes)
        ] + handles
        title = "Decision surface"

    n = len(X)
    train_shown, test_shown = _sample(n, max_points), _sample(len(X_test), max_points)
    train_colors = [point_colors[i] for i in train_shown]
    test_colors = [point_colors[n + i] for i in test_shown]
    # Regression points are colored by value, and values near the middle are near-white:
    # a grey edge keeps them visible. Class points keep the Playground's white edge.
    train_edge = GREY if kind == "value" else "white"
    ax.scatter(
        X[train_shown, 0],
        X[train_shown, 1],
        c=train_colors,
        s=22,
        edgecolors=train_edge,
        linewidths=0.6,
        zorder=3,
    )
    if has_test:
        ax.scatter(
            X_test[test_shown, 0],
            X_test[test_shown, 1],
            c=test_colors,
            s=28,
            edgecolors=INK,
            linewidths=1.2,
            zorder=4,
        )
    handles.append(
        Line2D([], [], marker="o", linestyle="none", color="#9ca3af", markeredgecolor=train_edge,
               label=f"train ({_shown(train_shown.size, n)})")
    )  # fmt: skip
    if has_test:
        handles.append(
            Line2D([], [], marker="o", linestyle="none", color="#9ca3af", markeredgecolor=INK,
                   label=f"test ({_shown(test_shown.size, len(X_test))})")
        )  # fmt: skip
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_title(title)
    ax.set_xlabel(_text(feature_names[0]))
    ax.set_ylabel(_text(feature_names[1]))
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4))
    return figure


# --------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------

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
