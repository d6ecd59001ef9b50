"""Images as arrays: folders of class sub-folders in, ``(n, C, H, W)`` float32 out.

The layout every vision tool reads::

    photos/
        cat/      001.jpg  002.png ...
        dog/      ...

:class:`ImageFolder` finds the images and their classes (the sub-folder names, sorted).
Decoding, resizing and scaling to [0, 1] is :class:`DecodeImage`, a function of one
``(path, label)`` pair, so it runs in the input :class:`~thalweg.data.Pipeline`'s
worker processes and its output can be cached to disk; ``ImageFolder.pipeline()``
builds that pipeline (and ``fit`` then reports whether training waited for it), and
``ImageFolder.load()`` runs it once to hold everything in memory.

Pillow decodes the files; it is imported only when an image is read, so ``import
thalweg`` stays light. :func:`as_image_batch` checks arrays a user passes instead:
``(n, H, W)`` grayscale or ``(n, C, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thalweg.data.pipeline import Pipeline
from thalweg.data.split import train_val_test_split
from thalweg.errors import DataError, FileFormatError, ShapeError

__all__ = [
    "DecodeImage",
    "ImageFolder",
    "ImageSplit",
    "as_image_batch",
    "image_files",
    "load_images",
    "read_image",
    "write_image",
    "write_image_folder",
]

IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)
COLORS = ("grayscale", "rgb")


def as_image_batch(X, who: str = "images") -> np.ndarray:
    """Images as a float ``(n, C, H, W)`` array: ``(n, H, W)`` gains ``C = 1``.

    Integer pixels (``uint8``) are kept as they are: scale them yourself, or let an
    estimator's standardization handle them. Anything else raises ``ShapeError``.

    >>> as_image_batch(np.zeros((5, 8, 8))).shape
    (5, 1, 8, 8)
    """
    array = np.asarray(X)
    if array.dtype.kind not in "fiub":
        raise DataError(f"{who}: pixels must be numbers, got dtype {array.dtype}")
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise ShapeError(
            f"{who}: expected images of shape (n, H, W) or (n, C, H, W), got {array.shape}; "
            "flat rows of pixels need reshaping, e.g. X.reshape(-1, 8, 8)"
        )
    if min(array.shape) < 1:
        raise ShapeError(f"{who}: no pixels in an array of shape {array.shape}")
    return array


def read_image(path, size=None, color: str = "grayscale") -> np.ndarray:
    """One image file as ``(C, H, W)`` float32 in [0, 1] (C = 1 grayscale, 3 rgb).

    ``size`` ``(H, W)`` resizes (bilinear; an int is a square); None keeps the file's.
    A file Pillow cannot read raises ``FileFormatError`` naming it.
    """
    from PIL import Image, UnidentifiedImageError

    if color not in COLORS:
        raise ValueError(f"color must be one of {COLORS}, got {color!r}")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if color == "grayscale" else "RGB")
            if size is not None:
                height, width = (size, size) if isinstance(size, int) else size
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise FileFormatError(
            f"{path}: not an image Pillow can read ({error}); remove or replace the file"
        ) from None
    pixels = pixels / 255.0
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def write_image(path, image) -> None:
    """Write ``(H, W)``, ``(1, H, W)`` or ``(3, H, W)`` values in [0, 1] as an image file
    (the format from the extension; PNG keeps every value), atomically."""
    from PIL import Image

    from thalweg.files import atomic_write

    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3:
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    pixels = np.clip(np.rint(array * 255), 0, 255).astype(np.uint8)
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        Image.fromarray(pixels).save(
            handle, format=Image.registered_extensions()[path.suffix.lower()]
        )


@dataclass
class ImageSplit:
    """Decoded images ``X (n, C, H, W)``, their labels ``y`` (class names) and ``paths``."""

    X: np.ndarray
    y: np.ndarray
    paths: list


@dataclass(frozen=True)
class DecodeImage:
    """``(path, label) -> (image, label)``: read, convert, resize, scale to [0, 1].

    A plain, picklable object, so ``Pipeline.map(DecodeImage(...), workers=4)`` decodes
    in four processes.
    """

    size: tuple[int, int]
    color: str = "grayscale"

    def __call__(self, example):
        path, label = example
        return read_image(path, self.size, self.color), label


class ImageFolder:
    """A folder with one sub-folder of images per class.

    Parameters
    ----------
    root : path
        The folder; each sub-folder is a class, named by the sub-folder (sorted). Files
        whose extension is not an image's are ignored; hidden files and folders too.
    size : int or (H, W), optional
        Resize every image to this; default: the first image's size (then every image
        must have it).
    color : "grayscale", "rgb" or "auto"
        "auto": rgb if the first image has colour, else grayscale.

    Attributes
    ----------
    classes : list of str
    paths : list of Path, sorted by class then file name
    labels : ndarray of int64, the class index of each path

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     write_image(root / name / "1.png", np.full((4, 6), 0.5))
    >>> folder = ImageFolder(root)
    >>> folder.classes, len(folder), folder.image_shape
    (['cat', 'dog'], 2, (1, 4, 6))
    >>> X, y = folder.load()
    >>> X.shape, y.tolist()
    ((2, 1, 4, 6), [0, 1])
    """

    def __init__(self, root, size=None, color: str = "auto"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root} is not a folder; give a folder of class sub-folders")
        if color not in (*COLORS, "auto"):
            raise ValueError(f"color must be 'grayscale', 'rgb' or 'auto', got {color!r}")
        folders = sorted(
            p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        self.classes = [folder.name for folder in folders]
        self.paths: list[Path] = []
        labels = []
        for index, folder in enumerate(folders):
            files = sorted(
                p
                for p in folder.rglob("*")
                if p.is_file()
                and p.suffix.lower() in IMAGE_EXTENSIONS
                and not any(part.startswith(".") for part in p.relative_to(folder).parts)
            )
            self.paths += files
            labels += [index] * len(files)
        self.labels = np.asarray(labels, dtype=np.int64)
        counts = np.bincount(self.labels, minlength=len(self.classes))
        empty = [name for name, count in zip(self.classes, counts, strict=True) if count == 0]
        if len(self.classes) < 2 or empty or not self.paths:
            found = ", ".join(f"{n} ({c})" for n, c in zip(self.classes, counts, strict=True))
            raise DataError(
                f"{self.root}: need at least two class sub-folders with images in each; found "
                f"{found or 'none'} (image extensions: {', '.join(IMAGE_EXTENSIONS)})"
            )
        first = read_image(self.paths[0], None, "rgb")
        if color == "auto":
            color = "rgb" if np.ptp(first, axis=0).max() > 1e-6 else "grayscale"
        self.color = color
        if size is None:
            self.size = first.shape[1:]
        else:
            self.size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
            if len(self.size) != 2 or min(self.size) < 1:
                raise ValueError(f"size must be an int or (height, width), got {size!r}")

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every decoded image."""
        return (1 if self.color == "grayscale" else 3, *self.size)

    @property
    def examples(self) -> list[tuple[str, int]]:
        """``(path, label)`` pairs: the elements of :meth:`pipeline`'s source."""
        return [(str(p), int(label)) for p, label in zip(self.paths, self.labels, strict=True)]

    def decoder(self) -> DecodeImage:
        return DecodeImage(self.size, self.color)

    def pipeline(
        self,
        batch_size: int = 32,
        *,
        workers: int = 0,
        cache=None,
        indices=None,
        shuffle: bool = True,
        seed: int | None = None,
    ) -> Pipeline:
        """Decode in ``workers`` processes, batch, and (with ``cache``, a folder) keep the
        decoded batches on disk for later epochs: a batch source for ``fit``.

        ``indices`` picks a subset of the images (a training split, say).
        """
        examples = self.examples
        if indices is not None:
            examples = [examples[int(i)] for i in indices]
        pipe = Pipeline(examples, shuffle=shuffle, seed=seed).map(self.decoder(), workers=workers)
        pipe = pipe.batch(batch_size)
        if cache is not None:
            pipe = pipe.cache(cache)
        return pipe

    def load(self, *, workers: int = 0, cache=None, indices=None) -> tuple[np.ndarray, np.ndarray]:
        """Every image (or those at ``indices``) in memory: ``X (n, C, H, W)`` float32 in
        [0, 1] and ``y (n,)`` class indices, in folder order."""
        count = len(self) if indices is None else len(indices)
        check_decoded_memory(count, self.image_shape)
        pipe = self.pipeline(256, workers=workers, cache=cache, indices=indices, shuffle=False)
        with pipe:
            parts = list(pipe.epoch_batches(np.random.default_rng(0)))
        X = np.concatenate([p[0] for p in parts]).astype(np.float32, copy=False)
        y = np.concatenate([p[1] for p in parts]).astype(np.int64, copy=False)
        return X, y

    def split(
        self,
        fractions=(0.7, 0.1, 0.2),
        *,
        seed: int | None = 0,
        workers: int = 0,
        cache=None,
    ) -> dict[str, ImageSplit]:
        """Stratified train/validation/test parts, decoded: ``{"train": ImageSplit, ...}``.

        ``fractions`` as for :func:`~thalweg.data.train_val_test_split` (two values:
        train and test only). Labels are the class names; ``paths`` say which file each
        image came from. Every class keeps its share in every part.
        """
        names = ("train", "validation", "test") if len(fractions) == 3 else ("train", "test")
        indices = np.arange(len(self))
        parts = train_val_test_split(indices, fractions=fractions, stratify=self.labels, seed=seed)
        X, y = self.load(workers=workers, cache=cache)
        classes = np.asarray(self.classes, dtype=object)
        return {
            name: ImageSplit(X[rows], classes[y[rows]], [self.paths[i] for i in rows])
            for name, rows in zip(names, (np.sort(p) for p in parts), strict=True)
        }

    def __repr__(self) -> str:
        return (
            f"ImageFolder({str(self.root)!r}, {len(self)} images, classes={self.classes}, "
            f"shape={self.image_shape})"
        )


def image_files(root) -> list[Path]:
    """Every image file under ``root`` (recursively, hidden ones skipped), sorted; or
    ``[root]`` when ``root`` is itself an image file."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_images(paths, size, color: str = "grayscale", *, workers: int = 0) -> np.ndarray:
    """The images at ``paths`` decoded like :class:`ImageFolder` does: ``(n, C, H, W)``."""
    examples = [(str(p), 0) for p in paths]
    check_decoded_memory(len(examples), (3 if color == "rgb" else 1, *size))
    pipe = Pipeline(examples, shuffle=False).map(DecodeImage(tuple(size), color), workers=workers)
    with pipe.batch(256) as batches:
        parts = [X for X, _ in batches.epoch_batches(np.random.default_rng(0))]
    return np.concatenate(parts).astype(np.float32, copy=False)


def check_decoded_memory(count: int, image_shape) -> None:
    """Refuse (``ResourceLimitError``) before decoding ``count`` images of ``(C, H, W)``
    that would not fit in memory: float32 pixels, held about three times over while
    they are gathered, joined and split.

    >>> check_decoded_memory(100, (3, 32, 32))
    """
    from thalweg.limits import check_rows

    pixels = int(np.prod(image_shape, dtype=object))
    check_rows(
        count,
        3 * 4 * pixels,
        f"decoding {count:,} images of {'×'.join(map(str, image_shape))}",
        "resize them smaller (size=) or use fewer images",
    )


def write_image_folder(root, images, labels, class_names, prefix: str = "") -> int:
    """Write ``images`` (``(n, H, W)`` or ``(n, C, H, W)`` in [0, 1]) as PNG files in one
    sub-folder per class: the layout :class:`ImageFolder` reads. Returns the count.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> write_image_folder(root, np.zeros((3, 5, 5)), [0, 1, 1], ["a", "b"])
    3
    >>> sorted(p.name for p in (root / "b").iterdir())
    ['00001.png', '00002.png']
    """
    images = as_image_batch(images)
    labels = np.asarray(labels)
    root = Path(root)
    for name in class_names:
        (root / str(name)).mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(len(images))))
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        write_image(root / str(class_names[int(label)]) / f"{prefix}{index:0{width}d}.png", image)
    return len(images)
