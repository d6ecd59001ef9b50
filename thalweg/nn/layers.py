"""Layers: ``Linear``, activations, ``Dropout``, ``Sequential``.

Each built-in layer can describe itself as a small JSON-able config
(``to_config()``) and be rebuilt from it (``layer_from_config``), so a saved model file
holds its architecture as data, never as code.
"""

from __future__ import annotations

import numpy as np

from thalweg import backend
from thalweg.autograd.ops import elementwise, linalg
from thalweg.autograd.tensor import Tensor
from thalweg.nn import init
from thalweg.nn.module import Module, Parameter


class Linear(Module):
    """Fully connected layer: ``y = x @ weight + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn an additive bias (initialised to 0).
    weight_init : str
        ``"glorot_uniform"`` (default; suits tanh/sigmoid), ``"he_normal"`` (ReLU), ... —
        any name in ``thalweg.nn.init.INITIALIZERS``.
    rng : int or numpy.random.Generator, optional

    Shapes: x ``(..., in_features)`` -> ``(..., out_features)``; ``weight`` is
    ``(in_features, out_features)``, ``bias`` is ``(out_features,)``.

    >>> import thalweg
    >>> layer = Linear(3, 2, rng=0)
    >>> layer(thalweg.zeros(5, 3)).shape
    (5, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        weight_init: str = "glorot_uniform",
        rng=None,
        dtype=None,
    ):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight_init = weight_init
        dtype = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((in_features, out_features), dtype=dtype))
        init.get_initializer(weight_init)(self.weight, rng=backend.as_generator(rng))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return linalg.Linear.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def to_config(self) -> dict:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "weight_init": self.weight_init,
            "dtype": str(self.weight.dtype),
        }


class Standardized(Module):
    """A ``Linear`` layer that expects standardized inputs, fed raw ones instead.

    For features with means ``μ`` and scales ``σ``::

        ((x - μ) / σ) @ W + b  =  x @ (W / σ) + (b - μ @ (W / σ))

    so two tiny ops on the weights replace a pass over the data, and no standardized copy
    of the data is ever made. ``W`` and ``b`` stay in standardized units (so penalties
    and learning rates mean the same on any data); they are the wrapped layer's
    parameters, and its gradients flow through the two ops like any others.

    >>> import numpy as np, thalweg
    >>> layer = Linear(1, 1, rng=0)
    >>> raw = np.array([[10.0], [20.0]], dtype=np.float32)
    >>> wrapped = Standardized(layer, mean=[15.0], scale=[5.0])
    >>> standardized = layer(thalweg.tensor((raw - 15) / 5)).data
    >>> bool(np.allclose(wrapped(thalweg.tensor(raw)).data, standardized))
    True
    """

    def __init__(self, layer: Linear, mean, scale):
        super().__init__()
        self.layer = layer
        dtype = layer.weight.dtype
        self.mean = np.asarray(mean, dtype=dtype)
        self.scale = np.asarray(scale, dtype=dtype)

    def forward(self, x):
        layer = self.layer
        return linalg.StandardizedLinear.apply(x, layer.weight, layer.bias, self.mean, self.scale)

    def to_config(self) -> dict:
        return {
            "layer": layer_to_config(self.layer),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }


class ReLU(Module):
    """``max(x, 0)`` elementwise."""

    def forward(self, x):
        return elementwise.ReLU.apply(x)


class LeakyReLU(Module):
    """``x`` for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return elementwise.LeakyReLU.apply(x, negative_slope=self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def to_config(self) -> dict:
        return {"negative_slope": self.negative_slope}


class Tanh(Module):
    """``tanh(x)`` elementwise."""

    def forward(self, x):
        return elementwise.Tanh.apply(x)


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise."""

    def forward(self, x):
        return elementwise.Sigmoid.apply(x)


class Identity(Module):
    """Returns its input (the "linear" activation)."""

    def forward(self, x):
        return x


class Dropout(Module):
    """Zero each element with probability ``p`` during training, scaling the rest by
    ``1/(1-p)`` so the expected value is unchanged; the identity in ``eval()`` mode.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.rng = backend.as_generator(rng) if rng is not None else None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        rng = self.rng or backend.default_generator()
        keep = rng.random(x.shape) >= self.p
        # A constant mask: the multiply's backward applies the same mask to the gradient.
        return x * (keep * (1.0 / (1.0 - self.p))).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def to_config(self) -> dict:
        return {"p": self.p}


class GaussianNoise(Module):
    """Add Gaussian noise of standard deviation ``std`` during training; the identity in
    ``eval()`` mode. In front of an autoencoder it makes a *denoising* one: the network
    sees noisy rows and is asked for the clean ones.

    >>> import numpy as np, thalweg
    >>> layer = GaussianNoise(0.5, rng=0)
    >>> float(layer(thalweg.zeros(10_000)).data.std()).__round__(1)
    0.5
    >>> float(layer.eval()(thalweg.zeros(3)).data.std())
    0.0
    """

    def __init__(self, std: float = 0.1, rng=None):
        super().__init__()
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std = float(std)
        self.rng = backend.as_generator(rng) if rng is not None else None

    def forward(self, x):
        if not self.training or self.std == 0:
            return x
        rng = self.rng or backend.default_generator()
        # A constant to the graph: the gradient passes through the addition unchanged.
        return x + rng.normal(0.0, self.std, size=x.shape).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"std={self.std}"

    def to_config(self) -> dict:
        return {"std": self.std}


class Sequential(Module):
    """Layers applied one after another; sub-modules are named ``"0"``, ``"1"``, ...

    >>> import thalweg
    >>> net = Sequential(Linear(2, 8, rng=0), Tanh(), Linear(8, 1, rng=1))
    >>> net(thalweg.zeros(4, 2)).shape
    (4, 1)
    >>> [name for name, _ in net.named_parameters()]
    ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for index, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {index} is {type(layer).__name__}, not a Module")
            setattr(self, str(index), layer)
        # The same layers as a tuple, so forward does not search the attributes each call.
        self._layers = tuple(layers)

    @property
    def layers(self) -> list[Module]:
        return list(self._layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x):
        for layer in self._layers:
            x = layer(x)
        return x

    def to_config(self) -> dict:
        return {"layers": [layer_to_config(layer) for layer in self.children()]}


LAYERS: dict[str, type[Module]] = {
    cls.__name__: cls
    for cls in (
        Linear,
        Standardized,
        ReLU,
        LeakyReLU,
        Tanh,
        Sigmoid,
        Identity,
        Dropout,
        GaussianNoise,
        Sequential,
    )
}


def register_layer(cls: type[Module]) -> type[Module]:
    """Class decorator: make a built-in layer known to ``layer_from_config`` (the layers
    in ``conv.py``, ``pooling.py``, ``normalization.py`` register themselves)."""
    LAYERS[cls.__name__] = cls
    return cls


def layer_to_config(layer: Module) -> dict:
    """``{"class": name, "config": {...}}`` for a built-in layer (raises for custom ones)."""
    name = type(layer).__name__
    if LAYERS.get(name) is not type(layer):
        raise TypeError(
            f"{name} is not a built-in layer, so its architecture cannot be saved as data; "
            "save its weights with thalweg.save and load them with thalweg.load(path, into=model)"
        )
    config = layer.to_config() if hasattr(layer, "to_config") else {}
    return {"class": name, "config": config}


def layer_from_config(spec: dict) -> Module:
    """Rebuild a built-in layer from ``layer_to_config`` output (only known classes).

    A layer holding other layers rebuilds them itself: ``Sequential`` and
    ``Standardized`` here, any other through its ``from_config(config)`` classmethod.
    """
    name = spec.get("class")
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; known: {sorted(LAYERS)}")
    config = dict(spec.get("config", {}))
    if name == "Sequential":
        return Sequential(*(layer_from_config(s) for s in config.get("layers", [])))
    if name == "Standardized":
        return Standardized(layer_from_config(config["layer"]), config["mean"], config["scale"])
    if hasattr(LAYERS[name], "from_config"):
        return LAYERS[name].from_config(config)
    return LAYERS[name](**config)
