"""Detection: images with their boxes drawn, and the precision-recall curve of each class."""

from __future__ import annotations

import math

import numpy as np

from thalweg.errors import DataError
from thalweg.plot._figure import BLUE, GREY, ORANGE, _class_color, _new_figure, _styled, _text

TRUTH_COLOR = "#2e9e5b"  # ground truth: green, dashed


@_styled
def plot_detections(
    images,
    detections,
    truth=None,
    *,
    captions=(),
    columns: int = 6,
    min_score: float = 0.5,
    max_boxes: int = 10,
    title: str | None = None,
):
    """Images with their detected boxes (solid, with the score) and, when given, the
    ground-truth boxes (green, dashed).

    Parameters
    ----------
    images : array (k, H, W), (k, 1, H, W) or (k, 3, H, W)
        Values in [0, 1].
    detections : list of k dicts ``{"boxes": (K, 4), "scores": (K,), "labels": (K,)}``
        In the images' pixels (``SSDDetector.predict``'s output).
    truth : list of k arrays (G, 4), optional
    captions : sequence of str
    columns : int
    min_score : float
        Detections scoring below this are not drawn.
    max_boxes : int
        At most this many detections per image are drawn (the best-scored).

    >>> import numpy as np
    >>> found = [{"boxes": np.array([[2.0, 2, 10, 10]]), "scores": np.array([0.9]),
    ...           "labels": np.array(["face"])}]
    >>> fig = plot_detections(np.zeros((1, 16, 16)), found, [np.array([[1.0, 1, 9, 9]])])
    >>> len(fig.axes[0].patches)
    2
    """
    from matplotlib.patches import Rectangle

    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    if len(detections) != len(images) or (truth is not None and len(truth) != len(images)):
        raise DataError("plot_detections: give one detection list (and truth) per image")
    count = max(len(images), 1)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    figure, axes = _new_figure(1.9 * columns, 2.05 * rows, nrows=rows, ncols=columns, squeeze=False)
    classes = sorted({str(v) for found in detections for v in np.asarray(found["labels"]).tolist()})
    captions = list(captions)
    for index, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if index >= len(images):
            ax.axis("off")
            continue
        ax.imshow(np.clip(images[index], 0, 1), cmap="gray", vmin=0, vmax=1)
        if truth is not None:
            for x1, y1, x2, y2 in np.asarray(truth[index], np.float64).reshape(-1, 4):
                ax.add_patch(
                    Rectangle(
                        (x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=TRUTH_COLOR,
                        lw=1.4, ls="--",
                    )
                )  # fmt: skip
        found = detections[index]
        scores = np.asarray(found["scores"], np.float64)
        best = np.argsort(-scores, kind="stable")[:max_boxes]
        best = best[scores[best] >= min_score]
        labels = np.asarray(found["labels"])
        for box, score, label in zip(
            np.asarray(found["boxes"], np.float64).reshape(-1, 4)[best],
            scores[best],
            labels[best].tolist(),
            strict=True,
        ):
            color = ORANGE if len(classes) <= 1 else _class_color(classes.index(str(label)))
            x1, y1, x2, y2 = box
            ax.add_patch(
                Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=color, lw=1.4)
            )
            text = f"{score:.2f}" if len(classes) <= 1 else f"{_text(label)} {score:.2f}"
            ax.text(
                x1 - 0.5, y1 - 1, text, color="white", fontsize=6, va="bottom",
                bbox={"facecolor": color, "edgecolor": "none", "pad": 0.8},
            )  # fmt: skip
        if index < len(captions):
            ax.set_xlabel(_text(captions[index]), fontsize=7)
    if title:
        figure.suptitle(_text(title))
    return figure


@_styled
def plot_detection_pr(curves: dict, average_precision: dict | None = None, iou: float = 0.5):
    """Precision against recall of each class (detections by decreasing score), with
    the precision envelope whose area is the VOC AP.

    ``curves``: ``{label: (precision, recall)}`` (``evaluate_detections``'s); the legend
    gives each class's AP from ``average_precision`` (``{label: AP}``).

    >>> import numpy as np
    >>> fig = plot_detection_pr({"face": (np.array([1.0, 0.5]), np.array([0.5, 0.5]))})
    >>> fig.axes[0].get_xlabel()
    'recall'
    """
    if not curves:
        raise DataError("plot_detection_pr: no class has ground truth to draw a curve for")
    figure, ax = _new_figure()
    for index, (label, (precision, recall)) in enumerate(curves.items()):
        color = BLUE if len(curves) == 1 else _class_color(index)
        recall = np.concatenate([[0.0], np.asarray(recall, np.float64)])
        precision = np.concatenate([[1.0], np.asarray(precision, np.float64)])
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        name = _text(label)
        if average_precision is not None and label in average_precision:
            name += f" (AP {average_precision[label]:.3f})"
        ax.plot(recall, precision, color=color, lw=1.0, alpha=0.45)
        ax.step(recall, envelope, where="post", color=color, label=name)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(f"Precision-recall at IoU {iou:g}")
    ax.legend(loc="lower left")
    ax.text(
        1.0, -0.16, "thin: after each detection; thick: the envelope (its area is the AP)",
        transform=ax.transAxes, ha="right", fontsize=7.5, color=GREY,
    )  # fmt: skip
    return figure
