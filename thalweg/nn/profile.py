"""Profile a network layer by layer: parameters, FLOPs, output shapes, latency, sparsity.

The smile bot's lesson: on a small device, **latency is not FLOPs**. It depends on how
each layer's work maps onto memory and on the trained weights — a trained ReLU network
zeroes most of its activations, an untrained one about half. :func:`profile_layers`
measures both for any ``nn.Sequential``: per layer the parameter count, the FLOPs of
one forward pass, the output shape, the median and 99th-percentile latency at batch 1,
and the fraction of exactly-zero activations on sample inputs; for the whole network
the latency at batch 1 and the throughput at batch 64.

>>> import numpy as np
>>> from thalweg import nn
>>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
...                     nn.Flatten(), nn.Linear(64, 2, rng=1))
>>> profile = profile_layers(net, np.zeros((8, 1, 8, 8), np.float32), repeats=5)
>>> [(row.name, row.parameters, row.flops, row.output_shape) for row in profile.layers][:2]
[('Conv2d', 40, 4864, (4, 8, 8)), ('ReLU', 0, 256, (4, 8, 8))]
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from thalweg.autograd.creation import from_numpy
from thalweg.autograd.grad_mode import no_grad
from thalweg.errors import OptionError
from thalweg.nn.conv import Conv2d
from thalweg.nn.layers import Linear, Sequential
from thalweg.nn.module import Module
from thalweg.nn.normalization import BatchNorm1d, BatchNorm2d, Normalize
from thalweg.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = ["LayerProfile", "ModelProfile", "layer_flops", "profile_layers"]


@dataclass
class LayerProfile:
    """One layer's figures (latency in seconds; ``zero_fraction`` of its outputs)."""

    index: int
    name: str
    parameters: int
    flops: int
    output_shape: tuple
    latency_p50: float
    latency_p99: float
    zero_fraction: float
    zero_fraction_at_init: float | None = None


@dataclass
class ModelProfile:
    """Every layer's :class:`LayerProfile`, and the whole network's latency and throughput."""

    layers: list[LayerProfile]
    input_shape: tuple
    latency_p50: float  # seconds, batch 1, the whole network
    latency_p99: float
    throughput: float  # images per second at batch ``throughput_batch``
    throughput_batch: int
    threads: str = ""
    notes: list = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return sum(layer.parameters for layer in self.layers)

    @property
    def flops(self) -> int:
        return sum(layer.flops for layer in self.layers)

    def to_dict(self) -> dict:
        return {
            **{k: v for k, v in asdict(self).items() if k != "layers"},
            "parameters": self.parameters,
            "flops": self.flops,
            "layers": [asdict(layer) for layer in self.layers],
        }


def layer_flops(layer: Module, input_shape: tuple, output_shape: tuple) -> int:
    """Floating-point operations of one forward pass of ``layer`` for one example.

    A multiply-add counts as two; comparisons (max pooling, ReLU) and additions count
    one each. Shapes exclude the batch axis.
    """
    outputs = int(np.prod(output_shape))
    if isinstance(layer, Conv2d):
        taps = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        return outputs * (2 * taps + (layer.bias is not None))
    if isinstance(layer, Linear):
        return outputs * (2 * layer.in_features + (layer.bias is not None))
    if isinstance(layer, MaxPool2d | AvgPool2d):
        return outputs * layer.kernel_size[0] * layer.kernel_size[1]
    if isinstance(layer, AdaptiveAvgPool2d):
        return int(np.prod(input_shape))
    if isinstance(layer, BatchNorm1d | BatchNorm2d | Normalize):
        return 2 * outputs  # one multiply-add per value once folded
    if sum(p.size for p in layer.parameters()) == 0 and outputs == int(np.prod(input_shape)):
        return outputs if type(layer).__name__ != "Flatten" else 0  # activations: one per value
    return 0


def _percentiles(run, repeats: int) -> tuple[float, float]:
    times = np.empty(repeats)
    for i in range(repeats):
        started = time.perf_counter()
        run()
        times[i] = time.perf_counter() - started
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def zero_fractions(module: Sequential, samples: np.ndarray) -> list[float]:
    """For each layer, the fraction of its outputs on ``samples`` that are exactly 0."""
    module.eval()
    fractions = []
    with no_grad():
        x = from_numpy(samples)
        for layer in module.layers:
            x = layer(x)
            fractions.append(float(np.mean(x.data == 0)))
    return fractions


# Timed runs per layer at most: a million runs of the slowest layer is already hours.
MAX_REPEATS = 1_000_000


def profile_layers(
    module: Sequential,
    samples: np.ndarray,
    *,
    initial: Sequential | None = None,
    repeats: int = 200,
    throughput_batch: int = 64,
) -> ModelProfile:
    """Profile ``module`` (eval mode, no graph) on ``samples`` ``(n, ...)``.

    ``samples`` give the activation sparsity (their first example is the batch-1 input
    for latency); ``initial``, the same architecture freshly initialised, gives the
    sparsity at initialisation for comparison. Latency is measured ``repeats`` times
    per layer and for the whole network, after a warm-up.
    """
    module.eval()
    if not 1 <= int(repeats) <= MAX_REPEATS:  # each repeat is timed and kept
        raise OptionError(f"repeats must be between 1 and {MAX_REPEATS:,}, got {repeats}")
    samples = np.asarray(samples)
    one = from_numpy(np.ascontiguousarray(samples[:1]))
    batch = np.resize(samples, (throughput_batch, *samples.shape[1:])).astype(samples.dtype)
    batch = from_numpy(batch)
    zeros = zero_fractions(module, samples)
    zeros_init = zero_fractions(initial, samples) if initial is not None else None
    rows = []
    with no_grad():
        x = one
        for _ in range(3):  # warm up the workspaces of every layer
            module(one)
        for index, layer in enumerate(module.layers):
            out = layer(x)
            p50, p99 = _percentiles(lambda layer=layer, x=x: layer(x), repeats)
            rows.append(
                LayerProfile(
                    index=index,
                    name=type(layer).__name__,
                    parameters=int(sum(p.size for p in layer.parameters())),
                    flops=layer_flops(layer, x.shape[1:], out.shape[1:]),
                    output_shape=tuple(out.shape[1:]),
                    latency_p50=p50,
                    latency_p99=p99,
                    zero_fraction=zeros[index],
                    zero_fraction_at_init=None if zeros_init is None else zeros_init[index],
                )
            )
            x = out
        p50, p99 = _percentiles(lambda: module(one), repeats)
        module(batch)
        rounds = max(3, repeats // 20)
        started = time.perf_counter()
        for _ in range(rounds):
            module(batch)
        throughput = rounds * throughput_batch / (time.perf_counter() - started)
    return ModelProfile(rows, tuple(samples.shape[1:]), p50, p99, throughput, throughput_batch)


def fresh_copy(module: Sequential) -> Sequential:
    """The same architecture with new random weights (the global generator's), keeping
    the fixed preprocessing (``Normalize`` statistics) so both see the same inputs."""
    from thalweg.nn.layers import layer_from_config, layer_to_config

    copy = layer_from_config(layer_to_config(module))
    for original, new in zip(module.layers, copy.layers, strict=True):
        if isinstance(original, Normalize):
            new.load_state_dict(original.state_dict())
    return copy
