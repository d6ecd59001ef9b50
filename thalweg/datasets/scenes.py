"""Detection scenes: objects pasted at random positions and scales on cluttered backgrounds.

A scene is a small grayscale image (96 × 96 by default) with 0–3 objects, each 12–48 px,
on a background of clutter, and the objects' boxes in the detection table format
(``thalweg.detection.annotations``). Two kinds of objects come built in, needing nothing
but NumPy:

* ``"faces"``: drawn faces (an oval, two eyes, brows, a mouth, random shading), label
  ``face``; the clutter contains ovals and dots too, so a face is more than a blob;
* ``"shapes"``: filled circles, squares and triangles, labelled by shape.

:func:`compose_scenes` pastes *any* crops you give it on any background patches;
:func:`face_scenes` uses it on real photographs: the 100 faces of scikit-image's
``lfw_subset`` (``pip install 'thalweg[faces]'``) pasted on clutter made of its 100
non-face patches. ``thalweg datasets export faces-scenes DIR`` writes those (and
``thalweg datasets export scenes DIR`` the drawn ones, which need nothing extra).

>>> images, boxes = make_scenes(4, seed=0)
>>> images.shape, images.dtype
((4, 96, 96), dtype('uint8'))
>>> sorted(boxes)
['image', 'label', 'x_max', 'x_min', 'y_max', 'y_min']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "compose_scenes",
    "draw_faces",
    "draw_shapes",
    "face_scenes",
    "make_scenes",
    "patch_backgrounds",
    "save_scenes",
    "write_scenes",
]

SHAPES = ("circle", "square", "triangle")
PARTS = ("all", "train", "test")
# face_scenes(part="train") draws from the first 80 faces and non-face patches of
# lfw_subset, part="test" from the last 20: test scenes show faces never trained on.
TRAIN_CROPS = 80


def _grid(size: int):
    """Pixel-center coordinates in [-1, 1] of a size × size image: (y, x)."""
    t = (np.arange(size) + 0.5) / size * 2 - 1
    return np.meshgrid(t, t, indexing="ij")


def draw_faces(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` drawn faces as float crops in [0, 1] ``(n, size, size)`` and their masks.

    Each face is an oval filling the crop (so its box is the crop), lighter or darker
    than what it is pasted on, with eyes, brows and a mouth at jittered places.
    """
    y, x = _grid(size)
    faces = np.zeros((n, size, size))
    masks = np.zeros((n, size, size), bool)
    for k in range(n):
        width = rng.uniform(0.8, 0.98)
        oval = (x / width) ** 2 + (y / 0.98) ** 2 <= 1
        skin = rng.uniform(0.55, 0.95)
        shading = 1 + rng.uniform(-0.15, 0.15) * x + rng.uniform(-0.1, 0.1) * y
        face = np.where(oval, skin * shading, 0.0)
        dark = skin * rng.uniform(0.1, 0.4)
        eye_y, eye_x = rng.uniform(-0.35, -0.15), rng.uniform(0.28, 0.42)
        eye_r = rng.uniform(0.08, 0.14)
        for side in (-1, 1):
            eye = (x - side * eye_x) ** 2 + (y - eye_y) ** 2 <= eye_r**2
            brow = (np.abs(y - (eye_y - 0.22)) < 0.04) & (np.abs(x - side * eye_x) < 0.16)
            face = np.where(eye | brow, dark, face)
        mouth_y, mouth_w = rng.uniform(0.35, 0.55), rng.uniform(0.25, 0.45)
        smile = rng.uniform(-0.15, 0.25)
        mouth = (np.abs(y - mouth_y - smile * (1 - (x / mouth_w) ** 2)) < 0.05) & (
            np.abs(x) < mouth_w
        )
        nose = (np.abs(x) < 0.04) & (y > -0.05) & (y < 0.2)
        face = np.where(mouth | nose, dark, face)
        faces[k] = np.clip(face, 0, 1)
        masks[k] = oval
    return faces, masks


def draw_shapes(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list]:
    """``n`` filled shapes filling their crops: crops, masks and the shape names."""
    y, x = _grid(size)
    crops = np.zeros((n, size, size))
    masks = np.zeros((n, size, size), bool)
    names = []
    for k in range(n):
        name = SHAPES[rng.integers(len(SHAPES))]
        if name == "circle":
            mask = x**2 + y**2 <= 1
        elif name == "square":
            mask = np.ones_like(x, bool)
        else:  # apex at the top, base at the bottom: fills the box
            mask = np.abs(x) <= (y + 1) / 2
        crops[k] = np.where(mask, rng.uniform(0.6, 1.0), 0.0)
        masks[k] = mask
        names.append(name)
    return crops, masks, names


def _clutter(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Backgrounds ``(n, size, size)`` in [0, 1]: gradients, rectangles, ovals, lines, dots."""
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    backgrounds = np.empty((n, size, size))
    for k in range(n):
        image = rng.uniform(0.1, 0.6) + rng.uniform(-0.3, 0.3) * (x / size - 0.5)
        for _ in range(rng.integers(4, 12)):
            kind = rng.integers(4)
            value = rng.uniform(0, 1)
            cx, cy = rng.uniform(0, size, 2)
            a, b = rng.uniform(2, size / 3, 2)
            if kind == 0:
                shape = (np.abs(x - cx) < a) & (np.abs(y - cy) < b)
            elif kind == 1:  # ovals and dots: faces are not just "a blob"
                shape = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1
            elif kind == 2:
                angle = rng.uniform(0, np.pi)
                distance = (x - cx) * np.sin(angle) - (y - cy) * np.cos(angle)
                shape = np.abs(distance) < rng.uniform(0.5, 2.5)
            else:
                shape = (x - cx) ** 2 + (y - cy) ** 2 <= rng.uniform(1, 3) ** 2
            image = np.where(shape, value, image)
        backgrounds[k] = image
    return backgrounds


def _resize(crop: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a 2-D crop (pixel centers aligned), NumPy only."""
    in_h, in_w = crop.shape
    ys = np.clip((np.arange(height) + 0.5) * in_h / height - 0.5, 0, in_h - 1)
    xs = np.clip((np.arange(width) + 0.5) * in_w / width - 0.5, 0, in_w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = crop[y0][:, x0] * (1 - fx) + crop[y0][:, x1] * fx
    bottom = crop[y1][:, x0] * (1 - fx) + crop[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def compose_scenes(
    crops: np.ndarray,
    labels,
    n_images: int,
    rng: np.random.Generator,
    masks: np.ndarray | None = None,
    backgrounds: np.ndarray | None = None,
    image_size: int = 96,
    max_objects: int = 3,
    sizes: tuple[int, int] = (12, 48),
    max_overlap: float = 0.1,
    names=None,
    background_per_image: bool = False,
) -> tuple[np.ndarray, dict]:
    """Paste crops at random positions and scales on backgrounds: images and boxes.

    Parameters
    ----------
    crops : float array (K, h, w) in [0, 1]
        The objects; each scene draws 0..``max_objects`` of them at random.
    labels : sequence (K,)
        Each crop's label.
    n_images : int
    rng : numpy Generator
    masks : bool array (K, h, w), optional
        Which crop pixels to paste (default: all); the box is always the whole crop.
    backgrounds : float array (M, H', W') in [0, 1], optional
        Background images or non-object patches, resized to ``image_size`` (default:
        generated clutter).
    image_size : int
    max_objects : int
    sizes : (int, int)
        Object side lengths (the larger side) are drawn uniformly between these, in px.
    max_overlap : float
        A placement overlapping an earlier object with IoU above this is redrawn.
    names : sequence of str, optional
        File names of the images for the table's ``image`` column (default
        ``scene_0000.png``, ...).
    background_per_image : bool
        Draw scene ``k`` on ``backgrounds[k]`` (``n_images`` of them needed) instead of
        on a background drawn at random.

    Returns
    -------
    images : uint8 array (n_images, image_size, image_size)
    boxes : box table (dict of arrays), one row per pasted object
    """
    crops = np.asarray(crops, np.float64)
    labels = list(labels)
    if crops.ndim != 3 or len(crops) != len(labels) or not len(crops):
        raise ValueError("compose_scenes: crops must be (K, h, w) with one label per crop")
    low, high = sizes
    if not 1 <= low <= high <= image_size:
        raise ValueError(f"compose_scenes: sizes must satisfy 1 <= low <= high <= {image_size}")
    if masks is None:
        masks = np.ones(crops.shape, bool)
    if names is None:
        names = [f"scene_{k:04d}.png" for k in range(n_images)]
    if backgrounds is None:
        canvas = _clutter(n_images, image_size, rng)
    else:
        if background_per_image and len(backgrounds) != n_images:
            raise ValueError(
                f"compose_scenes: background_per_image needs {n_images} backgrounds, got "
                f"{len(backgrounds)}"
            )
        picks = (
            np.arange(n_images)
            if background_per_image
            else rng.integers(0, len(backgrounds), n_images)
        )
        canvas = np.stack([_resize(backgrounds[p], image_size, image_size) for p in picks])
    table = {key: [] for key in ("image", "x_min", "y_min", "x_max", "y_max", "label")}
    for k in range(n_images):
        placed = []
        for _ in range(rng.integers(0, max_objects + 1)):
            which = int(rng.integers(len(crops)))
            crop_h, crop_w = crops[which].shape
            side = int(rng.integers(low, high + 1))
            scale = side / max(crop_h, crop_w)
            h, w = max(1, round(crop_h * scale)), max(1, round(crop_w * scale))
            for _attempt in range(20):
                top, left = (
                    int(rng.integers(0, image_size - h + 1)),
                    int(rng.integers(0, image_size - w + 1)),
                )
                box = (left, top, left + w, top + h)
                if all(_iou(box, other) <= max_overlap for other in placed):
                    break
            else:
                continue  # no room: fewer objects in this scene
            placed.append(box)
            pixels = _resize(crops[which], h, w)
            keep = _resize(masks[which].astype(float), h, w) >= 0.5
            region = canvas[k, top : top + h, left : left + w]
            region[keep] = pixels[keep]
            for key, value in zip(table, (names[k], *box, labels[which]), strict=True):
                table[key].append(value)
    noise = rng.normal(0, 0.03, canvas.shape)
    images = np.clip((canvas + noise) * 255, 0, 255).round().astype(np.uint8)
    boxes = {key: np.asarray(values) for key, values in table.items()}
    for key in ("x_min", "y_min", "x_max", "y_max"):
        boxes[key] = boxes[key].astype(np.float64)
    boxes["image"] = boxes["image"].astype(str) if len(boxes["image"]) else np.zeros(0, str)
    boxes["label"] = boxes["label"].astype(str) if len(boxes["label"]) else np.zeros(0, str)
    return images, boxes


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def patch_backgrounds(
    patches: np.ndarray,
    n_images: int,
    rng: np.random.Generator,
    image_size: int = 96,
    count: tuple[int, int] = (6, 14),
    sizes: tuple[int, int] = (12, 48),
) -> np.ndarray:
    """Cluttered backgrounds ``(n_images, image_size, image_size)`` made of ``patches``.

    Each background is one patch stretched over the whole image, then ``count`` more
    (drawn uniformly between the two numbers, upper bound excluded) pasted at random
    places, sides drawn from ``sizes`` — the same sizes as the objects — and mirrored
    half of the time. So the edges of a pasted square are no clue to what is an object:
    clutter has them too.

    >>> patches = np.random.default_rng(0).random((5, 25, 25))
    >>> patch_backgrounds(patches, 2, np.random.default_rng(1)).shape
    (2, 96, 96)
    """
    patches = np.asarray(patches, np.float64)
    if patches.ndim != 3 or not len(patches):
        raise ValueError("patch_backgrounds: patches must be a non-empty (K, h, w) array")
    low, high = sizes
    if not 1 <= low <= high <= image_size:
        raise ValueError(f"patch_backgrounds: sizes must satisfy 1 <= low <= high <= {image_size}")
    backgrounds = np.empty((n_images, image_size, image_size))
    for k in range(n_images):
        canvas = _resize(patches[rng.integers(len(patches))], image_size, image_size)
        for _ in range(rng.integers(*count)):
            patch = patches[rng.integers(len(patches))]
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            side = int(rng.integers(low, high + 1))
            top, left = (int(v) for v in rng.integers(0, image_size - side + 1, 2))
            canvas[top : top + side, left : left + side] = _resize(patch, side, side)
        backgrounds[k] = canvas
    return backgrounds


def face_scenes(
    n_images: int = 500,
    part: str = "all",
    image_size: int = 96,
    max_objects: int = 3,
    sizes: tuple[int, int] = (12, 48),
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """Scenes of real faces: images ``(n, H, W)`` uint8 and their box table.

    The faces of scikit-image's ``lfw_subset`` (25×25 photographs from Labeled Faces in
    the Wild; ``pip install 'thalweg[faces]'``) pasted whole at random positions and
    sizes (``sizes``, px) on backgrounds made of its non-face patches
    (:func:`patch_backgrounds`), 0 to ``max_objects`` per image, label ``face``.

    ``part`` picks the photographs: ``"all"`` (100 faces, 100 patches), ``"train"`` (the
    first 80 of each) or ``"test"`` (the other 20), so a detector can be tested on faces
    and clutter it never saw. Deterministic for a given ``seed``.

    >>> images, boxes = face_scenes(4, seed=0)  # doctest: +SKIP
    >>> images.shape, set(boxes["label"])  # doctest: +SKIP
    ((4, 96, 96), {'face'})
    """
    from thalweg.datasets.images import load_faces

    if part not in PARTS:
        raise ValueError(f"face_scenes: part must be one of {', '.join(PARTS)}; got {part!r}")
    photos, labels, _ = load_faces()
    faces, patches = photos[labels == 1], photos[labels == 0]
    if part == "train":
        faces, patches = faces[:TRAIN_CROPS], patches[:TRAIN_CROPS]
    elif part == "test":
        faces, patches = faces[TRAIN_CROPS:], patches[TRAIN_CROPS:]
    rng = np.random.default_rng(seed)
    backgrounds = patch_backgrounds(patches, n_images, rng, image_size, sizes=sizes)
    return compose_scenes(
        faces, ["face"] * len(faces), n_images, rng, backgrounds=backgrounds,
        image_size=image_size, max_objects=max_objects, sizes=sizes, background_per_image=True,
    )  # fmt: skip


def make_scenes(
    n_images: int = 200,
    objects: str = "faces",
    image_size: int = 96,
    max_objects: int = 3,
    sizes: tuple[int, int] = (12, 48),
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """Synthetic detection scenes: images ``(n, H, W)`` uint8 and their box table.

    ``objects="faces"`` pastes drawn faces (label ``face``); ``"shapes"`` circles,
    squares and triangles (labelled by shape). Backgrounds are generated clutter.
    Deterministic for a given ``seed``.
    """
    if objects not in ("faces", "shapes"):
        raise ValueError(f"make_scenes: objects must be 'faces' or 'shapes', got {objects!r}")
    rng = np.random.default_rng(seed)
    bank = 64  # distinct drawn objects to paste from
    if objects == "faces":
        crops, masks = draw_faces(bank, 48, rng)
        labels = ["face"] * bank
    else:
        crops, masks, labels = draw_shapes(bank, 48, rng)
    return compose_scenes(
        crops, labels, n_images, rng, masks=masks, image_size=image_size,
        max_objects=max_objects, sizes=sizes,
    )  # fmt: skip


def write_scenes(
    directory, n_images: int = 200, objects: str = "faces", seed: int = 0, **options
) -> Path:
    """Write :func:`make_scenes` as PNG files plus ``boxes.csv`` into ``directory``.

    Returns the path of ``boxes.csv``. Files are written atomically; an existing
    ``boxes.csv`` is replaced.
    """
    images, boxes = make_scenes(n_images, objects=objects, seed=seed, **options)
    return save_scenes(directory, images, boxes)


def save_scenes(directory, images: np.ndarray, boxes: dict) -> Path:
    """Write scenes ``(n, H, W)`` uint8 as ``scene_0000.png``, ... and their box table
    as ``boxes.csv`` (the names :func:`compose_scenes` gives) into ``directory``;
    return the path of ``boxes.csv``. Every file is written atomically.
    """
    from PIL import Image

    from thalweg.detection.annotations import write_boxes_csv
    from thalweg.files import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for k, image in enumerate(images):
        with atomic_write(directory / f"scene_{k:04d}.png", "wb") as handle:
            Image.fromarray(image).save(handle, format="PNG")
    write_boxes_csv(directory / "boxes.csv", boxes)
    return directory / "boxes.csv"
