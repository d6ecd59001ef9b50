"""``BatchNorm1d`` and ``BatchNorm2d``: normalise each channel over the batch.

In training mode (``module.train()``, what :func:`thalweg.train.fit` sets) a layer
normalises with the batch's own mean and variance and updates its running averages; in
evaluation mode (``module.eval()``, set by prediction) it uses the running averages, so
one example's prediction never depends on the others in its batch. The running
statistics are buffers: saved in model files with the weights, never trained. The op
and its backward live in :mod:`thalweg.autograd.ops.normalization`.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.ops import normalization
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError
from thalweg.nn.layers import register_layer
from thalweg.nn.module import Module, Parameter


class _BatchNorm(Module):
    input_ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
    ):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1], got {momentum}")
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        self.num_features = num_features
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.input_ndims or x.shape[1] != self.num_features:
            expected = " or ".join(
                {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}[n] for n in self.input_ndims
            )
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): input must be {expected} with "
                f"C = {self.num_features}, got shape {x.shape}"
            )
        # Batch statistics in training, and always without running statistics to use
        # instead; in training the op also updates the running statistics in place.
        return normalization.BatchNorm.apply(
            x,
            self.weight,
            self.bias,
            running_mean=self.running_mean,
            running_var=self.running_var,
            training=self.training or not self.track_running_stats,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )

    def to_config(self) -> dict:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": str(self.weight.dtype if self.affine else self.running_mean.dtype),
        }


@register_layer
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` features or ``(N, C, L)`` sequences, per channel.

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float
        Added to the variance before the square root.
    momentum : float
        Weight of each new batch in the running statistics.
    affine : bool
        Learn a scale ``weight`` (γ, init 1) and shift ``bias`` (β, init 0) per channel.
    track_running_stats : bool
        Keep ``running_mean`` / ``running_var`` for evaluation; without them evaluation
        uses batch statistics too.

    >>> import thalweg
    >>> layer = BatchNorm1d(3)
    >>> out = layer(thalweg.randn(8, 3))
    >>> bool(abs(out.data.mean(axis=0)).max() < 1e-5), out.shape
    (True, (8, 3))
    """

    input_ndims = (2, 3)


@register_layer
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` images, per channel (over batch and pixels).

    Parameters are those of :class:`BatchNorm1d`.

    >>> import thalweg
    >>> layer = BatchNorm2d(4).eval()
    >>> layer(thalweg.ones(2, 4, 3, 3)).shape
    (2, 4, 3, 3)
    """

    input_ndims = (4,)


@register_layer
class Normalize(Module):
    """Standardize each channel with fixed statistics: ``(x - mean[c]) / scale[c]``.

    The first layer of a network that carries its own preprocessing (an estimator's
    CNN, say), so what is saved, served or exported takes raw pixels. ``mean`` and
    ``scale`` are buffers: saved with the model, never trained. Channels are axis 1;
    works on ``(N, C)`` and ``(N, C, H, W)``.

    >>> import thalweg
    >>> layer = Normalize([0.5], [0.25])
    >>> layer(thalweg.ones(1, 1, 2, 2)).tolist()
    [[[[2.0, 2.0], [2.0, 2.0]]]]
    """

    def __init__(self, mean, scale, dtype=None):
        super().__init__()
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        mean = np.asarray(mean, dtype=dtype).reshape(-1)
        scale = np.asarray(scale, dtype=dtype).reshape(-1)
        if mean.shape != scale.shape or not np.all(scale > 0):
            raise ValueError("Normalize: mean and scale need one value per channel, scale > 0")
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != len(self.mean):
            raise ShapeError(
                f"Normalize: expected {len(self.mean)} channels on axis 1, got shape {x.shape}"
            )
        shape = (1, -1) + (1,) * (x.ndim - 2)
        # (x - mean) · (1/scale): a multiply is cheaper than a divide on every pixel.
        return (x - self.mean.reshape(shape)) * (1.0 / self.scale).reshape(shape)

    def extra_repr(self) -> str:
        return f"channels={len(self.mean)}"

    def to_config(self) -> dict:
        # The values travel as buffers in the weights file; the config only sizes them.
        return {
            "mean": [0.0] * len(self.mean),
            "scale": [1.0] * len(self.mean),
            "dtype": str(self.mean.dtype),
        }
