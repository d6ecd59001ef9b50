"""Regenerate docs/gradient-descent.md's numbers and plot.

OLS vs batch, stochastic and mini-batch gradient descent on the same data: training
loss (mean squared error on the whole training set) after each epoch and against
wall-clock time.

Run: ``.venv/bin/python docs/scripts/gradient_descent.py``
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import thalweg
from thalweg import losses, nn, optim
from thalweg.train import Callback, fit

rng = np.random.default_rng(0)
n, d = 20_000, 20
# Features on different scales (standard deviations 0.1 to 3), as raw data usually is:
# the loss surface is a long narrow valley (condition number ~900).
X = (rng.normal(size=(n, d)) * np.logspace(-1, 0.5, d)).astype(np.float32)
true_w = rng.uniform(-2, 2, size=d)
y = (X @ true_w + 1.0 + rng.normal(scale=0.5, size=n)).astype(np.float32).reshape(-1, 1)

# Ordinary least squares: the exact minimum, for reference.
start = time.perf_counter()
design = np.column_stack([X.astype(np.float64), np.ones(n)])
w_ols, *_ = np.linalg.lstsq(design, y[:, 0].astype(np.float64), rcond=None)
ols_seconds = time.perf_counter() - start
ols_loss = float(np.mean((design @ w_ols - y[:, 0]) ** 2))


X_standardized = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)


class FullLoss(Callback):
    """Record the loss on the whole training set after each epoch, and the time."""

    def __init__(self, features):
        self.features = features

    def on_train_begin(self, state):
        self.started = time.perf_counter()
        self.train_seconds = 0.0
        self.points = [(0, 0.0, self.evaluate(state.model))]

    def evaluate(self, model):
        with thalweg.no_grad():
            return losses.mse(model(thalweg.tensor(self.features)), y).item()

    def on_epoch_end(self, state, row):
        self.train_seconds += row["seconds"]  # training time only, not this evaluation
        self.points.append((row["epoch"], self.train_seconds, self.evaluate(state.model)))


# Each learning rate is about the largest that does not diverge for that batch size.
runs = {
    "batch (all 20,000 per step), lr 0.05": (None, 0.05, 300),
    "mini-batch 32, lr 0.02": (32, 0.02, 30),
    "mini-batch 32, lr 0.02 decaying": (32, optim.inverse_scaling(0.02, 1.0, 625), 30),
    "stochastic (1 per step), lr 0.002": (1, 0.002, 6),
    "batch on standardized features, lr 0.5": (None, 0.5, 30),
}
results = {}
for label, (batch_size, lr, epochs) in runs.items():
    thalweg.manual_seed(0)
    model = nn.Linear(d, 1, weight_init="zeros")
    features = X_standardized if "standardized" in label else X
    recorder = FullLoss(features)
    fit(
        model,
        losses.mse,
        optim.SGD(model.parameters(), lr=lr),
        features,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=0,
        verbose=0,
        callbacks=[recorder],
    )
    results[label] = recorder.points

fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(11, 4))
for label, points in results.items():
    epochs, seconds, loss = zip(*points, strict=True)
    excess = np.maximum(np.array(loss) - ols_loss, 1e-7)
    by_epoch.plot(epochs, excess, marker="o", markersize=3, label=label)
    by_time.plot(seconds, excess, marker="o", markersize=3, label=label)
for axis, xlabel in ((by_epoch, "epoch"), (by_time, "seconds of training")):
    axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("training MSE minus the OLS minimum")
    axis.grid(alpha=0.3)
by_time.set_xscale("symlog", linthresh=0.01)
by_time.set_xlim(left=0)
by_epoch.legend()
by_epoch.set_title("Loss per epoch")
by_time.set_title("Loss per second")
fig.tight_layout()
out = Path(__file__).resolve().parent.parent / "images" / "gradient-descent.png"
fig.savefig(out, dpi=110)

print(f"OLS: loss {ols_loss:.5f} in {ols_seconds * 1000:.1f} ms")
print(
    "| method | steps/epoch | excess after epoch 1 | after epoch 5 | final (epoch) | "
    "training seconds |"
)
print("|---|---|---|---|---|---|")
for label, points in results.items():
    batch_size = runs[label][0] or n
    epoch, seconds, loss = points[-1]
    print(
        f"| {label} | {-(-n // batch_size)} | {points[1][2] - ols_loss:.2e} | "
        f"{points[5][2] - ols_loss:.2e} | {loss - ols_loss:.2e} ({epoch}) | {seconds:.2f} |"
    )
