"""The report's figures: which ones a report gets, drawn with :mod:`thalweg.plot`.

Each figure is rendered to PNG and kept as base64 text, ready to embed in the page
(``<img src="data:image/png;base64,...">``), so the report needs no other file. Next to
each figure sits a short "how to read it" for a learner.

A figure that the data cannot support (an ROC curve when the test split holds one
class) raises :class:`~thalweg.errors.DataError`; the report then says why in place of
the figure. Any other exception is a bug and propagates, so no report is written.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from thalweg import plot
from thalweg.errors import DataError
from thalweg.report.inputs import ReportInput

# PNG pixels per inch. Figures are shown at 100 CSS pixels per inch, so 1.44 device
# pixels per CSS pixel keeps text sharp on most laptop screens at a modest file size.
DPI = 144
CSS_PIXELS_PER_INCH = 100


@dataclass(frozen=True)
class ReportFigure:
    """One figure of the report, rendered, or the reason it could not be drawn."""

    anchor: str  # the HTML id, e.g. "roc"
    title: str
    how_to_read: str
    png_base64: str | None = None
    width: int = 0  # CSS pixels
    height: int = 0
    missing: str | None = None
    wide: bool = False  # spans the whole row (two-panel figures)


def encode_png(figure) -> tuple[str, int, int]:
    """``(base64 PNG, width, height)`` of a matplotlib Figure; width and height in CSS px."""
    buffer = io.BytesIO()
    # No "Software" entry: the bytes then depend only on the figure, not the version.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    width, height = figure.get_size_inches() * CSS_PIXELS_PER_INCH
    return base64.b64encode(buffer.getvalue()).decode("ascii"), round(width), round(height)


def _draw(
    anchor: str,
    title: str,
    how_to_read: str,
    plot_function: Callable,
    *args: Any,
    wide: bool = False,
    **kwargs: Any,
) -> ReportFigure:
    try:
        figure = plot_function(*args, **kwargs)
    except DataError as error:
        return ReportFigure(anchor, title, how_to_read, missing=str(error), wide=wide)
    png, width, height = encode_png(figure)
    return ReportFigure(anchor, title, how_to_read, png, width, height, wide=wide)


# --------------------------------------------------------------------------------------
# How to read each figure: written for someone seeing the plot for the first time.
# --------------------------------------------------------------------------------------

READ_HISTORY = (
    "Both curves should fall as training goes on. Validation loss a little above training "
    "loss is normal: that gap is the price of generalizing. A validation curve that turns "
    "upward while the training curve keeps falling is overfitting; the star marks the "
    "epoch whose weights were kept. Two curves that stay high and flat mean underfitting "
    "(try a bigger model, more epochs or a larger learning rate); a jagged, jumping curve "
    "suggests the learning rate is too high."
)
READ_METRIC_HISTORY = "The same story told in {name}, measured after each epoch."
READ_CONFUSION = (
    "Rows are the true classes, columns the predicted ones; the diagonal counts correct "
    "predictions and every other cell a kind of mistake. The percentage is the share of "
    "the row, so on the diagonal it is that class's recall. Look for the largest "
    "off-diagonal cell: the two classes the model confuses most."
)
READ_ROC = (
    "Each point is one threshold on the predicted probability: the share of positives it "
    "catches (up) against the share of negatives it wrongly flags (right). A curve that "
    "hugs the top-left corner is good; the dashed diagonal is guessing. AUC, the area "
    "under the curve, is the chance that a random positive scores above a random "
    "negative: 1.0 is perfect, 0.5 is chance."
)
READ_ROC_MULTI = " With more than two classes each curve is one class against all the others."
READ_PR = (
    "Precision (of the samples flagged positive, how many are) against recall (of the "
    "positives, how many are flagged), as the threshold moves. The top-right corner is "
    "perfect; the dashed line is what flagging at random achieves. When positives are "
    "rare this curve is more honest than ROC. AP (average precision) sums it up in one "
    "number."
)
READ_CALIBRATION = (
    "Predictions are grouped by predicted probability; each point is a group's mean "
    "prediction against how often the positive class really occurred in it. On the "
    "diagonal, a predicted 70 % comes true 70 % of the time. Points below the diagonal "
    "mean over-confidence, above it under-confidence. Prediction bias (mean prediction "
    "minus the actual positive rate) should be close to 0. Bigger points stand for more "
    "predictions (the lower panel counts them): a small point far from the diagonal may be "
    "one unlucky sample."
)
READ_PREDICTIONS = (
    "Left: each sample's prediction against its true value; points on the dashed line are "
    "perfect predictions. Right: the residual, actual minus predicted. Good residuals "
    "scatter evenly around 0 with no shape. A curve means the model misses a non-linear "
    "pattern; a funnel means its error grows with the value."
)
READ_TARGET = (
    "The target over all rows. Its spread sets the scale of the error metrics: an RMSE is "
    "small or large only compared with it."
)
READ_SURFACE = (
    "The background is the model's prediction at every point of the plane spanned by the "
    "two input features, as in the TensorFlow Playground; the solid line is the decision "
    "boundary. Points are the data: white edge for training, dark edge for test. A test "
    "point on the wrong color is a mistake on data the model never saw. A boundary that "
    "bends around single training points is overfitting; one too straight for the data's "
    "shape is underfitting."
)
READ_REGRESSION_SURFACE = (
    "The background is the model's predicted value at every point of the plane spanned by "
    "the two input features, as in the TensorFlow Playground; points are the data, colored "
    "by their true value (grey edge: training, dark edge: test). Where a point's color "
    "differs from the background around it, the model is wrong there."
)
READ_COEFFICIENTS = (
    "One bar per input feature (after preprocessing): how much the prediction moves when "
    "that feature grows by one unit; blue pushes towards the positive class or a higher "
    "value, orange away. Hollow circles mark weights that are exactly 0: an L1 penalty "
    "switched those features off. Compare lengths only between features on the same "
    "scale."
)
READ_LAYERS = (
    "The spread of each layer's weights. Healthy layers have weights spread around 0; a "
    "spike at exactly 0 means an L1 penalty pruned those connections; a few very large "
    "weights can mean too little regularization."
)


# --------------------------------------------------------------------------------------
# The figures of each section
# --------------------------------------------------------------------------------------


def _class_scores(report: ReportInput) -> np.ndarray | None:
    """``y_score`` as the plots take it: class probabilities, or None without scores."""
    if report.y_score is None:
        return None
    return np.asarray(report.y_score, dtype=float)


def data_figures(report: ReportInput) -> list[ReportFigure]:
    """The regression target's distribution (classes are shown as a table instead)."""
    if report.task != "regression":
        return []
    values = report.target_values if report.target_values is not None else report.y_true
    name = str(report.data_summary.get("target", "target"))
    return [
        _draw(
            "target-distribution",
            "Target distribution",
            READ_TARGET,
            plot.plot_target_distribution,
            values,
            name=name,
        )
    ]


def training_figures(report: ReportInput) -> list[ReportFigure]:
    """The generalization curve, plus one per other metric recorded for validation."""
    history = report.history
    if history is None or len(history) == 0:
        return []
    # The section states why training stopped, above the figure; no need to repeat it.
    figures = [
        _draw(
            "generalization-curve",
            "Generalization curve",
            READ_HISTORY,
            plot.plot_history,
            history,
            show_stop_reason=False,
        )
    ]
    keys = history.keys()
    for key in keys:
        if key != "val_loss" and key.startswith("val_") and key[4:] in keys:
            name = key[4:]
            figures.append(
                _draw(
                    f"curve-{name}",
                    f"{name.replace('_', ' ').capitalize()} per epoch",
                    READ_METRIC_HISTORY.format(name=name.replace("_", " ")),
                    plot.plot_history,
                    history,
                    metric=name,
                    show_stop_reason=False,
                )
            )
    return figures


def classification_figures(report: ReportInput) -> list[ReportFigure]:
    """Confusion matrix, ROC, precision–recall and calibration on the evaluated split."""
    figures = [
        _draw(
            "confusion-matrix",
            "Confusion matrix",
            READ_CONFUSION,
            plot.plot_confusion_matrix,
            report.y_true,
            report.y_pred,
            labels=report.classes,
        )
    ]
    scores = _class_scores(report)
    if scores is None:
        return figures
    multi = scores.ndim == 2 and scores.shape[1] > 2
    figures += [
        _draw(
            "roc",
            "ROC curve",
            READ_ROC + (READ_ROC_MULTI if multi else ""),
            plot.plot_roc,
            report.y_true,
            scores,
            classes=report.classes,
        ),
        _draw(
            "precision-recall",
            "Precision–recall curve",
            READ_PR + (READ_ROC_MULTI if multi else ""),
            plot.plot_precision_recall,
            report.y_true,
            scores,
            classes=report.classes,
        ),
        _draw(
            "calibration",
            "Calibration and prediction bias",
            READ_CALIBRATION + (READ_ROC_MULTI if multi else ""),
            plot.plot_calibration,
            report.y_true,
            scores,
            classes=report.classes,
        ),
    ]
    return figures


def regression_figures(report: ReportInput) -> list[ReportFigure]:
    """Predicted against actual, and the residuals."""
    name = str(report.data_summary.get("target", "target"))
    return [
        _draw(
            "predictions",
            "Predictions and residuals",
            READ_PREDICTIONS,
            plot.plot_predictions,
            report.y_true,
            report.y_pred,
            target_name=name,
            wide=True,
        )
    ]


def surface_figures(report: ReportInput) -> list[ReportFigure]:
    """The Playground picture, when the model has exactly two raw input features."""
    surface = report.surface
    if surface is None:
        return []
    regression = report.task == "regression"
    return [
        _draw(
            "surface",
            "Regression surface" if regression else "Decision surface",
            READ_REGRESSION_SURFACE if regression else READ_SURFACE,
            plot.plot_decision_surface,
            surface.predict,
            surface.X_train,
            surface.y_train,
            X_test=surface.X_test,
            y_test=surface.y_test,
            feature_names=surface.feature_names,
            classes=report.classes,
            task=report.task,
        )
    ]


def weight_figures(report: ReportInput) -> list[ReportFigure]:
    """Coefficients per feature (linear models) or weight histograms per layer."""
    if not report.weights:
        return []
    linear = "coefficients" in report.weights
    return [
        _draw(
            "weights",
            "Coefficients" if linear else "Weights per layer",
            READ_COEFFICIENTS if linear else READ_LAYERS,
            plot.plot_weights,
            report.weights,
            feature_names=report.feature_names or None,
            class_names=report.classes,
            wide=not linear,
        )
    ]


READ_MISCLASSIFIED = (
    "Each image the model got wrong, with the true class and the model's guess. Look for "
    "a pattern: one pair of classes confused, dark or blurred pictures, wrong labels."
)


def image_figures(report: ReportInput) -> list[ReportFigure]:
    """A grid of the misclassified images, when the report has any."""
    examples = report.misclassified
    if examples is None or len(examples.images) == 0:
        return []
    shown = len(examples.images)
    title = f"Misclassified images ({shown} of {examples.total or shown})"
    return [
        _draw(
            "misclassified",
            title,
            READ_MISCLASSIFIED,
            plot.plot_image_grid,
            examples.images,
            [
                f"true {t}\nguess {p}"
                for t, p in zip(examples.true_labels, examples.predicted_labels, strict=True)
            ],
            wide=True,
        )
    ]


def draw_figures(report: ReportInput) -> dict[str, list[ReportFigure]]:
    """Every figure of ``report``, by section name."""
    diagnostics = (
        classification_figures(report)
        if report.task == "classification"
        else regression_figures(report)
    )
    return {
        "data": data_figures(report),
        "training": training_figures(report),
        "diagnostics": diagnostics,
        "surface": surface_figures(report),
        "weights": weight_figures(report),
        "images": image_figures(report),
    }
