"""Two input features, the Playground's picture: the model's output over the plane."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from thalweg.errors import ShapeError
from thalweg.plot._figure import (
    GREY,
    INK,
    WIDTH,
    _class_color,
    _diverging_colormap,
    _new_figure,
    _pale,
    _sample,
    _shown,
    _styled,
    _text,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
