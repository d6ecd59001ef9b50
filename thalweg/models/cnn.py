"""Convolutional classifier (placeholder: default architecture only, estimator follows)."""

from __future__ import annotations

from thalweg import nn


def default_layers(input_shape, n_outputs: int, rng, widths=(16, 32), hidden: int = 64) -> list:
    """A small CNN for ``(C, H, W)`` images: per width, 3×3 conv (same padding) → ReLU →
    2×2 max pool (while the image is at least 2×2); then a dense layer of ``hidden``
    ReLU units and ``n_outputs`` logits."""
    channels, height, width = input_shape
    layers: list[nn.Module] = []
    for out_channels in widths:
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1, rng=rng), nn.ReLU()]
        if min(height, width) >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        channels = out_channels
    flat = channels * height * width
    layers += [
        nn.Flatten(),
        nn.Linear(flat, hidden, weight_init="he_uniform", rng=rng),
        nn.ReLU(),
        nn.Linear(hidden, n_outputs, rng=rng),
    ]
    return layers
