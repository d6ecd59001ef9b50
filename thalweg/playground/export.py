"""Take a run home: a model file ``thalweg predict`` reads, and a script that retrains it.

:func:`model_file_bytes` wraps the trained network in the estimator thalweg's command
line knows (``MLPClassifier`` or ``MLPRegressor`` inside a ``TabularModel``) with
:class:`~thalweg.data.PlaygroundFeatures` as its feature step, so
``thalweg predict model.thalweg points.csv`` takes the raw columns (``x1``, ``x2``, or
the uploaded file's) and predicts exactly what the heat map shows:

* cross-entropy classification: the network's output is the logit ``z``, so
  ``P(class 1) = σ(z)``;
* squared-loss classification (the Playground's ``tanh`` output ``o``): the page draws
  ``o = tanh(z)``; the file's logit is ``2z``, because ``σ(2z) = (tanh(z) + 1) / 2``, so
  ``P(class 1) = (o + 1) / 2`` and the class is the sign of ``o``;
* regression: the output, mapped back to the target's units.

:func:`python_script` writes a short script that rebuilds the same run with thalweg's
API (the same generator, seed, split, features, initial weights, optimizer and batches),
trains it for as many epochs and prints the losses the playground showed. A learning
rate changed or data regenerated during the run are replayed at the epochs they happened.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from thalweg import __version__, nn
from thalweg.errors import ThalwegError
from thalweg.playground.config import BUILTIN_DATASETS
from thalweg.playground.run import PlaygroundRun

__all__ = [
    "NothingToExport",
    "model_file_bytes",
    "model_filename",
    "python_script",
    "script_filename",
]

MAX_HISTORY_ROWS = 2000


def _thin(n: int) -> list[int]:
    every = max(1, -(-n // MAX_HISTORY_ROWS))
    epochs = list(range(1, n, every))
    if n > 1 and epochs[-1] != n - 1:
        epochs.append(n - 1)
    return epochs


def _trained_estimator(run: PlaygroundRun):
    """An ``MLPClassifier``/``MLPRegressor`` holding the run's weights."""
    from thalweg.models import MLPClassifier, MLPRegressor
    from thalweg.train.history import History

    config, data = run.config, run.data
    x = np.concatenate([data.train_x, data.test_x]).astype(np.float64)
    inputs = run.features.transform(x)
    codes = np.concatenate([data.train_y, data.test_y])
    settings = {
        "hidden": config.hidden,
        "activation": config.activation,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "max_epochs": 1,
        "tol": None,
        "standardize": False,
    }
    if config.is_classification:
        classes = np.asarray(data.classes)
        estimator = MLPClassifier(**settings)
        # One epoch only sets up every fitted attribute; the weights are replaced below.
        estimator.fit(inputs, classes[(codes > 0.5).astype(int)])
    else:
        estimator = MLPRegressor(**settings)
        estimator.fit(inputs, codes * data.target_scale + data.target_offset)
        estimator.y_mean_, estimator.y_scale_ = data.target_offset, data.target_scale
    # Record how the run really trained (the model file keeps these parameters).
    rate = config.regularization_rate if config.regularization != "none" else 0.0
    estimator.set_params(
        max_epochs=max(run.epoch, 1),
        l1=rate if config.regularization == "l1" else 0.0,
        l2=0.5 * rate if config.regularization == "l2" else 0.0,  # l2·Σw² = rate·½Σw²
    )
    targets = [m for m in estimator.module_.layers if isinstance(m, nn.Linear)]
    if [t.weight.shape for t in targets] != [s.weight.shape for s in run.linear_layers]:
        raise AssertionError("the exported network's layers differ from the run's")
    for target, source in zip(targets, run.linear_layers, strict=True):
        target.weight.data[...] = source.weight.data
        target.bias.data[...] = source.bias.data
    if config.is_classification and config.loss == "squared":
        targets[-1].weight.data *= 2  # logit 2z: σ(2z) = (tanh(z) + 1) / 2
        targets[-1].bias.data *= 2
    history = History()
    for epoch in _thin(len(run.history["train_loss"])):
        history.append(
            {
                "epoch": epoch,
                "loss": run.history["train_loss"][epoch],
                "val_loss": run.history["test_loss"][epoch],
            }
        )
    estimator.history_ = history
    # The one-epoch fit's optimizer knows nothing of the run's steps (and the run's own
    # trained other weights: float32, its loss and scaling), so the file keeps none:
    # partial_fit on the exported model starts a fresh optimizer.
    estimator.optimizer_ = None
    estimator.n_iter_ = run.epoch
    estimator.loss_ = run.train_loss
    _check_same_predictions(run, estimator, inputs[:256])
    return estimator


def _check_same_predictions(run: PlaygroundRun, estimator, inputs: np.ndarray) -> None:
    """Refuse to write a model file that would predict other numbers than the run shows."""
    import thalweg

    drawn = run.node_values(thalweg.tensor(inputs.astype(np.float32)))[-1][:, 0]
    if run.config.is_classification:
        expected = (drawn.astype(np.float64) + 1) / 2  # P(class 1); see the module docstring
        got = estimator.predict_proba(inputs)[:, 1]
    else:
        expected = drawn * run.data.target_scale + run.data.target_offset
        got = estimator.predict(inputs)
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max(initial=0.0)))
    if not np.allclose(got[finite], expected[finite], rtol=1e-4, atol=1e-4 * scale):
        raise AssertionError(
            "the exported estimator does not predict what the playground's network computes "
            "(a bug in thalweg.playground.export: please report it)"
        )


class NothingToExport(ThalwegError, ValueError):
    """The run has no usable network to save (its weights are not numbers)."""


def model_file_bytes(run: PlaygroundRun) -> bytes:
    """The run's network as a ``.thalweg`` model file (safetensors + JSON), as bytes.

    Raises NothingToExport when the run diverged (its weights are NaN or infinite).
    """
    from thalweg.models.tabular import TabularModel

    if not np.isfinite(run.flat_parameters()).all():
        raise NothingToExport(
            f"the run diverged: at epoch {run.epoch} its weights are not numbers, so there is "
            "no model to save; lower the learning rate, reset and train again"
        )

    data = run.data
    estimator = _trained_estimator(run)
    model = TabularModel(estimator, crosses=True)
    model.estimator_ = estimator
    model.target_ = data.target
    model.columns_ = [{"name": name, "kind": "numeric"} for name in data.columns]
    model.fill_values_ = {}
    model.crosses_ = run.features  # the Playground's features, after the data's rescaling
    model.encoder_ = None
    model.feature_names_out_ = run.features.get_feature_names_out(list(data.columns))
    model.n_dropped_ = 0
    metadata = {
        "playground": {
            "config": run.config.to_dict(),
            "epoch": run.epoch,
            "train_loss": run.train_loss,
            "test_loss": run.test_loss,
        }
    }
    with tempfile.TemporaryDirectory(prefix="thalweg-playground-") as folder:
        path = Path(folder) / "model.thalweg"
        model.save(path, metadata=metadata)
        return path.read_bytes()


def model_filename(run: PlaygroundRun) -> str:
    return f"playground-{_slug(run)}-epoch{run.epoch}.thalweg"


def script_filename(run: PlaygroundRun) -> str:
    return f"playground_{_slug(run).replace('-', '_')}.py"


def _slug(run: PlaygroundRun) -> str:
    if run.data.filename is None:
        return run.config.dataset
    stem = Path(run.data.filename).stem
    return "".join(c if c.isalnum() else "-" for c in stem)[:40] or "upload"


# ------------------------------------------------------------------------ the script


def _describe(run: PlaygroundRun) -> str:
    c = run.config
    regularization = (
        "no regularization"
        if c.regularization == "none" or not c.regularization_rate
        else f"{c.regularization.upper()} regularization at rate {c.regularization_rate:g}"
    )
    source = c.dataset if run.data.filename is None else repr(run.data.filename)
    noise = f", noise {c.noise:g}" if run.data.filename is None else ""
    return (
        f"{source}{noise}, {c.train_fraction:.0%} of the points for training, batch size "
        f"{c.batch_size}, features {', '.join(c.features)}, hidden layers "
        f"{list(c.hidden)}, {c.activation}, learning rate {_rates(run)}, "
        f"{regularization}, {c.loss.replace('_', '-')} loss, {c.optimizer} optimizer, seed "
        f"{c.seed}{_data_seeds(run)}"
    )


def _data_seeds(run: PlaygroundRun) -> str:
    """``""``, or ``, data seed 7 then 12 from epoch 40`` after Regenerate."""
    if run.initial_data_seed is None and not run.data_changes:
        return ""
    first = run.config.seed if run.initial_data_seed is None else run.initial_data_seed
    text = f", data seed {first}"
    for epoch, seed in run.data_changes:
        text += f" then {seed} from epoch {epoch}"
    return text


def _rates(run: PlaygroundRun) -> str:
    """``0.03``, or ``0.03 then 0.3 from epoch 120`` when it was changed during the run."""
    text = f"{run.initial_learning_rate:g}"
    for epoch, rate in run.learning_rate_changes:
        text += f" then {rate:g} from epoch {epoch}"
    return text


def _wrap(text: str, width: int = 88) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def python_script(run: PlaygroundRun) -> str:
    """A standalone script that retrains ``run`` and prints the same losses."""
    c, data = run.config, run.data
    n_train = len(data.train_x)
    n_total = n_train + len(data.test_x)
    squared_classification = c.is_classification and c.loss == "squared"
    lines: list[str] = []
    add = lines.append
    header = (
        f"Rebuild and retrain a thalweg playground run with thalweg's API. The run: "
        f"{_describe(run)}. The playground trained it for {run.epoch} epochs and showed "
        f"train loss {run.train_loss:.6f} and test loss {run.test_loss:.6f}; this script "
        "trains the same network on the same data from the same starting weights and "
        "prints the same losses."
    )
    add('"""' + _wrap(header))
    add("")
    add(f"    python {script_filename(run)}")
    add("")
    add(f"Written by `thalweg playground` (thalweg {__version__}).")
    add('"""')
    add("")
    if data.filename is not None:
        add("from pathlib import Path")
        add("")
    add("import numpy as np")
    add("")
    add("import thalweg")
    add("from thalweg import losses, nn, optim")
    add("from thalweg.data import PlaygroundFeatures")
    if data.filename is None:
        generator = BUILTIN_DATASETS[c.dataset][1]
        add(f"from thalweg.datasets import {generator}")
    else:
        add("from thalweg.playground.uploads import read_upload")
    add("")
    add(f"SEED = {c.seed}")
    add(f"EPOCHS = {run.epoch}")
    add(f"BATCH_SIZE = {c.batch_size}")
    changes = run.learning_rate_changes
    add(f"LEARNING_RATE = {run.initial_learning_rate!r}")
    if changes:
        add("# The learning rate was changed during the run: {epoch: rate from that epoch on}")
        add(
            "LEARNING_RATE_CHANGES = {"
            + ", ".join(f"{epoch}: {rate!r}" for epoch, rate in changes)
            + "}"
        )
    if c.regularization != "none" and c.regularization_rate:
        add(f"REGULARIZATION_RATE = {c.regularization_rate!r}  # {c.regularization.upper()}")
    add(f"N_TRAIN = {n_train}  # of {n_total} points ({c.train_fraction:.0%})")
    data_changes = run.data_changes
    data_seed = "SEED" if run.initial_data_seed is None else repr(run.initial_data_seed)
    if run.initial_data_seed is not None or data_changes:
        add("# Regenerate drew new points for the same network: the data's seed, from epoch 0,")
        add("# and {epoch: data seed from that epoch on}")
        add(f"DATA_SEED = {data_seed}")
        add(
            "DATA_SEED_CHANGES = {"
            + ", ".join(f"{epoch}: {seed!r}" for epoch, seed in data_changes)
            + "}"
        )
        data_seed = "DATA_SEED"
    add("")
    if data.filename is not None:
        add(f"# The data: {data.filename!r}, which must sit beside this script, read by the same")
        add("# reader as the playground's upload.")
        add(f"path = Path(__file__).with_name({data.filename!r})")
        add(
            f"upload = read_upload(path.read_bytes(), x1={data.columns[0]!r}, "
            f"x2={data.columns[1]!r}, label={data.target!r}, problem={c.problem!r})"
        )
        offset, scale = "upload.offset", "upload.scale"
    else:
        offset = scale = None
    add("# The network's inputs: the chosen features of each point.")
    if offset is None:
        add(f"features = PlaygroundFeatures({json.dumps(list(c.features))})")
    else:
        add("# The columns are first mapped onto [-5, 5] (x <- (x - offset) / scale).")
        add(
            f"features = PlaygroundFeatures({json.dumps(list(c.features))}, "
            f"offset={offset}, scale={scale})"
        )
    add("")
    add("")
    add("def load_data(seed):")
    add('    """The points of ``seed`` (its data stream), split: inputs, targets and batches."""')
    add("    # One seed, two independent random streams: the data's and the initial weights'.")
    add("    data_rng = np.random.default_rng(seed).spawn(2)[0]")
    if data.filename is None:
        add(f"    # {n_total} points, already shuffled by the generator.")
        add(f"    X, y, _ = {generator}(n={n_total}, noise={c.noise / 100!r}, seed=data_rng)")
        add("    y = y.astype(np.float32)")
    else:
        add("    order = data_rng.permutation(len(upload.x))")
        add("    X = upload.x[order]")
        if c.is_classification:
            add("    # class codes 0/1 (1 is the second class in sorted order, drawn blue)")
            add("    y = np.unique(upload.y, return_inverse=True)[1][order].astype(np.float32)")
        else:
            add("    # the target, moved and scaled onto [-1, 1] as the playground trains it")
            add("    y = ((upload.y[order] - upload.target_offset) / upload.target_scale)")
            add("    y = y.astype(np.float32)")
    add("    features.fit(X)  # checks the columns; nothing is learned")
    add("    train_features = features.transform(X[:N_TRAIN]).astype(np.float32)")
    add("    train_x = thalweg.tensor(train_features)")
    add("    test_x = thalweg.tensor(features.transform(X[N_TRAIN:]).astype(np.float32))")
    if squared_classification:
        add("    # The Playground's labels for the squared loss: -1 and +1.")
        add("    train_y = 2 * y[:N_TRAIN].reshape(-1, 1) - 1")
        add("    test_y = 2 * y[N_TRAIN:].reshape(-1, 1) - 1")
    else:
        add("    train_y = y[:N_TRAIN].reshape(-1, 1)")
        add("    test_y = y[N_TRAIN:].reshape(-1, 1)")
    add("    # The same batches every epoch: consecutive slices of the shuffled training points.")
    add("    batches = [")
    add("        (thalweg.tensor(train_features[start : start + BATCH_SIZE]),")
    add("         train_y[start : start + BATCH_SIZE])")
    add("        for start in range(0, N_TRAIN, BATCH_SIZE)")
    add("    ]")
    add("    return train_x, train_y, test_x, test_y, batches")
    add("")
    add("")
    add(f"train_x, train_y, test_x, test_y, batches = load_data({data_seed})")
    add("weight_rng = np.random.default_rng(SEED).spawn(2)[1]")
    add("")
    add("# The network, from the Playground's starting point: weights uniform in [-0.5, 0.5],")
    add("# biases 0.1.")
    activation = {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()"}.get(
        c.activation, "nn.Identity()"
    )
    widths = [len(c.features), *c.hidden, 1]
    add("model = nn.Sequential(")
    for i in range(len(widths) - 1):
        last = i == len(widths) - 2
        layer = f"nn.Linear({widths[i]}, {widths[i + 1]})"
        add(f"    {layer}," if last else f"    {layer}, {activation},")
    if squared_classification:
        add("    nn.Tanh(),  # the Playground's output for the squared loss")
    add(")")
    add("linear_layers = [layer for layer in model.layers if isinstance(layer, nn.Linear)]")
    add("for layer in linear_layers:")
    add("    layer.weight.data[...] = weight_rng.uniform(-0.5, 0.5, layer.weight.shape)")
    add("    layer.bias.data[...] = 0.1")
    add("weights = [layer.weight for layer in linear_layers]  # penalized; the biases are not")
    # packed=True, as the Playground itself: one flat update over a few dozen weights
    if c.optimizer == "adam":
        add("optimizer = optim.Adam(model.parameters(), lr=LEARNING_RATE, packed=True)")
    elif c.optimizer == "momentum":
        add(
            "optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=0.9, packed=True)"
        )
    else:
        add("optimizer = optim.SGD(model.parameters(), lr=LEARNING_RATE, packed=True)")
    add("")
    add("")
    add("def data_loss(output, target):")
    if c.loss == "cross_entropy":
        add('    """Cross-entropy of the logit ``output`` against 0/1 labels."""')
        add("    return losses.binary_cross_entropy_with_logits(output, target)")
    else:
        add('    """The Playground\'s loss: half the mean squared error."""')
        add("    return 0.5 * losses.mse(output, target)")
    add("")
    add("")
    add("for epoch in range(EPOCHS):")
    if data_changes:
        add("    if epoch in DATA_SEED_CHANGES:  # Regenerate: new points, same network")
        add(
            "        train_x, train_y, test_x, test_y, batches = "
            "load_data(DATA_SEED_CHANGES[epoch])"
        )
    if changes:
        add("    optimizer.lr = LEARNING_RATE_CHANGES.get(epoch, optimizer.lr)")
    add("    for inputs, targets in batches:")
    add("        loss = data_loss(model(inputs), targets)")
    if c.regularization == "l2" and c.regularization_rate:
        add("        # L2: rate · ½·Σw² over the weights")
        add("        loss = loss + (0.5 * REGULARIZATION_RATE) * losses.l2_penalty(weights)")
    add("        optimizer.zero_grad()")
    add("        loss.backward()")
    add("        optimizer.step()")
    if c.regularization == "l1" and c.regularization_rate:
        add("        # L1: a proximal step, which sets useless weights to exactly 0")
        rate = "optimizer.lr" if changes else "LEARNING_RATE"
        add(f"        optim.proximal_l1(weights, {rate} * REGULARIZATION_RATE)")
    add("")
    add("with thalweg.no_grad():")
    add("    train_output, test_output = model(train_x), model(test_x)")
    add("    train_loss = data_loss(train_output, train_y).item()")
    add("    test_loss = data_loss(test_output, test_y).item()")
    add('print(f"epoch {EPOCHS}: train loss {train_loss:.6f}, test loss {test_loss:.6f}")')
    if c.is_classification:
        add("threshold = 0.0  # class 1 where the output (logit or tanh) is >= 0")
        add("train_accuracy = np.mean((train_output.data >= threshold) == (train_y > threshold))")
        add("test_accuracy = np.mean((test_output.data >= threshold) == (test_y > threshold))")
        add('print(f"accuracy: train {train_accuracy:.3f}, test {test_accuracy:.3f}")')
    return "\n".join(lines) + "\n"
