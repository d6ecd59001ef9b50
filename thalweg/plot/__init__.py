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

# One module per kind of figure; this package gathers their public names.
from thalweg.plot._figure import BLUE, CLASS_COLORS, ORANGE
from thalweg.plot._figure import GREY as GREY
from thalweg.plot._figure import HEIGHT as HEIGHT
from thalweg.plot._figure import INK as INK
from thalweg.plot._figure import LIGHT as LIGHT
from thalweg.plot._figure import WIDTH as WIDTH
from thalweg.plot.classification import (
    plot_calibration,
    plot_confusion_matrix,
    plot_precision_recall,
    plot_roc,
)
from thalweg.plot.clustering import plot_clusters, plot_k_selection
from thalweg.plot.detection import plot_detection_pr, plot_detections
from thalweg.plot.history import plot_history
from thalweg.plot.images import plot_image_grid
from thalweg.plot.regression import plot_predictions, plot_target_distribution
from thalweg.plot.surface import plot_decision_surface
from thalweg.plot.weights import plot_weights

__all__ = [
    "BLUE",
    "CLASS_COLORS",
    "ORANGE",
    "plot_calibration",
    "plot_clusters",
    "plot_confusion_matrix",
    "plot_decision_surface",
    "plot_detection_pr",
    "plot_detections",
    "plot_history",
    "plot_image_grid",
    "plot_k_selection",
    "plot_precision_recall",
    "plot_predictions",
    "plot_roc",
    "plot_target_distribution",
    "plot_weights",
]
