"""Checkpoints: everything needed to continue training exactly where it stopped.

A checkpoint holds the model's weights, the optimizer's state (step count, momenta,
schedule), the epoch and the position inside it, the random generator's state at the
start of that epoch (so the same shuffle order is regenerated), the history so far and
the callbacks' counters. ``fit(..., resume=path)`` then produces, bit for bit, the same
result as a run that was never interrupted.

The file is a thalweg container (safetensors + JSON, written atomically), never pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thalweg.files import read_container, write_container
from thalweg.serialization import optimizer_state_from_container, optimizer_to_container
from thalweg.train.callbacks import Callback
from thalweg.train.history import History


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
    """The fingerprint a ``Checkpoint`` stored in the file at ``path`` (None if none)."""
    from thalweg.errors import FileFormatError

    _, meta = read_container(path)
    if meta.get("kind") != "checkpoint":
        raise FileFormatError(f"{path} is not a training checkpoint")
    for callback in meta.get("callbacks", []):
        if callback.get("class") == "Checkpoint" and "fingerprint" in callback.get("state", {}):
            return callback["state"]["fingerprint"]
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
    """Restore a training state saved by :func:`save_checkpoint` into ``state``."""
    from thalweg.errors import FileFormatError

    arrays, meta = read_container(path)
    if meta.get("kind") != "checkpoint":
        raise FileFormatError(
            f"{path} is a thalweg {meta.get('kind')!r}, not a training checkpoint"
        )
    if meta["n_samples"] != state.n_samples or meta["batch_size"] != state.batch_size:
        raise FileFormatError(
            f"{path} was saved training on {meta['n_samples']} samples in batches of "
            f"{meta['batch_size']}, but this run has {state.n_samples} and {state.batch_size}; "
            "resume with the same data and batch size"
        )
    state.model.load_state_dict(
        {k[len("model.") :]: v for k, v in arrays.items() if k.startswith("model.")}
    )
    state.optimizer.load_state_dict(
        optimizer_state_from_container(arrays, meta["optimizer"], "optimizer.")
    )
    state.epoch = meta["epoch"]
    state.batch_in_epoch = meta["batch_in_epoch"]
    state.epoch_rng_state = meta["epoch_rng_state"]
    state.epoch_loss_sum = meta["epoch_loss_sum"]
    state.epoch_examples = meta["epoch_examples"]
    state.history = History.from_dict(meta["history"])
    saved_callbacks = meta.get("callbacks", [])
    for index, callback in enumerate(state.callbacks):
        if index >= len(saved_callbacks):
            break
        saved = saved_callbacks[index]
        if saved["class"] != type(callback).__name__:
            continue  # a different callback list: start that one fresh
        restored = dict(saved["state"])
        prefix = f"callback.{index}."
        for key, value in arrays.items():
            if key.startswith(prefix):
                name = key[len(prefix) :]
                if "/" in name:
                    group, inner = name.split("/", 1)
                    restored.setdefault(group, {})[inner] = value
                else:
                    restored[name] = value
        callback.load_state_dict(restored)
