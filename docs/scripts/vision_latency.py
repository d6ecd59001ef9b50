"""Reproduce docs/vision.md's latency and zero-activation table for the face CNN.

Trains ``CNNClassifier``'s default network on faces vs not-faces (70 % of the images,
seed 0), then profiles it layer by layer on the held-out images with one BLAS thread
(a small device): latency at batch 1 and the fraction of exactly-zero activations, for
the trained weights and for the same architecture freshly initialised. Prints Markdown.

Run (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python docs/scripts/vision_latency.py
"""

import os

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"  # before NumPy loads: thread pools are sized then

import thalweg  # noqa: E402
from thalweg.data import train_val_test_split  # noqa: E402
from thalweg.datasets import load_faces  # noqa: E402
from thalweg.models import CNNClassifier  # noqa: E402
from thalweg.nn.profile import fresh_copy, profile_layers  # noqa: E402

X, y, _ = load_faces()
X_train, X_test, y_train, y_test = train_val_test_split(
    X, y, fractions=(0.7, 0.3), stratify=y, seed=0
)
model = CNNClassifier(random_state=0).fit(X_train, y_train)
thalweg.manual_seed(0)  # the initial network's weights
samples = model.encode(X_test[:, None])[0]
profile = profile_layers(model.module_, samples, initial=fresh_copy(model.module_), repeats=500)
print(
    f"test accuracy {model.score(X_test, y_test):.3f}; {profile.parameters:,} parameters, "
    f"{profile.flops / 1e6:.2f} MFLOPs per image; one BLAS thread"
)
print()
print("| layer | output | params | kFLOPs | p50 µs | p99 µs | zeros (trained) | zeros (init) |")
print("|---|---|---|---|---|---|---|---|")
for row in profile.layers:
    print(
        f"| {row.index} {row.name} | {'×'.join(map(str, row.output_shape))} | {row.parameters:,} "
        f"| {row.flops / 1e3:,.1f} | {row.latency_p50 * 1e6:.1f} | {row.latency_p99 * 1e6:.1f} "
        f"| {row.zero_fraction:.0%} | {row.zero_fraction_at_init:.0%} |"
    )
print()
print(
    f"whole network at batch 1: p50 {profile.latency_p50 * 1e3:.3f} ms, p99 "
    f"{profile.latency_p99 * 1e3:.3f} ms; {profile.throughput:,.0f} images/s at batch "
    f"{profile.throughput_batch}"
)
