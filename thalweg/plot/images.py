"""A grid of images with a caption under each (misclassified test images, augmentations)."""

from __future__ import annotations

import math

import numpy as np

from thalweg.plot._figure import _new_figure, _styled, _text


@_styled
def plot_image_grid(images, captions=(), columns: int = 8, title: str | None = None):
    """Images in a grid: ``(k, H, W)``, ``(k, 1, H, W)`` grayscale or ``(k, 3, H, W)``
    colour, values in [0, 1]; ``captions`` (one per image, may contain a newline).

    >>> import numpy as np
    >>> fig = plot_image_grid(np.random.default_rng(0).random((10, 8, 8)), ["a"] * 10)
    >>> len(fig.axes)  # two rows of eight, the last six left blank
    16
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    count = max(len(images), 1)
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    figure, axes = _new_figure(1.2 * columns, 1.45 * rows, nrows=rows, ncols=columns, squeeze=False)
    captions = list(captions)
    for index, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= len(images):
            ax.axis("off")
            continue
        ax.imshow(np.clip(images[index], 0, 1), cmap="gray", vmin=0, vmax=1)
        if index < len(captions):
            ax.set_xlabel(_text(captions[index]), fontsize=7)
    if title:
        figure.suptitle(_text(title))
    return figure
