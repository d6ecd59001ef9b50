"""The Crash Course's classification lessons in reports and on the command line:
accuracy beside the majority baseline, the threshold table, prediction bias in words,
``--threshold`` on ``predict`` and ``evaluate``.
"""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as skm
from conftest import assert_one_line_error

from thalweg import metrics
from thalweg.report import ReportInput, render_html
from thalweg.report.inputs import check_report
from thalweg.report.lessons import baseline_sentence, bias_sentence
from thalweg.report.sections import data_section, metrics_section


def report_of(y_true, y_score, classes, threshold=None, counts=None) -> ReportInput:
    y_score = np.asarray(y_score, dtype=float)
    if y_score.ndim == 1:
        y_score = np.column_stack([1 - y_score, y_score])
    if threshold is None:
        y_pred = np.asarray(classes)[np.argmax(y_score, axis=1)]
    else:
        y_pred = metrics.apply_threshold(y_score[:, 1], threshold, classes=classes)
    return ReportInput(
        title="lessons",
        task="classification",
        model_name="Model()",
        hyperparameters={},
        seed=0,
        seconds=0.1,
        data_summary={"rows": len(y_true)},
        metrics={"accuracy": metrics.accuracy(y_true, y_pred)},
        y_true=np.asarray(y_true),
        y_pred=y_pred,
        y_score=y_score,
        classes=list(classes),
        threshold=threshold,
        trained_class_counts=counts,
    )


def text_of(document: str) -> str:
    """The page's text, tags removed and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def sections_of(report: ReportInput) -> str:
    """The data and metrics sections' markup (no figures drawn: fast)."""
    check_report(report)
    return data_section(report, []) + metrics_section(report)


def test_an_imbalanced_report_shows_that_accuracy_does_not_beat_the_constant_guess():
    # 95 negatives, 5 positives; the model says "no" to everything: 95 % accurate.
    y = np.array(["no"] * 95 + ["yes"] * 5)
    page = text_of(render_html(report_of(y, np.full(100, 0.1), ["no", "yes"])))
    assert "Accuracy 95.0% — but always predicting 'no'" in page
    assert "no better than that constant guess" in page


def test_the_threshold_table_marks_the_threshold_used_and_its_rows_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.35 * y + 0.65 * rng.random(200), 0, 1)
    document = sections_of(report_of(y, p, [0, 1], threshold=0.35))
    rows = re.findall(r"<tr>(.*?)</tr>", document)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    thresholds = [c for c in cells if len(c) == 7]
    assert [text_of(c[0]) for c in thresholds] == [
        "0.1", "0.2", "0.3", "0.35", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9"
    ]  # fmt: skip
    marked = [c for c in thresholds if "used for the metrics above" in c[6]]
    assert len(marked) == 1 and text_of(marked[0][0]) == "0.35"
    for row in thresholds:
        t = float(text_of(row[0]))
        y_pred = (p >= t).astype(int)
        tn, fp, fn, tp = skm.confusion_matrix(y, y_pred).ravel()
        assert float(text_of(row[2])) == pytest.approx(tp / (tp + fn), rel=1e-3)
        assert float(text_of(row[4])) == pytest.approx(fp / (fp + tn), rel=1e-3, abs=1e-4)


def test_prediction_bias_is_stated_in_words_with_its_sign():
    y = np.array([0] * 70 + [1] * 30)
    over = text_of(sections_of(report_of(y, np.full(100, 0.5), [0, 1])))
    assert "prediction bias of +20.0 percentage points" in over
    assert "over-predicts 1" in over
    assert "Usual causes" in over
    fair = text_of(sections_of(report_of(y, np.full(100, 0.3), [0, 1])))
    assert "about right on average" in fair and "Usual causes" not in fair


def test_a_multiclass_report_has_per_class_bias_and_no_threshold_table():
    y = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    probs = np.tile([0.2, 0.3, 0.5], (10, 1))
    page = text_of(sections_of(report_of(y, probs, ["a", "b", "c"])))
    assert "Thresholds" not in page
    assert "gives 'c' a probability of 50.0%, and 20.0% of the rows are 'c'" in page
    assert "gives 'a' a probability of 20.0%" in page


def test_balanced_training_shows_the_class_mix_and_explains_the_bias():
    y = np.array([0] * 90 + [1] * 10)
    counts = {0: 500, 1: 500}
    page = text_of(sections_of(report_of(y, np.full(100, 0.45), [0, 1], counts=counts)))
    assert "trained on" in page and "Training drew balanced batches" in page
    assert "balanced batches" in page and "Usual causes" not in page


def test_a_one_class_split_gets_a_note_instead_of_a_table():
    page = text_of(sections_of(report_of(np.zeros(10, int), np.full(10, 0.2), [0, 1])))
    assert "No threshold table" in page and "only negative samples" in page


def test_sentences_for_a_model_better_than_the_baseline_and_for_under_prediction():
    better = baseline_sentence(0.9, metrics.MajorityBaseline("b", 0.6), 50)
    assert "30.0 percentage points better" in better and "75.0% of the rows" in better
    under = bias_sentence(-0.08, 0.12, "fraud", 0.2)
    assert "-8.0 percentage points" in under and "under-predicts 'fraud'" in under


# ------------------------------------------------------------------------------ CLI


def read_csv(path: Path) -> dict[str, list[str]]:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [row[name] for row in rows] for name in rows[0]}


@pytest.fixture
def cancer_model(cli):
    assert cli("datasets", "export", "breast-cancer", "bc.csv").code == 0
    result = cli("train", "bc.csv", "--target", "target", "--epochs", "5", "-q")
    assert result.code == 0, result.err
    return Path("model.thalweg"), Path("bc.csv")


def test_predict_with_a_threshold_flags_rows_whose_probability_reaches_it(cli, cancer_model):
    model, data = cancer_model
    assert cli("predict", model, data, "-o", "default.csv").code == 0
    assert cli("predict", model, data, "--threshold", "0.9", "-o", "strict.csv").code == 0
    default, strict = read_csv(Path("default.csv")), read_csv(Path("strict.csv"))
    p = np.array(strict["probability_1"], dtype=float)
    assert strict["prediction"] == np.where(p >= 0.9, "1", "0").tolist()
    assert default["prediction"] == np.where(p > 0.5, "1", "0").tolist()
    assert strict["prediction"] != default["prediction"]  # 0.9 flags fewer rows


def test_evaluate_with_a_threshold_scores_the_decisions_at_that_threshold(cli, cancer_model):
    model, data = cancer_model
    result = cli("evaluate", model, data, "--threshold", "0.2", "--json")
    assert result.code == 0, result.err
    scored = result.json
    assert scored["threshold"] == 0.2
    assert cli("predict", model, data, "-o", "p.csv").code == 0
    p = np.array(read_csv(Path("p.csv"))["probability_1"], dtype=float)
    y = np.array(read_csv(data)["target"], dtype=float).astype(int)
    y_pred = (p >= 0.2).astype(int)
    assert scored["metrics"]["recall"] == pytest.approx(skm.recall_score(y, y_pred))
    assert scored["metrics"]["precision"] == pytest.approx(skm.precision_score(y, y_pred))
    assert scored["metrics"]["baseline_accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))


def test_a_threshold_for_a_model_with_three_classes_or_a_regressor_is_one_line(cli):
    assert cli("datasets", "export", "iris", "iris.csv").code == 0
    assert cli("train", "iris.csv", "--target", "target", "--epochs", "2", "-q").code == 0
    result = cli("predict", "model.thalweg", "iris.csv", "--threshold", "0.3")
    assert_one_line_error(result, "--threshold", "two classes", "3")
    assert cli("datasets", "export", "diabetes", "d.csv").code == 0
    assert cli("train", "d.csv", "--target", "target", "-o", "r.thalweg", "-q").code == 0
    assert_one_line_error(cli("evaluate", "r.thalweg", "d.csv", "--threshold", "0.3"), "regression")
    assert_one_line_error(cli("predict", "r.thalweg", "d.csv", "--threshold", "2"), "from 0 to 1")
