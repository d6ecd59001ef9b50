"""The classification lessons every report spells out (Google's ML Crash Course):

* **accuracy against the majority-class baseline** — on imbalanced data a model that
  always says "negative" looks accurate (the *accuracy paradox*); the baseline shows the
  bar a model must clear;
* **thresholds** — a probability becomes a decision at a threshold; the table shows
  what precision, recall, F1 and the false positive rate become as it moves, with the
  model's own threshold marked;
* **prediction bias** — mean prediction minus mean label, in words: a calibrated model's
  probabilities average to the share of positives.

Each function returns report markup (or plain text) from a :class:`ReportInput`; the
numbers come from :mod:`thalweg.metrics`.
"""

from __future__ import annotations

import numpy as np

from thalweg import metrics
from thalweg.errors import DataError
from thalweg.report.html import Html, element, escape, format_number, join, note, table
from thalweg.report.inputs import ReportInput

__all__ = [
    "BIAS_SMALL",
    "baseline_sentence",
    "bias_sentence",
    "classification_lessons",
    "model_threshold",
]

# |bias| below this (in probability) reads as "about right on average"; up to BIAS_LARGE
# as "slightly"; above it the report warns.
BIAS_SMALL = 0.01
BIAS_LARGE = 0.05


def model_threshold(report: ReportInput) -> float:
    """The threshold behind the report's predictions: the one given, or 0.5 (argmax)."""
    return 0.5 if report.threshold is None else float(report.threshold)


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:+.1f} percentage points"


def baseline_sentence(accuracy: float, baseline: metrics.MajorityBaseline, n_rows: int) -> str:
    """One sentence comparing a model's accuracy with always predicting the majority.

    >>> baseline_sentence(0.95, metrics.MajorityBaseline("ok", 0.96), 100)
    "Accuracy 95.0% — but always predicting 'ok' (the most frequent class) would be right \
96.0% of the time on these 100 rows: the model does no better than that constant guess."
    """
    guess = (
        f"always predicting {baseline.label!r} (the most frequent class) would be right "
        f"{_percent(baseline.accuracy)} of the time on these {n_rows:,} rows"
    )
    gain = accuracy - baseline.accuracy
    if gain <= 0:
        verdict = "the model does no better than that constant guess."
    elif baseline.accuracy < 1:
        # Share of the constant guess's mistakes that the model gets right.
        fixed = gain / (1 - baseline.accuracy)
        verdict = (
            f"the model is {_points(gain).lstrip('+')} better, getting right "
            f"{_percent(fixed)} of the rows that guess gets wrong."
        )
    else:
        verdict = "every row is of that class."
    joiner = " — but " if gain <= 0 else ", while "
    return f"Accuracy {_percent(accuracy)}{joiner}{guess}: {verdict}"


def bias_sentence(bias: float, mean_prediction: float, label, share: float) -> str:
    """Prediction bias (mean prediction − mean label) of one class, in words.

    >>> bias_sentence(0.062, 0.362, "yes", 0.30)
    "On average the model gives 'yes' a probability of 36.2%, and 30.0% of the rows are \
'yes': a prediction bias of +6.2 percentage points. The model over-predicts 'yes' on \
average."
    """
    said = (
        f"On average the model gives {label!r} a probability of {_percent(mean_prediction)}, "
        f"and {_percent(share)} of the rows are {label!r}: a prediction bias of "
        f"{_points(bias)}."
    )
    if abs(bias) < BIAS_SMALL:
        return f"{said} The probabilities are about right on average."
    direction = "over-predicts" if bias > 0 else "under-predicts"
    if abs(bias) < BIAS_LARGE:
        return f"{said} The model slightly {direction} {label!r}."
    return f"{said} The model {direction} {label!r} on average."


BIAS_CAUSES = (
    "A bias this large means the probabilities cannot be taken at face value. Usual "
    "causes: training on a different class mix than these rows (balanced batches do this "
    "on purpose), a strong penalty, too few features, or a bug in the data pipeline."
)


def _baseline(report: ReportInput) -> Html:
    accuracy = report.metrics.get("accuracy")
    if accuracy is None:
        accuracy = metrics.accuracy(report.y_true, report.y_pred)
    baseline = metrics.majority_baseline(report.y_true)
    text = baseline_sentence(float(accuracy), baseline, len(np.ravel(report.y_true)))
    kind = "warning" if accuracy <= baseline.accuracy else "info"
    return join([element("h3", "Accuracy against a constant guess"), note(text, kind)])


def _positive_scores(report: ReportInput) -> np.ndarray | None:
    scores = np.asarray(report.y_score, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 2:
        return scores[:, 1]
    if scores.ndim == 1:
        return scores
    return None


def _threshold_table(report: ReportInput) -> Html:
    classes = list(report.classes)
    positive = classes[1]
    scores = _positive_scores(report)
    chosen = model_threshold(report)
    cuts = sorted({*metrics.DEFAULT_THRESHOLDS, round(chosen, 6)})
    is_positive = np.asarray(report.y_true) == positive
    try:
        result = metrics.threshold_table(
            is_positive, scores, thresholds=cuts, pos_label=True, zero_division=np.nan
        )
    except DataError as error:
        return join([element("h3", "Thresholds"), note(f"No threshold table: {error}")])
    rows = []
    for i, cut in enumerate(cuts):
        cells = [
            format_number(cut),
            "—" if np.isnan(result.precision[i]) else format_number(result.precision[i]),
            format_number(result.recall[i]),
            format_number(result.f1[i]),
            format_number(result.false_positive_rate[i]),
            _percent(result.flagged[i]),
        ]
        if cut == round(chosen, 6):
            cells = [element("strong", cell) for cell in cells] + [
                element("strong", "← used for the metrics above")
            ]
        else:
            cells.append("")
        rows.append(cells)
    header = ["threshold", "precision", "recall", "F1", "false positive rate", "flagged", ""]
    intro = element(
        "p",
        Html(
            f"The model predicts {element('code', escape(repr(positive)))} when its "
            f"probability is at least the threshold. Raising it flags fewer rows: "
            "precision usually rises (fewer false alarms), recall falls (more positives "
            "missed) and so does the false positive rate. Choose it from the costs of the "
            "two mistakes; <code>thalweg predict --threshold T</code> and "
            "<code>thalweg evaluate --threshold T</code> apply another one. "
            "Precision is — where no row is flagged."
        ),
        class_="intro",
    )
    return join(
        [
            element("h3", "Thresholds"),
            intro,
            element("div", table(header, rows, numeric=range(6)), class_="scroll"),
        ]
    )


def _bias(report: ReportInput) -> Html:
    classes = list(report.classes)
    y_true = np.asarray(report.y_true)
    scores = np.asarray(report.y_score, dtype=float)
    if scores.ndim == 1:
        scores = np.column_stack([1 - scores, scores])
    try:
        biases = metrics.class_prediction_bias(y_true, scores, labels=np.asarray(classes))
    except DataError as error:
        return join([element("h3", "Prediction bias"), note(f"No prediction bias: {error}")])
    shares = np.array([np.mean(y_true == label) for label in classes])
    if len(classes) == 2:
        # The positive class tells the whole story (the other's bias is its negative).
        shown = [1]
    else:
        shown = list(np.argsort(-np.abs(biases))[:3])
    sentences = [
        bias_sentence(float(biases[k]), float(biases[k] + shares[k]), classes[k], shares[k])
        for k in shown
    ]
    largest = float(np.max(np.abs(biases)))
    parts = [element("h3", "Prediction bias")]
    if len(classes) > 2:
        parts.append(
            element(
                "p",
                "Per class: mean predicted probability minus the share of rows of that "
                "class (the classes with the largest bias first; they sum to 0).",
                class_="intro",
            )
        )
    for sentence in sentences:
        parts.append(element("p", sentence))
    if report.trained_class_counts:
        parts.append(
            note(
                "This model trained on balanced batches (see the class mix under Data), so "
                "its probabilities follow that mix, not this one: a bias toward the rarer "
                "classes is expected."
            )
        )
    elif largest >= BIAS_LARGE:
        parts.append(note(BIAS_CAUSES, "warning"))
    return join(parts)


def classification_lessons(report: ReportInput) -> Html:
    """Baseline, threshold table (two classes) and prediction bias, as report markup."""
    if report.task != "classification" or len(np.ravel(report.y_true)) == 0:
        return Html("")
    parts = [_baseline(report)]
    if report.y_score is not None and report.classes is not None:
        if len(report.classes) == 2 and _positive_scores(report) is not None:
            parts.append(_threshold_table(report))
        parts.append(_bias(report))
    return join(parts)
