"""Draw docs/detection.md's figures: SSD default boxes and matching, and greedy NMS's miss.

Run: ``.venv/bin/python docs/scripts/detection_figures.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from thalweg.datasets.scenes import make_scenes
from thalweg.detection import box_iou, default_boxes, match_anchors, nms, weighted_nms

OUT = Path(__file__).resolve().parents[1] / "images"
MAPS, SCALES, RATIOS = [12, 6, 3], [0.15, 0.3, 0.55, 0.8], [1.0, 2.0, 0.5]


def draw(ax, box, color, width=1.0, style="-"):
    x1, y1, x2, y2 = box
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=color, lw=width, ls=style))


def anchors_figure():
    images, boxes = make_scenes(30, seed=4)
    # the first scene with two faces
    names, counts = np.unique(boxes["image"], return_counts=True)
    name = names[counts == 2][0]
    image = images[int(name[6:10])]
    faces = np.stack([boxes[c] for c in ("x_min", "y_min", "x_max", "y_max")], 1)[
        boxes["image"] == name
    ]
    anchors = default_boxes(MAPS, 96, SCALES, RATIOS)
    per_location = len(RATIOS) + 1
    matches = match_anchors(anchors, [faces])[0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.6))
    colors = ["tab:blue", "tab:orange", "tab:green"]
    # left: the default boxes at the location under the first face's center, per map
    center = (faces[0, :2] + faces[0, 2:]) / 2
    ax = axes[0]
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    start = 0
    for m, size in enumerate(MAPS):
        row, col = (center[::-1] // (96 / size)).astype(int)
        first = start + (row * size + col) * per_location
        for box in anchors[first : first + per_location]:
            draw(ax, box, colors[m], 1.2)
        start += size * size * per_location
    for face in faces:
        draw(ax, face, "red", 2.0, "--")
    ax.set_title("default boxes at one location\n(blue 12×12 map, orange 6×6, green 3×3)")
    # right: the anchors matched to each face (IoU ≥ 0.5, plus each face's best anchor)
    ax = axes[1]
    ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    for a in np.flatnonzero(matches >= 0):
        draw(ax, anchors[a], "yellow", 1.0)
    for g, face in enumerate(faces):
        best = int(np.argmax(box_iou(face[None], anchors)))
        draw(ax, anchors[best], "cyan", 1.8)
        draw(ax, face, "red", 2.0, "--")
        ax.text(face[0], face[1] - 1, f"face {g}: {int((matches == g).sum())} anchors",
                color="red", fontsize=8)  # fmt: skip
    ax.set_title("matched anchors (yellow), each face's best (cyan)")
    for ax in axes:
        ax.set_xlim(0, 96)
        ax.set_ylim(96, 0)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(OUT / "detection-anchors.png", dpi=110)
    print("faces", faces.tolist(), "matched anchors per face", np.bincount(matches[matches >= 0]))


def nms_figure():
    face = np.array([30.0, 30, 60, 60])
    boxes = np.array([[30.0, 30, 50, 60], [31, 29, 61, 59], [36, 30, 66, 60]])
    scores = np.array([0.95, 0.90, 0.85])
    kept = nms(boxes, scores, 0.5)
    _, merged = weighted_nms(boxes, scores, 0.5)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    titles = ["detections (score, IoU with the face)", "greedy NMS at 0.5", "weighted NMS"]
    for ax, title in zip(axes, titles, strict=True):
        ax.add_patch(Rectangle((30, 30), 30, 30, color="0.85"))
        ax.set_xlim(20, 72)
        ax.set_ylim(70, 20)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    colors = ["tab:red", "tab:green", "tab:blue"]
    for i, box in enumerate(boxes):
        draw(axes[0], box, colors[i], 2)
        iou = box_iou(box[None], face[None])[0, 0]
        axes[0].text(box[0] + 0.5, box[3] + 2.5 + 3 * i, f"{scores[i]:.2f}, IoU {iou:.2f}",
                     color=colors[i], fontsize=8)  # fmt: skip
    for i in kept:
        draw(axes[1], boxes[i], colors[i], 2)
    for box in merged:
        draw(axes[2], box, "black", 2)
    fig.tight_layout()
    fig.savefig(OUT / "detection-nms.png", dpi=110)


if __name__ == "__main__":
    anchors_figure()
    nms_figure()
