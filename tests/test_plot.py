"""thalweg.plot: each function returns a labelled matplotlib Figure drawn from thalweg.metrics."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from thalweg import metrics, plot
from thalweg.datasets import load
from thalweg.errors import DataError, ShapeError
from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor
from thalweg.train import History


@pytest.fixture(scope="module")
def binary():
    """A gaussian-blobs classifier: (model, X, y)."""
    X, y, _ = load("gaussian", n=200, noise=0.2, seed=0)
    return LogisticRegression().fit(X, y), X, y


@pytest.fixture(scope="module")
def three_classes():
    X, y, _ = load("iris")
    return LogisticRegression().fit(X, y), X, y


def drawn(figure: Figure) -> Figure:
    """Render the figure to PNG, as a report does: text errors only surface at draw time."""
    assert isinstance(figure, Figure)
    figure.savefig(io.BytesIO(), format="png", dpi=50)
    return figure


def assert_labelled(figure: Figure) -> None:
    """Every visible plot has a title and both axis labels (colorbars aside)."""
    plots = [ax for ax in figure.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert plots
    for ax in plots:
        # Panels stacked on one x axis (calibration) share its title and its x label.
        panel = ax.get_shared_x_axes().get_siblings(ax)
        titled = any(a.get_title(loc="left") for a in panel) or figure.get_suptitle()
        assert titled, f"untitled axes in {figure}"
        assert any(a.get_xlabel() for a in panel), f"no x label: {ax.get_title(loc='left')}"
        assert ax.get_ylabel(), f"no y label: {ax.get_title(loc='left')}"


def legend_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_figures_do_not_touch_pyplot_or_the_global_style(binary):
    import matplotlib.pyplot as plt

    model, X, y = binary
    before = dict(matplotlib.rcParams)
    drawn(plot.plot_roc(y, model.predict_proba(X)[:, 1]))
    assert plt.get_fignums() == []  # nothing kept alive by pyplot's registry
    assert dict(matplotlib.rcParams) == before


def test_history_plot_marks_best_epoch_and_says_why_training_stopped():
    history = History()
    for epoch, (loss, val) in enumerate([(1.0, 1.1), (0.6, 0.7), (0.4, 0.65), (0.3, 0.8)], 1):
        history.append({"epoch": epoch, "loss": loss, "val_loss": val})
    history.best_epoch = 3
    history.stop_reason = "early stopping: val_loss did not improve for 1 epochs"

    figure = drawn(plot.plot_history(history))

    ax = figure.axes[0]
    assert_labelled(figure)
    assert legend_texts(ax) == ["training", "validation", "best epoch (3)"]
    assert "Generalization curve" in ax.get_title(loc="left")
    assert "Stopped: early stopping" in figure.get_supxlabel()
    assert plot.plot_history(history, show_stop_reason=False).get_supxlabel() == ""


def test_history_plot_without_validation_and_with_a_wide_range():
    history = History.from_dict(
        {"rows": [{"epoch": e, "loss": 10.0**-e} for e in range(1, 6)], "best_epoch": None}
    )

    ax = drawn(plot.plot_history(history)).axes[0]

    assert ax.get_title(loc="left") == "Training loss"
    assert ax.get_yscale() == "log"  # five orders of magnitude read better on a log axis
    with pytest.raises(DataError, match="empty"):
        plot.plot_history(History())


def test_history_plot_of_a_real_model_with_early_stopping():
    X, y, _ = load("circle", n=200, noise=0.1, seed=0)
    model = MLPClassifier(hidden=(4,), max_epochs=30, early_stopping=True, random_state=0).fit(X, y)

    figure = drawn(plot.plot_history(model.history_))

    assert_labelled(figure)
    assert len(figure.axes[0].get_lines()) >= 2


def test_confusion_matrix_cells_show_the_counts_from_metrics(three_classes):
    model, X, y = three_classes
    predicted = model.predict(X)

    figure = drawn(plot.plot_confusion_matrix(y, predicted))

    assert_labelled(figure)
    counts = metrics.confusion_matrix(y, predicted)
    cells = [text.get_text().split("\n")[0] for text in figure.axes[0].texts]
    assert cells == [f"{c:g}" for c in counts.ravel()]


def test_roc_legend_shows_the_auc_from_metrics(binary):
    model, X, y = binary
    scores = model.predict_proba(X)

    ax = drawn(plot.plot_roc(y, scores)).axes[0]

    assert legend_texts(ax)[0] == f"AUC = {metrics.roc_auc(y, scores[:, 1]):.3f}"
    assert ax.get_xlabel().startswith("false positive rate")


def test_multiclass_curves_are_one_vs_rest_one_per_class(three_classes):
    model, X, y = three_classes
    scores = model.predict_proba(X)
    names = ["setosa", "versicolor", "virginica"]
    labels = np.array(names)[y]

    for draw in (plot.plot_roc, plot.plot_precision_recall, plot.plot_calibration):
        figure = drawn(draw(labels, scores, classes=names))
        assert_labelled(figure)
        texts = legend_texts(figure.axes[0])
        assert all(any(name in text for text in texts) for name in names), draw.__name__

    auc = metrics.roc_auc(y, scores, multi_class="ovr")
    title = plot.plot_roc(y, scores).axes[0].get_title(loc="left")
    assert f"mean AUC {auc:.3f}" in title


def test_precision_recall_and_calibration_report_ap_and_bias_from_metrics(binary):
    model, X, y = binary
    probability = model.predict_proba(X)[:, 1]

    pr = drawn(plot.plot_precision_recall(y, probability))
    calibration = drawn(plot.plot_calibration(y, probability, n_bins=5))

    assert_labelled(pr)
    assert_labelled(calibration)
    ap = metrics.average_precision(y, probability)
    assert legend_texts(pr.axes[0])[0] == f"AP = {ap:.3f}"
    bias = metrics.prediction_bias(y, probability)
    assert f"bias {bias:+.3f}" in legend_texts(calibration.axes[0])


def test_curves_need_both_classes_and_known_labels():
    with pytest.raises(DataError, match="more than one class"):
        plot.plot_roc([1, 1, 1], [0.2, 0.5, 0.9], classes=[0, 1])
    with pytest.raises(ShapeError, match="columns"):
        plot.plot_roc([0, 1, 2], np.full((3, 4), 0.25))
    with pytest.raises(DataError, match="not among classes"):
        plot.plot_roc([0, 1, 2], np.full((3, 3), 1 / 3), classes=["a", "b", "c"])


def test_predictions_plot_shows_fit_and_residuals():
    X, y, _ = load("diabetes")
    model = LinearRegression().fit(X, y)
    predicted = model.predict(X)

    figure = drawn(plot.plot_predictions(y, predicted, target_name="progression"))

    assert_labelled(figure)
    left, right = figure.axes
    assert left.get_xlabel() == "actual progression"
    assert f"R² {metrics.r2(y, predicted):.3f}" in left.texts[0].get_text()
    residuals = right.collections[0].get_offsets()[:, 1]
    np.testing.assert_allclose(residuals, y - predicted, rtol=1e-6)


def test_target_distribution_is_a_labelled_histogram():
    figure = drawn(plot.plot_target_distribution([1.0, 2.0, 2.5, np.nan, 4.0], name="price ($)"))

    assert_labelled(figure)
    assert "4 values" in figure.axes[0].get_title(loc="left")  # the NaN is left out


@pytest.mark.parametrize(
    ("dataset", "model"),
    [
        ("xor", MLPClassifier(hidden=(4,), max_epochs=5, random_state=0)),
        ("plane", LinearRegression()),
        ("gaussian_regression", MLPRegressor(hidden=(4,), max_epochs=5, random_state=0)),
    ],
    ids=["binary", "linear-regression", "mlp-regression"],
)
def test_decision_surface_accepts_fitted_models(dataset, model):
    X, y, names = load(dataset, n=120, noise=0.1, seed=0)
    model.fit(X[:80], y[:80])

    figure = drawn(
        plot.plot_decision_surface(model, X[:80], y[:80], X_test=X[80:], y_test=y[80:],
                                   feature_names=names, resolution=40)
    )  # fmt: skip

    assert_labelled(figure)
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "train (80)" in legend and "test (40)" in legend


def test_decision_surface_of_a_multiclass_model_and_of_a_function():
    X, y, _ = load("iris")
    X = X[:, 2:]  # two features: petal length and width
    model = LogisticRegression().fit(X, y)

    by_model = drawn(plot.plot_decision_surface(model, X, y, feature_names=["length", "width"]))
    by_function = drawn(
        plot.plot_decision_surface(
            lambda grid: model.predict_proba(grid).argmax(axis=1),
            X,
            y,
            classes=["setosa", "versicolor", "virginica"],
            feature_names=["petal $ length", "width"],
        )
    )

    assert_labelled(by_model)
    assert_labelled(by_function)
    legend = [text.get_text() for text in by_function.legends[0].get_texts()]
    assert legend[:3] == ["setosa", "versicolor", "virginica"]
    with pytest.raises(ShapeError, match=r"\(n, 2\)"):
        plot.plot_decision_surface(model, np.zeros((5, 3)), np.zeros(5))


def test_coefficient_bars_mark_exact_zeros():
    X, y, names = load("breast_cancer")
    model = LogisticRegression(solver="gd", l1=0.05, max_epochs=50, random_state=0).fit(X, y)
    zeros = int(np.sum(model.coef_ == 0.0))
    assert zeros > 0  # the L1 penalty did its job; otherwise this test proves nothing

    figure = drawn(plot.plot_weights(model, feature_names=names))

    ax = figure.axes[0]
    assert_labelled(figure)
    assert ax.get_title(loc="left") == f"Coefficients: {zeros} of {len(names)} exactly zero"
    greyed = [label.get_text() for label in ax.get_yticklabels() if label.get_color() == "#9ca3af"]
    assert greyed == [name for name, c in zip(names, model.coef_[0], strict=True) if c == 0.0]
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert any("exactly 0" in text for text in legend)


def test_many_coefficients_show_the_largest_forty():
    coefficients = np.arange(1.0, 101.0)

    ax = drawn(plot.plot_weights(coefficients)).axes[0]

    assert len(ax.patches) == 40
    assert "40 largest" in ax.get_title(loc="left")
    assert ax.get_yticklabels()[0].get_text() == "x61"


def test_multiclass_coefficients_are_a_heat_map(three_classes):
    model, _, _ = three_classes

    figure = drawn(plot.plot_weights(model, class_names=["a", "b", "c"]))

    assert_labelled(figure)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b", "c"]
    with pytest.raises(ShapeError, match="feature names"):
        plot.plot_weights(model, feature_names=["only one"])


def test_network_weights_are_histograms_per_layer():
    X, y, _ = load("xor", n=100, seed=0)
    model = MLPClassifier(hidden=(6, 3), max_epochs=3, random_state=0).fit(X, y)

    figure = drawn(plot.plot_weights(model))

    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in visible] == [
        "layer 1: 2→6",
        "layer 2: 6→3",
        "layer 3: 3→1",
    ]
    assert_labelled(figure)
    from_dict = plot.plot_weights({"first": np.ones((2, 2)), "second": np.zeros((2, 1))})
    assert "2 exactly 0" in from_dict.axes[1].get_xlabel()


def test_big_data_is_drawn_from_a_fixed_sample_of_points():
    X, y, _ = load("circle", n=3000, noise=0.1, seed=0)
    model = LogisticRegression().fit(X, y)

    figure = drawn(plot.plot_decision_surface(model, X, y, resolution=30, max_points=500))
    predictions = drawn(plot.plot_predictions(y, model.predict_proba(X)[:, 1], max_points=200))

    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "train (500 of 3,000)" in legend
    assert len(figure.axes[0].collections[-1].get_offsets()) == 500
    assert "200 of 3,000 samples" in predictions.axes[0].texts[0].get_text()
