"""Measure thalweg's defaults against scikit-learn's (the numbers in docs/models.md,
"Defaults").

1. scikit-learn's breast-cancer table, split 70/30 (stratified, seed 0): test log loss
   and the largest weight (per standard deviation of its feature) of
   ``LogisticRegression()`` — scikit-learn's default,
   thalweg's old default (``l2=0``) and thalweg's default (``l2="auto"``) — and of
   ``thalweg train`` on the 70 % (its own 60/20/20 split inside), measured with
   ``thalweg evaluate`` on the 30 %: the old defaults (``--l2 0 --no-early-stopping``)
   and today's.
2. ``MLPClassifier()`` 5-fold accuracy on scikit-learn's digits, with the old default
   ``hidden=(8, 2)`` and today's ``(100,)``, beside scikit-learn's ``MLPClassifier()``;
   ``MLPRegressor()`` 5-fold R² on scikit-learn's diabetes table, the same way (and,
   for scale, with early stopping and ``LinearRegression()``).

Run: ``.venv/bin/python docs/scripts/defaults.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from thalweg.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor

warnings.simplefilter("ignore")  # scikit-learn's lbfgs hits max_iter on raw features


def breast_cancer() -> list[tuple[str, float, str]]:
    data = load_breast_cancer()
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    rows = []
    scale = X_train.std(axis=0)  # weights per standard deviation of each feature

    def largest(coef) -> str:
        return f"largest |weight| per standard deviation {np.abs(coef * scale).max():,.1f}"

    sk = SkLogisticRegression().fit(X_train, y_train)
    rows.append(
        (
            "scikit-learn LogisticRegression()",
            log_loss(y_test, sk.predict_proba(X_test)),
            largest(sk.coef_),
        )
    )
    for label, model in (
        ("thalweg LogisticRegression(l2=0) (old default)", LogisticRegression(l2=0)),
        ('thalweg LogisticRegression() (l2="auto")', LogisticRegression()),
    ):
        model.fit(X_train, y_train)
        loss = log_loss(y_test, model.predict_proba(X_test))
        rows.append((label, loss, largest(model.coef_)))

    # The command line, as a user runs it: a CSV of the 70 %, evaluated on the 30 %.
    names = [name.replace(" ", "_") for name in data.feature_names]
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for part, (features, labels) in {
            "train": (X_train, y_train),
            "test": (X_test, y_test),
        }.items():
            header = ",".join([*names, "malignant"])
            table = np.column_stack([features, 1 - labels])  # scikit-learn's 0 is malignant
            np.savetxt(folder / f"{part}.csv", table, delimiter=",", header=header, comments="")
        for label, flags in (
            ("thalweg train --l2 0 --no-early-stopping (old defaults)", ["--l2", "0"]),
            ("thalweg train (defaults)", []),
        ):
            if flags:
                flags = [*flags, "--no-early-stopping"]
            model = folder / "model.thalweg"
            thalweg = [sys.executable, "-m", "thalweg"]
            train = [*thalweg, "train", str(folder / "train.csv"), "--target", "malignant"]
            trained = subprocess.run(
                [*train, *flags, "-o", str(model), "--json"],
                check=True,
                capture_output=True,
                text=True,
            )
            epochs = json.loads(trained.stdout)["epochs_run"]
            evaluate = [*thalweg, "evaluate", str(model), str(folder / "test.csv"), "--json"]
            measured = subprocess.run(evaluate, check=True, capture_output=True, text=True)
            metrics = json.loads(measured.stdout)["metrics"]
            rows.append((label, metrics["log_loss"], f"{epochs} epochs"))
    return rows


def five_fold() -> list[tuple[str, float]]:
    X, y = load_digits(return_X_y=True)
    rows = []
    for label, model in (
        ("thalweg MLPClassifier(hidden=(8, 2)) (old default)", MLPClassifier(hidden=(8, 2))),
        ("thalweg MLPClassifier() (hidden=(100,))", MLPClassifier()),
        ("scikit-learn MLPClassifier()", SkMLPClassifier()),
    ):
        model.set_params(random_state=0)
        rows.append(("digits, accuracy: " + label, cross_val_score(model, X, y, cv=5).mean()))
    X, y = load_diabetes(return_X_y=True)
    folds = KFold(5, shuffle=True, random_state=0)
    for label, model in (
        ("thalweg MLPRegressor(hidden=(8, 2)) (old default)", MLPRegressor(hidden=(8, 2))),
        ("thalweg MLPRegressor() (hidden=(100,))", MLPRegressor()),
        ("thalweg MLPRegressor(early_stopping=True)", MLPRegressor(early_stopping=True)),
        ("scikit-learn MLPRegressor()", SkMLPRegressor()),
        ("thalweg LinearRegression()", LinearRegression()),
    ):
        if "random_state" in model.get_params():
            model.set_params(random_state=0)
        rows.append(("diabetes, R²: " + label, cross_val_score(model, X, y, cv=folds).mean()))
    return rows


if __name__ == "__main__":
    print("breast cancer, 70/30 stratified split (seed 0): test log loss")
    for label, loss, note in breast_cancer():
        print(f"  {label}: {loss:.4f} ({note})")
    print("5-fold cross-validation")
    for label, score in five_fold():
        print(f"  {label}: {score:.3f}")
