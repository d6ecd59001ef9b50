"""``thalweg.save`` / ``thalweg.load``: modules and optimizers to and from files.

A module built from built-in layers is saved with its architecture (as JSON data), so
``load(path)`` rebuilds it. Any other module is saved as its weights; load those into a
freshly built model with ``load(path, into=model)``. Optimizers are saved with their
step, hyperparameters, schedule and per-parameter state, and loaded with
``load(path, into=optimizer)`` to resume training exactly. See :mod:`thalweg.files` for
the file format: safetensors arrays plus JSON, never pickle.

>>> import os, tempfile, thalweg
>>> net = thalweg.nn.Sequential(thalweg.nn.Linear(2, 3, rng=0), thalweg.nn.Tanh())
>>> path = os.path.join(tempfile.mkdtemp(), "net.thalweg")
>>> thalweg.save(net, path)
>>> thalweg.load(path)
Sequential(
  (0): Linear(in_features=2, out_features=3, bias=True)
  (1): Tanh()
)
"""

from __future__ import annotations

import numpy as np

from thalweg import __version__
from thalweg.errors import FileFormatError
from thalweg.files import read_container, write_container
from thalweg.nn.layers import layer_from_config, layer_to_config
from thalweg.nn.module import Module
from thalweg.optim.optimizer import Optimizer


def save(obj, path) -> None:
    """Save a ``Module``, an ``Optimizer`` or a dict of arrays to ``path`` (atomically)."""
    if isinstance(obj, Module):
        try:
            architecture = layer_to_config(obj)
        except TypeError:
            architecture = None  # a custom module: weights only
        write_container(
            path,
            obj.state_dict(),
            {
                "kind": "module",
                "class": type(obj).__name__,
                "architecture": architecture,
                "thalweg_version": __version__,
            },
        )
    elif isinstance(obj, Optimizer):
        arrays, metadata = optimizer_to_container(obj)
        write_container(path, arrays, {**metadata, "thalweg_version": __version__})
    elif isinstance(obj, dict):
        write_container(
            path,
            {name: np.asarray(a) for name, a in obj.items()},
            {"kind": "arrays", "thalweg_version": __version__},
        )
    else:
        raise TypeError(
            f"save: cannot save a {type(obj).__name__}; pass a Module, an Optimizer or a dict "
            "of arrays (estimators have their own .save())"
        )


def optimizer_to_container(optimizer: Optimizer, prefix: str = "") -> tuple[dict, dict]:
    """An optimizer's state as ``(arrays, metadata)``: arrays named
    ``{prefix}state.{position}.{key}``, everything else JSON."""
    state = optimizer.state_dict()
    arrays, scalars = {}, {}
    for position, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"{prefix}state.{position}.{key}"] = value
            else:
                scalars.setdefault(str(position), {})[key] = value
    metadata = {
        "kind": "optimizer",
        "class": state["class"],
        "global_step": state["global_step"],
        "lr": state["lr"],
        "hyperparameters": state["hyperparameters"],
        "scalar_state": scalars,
    }
    return arrays, metadata


def optimizer_state_from_container(arrays: dict, metadata: dict, prefix: str = "") -> dict:
    """Inverse of :func:`optimizer_to_container`: a dict for ``load_state_dict``."""
    state: dict = {}
    for name, value in arrays.items():
        if not name.startswith(f"{prefix}state."):
            continue
        _, position, key = name[len(prefix) :].split(".", 2)
        state.setdefault(int(position), {})[key] = value
    for position, entries in metadata.get("scalar_state", {}).items():
        state.setdefault(int(position), {}).update(entries)
    return {
        "class": metadata.get("class"),
        "global_step": metadata["global_step"],
        "lr": metadata["lr"],
        "hyperparameters": metadata.get("hyperparameters", {}),
        "state": state,
    }


def load(path, into=None):
    """Load what :func:`save` wrote.

    Parameters
    ----------
    path : str or Path
    into : Module or Optimizer, optional
        Load the saved state into this object (in place) and return it. Needed for
        optimizers and for modules that are not built from built-in layers.

    Returns
    -------
    A rebuilt Module, the object passed as ``into``, or a dict of arrays.

    Raises
    ------
    FileFormatError
        The file is not a thalweg file, is corrupt, or holds something else than
        ``into`` expects. Nothing in the file is ever executed.
    """
    arrays, meta = read_container(path)
    kind = meta.get("kind")
    if kind == "module":
        if into is None:
            if meta.get("architecture") is None:
                raise FileFormatError(
                    f"{path} holds the weights of a custom {meta.get('class')} module; build "
                    "the model in code and call thalweg.load(path, into=model)"
                )
            try:
                into = layer_from_config(meta["architecture"])
            except (ValueError, TypeError) as error:
                raise FileFormatError(f"{path}: bad architecture in header ({error})") from None
        if not isinstance(into, Module):
            raise FileFormatError(f"{path} holds a module; pass a Module as into=")
        into.load_state_dict(arrays)
        return into
    if kind == "optimizer":
        if not isinstance(into, Optimizer):
            raise FileFormatError(
                f"{path} holds {meta.get('class')} optimizer state; load it with "
                "thalweg.load(path, into=optimizer) after building the optimizer"
            )
        into.load_state_dict(optimizer_state_from_container(arrays, meta))
        return into
    if kind == "arrays":
        return arrays
    raise FileFormatError(
        f"{path} holds a thalweg {kind!r}, which thalweg.load does not read; "
        "use the loader of that kind (e.g. thalweg.models.load_model)"
    )
