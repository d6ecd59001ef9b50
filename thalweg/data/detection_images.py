"""A folder of images and one box CSV: detection data as arrays, and back to file pixels.

What ``thalweg train-detector images/ --boxes boxes.csv`` and ``thalweg detect`` read::

    images/
        scene_0000.png  scene_0001.png  ...   (sub-folders too)
    boxes.csv
        image,x_min,y_min,x_max,y_max,label
        scene_0001.png,49,26,83,60,face

The ``image`` column names a file by its path relative to the folder (``/`` between
parts). An image without a row has no objects: it is a background example, and it
counts in evaluation (a box found there is a false positive).

Every image is decoded at one size (``size``, default the first image's), and its boxes
are scaled with it; :meth:`DetectionImages.to_file_coordinates` scales detections back,
so what a detector writes is in each file's own pixels.

>>> import tempfile, pathlib
>>> from thalweg.datasets.scenes import write_scenes
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> csv_path = write_scenes(folder, n_images=3, seed=0)
>>> data = load_detection_folder(folder, csv_path)
>>> data.images.shape, data.names[0], [len(b) for b in data.boxes]
((3, 1, 96, 96), 'scene_0000.png', [2, 2, 3])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.data.images import COLORS, image_files, load_images, read_image
from thalweg.detection.annotations import BOX_COLUMNS, as_box_table, read_boxes_csv
from thalweg.errors import DataError, FileFormatError

__all__ = ["DetectionImages", "load_detection_folder"]

_SHOWN = 3  # names listed in an error before "..."


@dataclass
class DetectionImages:
    """Decoded images and, per image, their boxes and labels.

    Attributes
    ----------
    images : float32 array (n, C, H, W)
        Pixels in [0, 1], every image at the same size.
    names : list of str
        Each image's path relative to ``root`` (the CSV's ``image`` column).
    boxes : list of float64 arrays (G_i, 4)
        xyxy boxes in the decoded images' pixels (scaled from the file's when resized);
        empty arrays when no boxes were given.
    labels : list of arrays (G_i,)
        Each box's label (strings).
    file_sizes : int array (n, 2)
        Each file's own ``(height, width)``.
    root : Path
    has_boxes : bool
        Whether a box CSV was read (ground truth is known).
    """

    images: np.ndarray
    names: list
    boxes: list
    labels: list
    file_sizes: np.ndarray
    root: Path
    has_boxes: bool = True

    def __len__(self) -> int:
        return len(self.names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of the decoded images."""
        return tuple(int(s) for s in self.images.shape[1:])

    def targets(self) -> list[dict]:
        """``[{"boxes": (G_i, 4), "labels": (G_i,)}, ...]``: what ``SSDDetector.fit`` takes."""
        return [
            {"boxes": boxes, "labels": labels}
            for boxes, labels in zip(self.boxes, self.labels, strict=True)
        ]

    def subset(self, indices) -> DetectionImages:
        """The images at ``indices`` (and their boxes), in that order."""
        indices = [int(i) for i in indices]
        return DetectionImages(
            self.images[indices],
            [self.names[i] for i in indices],
            [self.boxes[i] for i in indices],
            [self.labels[i] for i in indices],
            self.file_sizes[indices],
            self.root,
            self.has_boxes,
        )

    def scale_factors(self) -> np.ndarray:
        """``(n, 4)``: multiply a decoded image's xyxy boxes by its row to get the file's
        pixels."""
        height, width = self.images.shape[2:]
        sx = self.file_sizes[:, 1] / width
        sy = self.file_sizes[:, 0] / height
        return np.stack([sx, sy, sx, sy], axis=1).astype(np.float64)

    def to_file_coordinates(self, table: dict) -> dict:
        """A box table in decoded pixels (``image`` = names) -> the files' own pixels."""
        table = dict(table)
        if not len(table["image"]):
            return table
        row_of = {name: k for k, name in enumerate(self.names)}
        factors = self.scale_factors()[[row_of[name] for name in table["image"].tolist()]]
        for j, column in enumerate(("x_min", "y_min", "x_max", "y_max")):
            table[column] = np.asarray(table[column], np.float64) * factors[:, j]
        return table

    def ground_truth(self) -> dict:
        """The boxes as a box table in the files' own pixels (for evaluation and CSVs)."""
        counts = [len(b) for b in self.boxes]
        names = np.repeat(np.asarray(self.names, dtype=str), counts)
        boxes = np.concatenate([*self.boxes, np.zeros((0, 4))]) * np.repeat(
            self.scale_factors(), counts, axis=0
        )
        labels = np.concatenate([np.asarray(v, dtype=str) for v in self.labels] or [[]])
        table = {"image": names if len(names) else np.zeros(0, str)}
        for j, column in enumerate(("x_min", "y_min", "x_max", "y_max")):
            table[column] = boxes[:, j]
        table["label"] = labels.astype(str) if len(labels) else np.zeros(0, str)
        return table


def load_detection_folder(
    root, boxes=None, *, size=None, color: str = "auto", workers: int = 0
) -> DetectionImages:
    """Decode every image under ``root`` and attach the boxes of the CSV ``boxes``.

    Parameters
    ----------
    root : path
        A folder of images (searched recursively; hidden files skipped), or one image.
    boxes : path, box table or None
        The box CSV (``image, x_min, y_min, x_max, y_max, label``) or a table already
        read; None: no ground truth (to detect only).
    size : int or (height, width), optional
        Decode every image at this size (boxes scaled to match). Default: the first
        image's size.
    color : "auto", "grayscale" or "rgb"
        "auto": RGB if the first image has color, else grayscale.
    workers : int
        Processes decoding images (0: this one).

    Raises :class:`~thalweg.errors.DataError` when the CSV names images that are not
    in the folder, or a box lies outside its image.
    """

    root = Path(root)
    paths = image_files(root)
    base = root if root.is_dir() else root.parent
    names = [p.relative_to(base).as_posix() for p in paths]
    if color not in (*COLORS, "auto"):
        raise ValueError(f"color must be 'grayscale', 'rgb' or 'auto', got {color!r}")
    first = read_image(paths[0], None, "rgb")
    if color == "auto":
        color = "rgb" if np.ptp(first, axis=0).max() > 1e-6 else "grayscale"
    if size is None:
        size = tuple(first.shape[1:])
    elif isinstance(size, int):
        size = (size, size)
    file_sizes = np.array([_file_size(p) for p in paths], np.int64)
    images = load_images(paths, size, color, workers=workers)
    n = len(paths)
    if boxes is None:
        empty = [np.zeros((0, 4)) for _ in range(n)]
        return DetectionImages(
            images, names, empty, [np.zeros(0, str)] * n, file_sizes, root, has_boxes=False
        )
    if isinstance(boxes, (str, Path)):
        what, table = str(boxes), read_boxes_csv(boxes)
    else:
        what, table = "boxes", as_box_table(boxes)
    image_column = np.asarray(table["image"]).astype(str)
    unknown = sorted(set(image_column.tolist()) - set(names))
    if unknown:
        shown = ", ".join(unknown[:_SHOWN]) + (", ..." if len(unknown) > _SHOWN else "")
        raise DataError(
            f"{what} names {len(unknown)} image(s) not found under {root}: {shown}; the image "
            "column gives each file's path relative to that folder"
        )
    row_of = {name: k for k, name in enumerate(names)}
    rows = np.array([row_of[name] for name in image_column.tolist()], np.int64)
    xyxy = np.stack([table[c] for c in BOX_COLUMNS[1:5]], axis=1)
    heights, widths = file_sizes[rows, 0], file_sizes[rows, 1]
    outside = (xyxy[:, 0] >= widths) | (xyxy[:, 1] >= heights) | (xyxy[:, 2] <= 0)
    outside |= (xyxy[:, 3] <= 0) | (xyxy[:, 2] <= xyxy[:, 0]) | (xyxy[:, 3] <= xyxy[:, 1])
    if outside.any():
        k = int(np.flatnonzero(outside)[0])
        raise DataError(
            f"{what}: the box {xyxy[k].tolist()} of {image_column[k]} is empty or outside the "
            f"image ({widths[k]}×{heights[k]} px); coordinates are pixels x_min, y_min, "
            "x_max, y_max"
        )
    # Parts beyond the border are cut off; then into decoded pixels.
    limits = np.stack([widths, heights, widths, heights], axis=1)
    xyxy = np.clip(xyxy, 0, limits)
    xyxy *= np.array([size[1], size[0], size[1], size[0]]) / limits
    labels = np.asarray(table["label"]).astype(str)
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(n + 1))
    per_image_boxes = [xyxy[order[starts[i] : starts[i + 1]]] for i in range(n)]
    per_image_labels = [labels[order[starts[i] : starts[i + 1]]] for i in range(n)]
    return DetectionImages(images, names, per_image_boxes, per_image_labels, file_sizes, root)


def _file_size(path) -> tuple[int, int]:
    """``(height, width)`` from the file's header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as error:
        raise FileFormatError(f"{path}: not an image Pillow can read ({error})") from None
    return height, width
