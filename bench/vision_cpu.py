"""A quick single-threaded CPU-time comparison of bench/vision.py's contestants.

``make bench`` is the record (wall time, interleaved workers, quiet-round detection).
On a machine too busy for it (every round contaminated), CPU time of one thread per
library, measured in one process, still compares the work each library does:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        .venv/bin/python -m bench.vision_cpu face|lenet|infer|layer

It prints the best (minimum) seconds per step of 7 rounds and the ratios.
"""

import sys
import time

import numpy as np


def main(workload: str) -> None:
    import torch

    from bench import vision

    torch.set_num_threads(1)
    if workload == "infer":
        ours, peer, steps = vision.thalweg_infer_step(), vision.torch_infer_step(), 2000
    elif workload == "layer":
        ours, peer, steps = vision.thalweg_layer_step(), vision.numpy_layer_step(), 10
    else:
        ours = vision.thalweg_train_step(workload)
        peer, steps = vision.torch_train_step(workload), 60
    for _ in range(5):
        ours(), peer()
    times = {"thalweg": [], "peer": []}
    for _ in range(7):
        for name, step in (("thalweg", ours), ("peer", peer)):
            started = time.process_time()
            for _ in range(steps):
                step()
            times[name].append((time.process_time() - started) / steps)
    a, b = np.array(times["thalweg"]), np.array(times["peer"])
    print(
        f"{workload}: thalweg {a.min() * 1e3:.3f} ms, peer {b.min() * 1e3:.3f} ms; "
        f"speed ratio (best) {b.min() / a.min():.2f}, median paired {np.median(b / a):.2f}"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "face")
