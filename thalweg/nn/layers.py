"""Layers: ``Linear``, activations, ``Dropout``, ``Sequential``.

Each built-in layer can describe itself as a small JSON-able config
(``to_config()``) and be rebuilt from it (``layer_from_config``), so a saved model file
holds its architecture as data, never as code. :data:`LAYER_CONFIG` describes those
configs; a file's architecture is checked against it, and the weights it declares
(:func:`parameter_shapes`) against the arrays stored, before any layer is built.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from thalweg import backend
from thalweg.autograd.ops import elementwise, linalg
from thalweg.autograd.ops import random as random_ops
from thalweg.autograd.tensor import Tensor
from thalweg.nn import init
from thalweg.nn.module import Module, Parameter
from thalweg.schema import (
    Boolean,
    Integer,
    Lazy,
    ListOf,
    Number,
    OneOf,
    Record,
    Schema,
    Tagged,
    Text,
)


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

    @classmethod
    def from_arrays(
        cls, weight: np.ndarray, bias: np.ndarray | None = None, weight_init: str = "glorot_uniform"
    ) -> Linear:
        """A layer whose parameters *are* these arrays: nothing is initialised or copied.

        ``weight`` is ``(in_features, out_features)``, ``bias`` ``(out_features,)``. This is
        how a saved model is rebuilt: the stored weights are the only allocation.

        >>> layer = Linear.from_arrays(np.ones((3, 2), np.float32), np.zeros(2, np.float32))
        >>> layer
        Linear(in_features=3, out_features=2, bias=True)
        """
        weight = np.asarray(weight)
        if weight.ndim != 2 or weight.dtype.kind != "f":
            raise ValueError(
                f"Linear weight must be a 2-D float array, got {weight.dtype} {weight.shape}"
            )
        if bias is not None and (np.shape(bias) != weight.shape[1:] or bias.dtype != weight.dtype):
            raise ValueError(
                f"Linear bias must be ({weight.shape[1]},) {weight.dtype}, got "
                f"{np.asarray(bias).dtype} {np.shape(bias)}"
            )
        layer = cls.__new__(cls)
        Module.__init__(layer)
        layer.in_features, layer.out_features = weight.shape
        layer.weight_init = weight_init
        layer.weight = Parameter(weight)
        layer.bias = Parameter(bias) if bias is not None else None
        return layer

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

    ``rng`` (a seed or ``numpy.random.Generator``) gives the layer a random stream of
    its own; without one it draws from the global generator (``thalweg.manual_seed``).
    Either way a training ``Checkpoint`` saves that stream, so a resumed run draws the
    same masks as an uninterrupted one.

    >>> import thalweg
    >>> layer = Dropout(0.5, rng=0)
    >>> layer(thalweg.ones(1, 4)).tolist()  # kept elements are scaled by 1/(1 - p)
    [[2.0, 0.0, 0.0, 0.0]]
    >>> layer.eval()(thalweg.ones(1, 4)).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
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
        # One op draws the mask (from the layer's generator, or the global one when None)
        # and applies it; its backward applies the same mask to the gradient.
        return random_ops.Dropout.apply(x, p=self.p, rng=self.rng)

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
        # The noise is a constant to the graph: the gradient passes through unchanged.
        return random_ops.GaussianNoise.apply(x, std=self.std, rng=self.rng)

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
    """Class decorator: make a built-in layer known to ``layer_from_config``, and its
    config to :data:`LAYER_CONFIG` (the layers in ``conv.py``, ``pooling.py``,
    ``normalization.py`` register themselves).

    The class declares ``config_schema`` (a :class:`~thalweg.schema.Record` describing
    what its ``to_config`` writes: a file's config is checked against it before anything
    is built) and, where they apply, these classmethods, which read a checked config and
    build nothing:

    * ``stored_arrays(config) -> {name: (shape, dtype)}``: its parameters and buffers
      (ValueError when the config contradicts itself, e.g. ``groups`` that do not divide
      the channels), the parameters first and in the order ``named_parameters`` lists
      them; a class attribute ``stored_buffers`` names those that are buffers (saved,
      never trained: an optimizer holds no state for them);
    * ``from_stored(config, arrays)``: the layer holding those arrays, nothing
      initialised (how a saved model is rebuilt);
    * ``output_shape(config, shape)``: the shape of one example's output for an input of
      ``shape`` (no batch axis; ValueError when it does not fit), and
      ``workspace_elements(config, shape)``: numbers it holds besides its output while
      computing it (a convolution's columns).

    A layer made of other layers (``SSDNetwork``) declares instead
    ``sublayers(config) -> [(name, spec), ...]`` (its children's configs, in the order
    ``named_parameters`` lists them), ``from_sublayers(config, built)`` (itself from
    ``{name: child}``) and ``output_shape(config, shape, sizes)`` (``sizes`` as in
    :func:`output_shape`); the functions here recurse into the children.
    """
    schema = getattr(cls, "config_schema", None)
    if not isinstance(schema, Record):
        raise TypeError(
            f"{cls.__name__}: a registered layer declares config_schema (a thalweg.schema "
            "Record of what to_config writes), so that model files holding it can be checked"
        )
    LAYERS[cls.__name__] = cls
    _LAYER_CONFIGS[cls.__name__] = _with_config(schema)
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


# The largest layer width a config may declare; the real limit is the memory check.
MAX_WIDTH = 2**31 - 1
FLOAT_DTYPES = ("float32", "float64")


def _with_config(config: Record) -> Record:
    return Record(required={"class": Text(), "config": config})


def pair_schema(minimum: int = 1) -> Schema:
    """A size given as one integer or a pair of them (what ``to_config`` writes for a
    kernel, a stride, a padding), each at least ``minimum``."""
    number = Integer(minimum, MAX_WIDTH)
    return OneOf(number, ListOf(number, min_items=2, max_items=2))


# Configs of the layers defined here; registered layers add theirs (register_layer).
_LAYER_CONFIGS: dict[str, Record] = {
    "Linear": _with_config(
        Record(
            required={
                "in_features": Integer(1, MAX_WIDTH),
                "out_features": Integer(1, MAX_WIDTH),
            },
            optional={
                "bias": Boolean(),
                "weight_init": Text(choices=sorted(init.INITIALIZERS)),
                "dtype": Text(choices=FLOAT_DTYPES),
            },
        )
    ),
    "ReLU": Record(required={"class": Text()}, optional={"config": Record()}),
    "Tanh": Record(required={"class": Text()}, optional={"config": Record()}),
    "Sigmoid": Record(required={"class": Text()}, optional={"config": Record()}),
    "Identity": Record(required={"class": Text()}, optional={"config": Record()}),
    "LeakyReLU": Record(
        required={"class": Text()},
        optional={"config": Record(optional={"negative_slope": Number(finite=True)})},
    ),
    "Dropout": Record(
        required={"class": Text()},
        optional={"config": Record(optional={"p": Number(finite=True, minimum=0)})},
    ),
    "GaussianNoise": Record(
        required={"class": Text()},
        optional={"config": Record(optional={"std": Number(finite=True, minimum=0)})},
    ),
    "Sequential": _with_config(
        Record(
            required={"layers": ListOf(Lazy(lambda: LAYER_CONFIG, "a layer"), max_items=100_000)}
        )
    ),
    "Standardized": _with_config(
        Record(
            required={
                "layer": Lazy(lambda: LAYER_CONFIG, "a layer"),
                "mean": ListOf(Number(finite=True)),
                "scale": ListOf(Number(finite=True, minimum=1e-300)),
            }
        )
    ),
}

#: What ``layer_to_config`` writes, for every built-in layer (checked before building).
LAYER_CONFIG = Tagged("class", _LAYER_CONFIGS)


def parameter_shapes(
    spec: dict, prefix: str = "", *, buffers: bool = True
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The arrays a layer config declares, parameters and buffers (a batch norm's running
    statistics): ``{name: (shape, dtype)}``, no layer built, in the order
    ``named_parameters`` lists the parameters; ValueError when the config contradicts
    itself. ``buffers=False``: the trainable parameters only (what an optimizer holds
    state for; a layer names its buffers in ``stored_buffers``).

    ``spec`` must already satisfy :data:`LAYER_CONFIG`.

    >>> parameter_shapes({"class": "Linear", "config": {"in_features": 3, "out_features": 2}})
    {'weight': ((3, 2), dtype('float32')), 'bias': ((2,), dtype('float32'))}
    >>> norm = {"class": "BatchNorm1d", "config": {"num_features": 2}}
    >>> list(parameter_shapes(norm)), list(parameter_shapes(norm, buffers=False))
    (['weight', 'bias', 'running_mean', 'running_var'], ['weight', 'bias'])
    """
    config = spec.get("config", {})
    name = spec["class"]
    if name == "Sequential":
        shapes = {}
        for index, layer in enumerate(config["layers"]):
            shapes.update(parameter_shapes(layer, f"{prefix}{index}.", buffers=buffers))
        return shapes
    if name == "Standardized":
        inner = config["layer"]
        widths = {len(config["mean"]), len(config["scale"])}
        if inner["class"] != "Linear" or widths != {inner["config"]["in_features"]}:
            raise ValueError(
                "a Standardized layer wraps a Linear layer, with one mean and one scale per input"
            )
        return parameter_shapes(inner, f"{prefix}layer.", buffers=buffers)
    if hasattr(LAYERS.get(name), "sublayers"):
        shapes = {}
        for key, layer in LAYERS[name].sublayers(config):
            shapes.update(parameter_shapes(layer, f"{prefix}{key}.", buffers=buffers))
        return shapes
    if name != "Linear":
        declared = getattr(LAYERS[name], "stored_arrays", None)
        if declared is None:
            return {}
        skipped = () if buffers else getattr(LAYERS[name], "stored_buffers", ())
        return {
            f"{prefix}{key}": value for key, value in declared(config).items() if key not in skipped
        }
    dtype = np.dtype(config.get("dtype", backend.get_default_dtype()))
    shapes = {f"{prefix}weight": ((config["in_features"], config["out_features"]), dtype)}
    if config.get("bias", True):
        shapes[f"{prefix}bias"] = ((config["out_features"],), dtype)
    return shapes


def layer_from_config(spec: dict, weights: Mapping[str, np.ndarray] | None = None) -> Module:
    """Rebuild a built-in layer from ``layer_to_config`` output (only known classes).

    Without ``weights`` the layers are initialised as new (after checking that they fit
    in memory). With ``weights`` (``{dotted name: array}``, e.g. a file's stored arrays,
    whose shapes the caller checked against :func:`parameter_shapes`) the layers hold
    those arrays and nothing is initialised.
    """
    name = spec.get("class") if isinstance(spec, dict) else None
    if name not in LAYERS:
        raise ValueError(f"unknown layer class {name!r}; known: {sorted(LAYERS)}")
    if weights is None:
        from thalweg.limits import check_memory

        total = sum(
            int(np.prod(shape, dtype=object)) * dtype.itemsize
            for shape, dtype in parameter_shapes(spec).values()
        )
        check_memory(total, "building this network", "declare smaller layers")
    return _build(spec, weights, "")


def _build(spec: dict, weights, prefix: str) -> Module:
    name = spec["class"]
    config = dict(spec.get("config", {}))
    if name == "Sequential":
        return Sequential(
            *(_build(s, weights, f"{prefix}{i}.") for i, s in enumerate(config.get("layers", [])))
        )
    if name == "Linear" and weights is not None:
        bias = weights[f"{prefix}bias"] if config.get("bias", True) else None
        return Linear.from_arrays(
            weights[f"{prefix}weight"], bias, config.get("weight_init", "glorot_uniform")
        )
    if name == "Standardized":
        inner = _build(config["layer"], weights, f"{prefix}layer.")
        return Standardized(inner, config["mean"], config["scale"])
    cls = LAYERS[name]
    if hasattr(cls, "sublayers"):
        built = {key: _build(sub, weights, f"{prefix}{key}.") for key, sub in cls.sublayers(config)}
        return cls.from_sublayers(config, built)
    if weights is not None and hasattr(cls, "from_stored"):
        arrays = {key: weights[f"{prefix}{key}"] for key in cls.stored_arrays(config)}
        return cls.from_stored(config, arrays)
    return cls(**config)


def output_shape(spec: dict, shape, sizes: list[int] | None = None) -> tuple[int, ...]:
    """The shape of one example's output from the layers ``spec`` describes, for an input
    of ``shape`` (no batch axis), computed from the config alone: nothing is built.

    ``sizes``, if given, receives the numbers each layer holds for one example (its
    output, and a convolution's columns), to bound what a forward pass allocates. A
    layer that cannot take what the one before gives raises ValueError naming both.

    >>> net = {"class": "Sequential", "config": {"layers": [
    ...     {"class": "Flatten", "config": {}},
    ...     {"class": "Linear", "config": {"in_features": 12, "out_features": 2}}]}}
    >>> output_shape(net, (3, 2, 2))
    (2,)
    """
    shape = tuple(int(s) for s in shape)
    name, config = spec["class"], spec.get("config", {})
    if name == "Sequential":
        for index, layer in enumerate(config["layers"]):
            try:
                shape = output_shape(layer, shape, sizes)
            except ValueError as error:
                raise ValueError(f"layer {index} ({layer['class']}): {error}") from None
        return shape
    if name == "Standardized":
        return output_shape(config["layer"], shape, sizes)
    if name == "Linear":
        if not shape or shape[-1] != config["in_features"]:
            raise ValueError(f"takes {config['in_features']} inputs, but gets shape {shape}")
        shape = (*shape[:-1], config["out_features"])
    elif hasattr(LAYERS[name], "sublayers"):
        return tuple(int(s) for s in LAYERS[name].output_shape(config, shape, sizes))
    else:
        cls = LAYERS[name]
        given = shape
        if hasattr(cls, "output_shape"):
            shape = tuple(int(s) for s in cls.output_shape(config, given))
        if sizes is not None and hasattr(cls, "workspace_elements"):
            sizes.append(int(cls.workspace_elements(config, given)))
    if sizes is not None:
        sizes.append(int(np.prod(shape, dtype=object)))
    return shape
