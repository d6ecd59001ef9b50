"""Regenerate docs/unsupervised.md's plots and numbers.

* docs/images/autoencoder-digits.png: scikit-learn's digits (1,797 × 64 pixels) in two
  dimensions, by the first two principal components and by the 2-D code of an
  autoencoder, coloured by the true digit (which neither method saw);
* docs/images/kmeans-minibatch.png: mini-batch k-means as gradient descent: the inertia
  of the whole data set after each step, against Lloyd's rounds;
* the reconstruction errors quoted in the page (code of 8 against 8-component PCA).

Run: ``.venv/bin/python docs/scripts/unsupervised.py`` (needs scikit-learn, a dev
dependency, for the digits and PCA).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from thalweg.metrics import silhouette_score
from thalweg.models import Autoencoder, KMeans
from thalweg.models.centers import NearestCenter, kmeans_plusplus, minibatch_step, row_norms

IMAGES = Path(__file__).resolve().parent.parent / "images"

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

# --------------------------------------------------------------- reconstruction
pca = PCA(8).fit(X_train)
pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
for standardize in (False, True):  # pixels share one unit: PCA sees them as they are
    model = Autoencoder(code_size=8, standardize=standardize, random_state=0).fit(X_train)
    ae_error = np.mean((model.inverse_transform(model.transform(X_test)) - X_test) ** 2)
    print(
        f"held-out MSE per pixel: PCA(8) {pca_error:.3f}, "
        f"Autoencoder(code_size=8, standardize={standardize}) {ae_error:.3f}"
    )

# --------------------------------------------------------------- 2-D views
flat = Autoencoder(code_size=2, random_state=0).fit(X)
views = {
    "first two principal components (PCA)": PCA(2).fit_transform(X),
    "autoencoder code (code_size=2)": flat.transform(X),
}
figure, axes = plt.subplots(1, 2, figsize=(11, 5.2))
for axis, (title, points) in zip(axes, views.items(), strict=True):
    silhouette = silhouette_score(points, y)
    for digit in range(10):
        rows = y == digit
        axis.scatter(*points[rows].T, s=5, alpha=0.6, color=plt.cm.tab10(digit))
        axis.annotate(
            str(digit),
            np.median(points[rows], axis=0),
            fontsize=15,
            weight="bold",
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
        )
    low, high = np.quantile(points, [0.005, 0.995], axis=0)  # a few strays stretch the axes
    pad = 0.05 * (high - low)
    axis.set_xlim(low[0] - pad[0], high[0] + pad[0])
    axis.set_ylim(low[1] - pad[1], high[1] + pad[1])
    axis.set_title(f"{title}\nsilhouette of the true digits: {silhouette:.2f}")
    axis.set_xticks([])
    axis.set_yticks([])
    print(f"{title}: silhouette of the digit classes {silhouette:.3f}")
figure.suptitle("1,797 handwritten digits (64 pixels each) in two dimensions, no labels used")
figure.tight_layout()
figure.savefig(IMAGES / "autoencoder-digits.png", dpi=110)

# --------------------------------------------------------------- k-means as descent
k, batch = 10, 128
start = kmeans_plusplus(X, k, np.random.default_rng(0), row_norms(X))


def inertia(centers):
    return NearestCenter(centers, X.dtype).assign_and_measure(X)[1].sum()


centers, counts = start.copy(), np.zeros(k, np.int64)
rng = np.random.default_rng(0)
steps, minibatch_curve = [0], [inertia(centers)]
for step in range(1, 201):
    minibatch_step(X[rng.integers(0, len(X), batch)], centers, counts)
    if step % 5 == 0:
        steps.append(step)
        minibatch_curve.append(inertia(centers))
lloyd_curve = [inertia(start)]
for rounds in range(1, 16):
    lloyd_curve.append(KMeans(k, init=start, n_init=1, max_iter=rounds).fit(X).inertia_)
figure, axis = plt.subplots(figsize=(7.5, 4.2))
axis.plot(
    np.array(steps) * batch / len(X), minibatch_curve, label=f"mini-batch, {batch} rows a step"
)
axis.plot(range(len(lloyd_curve)), lloyd_curve, "o-", label="Lloyd, one round a pass")
axis.set_xlabel("passes over the data (rows looked at / n)")
axis.set_ylabel("inertia Σ‖x − nearest centre‖²")
axis.set_title("k-means on digits (k = 10) from the same k-means++ seeds")
axis.legend()
axis.grid(alpha=0.3)
figure.tight_layout()
figure.savefig(IMAGES / "kmeans-minibatch.png", dpi=110)
print(
    f"inertia: seeds {lloyd_curve[0]:.4g}; Lloyd after 15 rounds {lloyd_curve[-1]:.4g}; "
    f"mini-batch after 200 steps ({200 * batch / len(X):.1f} passes) {minibatch_curve[-1]:.4g}"
)
