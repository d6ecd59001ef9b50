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
from thalweg.autograd.creation import from_numpy
from thalweg.autograd.ops import normalization
from thalweg.autograd.tensor import Tensor
from thalweg.errors import ShapeError
from thalweg.nn.layers import FLOAT_DTYPES, MAX_WIDTH, register_layer
from thalweg.nn.module import Module, Parameter
from thalweg.schema import Boolean, Integer, ListOf, Number, Record, Text


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
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self._configure(num_features, eps, momentum, affine, track_running_stats, dtype)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
        else:
            self.running_mean = self.running_var = None

    def _configure(self, num_features, eps, momentum, affine, track_running_stats, dtype) -> None:
        if num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be positive")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1], got {momentum}")
        if not eps > 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.dtype = np.dtype(dtype)

    @classmethod
    def from_arrays(
        cls,
        weight: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        running_mean: np.ndarray | None = None,
        running_var: np.ndarray | None = None,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
    ):
        """A layer whose parameters and buffers *are* these arrays (nothing initialised
        or copied): ``weight`` and ``bias`` (γ, β; both or neither: ``affine``),
        ``running_mean`` and ``running_var`` (both or neither: ``track_running_stats``),
        each ``(num_features,)`` of one float dtype. How a saved model is rebuilt.

        >>> import numpy as np
        >>> ones = np.ones(3, np.float32)
        >>> BatchNorm1d.from_arrays(ones, 0 * ones, 0 * ones, ones)
        BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True)
        """
        name = cls.__name__
        pairs = {
            "weight and bias": (weight, bias),
            "running_mean and running_var": (running_mean, running_var),
        }
        for what, (first, second) in pairs.items():
            if (first is None) != (second is None):
                raise ValueError(f"{name}: give both {what}, or neither")
        given = [np.asarray(a) for a in (weight, bias, running_mean, running_var) if a is not None]
        if not given:
            raise ValueError(f"{name}.from_arrays: no arrays given; build it with {name}(n)")
        shape, dtype = given[0].shape, given[0].dtype
        if (
            len(shape) != 1
            or dtype.kind != "f"
            or any(a.shape != shape or a.dtype != dtype for a in given)
        ):
            raise ValueError(
                f"{name}: its arrays must be float vectors of one length and dtype, got "
                + ", ".join(f"{a.dtype} {a.shape}" for a in given)
            )
        if running_var is not None and not (np.asarray(running_var) >= 0).all():
            raise ValueError(f"{name}: running_var holds a negative variance")
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer._configure(
            shape[0], eps, momentum, weight is not None, running_mean is not None, dtype
        )
        layer.weight = Parameter(weight) if weight is not None else None
        layer.bias = Parameter(bias) if bias is not None else None
        if running_mean is not None:
            layer.register_buffer("running_mean", running_mean)
            layer.register_buffer("running_var", running_var)
        else:
            layer.running_mean = layer.running_var = None
        return layer

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
            "dtype": str(self.dtype),
        }

    # ------------------------------------------------------------------ model files
    config_schema = Record(
        required={"num_features": Integer(1, MAX_WIDTH)},
        optional={
            "eps": Number(finite=True, minimum=1e-300),
            "momentum": Number(finite=True, minimum=0),
            "affine": Boolean(),
            "track_running_stats": Boolean(),
            "dtype": Text(choices=FLOAT_DTYPES),
        },
        name="a batch norm config",
    )

    #: the running statistics: saved with the weights, updated by the forward pass, never
    #: trained (no optimizer state)
    stored_buffers = ("running_mean", "running_var")

    @classmethod
    def stored_arrays(cls, config: dict) -> dict:
        """γ and β (``affine``), the running mean and variance (``track_running_stats``)."""
        shape = (config["num_features"],)
        dtype = np.dtype(config.get("dtype", backend.get_default_dtype()))
        names = []
        if config.get("affine", True):
            names += ["weight", "bias"]
        if config.get("track_running_stats", True):
            names += ["running_mean", "running_var"]
        return {name: (shape, dtype) for name in names}

    @classmethod
    def from_stored(cls, config: dict, arrays: dict):
        if not arrays:  # neither affine nor tracking: nothing stored, nothing to allocate
            return cls(**config)
        return cls.from_arrays(
            **arrays, eps=config.get("eps", 1e-5), momentum=config.get("momentum", 0.1)
        )

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, ...]:
        if len(shape) + 1 not in cls.input_ndims or shape[0] != config["num_features"]:
            raise ValueError(
                f"normalises {config['num_features']} channels on axis 1, gets shape {shape}"
            )
        return tuple(shape)


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
        # (x - mean) · (1/scale): a multiply is cheaper than a divide on every pixel. The
        # reciprocal is an op too, so thalweg.compile sees where it comes from.
        inverse_scale = 1.0 / from_numpy(self.scale.reshape(shape))
        return (x - self.mean.reshape(shape)) * inverse_scale

    def extra_repr(self) -> str:
        return f"channels={len(self.mean)}"

    def to_config(self) -> dict:
        # The values travel as buffers in the weights file; the config only sizes them.
        return {
            "mean": [0.0] * len(self.mean),
            "scale": [1.0] * len(self.mean),
            "dtype": str(self.mean.dtype),
        }

    # ------------------------------------------------------------------ model files
    config_schema = Record(
        required={
            "mean": ListOf(Number(finite=True), min_items=1),
            "scale": ListOf(Number(finite=True, minimum=1e-300), min_items=1),
        },
        optional={"dtype": Text(choices=FLOAT_DTYPES)},
        name="a Normalize config",
    )

    stored_buffers = ("mean", "scale")

    @classmethod
    def stored_arrays(cls, config: dict) -> dict:
        """The buffers ``mean`` and ``scale``, one value per channel."""
        channels = len(config["mean"])
        if len(config["scale"]) != channels:
            raise ValueError("Normalize: mean and scale need one value per channel each")
        dtype = np.dtype(config.get("dtype", backend.get_default_dtype()))
        return {"mean": ((channels,), dtype), "scale": ((channels,), dtype)}

    @classmethod
    def from_stored(cls, config: dict, arrays: dict) -> Normalize:
        """Around the stored buffers (``np.asarray`` of an array of its dtype: no copy)."""
        return cls(arrays["mean"], arrays["scale"], dtype=arrays["mean"].dtype)

    @classmethod
    def output_shape(cls, config: dict, shape) -> tuple[int, ...]:
        if not shape or shape[0] != len(config["mean"]):
            raise ValueError(f"standardizes {len(config['mean'])} channels, gets shape {shape}")
        return tuple(shape)
