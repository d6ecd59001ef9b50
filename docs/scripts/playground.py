"""Regenerate docs/models.md's Playground table: which models learn XOR, circle, spiral.

Run: ``.venv/bin/python docs/scripts/playground.py``
"""

import time

from thalweg.data import FeatureCrosses, train_val_test_split
from thalweg.datasets import circle, spiral, xor
from thalweg.models import LogisticRegression, MLPClassifier

print("| dataset | model | settings | train accuracy | test accuracy | seconds |")
print("|---|---|---|---|---|---|")
for generator in (xor, circle, spiral):
    X, y, _ = generator(n=1000, noise=0.1, seed=0)
    X_train, X_test, y_train, y_test = train_val_test_split(X, y, fractions=(0.7, 0.3), seed=0)
    crosses = FeatureCrosses(sines=True).fit(X_train)
    candidates = [
        ("logistic regression", "x1, x2", LogisticRegression(), X_train, X_test),
        (
            "logistic regression",
            "x1, x2, x1², x2², x1·x2, sin(x1), sin(x2)",
            LogisticRegression(),
            crosses.transform(X_train),
            crosses.transform(X_test),
        ),
        (
            "MLP",
            "hidden=(16, 16), tanh, Adam lr 0.01, batch 32, 400 epochs, seed 0",
            MLPClassifier(
                hidden=(16, 16),
                activation="tanh",
                batch_size=32,
                max_epochs=400,
                tol=None,
                random_state=0,
            ),
            X_train,
            X_test,
        ),
    ]
    for name, settings, model, train, test in candidates:
        start = time.perf_counter()
        model.fit(train, y_train)
        seconds = time.perf_counter() - start
        print(
            f"| {generator.__name__} | {name} | {settings} | {model.score(train, y_train):.3f} "
            f"| {model.score(test, y_test):.3f} | {seconds:.1f} |"
        )
