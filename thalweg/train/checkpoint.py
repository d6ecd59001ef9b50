"""Checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the model's weights, the optimizer's state (step count, momenta,
schedule), the epoch and the position inside it, the shuffling generator's state at the
start of that epoch (so the same shuffle order is regenerated), the state of every other
random generator the run draws from (:func:`random_streams`: the global one, which
``Dropout()`` uses, and each generator a layer holds), the seed that chose the
held-out rows of ``validation_fraction``, the history so far and the callbacks'
counters. ``fit(..., resume=path)`` then produces, bit for bit, the same result as a
run that was never interrupted.

The file is a thalweg container (safetensors + JSON, written atomically), never pickle.
Its header is described once, by :data:`CHECKPOINT_HEADER`, and checked whole, with
every stored array's shape, before anything is restored: a damaged or foreign
checkpoint is refused with one line and leaves the training state untouched (the
random generators too: a saved generator state is checked field by field, against
:data:`~thalweg.train.random_state.GENERATOR_STATE` and the generator it restores,
before any generator is given it). New fields go into the schema as optional ones, so
older checkpoints stay readable.

A checkpoint may name the run that saved it (a ``Checkpoint``'s ``fingerprint``):
:func:`checkpoint_fingerprint` reads it from the header alone, so a caller can tell its
own checkpoint from another run's before replacing, resuming or deleting it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from thalweg import backend
from thalweg.errors import FileFormatError
from thalweg.files import check_tensors, header_schema, open_container, write_container
from thalweg.schema import (
    Integer,
    Json,
    ListOf,
    MapOf,
    Number,
    Optional,
    Record,
    Text,
    check,
)
from thalweg.serialization import (
    OPTIMIZER_FIELDS,
    check_optimizer_state,
    loaded_settings,
    optimizer_to_container,
    read_optimizer_state,
    trial_optimizer_step,
)
from thalweg.train.callbacks import Callback
from thalweg.train.history import History, history_schema
from thalweg.train.random_state import (
    GENERATOR_STATE,
    check_generator_state,
    generator_state,
    module_generators,
    set_generator_state,
    state_as_json,
)

# "global", or a module's dotted path and the attribute holding its generator ("2.rng")
_STREAM_NAME = Text(pattern=r"[A-Za-z0-9_]{1,200}(\.[A-Za-z0-9_]{1,200}){0,100}", max_length=2000)

#: The whole checkpoint header.
CHECKPOINT_HEADER = header_schema(
    "checkpoint",
    required={
        "optimizer": Record(
            required=OPTIMIZER_FIELDS, optional={"kind": Text(choices=("optimizer",))}
        ),
        "epoch": Integer(minimum=0),
        "batch_in_epoch": Integer(minimum=0),
        "epoch_rng_state": Optional(GENERATOR_STATE),
        "epoch_loss_sum": Number(),
        "epoch_examples": Integer(minimum=0),
        "n_samples": Optional(Integer(minimum=0)),
        "batch_size": Optional(Integer(minimum=1)),
        # the loop's own rows: InputBalance and the progress bar read these columns
        "history": history_schema(("epoch", "loss", "seconds", "data_seconds", "examples")),
        "callbacks": ListOf(
            Record(required={"class": Text(max_length=200), "state": Json(max_depth=6)}),
            max_items=1000,
        ),
    },
    optional={
        # (format 3) the seed of the held-out rows, every other generator's state
        "split_seed": Optional(Integer(0, 2**63 - 1)),
        "random_streams": MapOf(GENERATOR_STATE, key=_STREAM_NAME, max_items=10_000),
    },
)
_CALLBACK_ARRAY = re.compile(r"callback\.([0-9]{1,4})\.(.+)")


class Checkpoint(Callback):
    """Save the training state to ``path`` every ``every`` epochs (atomically).

    ``fit`` also saves one when training is interrupted (Ctrl-C), mid-epoch, if a
    ``Checkpoint`` is among its callbacks. ``fingerprint`` (any string: a hash of the data
    and settings, say) is stored in the checkpoint; resuming from a checkpoint whose
    fingerprint differs raises a :class:`~thalweg.errors.FileFormatError` instead of
    silently mixing two runs (read it first with :func:`checkpoint_fingerprint`).
    """

    def __init__(self, path, every: int = 1, fingerprint: str | None = None):
        self.path = Path(path)
        self.every = every
        self.fingerprint = fingerprint

    def on_epoch_end(self, state, row):
        if row["epoch"] % self.every == 0:
            save_checkpoint(self.path, state)

    state_schema = Record(optional={"fingerprint": Text(max_length=200)}, name="a fingerprint")

    def state_dict(self) -> dict:
        return {} if self.fingerprint is None else {"fingerprint": self.fingerprint}

    def load_state_dict(self, state: dict) -> None:
        if self.fingerprint is not None and state.get("fingerprint") != self.fingerprint:
            raise FileFormatError(
                f"the checkpoint {self.path} was saved by a run with other data or settings; "
                "resume with the same ones, or delete it to start over"
            )


def checkpoint_fingerprint(path) -> str | None:
    """The fingerprint a ``Checkpoint`` stored in the file at ``path`` (None if none).

    Only the header is read (no array is loaded); a file that is not a checkpoint
    raises :class:`~thalweg.errors.FileFormatError`.
    """
    with open_container(path) as container:
        meta = container.metadata
    if meta.get("kind") != "checkpoint":
        raise FileFormatError(f"{path} is not a training checkpoint")
    callbacks = meta.get("callbacks")
    for callback in callbacks if isinstance(callbacks, list) else []:
        state = callback.get("state") if isinstance(callback, dict) else None
        if callback.get("class") == "Checkpoint" and isinstance(state, dict):
            fingerprint = state.get("fingerprint")
            return fingerprint if isinstance(fingerprint, str) else None
    return None


def random_streams(model) -> dict[str, np.random.Generator]:
    """Every random generator a training step may draw from, by name.

    ``"global"`` is the generator ``thalweg.manual_seed`` sets (``Dropout()`` without an
    ``rng`` draws from it); then each generator a module of ``model`` holds as an
    attribute, named by its dotted path (``"2.rng"`` for ``Dropout(rng=...)`` in a
    ``Sequential``). The shuffling generator is the loop's own (``epoch_rng_state``).

    >>> from thalweg import nn
    >>> sorted(random_streams(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5, rng=0))))
    ['1.rng', 'global']
    """
    return {"global": backend.default_generator(), **module_generators(model)}


def _split_arrays(prefix: str, value):
    """Separate arrays (also inside one level of dicts) from JSON-able values."""
    arrays, plain = {}, {}
    for key, item in value.items():
        if isinstance(item, np.ndarray):
            arrays[f"{prefix}{key}"] = item
        elif (
            isinstance(item, dict)
            and item
            and all(isinstance(v, np.ndarray) for v in item.values())
        ):
            for name, array in item.items():
                arrays[f"{prefix}{key}/{name}"] = array
        else:
            plain[key] = item
    return arrays, plain


def save_checkpoint(path, state) -> None:
    """Write the training state (see module docstring) to ``path``."""
    arrays = {f"model.{k}": v for k, v in state.model.state_dict().items()}
    optimizer_arrays, optimizer_meta = optimizer_to_container(state.optimizer, "optimizer.")
    arrays.update(optimizer_arrays)
    callbacks = []
    for index, callback in enumerate(state.callbacks):
        callback_arrays, plain = _split_arrays(f"callback.{index}.", callback.state_dict())
        arrays.update(callback_arrays)
        callbacks.append({"class": type(callback).__name__, "state": plain})
    write_container(
        path,
        arrays,
        {
            "kind": "checkpoint",
            "optimizer": optimizer_meta,
            "epoch": state.epoch,
            "batch_in_epoch": state.batch_in_epoch,
            "epoch_rng_state": (
                None if state.epoch_rng_state is None else state_as_json(state.epoch_rng_state)
            ),
            "split_seed": state.split_seed,
            "random_streams": {
                name: generator_state(generator)
                for name, generator in random_streams(state.model).items()
            },
            "epoch_loss_sum": state.epoch_loss_sum,
            "epoch_examples": state.epoch_examples,
            "n_samples": state.n_samples,
            "batch_size": state.batch_size,
            "history": state.history.to_dict(),
            "callbacks": callbacks,
        },
    )


def saved_split_seed(path, default: int) -> int:
    """The seed of the held-out rows of the run that saved ``path`` (``default`` if none).

    ``fit`` holds out ``validation_fraction`` of the rows before it reads the rest of a
    checkpoint; with ``seed=None`` a new run would draw other rows, so it asks first.
    Only the header is read, and checked whole (as :func:`load_checkpoint` does).
    """
    with open_container(path) as container:
        meta = _checked_header(container, path)
    saved = meta.get("split_seed")
    return default if saved is None else saved


def _checked_header(container, path) -> dict:
    meta = container.metadata
    if meta.get("kind") != "checkpoint":
        raise FileFormatError(
            f"{path} is a thalweg {meta.get('kind')!r}, not a training checkpoint"
        )
    return check(meta, CHECKPOINT_HEADER, str(path))


def load_checkpoint(path, state) -> None:
    """Restore a training state saved by :func:`save_checkpoint` into ``state``.

    The header is checked against :data:`CHECKPOINT_HEADER`, and the stored arrays
    against the model's parameters and the optimizer, before anything is restored.
    """
    with open_container(path) as container:
        meta = _checked_header(container, path)
        if meta["n_samples"] != state.n_samples or meta["batch_size"] != state.batch_size:
            raise FileFormatError(
                f"{path} was saved training on {meta['n_samples']} samples in batches of "
                f"{meta['batch_size']}, but this run has {state.n_samples} and "
                f"{state.batch_size}; resume with the same data and batch size"
            )
        saved_callbacks = _check_arrays(container, meta, state, path)
        streams = _check_random_streams(meta, state, path)
        model_state = container.read_all("model.")
        optimizer_state = read_optimizer_state(
            container,
            meta["optimizer"],
            type(state.optimizer),
            loaded_settings(state.optimizer, meta["optimizer"]),
            "optimizer.",
        )
        callback_arrays = {
            name: container.read(name) for name in container.tensors if name.startswith("callback.")
        }
    trial_optimizer_step(state.optimizer, optimizer_state, str(path))
    # Everything is checked: now change. Callbacks first (a Checkpoint refuses another
    # run's fingerprint here), so a refusal leaves the weights and generators untouched.
    for index, callback in saved_callbacks:
        restored = dict(meta["callbacks"][index]["state"])
        prefix = f"callback.{index}."
        for key, value in callback_arrays.items():
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if "/" in name:
                    group, inner = name.split("/", 1)
                    restored.setdefault(group, {})[inner] = value
                else:
                    restored[name] = value
        callback.load_state_dict(restored)
    state.model.load_state_dict(model_state)
    state.optimizer.load_state_dict(optimizer_state)
    for generator, saved in streams:
        set_generator_state(generator, saved)
    state.epoch = meta["epoch"]
    state.batch_in_epoch = meta["batch_in_epoch"]
    state.epoch_rng_state = meta["epoch_rng_state"]
    state.epoch_loss_sum = meta["epoch_loss_sum"]
    state.epoch_examples = meta["epoch_examples"]
    state.history = History.from_dict(meta["history"])


def _check_random_streams(meta: dict, state, path) -> list[tuple[np.random.Generator, dict]]:
    """The saved random generators' states, each checked against the generator of this
    run it restores (the shuffling one included); a checkpoint that saved generators
    must save exactly this run's (older checkpoints saved none)."""
    if meta["epoch_rng_state"] is not None:
        check_generator_state(meta["epoch_rng_state"], state.rng, str(path), "epoch_rng_state")
    saved = meta.get("random_streams")
    if saved is None:
        return []
    streams = random_streams(state.model)
    for name in sorted(set(saved) ^ set(streams)):
        has, lacks = (
            ("the checkpoint", "this run's model")
            if name in saved
            else (
                "this run's model",
                "the checkpoint",
            )
        )
        raise FileFormatError(
            f"{path}: {has} has the random generator {name!r} and {lacks} does not; build "
            "the model the same way (the same rng= for each layer) to resume"
        )
    for name, generator in streams.items():
        check_generator_state(saved[name], generator, str(path), f"random_streams[{name!r}]")
    return [(generator, saved[name]) for name, generator in streams.items()]


def _check_arrays(container, meta: dict, state, path) -> list[tuple[int, Callback]]:
    """Check every stored array against what it restores, before any is loaded; return
    the callbacks to restore (same position and class as when saved)."""
    source = f"{path} is damaged"
    params = {name: p.data for name, p in state.model.named_parameters()}
    if hasattr(state.model, "named_buffers"):  # running statistics are saved too
        params.update(state.model.named_buffers())
    check_tensors(
        container,
        {name: (p.shape, None) for name, p in params.items()},
        prefix="model.",
        what="this run's model",
    )
    stored = check_optimizer_state(container, meta["optimizer"], state.optimizer, "optimizer.")
    check_tensors(container, stored, prefix="optimizer.", what="its optimizer state")
    saved = meta["callbacks"]
    matched = []
    for index, callback in enumerate(state.callbacks):
        if index < len(saved) and saved[index]["class"] == type(callback).__name__:
            check(
                saved[index]["state"], callback.state_schema, str(path), f"callbacks[{index}].state"
            )
            matched.append((index, callback))
    for name, info in container.tensors.items():
        if name.startswith(("model.", "optimizer.")):
            continue
        found = _CALLBACK_ARRAY.fullmatch(name)
        if found is None or int(found.group(1)) >= len(saved):
            raise FileFormatError(f"{source}: it stores an unexpected array {name!r}")
        inner = found.group(2).split("/", 1)[-1]
        if "/" in found.group(2) and (inner not in params or params[inner].shape != info.shape):
            raise FileFormatError(
                f"{source}: {name} does not match a parameter of this run's model"
            )
    return matched
