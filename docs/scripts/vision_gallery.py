"""Regenerate docs/images/augmentations.png: one face, every augmentation, three draws each.

Run: ``.venv/bin/python docs/scripts/vision_gallery.py`` (needs ``thalweg[faces]``; falls
back to the synthetic shapes without it).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from thalweg.data.augment import AUGMENTATIONS
from thalweg.datasets import load_faces, shapes

OUT = Path(__file__).resolve().parents[1] / "images" / "augmentations.png"

try:
    images, labels, _ = load_faces()
    image = images[np.flatnonzero(labels == 1)[3]]
except Exception:  # no scikit-image: a synthetic shape instead
    images, _, _ = shapes(n=3, size=25, noise=0.05, seed=0)
    image = images[0]

draws = 3
names = list(AUGMENTATIONS)
fig, axes = plt.subplots(draws + 1, len(names), figsize=(1.05 * len(names), 1.25 * (draws + 1)))
for column, name in enumerate(names):
    rng = np.random.default_rng(column)
    # The same image repeated: one call draws a different setting for each copy.
    augmented = AUGMENTATIONS[name](np.repeat(image[None, None], draws, axis=0), rng)
    axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0, column].set_title(name.replace("_", "\n"), fontsize=8)
    for row in range(draws):
        axes[row + 1, column].imshow(augmented[row, 0], cmap="gray", vmin=0, vmax=1)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_ylabel("original", fontsize=8)
fig.tight_layout(pad=0.3)
fig.savefig(OUT, dpi=110)
print(f"wrote {OUT}")
