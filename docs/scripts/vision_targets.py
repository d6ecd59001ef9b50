"""Reproduce docs/vision.md's accuracy targets: digits >= 0.98, faces vs not-faces >= 0.95.

Each dataset is split 70/10/20 (train/validation/test, stratified, seed 0) and a
``CNNClassifier`` with its default layers trains with early stopping on the validation
part, with and without the default augmentation. Prints a Markdown table of held-out
test accuracy and training time, wall clock and CPU (the CPU time of this process and
its threads; on a machine shared with other jobs the wall clock also counts waiting for
a core). Needs ``thalweg[faces]`` for the faces.

Run (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python docs/scripts/vision_targets.py
"""

import time

from thalweg.data import train_val_test_split
from thalweg.datasets import load_digits, load_faces
from thalweg.models import CNNClassifier

TARGETS = {"digits": 0.98, "faces": 0.95}
print("| dataset | augmentation | epochs run | test accuracy | target | wall clock | CPU time |")
print("|---|---|---|---|---|---|---|")
for name, loader in (("digits", load_digits), ("faces", load_faces)):
    X, y, _ = loader()
    X_train, X_val, X_test, y_train, y_val, y_test = train_val_test_split(
        X, y, fractions=(0.7, 0.1, 0.2), stratify=y, seed=0
    )
    for augment in (None, "default"):
        model = CNNClassifier(augment=augment, early_stopping=True, random_state=0)
        started, cpu_started = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train, validation=(X_val, y_val))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        accuracy = model.score(X_test, y_test)
        met = "met" if accuracy >= TARGETS[name] else "**missed**"
        print(
            f"| {name} ({len(y_test)} test images) | {augment or 'none'} | {model.n_iter_} | "
            f"{accuracy:.4f} | ≥ {TARGETS[name]} {met} | {seconds:.1f} s | {cpu:.1f} s |",
            flush=True,
        )
