"""The HTML report of a detector (``thalweg train-detector --report``, ``thalweg detect
--report``): one self-contained file.

It shows images with the boxes the detector found (and, where ground truth is known,
the true boxes dashed beside them, the images with most mistakes first), the average
precision of each class with its precision-recall curve and the COCO metrics, the
training curves of a training run, and the model's settings. It shares the look, the
escaping and the Content-Security-Policy of the model report
(:mod:`thalweg.report.html`).

>>> from thalweg.report.detection import write_detection_report  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thalweg import __version__
from thalweg.detection import box_iou
from thalweg.files import atomic_write
from thalweg.plot.detection import plot_detection_pr, plot_detections
from thalweg.plot.history import plot_history
from thalweg.report.figures import READ_HISTORY, ReportFigure, _draw
from thalweg.report.html import (
    Html,
    element,
    escape,
    figure_grid,
    format_number,
    format_seconds,
    format_value,
    join,
    note,
    page,
    page_header,
    section,
    table,
)
from thalweg.report.sections import navigation

SHOWN_IMAGES = 24
DRAWN_SCORE = 0.5  # detections drawn on the images score at least this

READ_IMAGES = (
    "Solid boxes are what the detector found (score ≥ {score:g}, written on the box; at "
    "most the ten best per image); "
    "dashed green boxes are the ground truth. A dashed box with no solid box on it is a "
    "missed object; a solid box on nothing is a false alarm; two solid boxes on one object "
    "are a duplicate that suppression did not remove. With ground truth, the images with "
    "the most mistakes come first."
)
READ_PR = (
    "Detections are ranked by score; after each one, precision is the share of the "
    "detections so far that found a new object (IoU > {iou:g} with a box not found yet) "
    "and recall the share of all objects found. A curve that stays high while recall "
    "grows is a detector that is right when it is sure; the area under the envelope is "
    "the average precision (Pascal VOC). Recall that never reaches 1 means objects no "
    "box found at all."
)
METRICS = {
    "ap50": ("AP@0.5", "Pascal VOC average precision at IoU 0.5, mean over classes"),
    "coco_ap": ("COCO AP", "average precision over IoU 0.50, 0.55 … 0.95 (101-point)"),
    "coco_ap50": ("COCO AP50", "COCO's AP at IoU 0.5 (101-point interpolation)"),
    "coco_ap75": ("COCO AP75", "COCO's AP at IoU 0.75: how well boxes fit"),
    "images": ("Images", "images evaluated"),
    "boxes": ("Objects", "ground-truth boxes"),
    "detections": ("Detections", "boxes reported (every score above the model's threshold)"),
}


@dataclass
class DetectionReportInput:
    """What the detection report shows.

    ``images`` (k, C, H, W) in [0, 1] with ``found`` (``SSDDetector.predict``'s dicts),
    ``truth`` (k arrays of boxes, or None) and ``captions`` in the same pixels.
    ``evaluation`` is a :class:`~thalweg.models.detector_training.DetectionEvaluation`
    (or None without ground truth); ``history`` a training history (or None).
    """

    title: str
    model_name: str
    source: str
    seconds: float
    images: np.ndarray
    found: list
    truth: list | None
    captions: list
    evaluation: object | None = None
    history: object | None = None
    split_name: str = "test"
    facts: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    seed: int | None = None


def order_by_mistakes(found: list, truth: list, iou: float = 0.5, score: float = DRAWN_SCORE):
    """Image indices ordered by mistakes at ``score`` (misses + false alarms, most
    first; ties in index order), and each image's count of mistakes."""
    mistakes = []
    for image, boxes in zip(found, truth, strict=True):
        shown = np.asarray(image["boxes"])[np.asarray(image["scores"]) >= score]
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not len(shown) or not len(boxes):
            mistakes.append(len(shown) + len(boxes))
            continue
        overlap = box_iou(boxes, shown.astype(np.float64)) > iou
        missed = int((~overlap.any(axis=1)).sum())
        # every detection but one per found object is a false alarm (or a duplicate)
        false_alarms = len(shown) - int(overlap.any(axis=0).sum())
        duplicates = int(np.maximum(overlap.sum(axis=1) - 1, 0).sum())
        mistakes.append(missed + false_alarms + duplicates)
    mistakes = np.asarray(mistakes, np.int64)
    return np.argsort(-mistakes, kind="stable"), mistakes


def render_detection_report(report: DetectionReportInput) -> str:
    """The report as one HTML document (a string)."""
    figures = {
        "images": [
            _draw(
                "detections",
                "Detections",
                READ_IMAGES.format(score=DRAWN_SCORE),
                plot_detections,
                report.images,
                report.found,
                report.truth,
                captions=report.captions,
                min_score=DRAWN_SCORE,
                wide=True,
            )
        ]
    }
    sections: list[tuple[str, str, Html]] = [
        ("images", "Detections", _images_section(report, figures["images"]))
    ]
    if report.evaluation is not None:
        figures["pr"] = [
            _draw(
                "precision-recall",
                "Precision-recall",
                READ_PR.format(iou=0.5),
                plot_detection_pr,
                report.evaluation.curves,
                report.evaluation.per_class,
            )
        ]
        sections.append(("ap", "Average precision", _ap_section(report, figures["pr"])))
    if report.history is not None and len(report.history):
        curve = _draw(
            "learning-curve",
            "Learning curve",
            READ_HISTORY,
            plot_history,
            report.history,
            show_stop_reason=False,
        )
        sections.append(("training", "Training", _training_section(report, curve)))
    sections.append(("model", "Model", _model_section(report)))
    footer = element(
        "footer",
        element(
            "div",
            f"Made with thalweg {__version__}. This file is self-contained: it loads nothing "
            "from the network and runs no scripts.",
            class_="wrap",
        ),
    )
    body = join(
        [
            _header(report),
            navigation([(anchor, title) for anchor, title, _ in sections]),
            element("main", join(html for _, _, html in sections), class_="wrap"),
            footer,
        ]
    )
    return page(report.title, f"thalweg {__version__}", body)


def write_detection_report(path: str | os.PathLike, report: DetectionReportInput) -> Path:
    """Render ``report`` and write it atomically to ``path``; return the path."""
    document = render_detection_report(report)  # everything that can fail happens first
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        handle.write(document.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------- sections


def _header(report: DetectionReportInput) -> Html:
    stats = [(label, value) for label, value in report.facts.items()]
    if report.evaluation is not None:
        stats.append(("AP@0.5", format_number(report.evaluation.metrics["ap50"])))
        stats.append(("COCO AP", format_number(report.evaluation.metrics["coco_ap"])))
    stats.append(("Time", format_seconds(report.seconds)))
    subtitle = f"detection · {report.model_name} · {report.source}"
    return page_header(report.title, subtitle, stats, report.seed, __version__)


def _images_section(report: DetectionReportInput, figures: list[ReportFigure]) -> Html:
    parts: list[object] = [note(escape(line)) for line in report.notes]
    parts.append(figure_grid(figures))
    which = f"the {report.split_name} images" if report.split_name else "the images"
    intro = f"{len(report.images)} of {which} with the boxes the detector found" + (
        " and the true boxes." if report.truth is not None else "."
    )
    return section("images", "Detections", intro, join(parts))


def _ap_section(report: DetectionReportInput, figures: list[ReportFigure]) -> Html:
    evaluation = report.evaluation
    rows = [
        [element("code", label), format_number(ap)] for label, ap in evaluation.per_class.items()
    ]
    per_class = table(["class", "AP@0.5"], rows, numeric=[1])
    metrics = table(
        ["metric", "value", "meaning"],
        [
            [METRICS[key][0], format_number(value), METRICS[key][1]]
            for key, value in evaluation.metrics.items()
            if key in METRICS
        ],
        numeric=[1],
        class_="meaning",
    )
    body = join(
        [
            element(
                "div",
                join(
                    [
                        element("div", join([element("h3", "Per class"), per_class])),
                        element("div", join([element("h3", "Overall"), metrics])),
                    ]
                ),
                class_="columns",
            ),
            figure_grid(figures),
        ]
    )
    intro = (
        f"How well the detector finds the objects of the {report.split_name or 'given'} images: a "
        "detection counts when it overlaps a true box of its class with IoU above 0.5 and "
        "that box was not found already (a duplicate is a false positive)."
    )
    return section("ap", "Average precision", intro, body)


def _training_section(report: DetectionReportInput, curve: ReportFigure) -> Html:
    history = report.history
    intro = f"{len(history)} epochs of the multibox loss (localization + confidence)."
    parts: list[object] = []
    if getattr(history, "stop_reason", None):
        parts.append(note(f"Stopped: {history.stop_reason}"))
    parts.append(figure_grid([curve]))
    return section("training", "Training", intro, join(parts))


def _model_section(report: DetectionReportInput) -> Html:
    settings = [[name, element("code", format_value(v))] for name, v in report.settings.items()]
    body = element(
        "div",
        join(
            [
                element(
                    "div",
                    join(
                        [
                            element("h3", "Model"),
                            table(None, [("Model", element("code", report.model_name))]),
                        ]
                    ),
                ),
                element(
                    "div",
                    join([element("h3", "Settings"), table(["setting", "value"], settings)]),
                ),
            ]
        ),
        class_="columns",
    )
    return section("model", "Model", "What was trained, with which settings.", body)


# ----------------------------------------------------------------------------- inputs


def detection_report(
    model,
    images: np.ndarray,
    names: list,
    *,
    found: list,
    truth: list | None,
    evaluation=None,
    title: str,
    source: str,
    seconds: float,
    split_name: str = "test",
    history=None,
    facts: dict | None = None,
    notes=(),
) -> DetectionReportInput:
    """The report's input for ``model``'s detections ``found`` on ``images`` (named
    ``names``), with ``truth`` boxes when known: up to ``SHOWN_IMAGES`` images, most
    mistakes first when there is ground truth."""
    if truth is not None:
        order, mistakes = order_by_mistakes(found, truth)
    else:
        order, mistakes = np.arange(len(images)), None
    shown = order[:SHOWN_IMAGES]
    captions = []
    for k in shown:
        name = Path(str(names[k])).name
        count = int((np.asarray(found[k]["scores"]) >= DRAWN_SCORE).sum())
        line = f"{name}\n{count} found"
        if truth is not None:
            line += f" / {len(truth[k])} true" + (f", {mistakes[k]} wrong" if mistakes[k] else "")
        captions.append(line)
    settings = {k: v for k, v in model.get_params().items() if k != "verbose"}
    facts = dict(facts or {})
    facts.setdefault("Images", format_number(len(images)))
    return DetectionReportInput(
        title=title,
        model_name=f"SSDDetector({len(model.anchors_):,} anchors, "
        f"{model.module_.num_parameters():,} parameters)",
        source=source,
        seconds=seconds,
        images=images[shown],
        found=[found[k] for k in shown],
        truth=None if truth is None else [truth[k] for k in shown],
        captions=captions,
        evaluation=evaluation,
        history=history,
        split_name=split_name,
        facts=facts,
        settings=settings,
        notes=list(notes),
        seed=settings.get("random_state"),
    )
