"""The binary frames the playground streams to the page over its WebSocket.

One frame is one picture of a run: its numbers, every weight and bias, the losses of
the epochs since the previous frame, the big heat map and every node's small one. The
heat maps travel as bytes, one per cell, not as JSON lists of floats.

Layout (little-endian; every array starts on a 4-byte boundary)::

    offset  size               what
    0       4                  b"TWF1"
    4       4                  uint32 H: length of the header in bytes (a multiple of 4)
    8       H                  UTF-8 JSON header, padded with spaces
    8+H     4·n_parameters     float32: each layer's weight (in × out, row-major), bias
            8·n_history        float32 pairs (train loss, test loss), oldest epoch first
            grid²              uint8: the big heat map, row 0 at the top (x2 = 6)
            n_maps·thumbnail²  uint8: the node maps: the 7 input features, the hidden
                               neurons layer by layer, the output

The header holds ``epoch``, ``train_loss``, ``test_loss`` (``train_accuracy`` and
``test_accuracy`` for classification; null when not a finite number), ``diagnosis``,
``playing``, ``focus`` (the node the big map shows; null for the output), ``seq``,
``grid``, ``thumbnail``, ``n_parameters``, ``n_history`` and ``n_maps``.

A cell's byte ``q`` stands for a value ``v`` in [-1, 1] (values outside are clamped, as
the Playground's colours are): ``q = 128 + round(127·v)`` for ``v >= 0`` and
``127 + round(127·v)`` for ``v < 0``, so ``q >= 128`` exactly when ``v >= 0`` (the
page's "discretize output" keeps the engine's sign). NaN is drawn as 0.

>>> quantize(np.array([-1.0, -0.001, 0.0, 0.5, 1.0, 7.0]))
array([  0, 127, 128, 192, 255, 255], dtype=uint8)
>>> dequantize(quantize(np.array([-1.0, 0.5]))).round(3).tolist()
[-1.0, 0.504]
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

__all__ = ["MAGIC", "decode_frame", "dequantize", "encode_frame", "json_safe", "quantize"]

MAGIC = b"TWF1"


def quantize(values: np.ndarray) -> np.ndarray:
    """Values (clamped to [-1, 1]) as bytes that keep their sign; see the module docstring."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    scaled = np.rint(np.clip(v, -1.0, 1.0) * 127.0)
    return (scaled + np.where(v >= 0, 128.0, 127.0)).astype(np.uint8)


def dequantize(cells: np.ndarray) -> np.ndarray:
    """The value each byte stands for (the inverse of :func:`quantize` up to rounding)."""
    q = np.asarray(cells, dtype=np.float64)
    return np.where(q >= 128, q - 128.0, q - 127.0) / 127.0


def json_safe(value):
    """``value`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def encode_frame(
    header: dict,
    parameters: np.ndarray,
    history: np.ndarray,
    heatmap: np.ndarray,
    maps: np.ndarray,
) -> bytes:
    """Pack one frame (see the module docstring).

    ``parameters`` float32 ``(n_parameters,)``; ``history`` float32 ``(n_history, 2)``;
    ``heatmap`` uint8 ``(grid²,)``; ``maps`` uint8 ``(n_maps, thumbnail²)``.
    """
    header = dict(header)
    header.update(n_parameters=int(parameters.size), n_history=len(history), n_maps=len(maps))
    text = json.dumps(json_safe(header), separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)
    return b"".join(
        [
            MAGIC,
            struct.pack("<I", len(text)),
            text,
            np.ascontiguousarray(parameters, dtype="<f4").tobytes(),
            np.ascontiguousarray(history, dtype="<f4").tobytes(),
            np.ascontiguousarray(heatmap, dtype=np.uint8).tobytes(),
            np.ascontiguousarray(maps, dtype=np.uint8).tobytes(),
        ]
    )


def decode_frame(frame: bytes) -> dict:
    """Unpack a frame: the header's keys plus ``parameters``, ``history``, ``heatmap``
    ``(grid, grid)`` and ``maps`` ``(n_maps, thumbnail, thumbnail)`` (bytes, as sent)."""
    if frame[:4] != MAGIC:
        raise ValueError("not a playground frame (it does not start with TWF1)")
    (length,) = struct.unpack("<I", frame[4:8])
    header = json.loads(frame[8 : 8 + length])
    at = 8 + length
    out = dict(header)
    n = header["n_parameters"]
    out["parameters"] = np.frombuffer(frame, dtype="<f4", count=n, offset=at)
    at += 4 * n
    k = header["n_history"]
    out["history"] = np.frombuffer(frame, dtype="<f4", count=2 * k, offset=at).reshape(k, 2)
    at += 8 * k
    grid, thumb = header["grid"], header["thumbnail"]
    out["heatmap"] = np.frombuffer(frame, dtype=np.uint8, count=grid * grid, offset=at).reshape(
        grid, grid
    )
    at += grid * grid
    m = header["n_maps"]
    out["maps"] = np.frombuffer(frame, dtype=np.uint8, count=m * thumb * thumb, offset=at).reshape(
        m, thumb, thumb
    )
    return out
