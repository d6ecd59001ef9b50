"""Checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the model's weights, the optimizer's state (step count, momenta,
schedule), the epoch and the position inside it, the random generator's state at the
start of that epoch (so the same shuffle order is regenerated), the history so far and
the callbacks' counters. ``fit(..., resume=path)`` then produces, bit for bit, the same
result as a run that was never interrupted.

The file is a thalweg container (safetensors + JSON, written atomically), never pickle.
Its header is described once, by :data:`CHECKPOINT_HEADER`, and checked whole, with
every stored array's shape, before anything is restored: a damaged or foreign
checkpoint is refused with one line and leaves the training state untouched. New
fields go into the schema as optional ones, so older checkpoints stay readable.

A checkpoint may name the run that saved it (a ``Checkpoint``'s ``fingerprint``):
:func:`checkpoint_fingerprint` reads it from the header alone, so a caller can tell its
own checkpoint from another run's before replacing, resuming or deleting it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from thalweg.errors import FileFormatError
from thalweg.files import check_tensors, header_schema, open_container, write_container
from thalweg.schema import (
    Integer,
    Json,
    ListOf,
    MapOf,
    Number,
    OneOf,
    Optional,
    Record,
    Text,
    check,
)
from thalweg.serialization import (
    OPTIMIZER_FIELDS,
    check_optimizer_state,
    optimizer_state_from_container,
    optimizer_to_container,
    trial_optimizer_step,
)
from thalweg.train.callbacks import Callback
from thalweg.train.history import History, history_schema

#: A NumPy bit generator's state (``rng.bit_generator.state``).
RNG_STATE = Record(
    required={"bit_generator": Text(max_length=100), "state": MapOf(Json(max_depth=2))},
    extra=OneOf(Integer(), Json(max_depth=2)),
    name="a random generator state",
)

#: The whole checkpoint header.
CHECKPOINT_HEADER = header_schema(
    "checkpoint",
    required={
        "optimizer": Record(
            required=OPTIMIZER_FIELDS, optional={"kind": Text(choices=("optimizer",))}
        ),
        "epoch": Integer(minimum=0),
        "batch_in_epoch": Integer(minimum=0),
        "epoch_rng_state": Optional(RNG_STATE),
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
            from thalweg.errors import FileFormatError

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
            "epoch_rng_state": state.epoch_rng_state,
            "epoch_loss_sum": state.epoch_loss_sum,
            "epoch_examples": state.epoch_examples,
            "n_samples": state.n_samples,
            "batch_size": state.batch_size,
            "history": state.history.to_dict(),
            "callbacks": callbacks,
        },
    )


def load_checkpoint(path, state) -> None:
    """Restore a training state saved by :func:`save_checkpoint` into ``state``.

    The header is checked against :data:`CHECKPOINT_HEADER`, and the stored arrays
    against the model's parameters and the optimizer, before anything is restored.
    """
    with open_container(path) as container:
        meta = container.metadata
        if meta.get("kind") != "checkpoint":
            raise FileFormatError(
                f"{path} is a thalweg {meta.get('kind')!r}, not a training checkpoint"
            )
        check(meta, CHECKPOINT_HEADER, str(path))
        if meta["n_samples"] != state.n_samples or meta["batch_size"] != state.batch_size:
            raise FileFormatError(
                f"{path} was saved training on {meta['n_samples']} samples in batches of "
                f"{meta['batch_size']}, but this run has {state.n_samples} and "
                f"{state.batch_size}; resume with the same data and batch size"
            )
        saved_callbacks = _check_arrays(container, meta, state, path)
        model_state = container.read_all("model.")
        optimizer_arrays = {
            name: container.read(name)
            for name in container.tensors
            if name.startswith("optimizer.")
        }
        callback_arrays = {
            name: container.read(name) for name in container.tensors if name.startswith("callback.")
        }
    rng_state = meta["epoch_rng_state"]
    if rng_state is not None:
        try:
            np.random.default_rng().bit_generator.state = rng_state  # a trial on a fresh one
        except (ValueError, TypeError, KeyError, OverflowError) as error:
            raise FileFormatError(
                f"{path} is damaged: its random state is invalid ({error})"
            ) from None
    optimizer_state = optimizer_state_from_container(
        optimizer_arrays, meta["optimizer"], "optimizer."
    )
    trial_optimizer_step(state.optimizer, optimizer_state, str(path))
    state.model.load_state_dict(model_state)
    state.optimizer.load_state_dict(optimizer_state)
    state.epoch = meta["epoch"]
    state.batch_in_epoch = meta["batch_in_epoch"]
    state.epoch_rng_state = rng_state
    state.epoch_loss_sum = meta["epoch_loss_sum"]
    state.epoch_examples = meta["epoch_examples"]
    state.history = History.from_dict(meta["history"])
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


def _check_arrays(container, meta: dict, state, path) -> list[tuple[int, Callback]]:
    """Check every stored array against what it restores, before any is loaded; return
    the callbacks to restore (same position and class as when saved)."""
    source = f"{path} is damaged"
    params = dict(state.model.named_parameters())
    check_tensors(
        container,
        {name: (p.shape, None) for name, p in params.items()},
        prefix="model.",
        what="this run's model",
    )
    check_optimizer_state(container, meta["optimizer"], state.optimizer, prefix="optimizer.")
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
