"""Autoencoder quality on scikit-learn's digits (1,797 × 64), against PCA.

* **Reconstruction**: ``Autoencoder(code_size=8, standardize=False)``, trained on 75 % of
  the rows (split with seed 0), against an 8-component PCA fitted on the same rows: mean
  squared error of the rebuilt held-out rows, in pixel units (0–16). Pixels share one
  unit, and PCA sees them as they are; standardizing each pixel would magnify the ones
  that are almost always blank (a held-out digit that inks one of them is then many
  standard deviations off), so the autoencoder sees them as they are too. The default
  (``standardize=True``) is shown as well. Target (issue 17): the autoencoder's error ≤
  PCA's. Averaged over seeds 0–2 of the autoencoder (initialisation and shuffling).
* **Separation**: the 2-D code of ``Autoencoder(code_size=2)`` (defaults) against
  the first two
  principal components, by the silhouette of the true digit classes in each 2-D view
  (higher: classes form tighter, better separated groups) and the accuracy of a
  5-nearest-neighbour classifier on the held-out rows. The plot is in
  docs/unsupervised.md (``docs/scripts/unsupervised.py``).

Quality only: the timing column is the autoencoder's training time, for information.
"""

from __future__ import annotations

import time

import numpy as np

from bench import harness

SEEDS = (0, 1, 2)


def split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0)


def knn_accuracy(train_codes, y_train, test_codes, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    return float(KNeighborsClassifier(5).fit(train_codes, y_train).score(test_codes, y_test))


def run(settings: harness.Settings) -> harness.Table:
    try:
        from thalweg.models import Autoencoder
    except ImportError as error:
        raise harness.Pending(f"thalweg.models.Autoencoder: {error}") from None
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score

    X_train, X_test, y_train, y_test = split()
    table = harness.Table(
        title="Autoencoder on digits (1,797 × 64): against PCA",
        note=(
            "Held-out rows (25 %). Reconstruction: mean squared pixel error of the rebuilt "
            "rows (lower is better), autoencoder averaged over seeds 0–2. Separation: "
            "silhouette of the true classes in the 2-D view, and 5-NN accuracy on it "
            "(higher is better). Target (issue 17): code_size=8 reconstructs at least as "
            "well as 8-component PCA (pixels as they are, as PCA sees them)."
        ),
        columns=["comparison", "thalweg Autoencoder", "PCA", "target met", "fit s"],
    )
    pca = PCA(8).fit(X_train)
    pca_error = float(np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2))
    for standardize in (False, True):
        errors, seconds = [], []
        for seed in SEEDS:
            started = time.perf_counter()
            model = Autoencoder(code_size=8, standardize=standardize, random_state=seed)
            model.fit(X_train)
            seconds.append(time.perf_counter() - started)
            rebuilt = model.inverse_transform(model.transform(X_test))
            errors.append(float(np.mean((rebuilt - X_test) ** 2)))
        ours = float(np.mean(errors))
        table.rows.append(
            [
                f"reconstruction MSE, code 8, standardize={standardize}",
                f"{ours:.3f} (seeds: {', '.join(f'{e:.3f}' for e in errors)})",
                f"{pca_error:.3f}",
                ("yes" if ours <= pca_error else "**no**") if not standardize else "(shown)",
                f"{np.median(seconds):.1f}",
            ]
        )
        print("  " + " | ".join(table.rows[-1]), flush=True)

    started = time.perf_counter()
    model = Autoencoder(code_size=2, random_state=0).fit(X_train)
    fit_seconds = time.perf_counter() - started
    pca2 = PCA(2).fit(X_train)
    views = {
        "autoencoder": (model.transform(X_train), model.transform(X_test)),
        "pca": (pca2.transform(X_train), pca2.transform(X_test)),
    }
    silhouettes = {name: silhouette_score(test, y_test) for name, (_, test) in views.items()}
    accuracies = {
        name: knn_accuracy(train, y_train, test, y_test) for name, (train, test) in views.items()
    }
    table.rows.append(
        [
            "2-D view: class silhouette",
            f"{silhouettes['autoencoder']:.3f}",
            f"{silhouettes['pca']:.3f}",
            "–",
            f"{fit_seconds:.1f}",
        ]
    )
    table.rows.append(
        [
            "2-D view: 5-NN accuracy",
            f"{accuracies['autoencoder']:.3f}",
            f"{accuracies['pca']:.3f}",
            "–",
            "",
        ]
    )
    for row in table.rows[2:]:
        print("  " + " | ".join(row), flush=True)
    return table


if __name__ == "__main__":
    print(run(harness.Settings()).text())
