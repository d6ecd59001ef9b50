"""Classification: confusion matrix, ROC, precision-recall and calibration curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError, ShapeError
from thalweg.plot._figure import BLUE, GREY, INK, _class_color, _new_figure, _styled, _text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_MAX_ANNOTATED_CLASSES = 15
_MAX_LEGEND_CURVES = 10


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
