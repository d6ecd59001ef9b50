"""Regenerate docs/regularization.md's numbers and plot.

Twenty features, of which only the first five influence the target. L1 (lasso) sets the
weights of the irrelevant ones to exactly zero; L2 (ridge) shrinks every weight but
zeroes none.

Run: ``.venv/bin/python docs/scripts/regularization.py``
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from thalweg.data import train_val_test_split
from thalweg.models import LinearRegression

rng = np.random.default_rng(0)
n, relevant, irrelevant = 300, 5, 15
X = rng.normal(size=(n, relevant + irrelevant))
true_coef = np.concatenate([[3.0, -2.0, 1.5, 1.0, -0.5], np.zeros(irrelevant)])
y = X @ true_coef + 2.0 + rng.normal(scale=1.0, size=n)
X_train, X_test, y_train, y_test = train_val_test_split(X, y, fractions=(0.5, 0.5), seed=0)

l1_values = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3]
l2_values = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
rows = []
paths = {"l1": [], "l2": []}
for kind, values in (("l1", l1_values), ("l2", l2_values)):
    for strength in values:
        model = LinearRegression(
            solver="gd", max_epochs=5000, tol=1e-10, random_state=0, **{kind: strength}
        ).fit(X_train, y_train)
        coef = model.coef_
        paths[kind].append(coef)
        rows.append(
            (
                kind,
                strength,
                int(np.sum(coef[relevant:] == 0.0)),
                int(np.sum(coef[:relevant] == 0.0)),
                float(np.abs(coef[relevant:]).max()),
                float(np.linalg.norm(coef)),
                model.score(X_train, y_train),
                model.score(X_test, y_test),
            )
        )

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for axis, kind, values in ((axes[0], "l1", l1_values), (axes[1], "l2", l2_values)):
    coefs = np.array(paths[kind])
    x = np.array(values[1:])
    for j in range(coefs.shape[1]):
        style = "-" if j < relevant else ":"
        color = f"C{j}" if j < relevant else "0.6"
        axis.plot(x, coefs[1:, j], style, color=color, marker="o", markersize=3)
    axis.set_xscale("log")
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel(f"{kind} strength")
    axis.set_title(
        "L1 (lasso): irrelevant weights hit exactly 0"
        if kind == "l1"
        else "L2 (ridge): every weight shrinks, none is 0"
    )
    axis.grid(alpha=0.3)
axes[0].set_ylabel("coefficient (solid: relevant, dotted: irrelevant)")
fig.tight_layout()
fig.savefig(Path(__file__).resolve().parent.parent / "images" / "regularization.png", dpi=110)

print(
    "| penalty | strength | irrelevant weights = 0 (of 15) | relevant = 0 (of 5) | "
    "largest irrelevant abs(w) | norm of w | train R² | test R² |"
)
print("|---|---|---|---|---|---|---|---|")
for kind, strength, zero_irr, zero_rel, max_irr, norm, train_r2, test_r2 in rows:
    print(
        f"| {kind} | {strength:g} | {zero_irr} | {zero_rel} | {max_irr:.4f} | {norm:.3f} | "
        f"{train_r2:.4f} | {test_r2:.4f} |"
    )
