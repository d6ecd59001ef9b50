"""One playground run on thalweg's engine: the network, its training, and its pictures.

Everything here uses thalweg's public API (``thalweg.nn``, ``thalweg.optim``,
``thalweg.losses``) exactly as a user would, so the script that
``GET /api/sessions/{id}/export/python`` writes can rebuild the same run line for line
and reach the same loss.

The network follows the Playground:

* inputs are the chosen features of each point (:class:`thalweg.data.PlaygroundFeatures`);
* every weight starts uniform in [-0.5, 0.5] and every bias at 0.1;
* the output is one number. For classification with the cross-entropy loss it is a
  logit ``z`` (class 1 when ``z >= 0``), drawn as ``tanh(z/2) = 2·P(class 1) - 1``; with
  the squared loss it is ``tanh(z)`` trained towards -1/+1, as in the Playground, whose
  loss is ``½·mean((output - target)²)``. For regression it is linear, squared loss;
* the batches are consecutive slices of the (once shuffled) training points, the same
  every epoch, as in the Playground; the gradient is the batch's mean;
* L2 adds ``rate · ½·Σw²`` to the loss; L1 takes a proximal step after each update
  (``thalweg.optim.proximal_l1``), which sets useless weights to exactly 0, as the
  Playground's clipping does. Biases are never penalized; the losses shown are the data
  losses, without the penalty.

>>> from thalweg.playground.config import normalize_config
>>> run = PlaygroundRun(normalize_config({"dataset": "gauss", "seed": 3}))
>>> before = run.train_loss
>>> run.train(20)
>>> run.epoch, run.train_loss < before
(20, True)
"""

from __future__ import annotations

import dataclasses
import math
from array import array

import numpy as np

import thalweg
from thalweg import losses, nn, optim
from thalweg.data.features import PlaygroundFeatures
from thalweg.playground.config import FEATURES, RunConfig
from thalweg.playground.data import RunData, build_run_data, data_generator, run_generators
from thalweg.playground.diagnosis import Diagnosis
from thalweg.playground.uploads import UploadedDataset

__all__ = [
    "ACTIVATION_LAYERS",
    "DOMAIN",
    "GRID_SIZE",
    "THUMBNAIL_SIZE",
    "PlaygroundRun",
    "build_network",
    "grid_points",
    "make_optimizer",
]

DOMAIN = 6.0  # the heat maps cover [-6, 6]², like the Playground's
GRID_SIZE = 100  # cells per side of the big heat map
THUMBNAIL_SIZE = 20  # cells per side of each neuron's small heat map
INITIAL_WEIGHT_RANGE = 0.5  # weights start uniform in [-0.5, 0.5]
INITIAL_BIAS = 0.1
MOMENTUM = 0.9
ACTIVATION_LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "linear": nn.Identity}


def grid_points(size: int) -> np.ndarray:
    """Centres of a ``size × size`` grid over [-6, 6]², row by row from the top.

    Shape ``(size², 2)``: row ``r`` has ``x2 = 6 - 12·(r + ½)/size``, column ``c`` has
    ``x1 = -6 + 12·(c + ½)/size`` (so row 0 is the top of the picture).

    >>> grid_points(2).tolist()
    [[-3.0, 3.0], [3.0, 3.0], [-3.0, -3.0], [3.0, -3.0]]
    """
    centres = -DOMAIN + 2 * DOMAIN * (np.arange(size) + 0.5) / size
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def build_network(config: RunConfig, n_inputs: int, weight_rng) -> nn.Sequential:
    """``Linear → activation → … → Linear`` (``→ Tanh`` for squared-loss classification),
    with the Playground's initial weights (uniform ±0.5) and biases (0.1).

    >>> from thalweg.playground.config import normalize_config
    >>> net = build_network(normalize_config({"hidden": [3], "seed": 0}), 2, weight_rng=0)
    >>> net
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    """
    weight_rng = np.random.default_rng(weight_rng)
    widths = [n_inputs, *config.hidden, 1]
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layer = nn.Linear(widths[i], widths[i + 1], rng=0)
        r = INITIAL_WEIGHT_RANGE
        layer.weight.data[...] = weight_rng.uniform(-r, r, layer.weight.shape)
        layer.bias.data[...] = INITIAL_BIAS
        layers.append(layer)
        if i < len(widths) - 2:
            layers.append(ACTIVATION_LAYERS[config.activation]())
    if config.is_classification and config.loss == "squared":
        layers.append(nn.Tanh())  # the Playground's output: tanh, trained towards -1/+1
    return nn.Sequential(*layers)


def make_optimizer(config: RunConfig, params) -> optim.Optimizer:
    """SGD, SGD with momentum 0.9, or Adam, at the config's learning rate.

    ``packed=True``: the Playground's networks are a few dozen weights, so one flat
    update over all of them (the same numbers) saves most of the optimizer's time.
    """
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.learning_rate, packed=True)
    momentum = MOMENTUM if config.optimizer == "momentum" else 0.0
    return optim.SGD(params, lr=config.learning_rate, momentum=momentum, packed=True)


def _cross_entropy(output, target):
    return losses.binary_cross_entropy_with_logits(output, target)


def _half_squared_error(output, target):
    return 0.5 * losses.mse(output, target)


class PlaygroundRun:
    """A network training on a playground dataset, epoch by epoch.

    Parameters
    ----------
    config : RunConfig
    upload : UploadedDataset, optional
        The uploaded data when ``config.dataset`` names an upload.
    compile : bool
        Replay each training step with ``thalweg.compile`` (the default; the same
        numbers as :meth:`gradient_step`, the eager step, which False runs instead).

    Attributes
    ----------
    data : RunData
    model : thalweg.nn.Sequential
    optimizer : thalweg.optim.Optimizer
    epoch : int
        Epochs trained so far.
    learning_rate_changes : list of (epoch, learning_rate)
        Each change of the learning rate during the run (:meth:`set_learning_rate`):
        training from epoch ``epoch`` on used ``learning_rate``. ``config.learning_rate``
        is the rate now, ``initial_learning_rate`` the one the run started with.
    data_changes : list of (epoch, data_seed)
        Each *Regenerate* during the run (:meth:`regenerate`): training from epoch
        ``epoch`` on used the points of ``data_seed``. ``initial_data_seed`` is the
        ``data_seed`` the run started with (None: the data of ``config.seed``).
    history : dict of name -> array of float
        ``train_loss``, ``test_loss`` (and ``train_accuracy``, ``test_accuracy`` for
        classification) after each epoch, starting with epoch 0 (before training).
    """

    def __init__(
        self, config: RunConfig, upload: UploadedDataset | None = None, compile: bool = True
    ):
        self.config = config
        self.upload = upload
        _, weight_rng = run_generators(config.seed)
        data = build_run_data(config, data_generator(config), upload)
        self.features = PlaygroundFeatures(config.features, data.offset, data.scale)
        self.features.fit(data.train_x)
        self._use_data(data)

        self.model = build_network(config, len(config.features), weight_rng)
        self.layers = self.model.layers
        self.linear_layers = [layer for layer in self.layers if isinstance(layer, nn.Linear)]
        self.weights = [layer.weight for layer in self.linear_layers]
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.loss_function = (
            _cross_entropy if config.loss == "cross_entropy" else _half_squared_error
        )
        rate = config.regularization_rate
        self.l2_factor = 0.5 * rate if config.regularization == "l2" and rate > 0 else 0.0
        self.l1_threshold = (
            config.learning_rate * rate if config.regularization == "l1" and rate > 0 else 0.0
        )
        # A playground network is tiny: most of an eager step is Python bookkeeping, so
        # the step is traced once and replayed (thalweg.compile; the same weights bit for
        # bit). ``compile=False`` trains with gradient_step as written.
        self.compile = compile
        self._compiled_step = thalweg.compile(self.gradient_step, cache_size=2, fallback=True)
        # The index in self.layers of each hidden layer's activation: its output is the
        # hidden layer's output.
        activations = [
            i + 1 for i, layer in enumerate(self.layers[:-1]) if isinstance(layer, nn.Linear)
        ]
        if config.is_classification and config.loss == "squared":
            activations = activations[:-1]  # that one is the output's tanh
        self.hidden_activations = frozenset(activations)

        self.epoch = 0
        self.initial_learning_rate = config.learning_rate
        self.learning_rate_changes: list[tuple[int, float]] = []
        self.initial_data_seed = config.data_seed
        self.data_changes: list[tuple[int, int]] = []
        names = ["train_loss", "test_loss"]
        if config.is_classification:
            names += ["train_accuracy", "test_accuracy"]
        self.history = {name: array("d") for name in names}
        self.diagnosis = Diagnosis()
        self.dead_layers: tuple[int, ...] = ()
        self._grid_inputs = thalweg.tensor(self.input_features(self._raw(grid_points(GRID_SIZE))))
        self._thumbnail_inputs = thalweg.tensor(
            self.input_features(self._raw(grid_points(THUMBNAIL_SIZE)))
        )
        all_features = PlaygroundFeatures(FEATURES, data.offset, data.scale).fit(data.train_x)
        # Every feature's values, for the input thumbnails (also those not chosen).
        self.feature_grid = all_features.transform(self._raw(grid_points(GRID_SIZE)))
        self.feature_thumbnails = all_features.transform(self._raw(grid_points(THUMBNAIL_SIZE)))
        self._grid_cache: tuple[int, list[np.ndarray]] | None = None
        self._evaluate()

    # ------------------------------------------------------------------ data
    def _use_data(self, data: RunData) -> None:
        """Train and evaluate on ``data`` from now on: inputs, targets and batches."""
        self.data = data
        train_features = self.input_features(data.train_x)
        self.train_inputs = thalweg.tensor(train_features)
        self.test_inputs = thalweg.tensor(self.input_features(data.test_x))
        self.train_targets = self._targets(data.train_y)
        self.test_targets = self._targets(data.test_y)
        size = self.config.batch_size
        self.batches = [
            (
                thalweg.tensor(train_features[start : start + size]),
                self.train_targets[start : start + size],
            )
            for start in range(0, len(train_features), size)
        ]

    def regenerate(self, data_seed: int) -> None:
        """Train on new points from now on: those that ``data_seed`` gives, same network.

        As the TensorFlow Playground's *Regenerate*: new data (same dataset, noise and
        ratio; an upload is shuffled and split anew), while the weights, the optimizer's
        state, the epoch count and the history carry on. The losses of the current epoch
        are recomputed on the new points (the chart's last point moves), and the
        diagnosis starts afresh (the old lowest losses were on other points). The change
        is recorded in :attr:`data_changes` (the exported script replays it).
        """
        self.config = dataclasses.replace(self.config, data_seed=data_seed)
        self._use_data(build_run_data(self.config, data_generator(self.config), self.upload))
        if self.epoch == 0:
            self.initial_data_seed = data_seed  # nothing trained yet: the run starts here
        else:
            if self.data_changes and self.data_changes[-1][0] == self.epoch:
                self.data_changes.pop()  # regenerated twice before training on
            self.data_changes.append((self.epoch, data_seed))
        for values in self.history.values():
            values.pop()  # this epoch's losses were on the old points
        self.diagnosis = Diagnosis()
        self._evaluate()

    def _raw(self, plane: np.ndarray) -> np.ndarray:
        """Heat-map coordinates -> the data's own units."""
        return plane * np.asarray(self.data.scale) + np.asarray(self.data.offset)

    def input_features(self, x: np.ndarray) -> np.ndarray:
        """The network's float32 input for raw points ``x`` ``(n, 2)``."""
        return self.features.transform(x).astype(np.float32)

    def _targets(self, y: np.ndarray) -> np.ndarray:
        y = y.astype(np.float32).reshape(-1, 1)
        if self.config.is_classification and self.config.loss == "squared":
            return 2 * y - 1  # the Playground's labels: -1 and +1
        return y

    @property
    def n_parameters(self) -> int:
        return sum(p.data.size for p in self.model.parameters())

    # ------------------------------------------------------------------ training
    def train(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs: one pass over the training batches each, then evaluate."""
        for _ in range(epochs):
            self.train_epoch()

    def set_learning_rate(self, learning_rate: float) -> None:
        """Train with ``learning_rate`` from the next step on.

        As in the TensorFlow Playground, this is the one setting that does not start a
        new run: the weights, the optimizer's state (momentum, Adam's moments), the epoch
        count and the history carry on. L1's proximal step follows the new rate too.
        The change is recorded in :attr:`learning_rate_changes` (the exported script
        replays it).
        """
        if learning_rate == self.config.learning_rate:
            return
        self.config = dataclasses.replace(self.config, learning_rate=learning_rate)
        self.optimizer.lr = learning_rate
        if self.l1_threshold:
            self.l1_threshold = learning_rate * self.config.regularization_rate
        if self.learning_rate_changes and self.learning_rate_changes[-1][0] == self.epoch:
            self.learning_rate_changes.pop()  # changed twice before training on: the last counts
        if learning_rate != self.learning_rate_at(self.epoch):
            self.learning_rate_changes.append((self.epoch, learning_rate))

    def learning_rate_at(self, epoch: int) -> float:
        """The learning rate that epoch ``epoch`` (counting from 0) trained with."""
        rate = self.initial_learning_rate
        for start, changed in self.learning_rate_changes:
            if start <= epoch:
                rate = changed
        return rate

    def train_epoch(self) -> None:
        """One pass over the training points in batches of ``config.batch_size``."""
        step = self._compiled_step if self.compile else self.gradient_step
        with np.errstate(all="ignore"):  # a diverging run overflows; the diagnosis says so
            for inputs, targets in self.batches:
                step(inputs, targets)
                if self.l1_threshold:
                    optim.proximal_l1(self.weights, self.l1_threshold)
            self.epoch += 1
            self._evaluate()

    def gradient_step(self, inputs, targets) -> None:
        """One step of gradient descent on a batch (with the L2 penalty, when chosen)."""
        loss = self.loss_function(self.model(inputs), targets)
        if self.l2_factor:
            loss = loss + self.l2_factor * losses.l2_penalty(self.weights)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def _evaluate(self) -> None:
        """Losses (and accuracies) on both splits, dead ReLUs, the diagnosis."""
        with thalweg.no_grad(), np.errstate(all="ignore"):
            hidden = self._forward(self.train_inputs)
            train_output = hidden.pop()
            test_output = self.model(self.test_inputs)
            train_loss = self.loss_function(train_output, self.train_targets).item()
            test_loss = self.loss_function(test_output, self.test_targets).item()
        history = self.history
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        if self.config.is_classification:
            history["train_accuracy"].append(self._accuracy(train_output, self.data.train_y))
            history["test_accuracy"].append(self._accuracy(test_output, self.data.test_y))
        if self.config.activation == "relu":
            self.dead_layers = tuple(
                k + 1 for k, values in enumerate(hidden) if not (values > 0).any()
            )
        self.diagnosis.update(self.epoch, train_loss, test_loss, self.dead_layers)

    def _forward(self, inputs) -> list[np.ndarray]:
        """Every hidden layer's output ``(n, width)``, then the network's output tensor."""
        hidden = []
        output = inputs
        for index, layer in enumerate(self.layers):
            output = layer(output)
            if index in self.hidden_activations:
                hidden.append(output.data)
        return [*hidden, output]

    @staticmethod
    def _accuracy(output, codes: np.ndarray) -> float:
        predicted = output.data[:, 0] >= 0  # logit >= 0, or tanh output >= 0
        return float(np.mean(predicted == (codes > 0.5)))

    # ------------------------------------------------------------------ reading
    def _last(self, name: str) -> float:
        return self.history[name][-1]

    @property
    def train_loss(self) -> float:
        return self._last("train_loss")

    @property
    def test_loss(self) -> float:
        return self._last("test_loss")

    def summary(self) -> dict:
        """``epoch``, ``train_loss``, ``test_loss`` (+ accuracies), ``diagnosis``.

        A loss that is not a finite number is given as None (JSON null).
        """
        result = {"epoch": self.epoch}
        for name in self.history:
            value = self._last(name)
            result[name] = value if math.isfinite(value) else None
        result["diagnosis"] = self.diagnosis.current
        return result

    def display(self, output) -> np.ndarray:
        """The output drawn in [-1, 1]: ``tanh(z/2)`` for a logit, else the output itself."""
        if self.config.loss == "cross_entropy":
            return (output * 0.5).tanh().data[:, 0]
        return output.data[:, 0]

    def node_values(self, inputs) -> list[np.ndarray]:
        """Each hidden layer's ``(n, width)`` outputs on ``inputs``, then the output drawn
        in [-1, 1] as ``(n, 1)``."""
        with thalweg.no_grad(), np.errstate(all="ignore"):
            *hidden, output = self._forward(inputs)
            return [*hidden, self.display(output)[:, None]]

    def grid_values(self) -> list[np.ndarray]:
        """:meth:`node_values` on the big grid (``GRID_SIZE²`` points), cached per epoch."""
        if self._grid_cache is None or self._grid_cache[0] != self.epoch:
            self._grid_cache = (self.epoch, self.node_values(self._grid_inputs))
        return self._grid_cache[1]

    def thumbnail_values(self) -> list[np.ndarray]:
        """:meth:`node_values` on the thumbnail grid (``THUMBNAIL_SIZE²`` points)."""
        return self.node_values(self._thumbnail_inputs)

    def flat_parameters(self) -> np.ndarray:
        """Every weight and bias as one float32 vector: layer by layer, the weight
        ``(in, out)`` row-major, then the bias."""
        return np.concatenate(
            [a.data.ravel() for layer in self.linear_layers for a in (layer.weight, layer.bias)]
        ).astype(np.float32, copy=False)
