"""``SSDNetwork``: a single-shot detector's network, a backbone with a head on each feature map.

SSD (Liu et al., 2016) predicts from several feature maps at once: the backbone's
stages make maps of decreasing resolution, and on each map a small convolution (the
*head*) predicts, at every location and for each of the ``k`` anchors there, four box
offsets and ``C + 1`` class scores. Fine maps see small objects, coarse maps big ones::

    x ─ stage 0 ─ map 0 ─ stage 1 ─ map 1 ─ ...
                    │                 │
                  head 0            head 1          (B, k·V, H_i, W_i), V = 4 + C + 1
                    └──── (B, H_0·W_0·k + H_1·W_1·k + ..., V) ────┘

Each head's output is moved to ``(B, H, W, k·V)`` and reshaped to ``(B, H·W·k, V)`` —
map by map, row by row, and at each location the ``k`` anchors in order, the order of
:func:`thalweg.detection.anchor_grid` — and the maps are concatenated: one tensor
``(B, A, V)`` whose last axis is ``offsets (4) | class scores (C + 1)``, what
:func:`thalweg.losses.multibox_loss` takes once split.
"""

from __future__ import annotations

import numpy as np

from thalweg.autograd import functional as F
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError
from thalweg.nn.layers import (
    LAYER_CONFIG,
    MAX_WIDTH,
    Sequential,
    layer_to_config,
    output_shape,
    register_layer,
)
from thalweg.nn.module import Module
from thalweg.schema import Integer, Lazy, ListOf, Record

MAX_MAPS = 100  # feature maps (stages, heads) a saved network may declare

__all__ = ["SSDNetwork"]


@register_layer
class SSDNetwork(Module):
    """Stages of a backbone and one prediction head per stage's output.

    Parameters
    ----------
    stages : sequence of Module
        ``stages[0]`` maps the image to the first (finest) feature map, ``stages[i]``
        map ``i - 1`` to map ``i``.
    heads : sequence of Module
        One per stage: feature map ``(B, c_i, H_i, W_i)`` -> ``(B, k_i·V, H_i, W_i)``
        (a 3×3 convolution, usually).
    values_per_anchor : int
        ``V = 4 + C + 1``: four offsets and the class scores, background first.

    Output: ``(B, A, V)`` with ``A = Σ H_i·W_i·k_i``.

    >>> import thalweg
    >>> from thalweg import nn
    >>> net = SSDNetwork(
    ...     [nn.Conv2d(1, 4, 3, stride=2, padding=1, rng=0), nn.MaxPool2d(2)],
    ...     [nn.Conv2d(4, 2 * 6, 3, padding=1, rng=1), nn.Conv2d(4, 1 * 6, 3, padding=1, rng=2)],
    ...     values_per_anchor=6,
    ... )
    >>> net(thalweg.zeros(3, 1, 16, 16)).shape  # 8·8·2 + 4·4·1 anchors
    (3, 144, 6)
    """

    config_schema = Record(
        required={
            "stages": ListOf(
                Lazy(lambda: LAYER_CONFIG, "a layer"), min_items=1, max_items=MAX_MAPS
            ),
            "heads": ListOf(Lazy(lambda: LAYER_CONFIG, "a layer"), min_items=1, max_items=MAX_MAPS),
            "values_per_anchor": Integer(6, MAX_WIDTH),
        }
    )

    def __init__(self, stages, heads, values_per_anchor: int):
        super().__init__()
        stages, heads = list(stages), list(heads)
        if not stages or len(stages) != len(heads):
            raise ValueError(
                f"SSDNetwork: give one head per stage (at least one); got {len(stages)} "
                f"stages and {len(heads)} heads"
            )
        if int(values_per_anchor) < 6:
            raise ValueError(
                "SSDNetwork: values_per_anchor is 4 offsets + background + at least one class"
            )
        self.stages = Sequential(*stages)
        self.heads = Sequential(*heads)
        self.values_per_anchor = int(values_per_anchor)

    def forward(self, x: Tensor) -> Tensor:
        values = self.values_per_anchor
        outputs = []
        for stage, head in zip(self.stages.layers, self.heads.layers, strict=True):
            x = stage(x)
            scores = head(x)  # (B, k·V, H, W)
            batch, channels, height, width = scores.shape
            if channels % values:
                raise ShapeError(
                    f"SSDNetwork: a head gave {channels} channels, not a multiple of "
                    f"values_per_anchor={values}"
                )
            per_location = scores.permute(0, 2, 3, 1)  # (B, H, W, k·V)
            outputs.append(
                per_location.reshape(batch, height * width * (channels // values), values)
            )
        return outputs[0] if len(outputs) == 1 else F.concat(outputs, axis=1)

    def extra_repr(self) -> str:
        return f"{len(self.stages)} feature maps, values_per_anchor={self.values_per_anchor}"

    def to_config(self) -> dict:
        return {
            "stages": [layer_to_config(stage) for stage in self.stages.layers],
            "heads": [layer_to_config(head) for head in self.heads.layers],
            "values_per_anchor": self.values_per_anchor,
        }

    # ------------------------------------------------------------ saved as data
    @classmethod
    def sublayers(cls, config: dict) -> list[tuple[str, dict]]:
        """The stages' and heads' configs with their names, in parameter order."""
        if len(config["stages"]) != len(config["heads"]):
            raise ValueError(
                f"an SSDNetwork has one head per stage, but this one declares "
                f"{len(config['stages'])} stages and {len(config['heads'])} heads"
            )
        return [(f"stages.{i}", spec) for i, spec in enumerate(config["stages"])] + [
            (f"heads.{i}", spec) for i, spec in enumerate(config["heads"])
        ]

    @classmethod
    def from_sublayers(cls, config: dict, built: dict) -> SSDNetwork:
        """The network around its rebuilt stages and heads."""
        count = len(config["stages"])
        return cls(
            [built[f"stages.{i}"] for i in range(count)],
            [built[f"heads.{i}"] for i in range(count)],
            config["values_per_anchor"],
        )

    @classmethod
    def output_shape(cls, config: dict, shape, sizes: list | None = None) -> tuple[int, int]:
        """``(C, H, W)`` -> ``(A, V)``, from the config alone (``sizes`` gets what each
        layer holds for one image, as :func:`thalweg.nn.layers.output_shape`)."""
        values, anchors = config["values_per_anchor"], 0
        for index, (stage, head) in enumerate(zip(config["stages"], config["heads"], strict=True)):
            try:
                shape = output_shape(stage, shape, sizes)
                scores = output_shape(head, shape, sizes)
            except ValueError as error:
                raise ValueError(f"feature map {index}: {error}") from None
            if len(scores) != 3 or scores[0] % values:
                raise ValueError(
                    f"head {index} gives shape {scores}, not (k·{values}, H, W) anchor scores"
                )
            anchors += scores[0] // values * scores[1] * scores[2]
        if sizes is not None:
            sizes.append(int(np.prod((anchors, values), dtype=object)))
        return anchors, values
