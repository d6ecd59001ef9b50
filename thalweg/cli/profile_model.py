"""``thalweg profile-model MODEL``: what each layer costs on this machine, and how sparse it is.

Parses the options, calls :func:`thalweg.nn.profile.profile_layers` and prints a table.
``--threads N`` limits the BLAS thread pools to N threads to emulate a small device:
thread pools are sized when NumPy loads, so the command runs itself again in a child
process with ``OPENBLAS_NUM_THREADS`` (and OpenMP's and MKL's) set to N.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from thalweg.cli.main import UserError

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CHILD = "THALWEG_PROFILE_THREADS"


def _threads(value: int | None) -> int | None:
    """--threads emulates a smaller device: more threads than cores emulates nothing."""
    cores = os.cpu_count() or 1
    if value is not None and value > cores:
        raise typer.BadParameter(f"{value}: this machine has {cores} cores; give 1 to {cores}")
    return value


def register(app: typer.Typer) -> None:
    app.command(
        "profile-model",
        epilog="Example:\n\n  $ thalweg profile-model faces.thalweg --data faces/ --threads 1",
    )(profile_model)


def profile_model(
    model_file: Annotated[Path, typer.Argument(help="A model file written by thalweg train.")],
    data: Annotated[
        Path | None,
        typer.Option(
            help="Images (a file or folder) to measure activations on; default: random "
            "pixels in the model's training range.",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(min=1, callback=_threads, help="BLAS threads (emulate a small device)."),
    ] = None,
    repeats: Annotated[int, typer.Option(min=5, max=1_000_000, help="Timed runs per layer.")] = 200,
    samples: Annotated[int, typer.Option(min=1, help="Images for the activation counts.")] = 64,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> int:
    """Per layer: parameters, FLOPs, output shape, latency (p50/p99 at batch 1) and the
    fraction of zero activations, trained against the same network at initialisation;
    for the network: latency at batch 1 and throughput at batch 64."""
    if threads is not None and os.environ.get(CHILD) != str(threads):
        return _run_with_threads(threads)
    from thalweg.cli.display import Output
    from thalweg.models import load_model
    from thalweg.nn.profile import fresh_copy, profile_layers

    model = load_model(model_file)
    module = getattr(model, "module_", None)
    if module is None or not hasattr(module, "layers"):
        raise UserError(
            f"{model_file} holds a {type(model).__name__}, which is not one stack of layers; "
            "profile-model profiles MLP and CNN models"
        )
    inputs, source = _inputs(model, data, samples)
    profile = profile_layers(module, inputs, initial=fresh_copy(module), repeats=repeats)
    profile.threads = os.environ.get("OPENBLAS_NUM_THREADS", "library default")
    output = Output(json_mode=json_output)
    output.line(
        f"{model_file}: {type(model).__name__}, input {'×'.join(map(str, profile.input_shape))}, "
        f"{profile.parameters:,} parameters, {profile.flops / 1e6:.2f} MFLOPs per image; "
        f"activations on {source}; BLAS threads: {profile.threads}"
    )
    rows = [
        [
            f"{row.index} {row.name}",
            f"{row.parameters:,}",
            f"{row.flops / 1e3:,.1f}k",
            "×".join(map(str, row.output_shape)),
            f"{row.latency_p50 * 1e6:.1f}",
            f"{row.latency_p99 * 1e6:.1f}",
            f"{row.zero_fraction:.0%}",
            "" if row.zero_fraction_at_init is None else f"{row.zero_fraction_at_init:.0%}",
        ]
        for row in profile.layers
    ]
    header = ["layer", "params", "FLOPs", "output", "p50 µs", "p99 µs", "zeros", "zeros at init"]
    output.table("per layer (batch 1)", header, rows)
    output.line(
        f"whole network: p50 {profile.latency_p50 * 1e3:.3f} ms, p99 "
        f"{profile.latency_p99 * 1e3:.3f} ms at batch 1; {profile.throughput:,.0f} images/s "
        f"at batch {profile.throughput_batch}"
    )
    output.json({"command": "profile-model", "model": str(model_file), "inputs": source,
                 **profile.to_dict()})  # fmt: skip
    return 0


def _inputs(model, data: Path | None, count: int) -> tuple[np.ndarray, str]:
    """Sample inputs as the network's first layer takes them, and where they came from."""
    shape = getattr(model, "image_shape_", None)
    rng = np.random.default_rng(0)
    if shape is None:  # an MLP: standardized features
        if data is not None:
            raise UserError("--data is for image models; an MLP is profiled on random inputs")
        width = model.module_.layers[0].in_features
        return rng.standard_normal((count, width)).astype(np.float32), "random standardized rows"
    if data is None:
        low, high = model.pixel_range_
        pixels = rng.uniform(low, high, (count, *shape)).astype(np.float32)
        return model.encode(pixels)[0], "random pixels"
    from thalweg.data.images import image_files, load_images

    paths = image_files(data)[:count]
    color = "grayscale" if shape[0] == 1 else "rgb"
    images = load_images(paths, shape[1:], color)
    return model.encode(images)[0], f"{len(paths)} images from {data}"


def _run_with_threads(threads: int) -> int:
    from thalweg.cli.main import invocation

    env = {**os.environ, CHILD: str(threads)}
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    command = [sys.executable, "-m", "thalweg", *invocation()]
    return subprocess.run(command, env=env, check=False).returncode
