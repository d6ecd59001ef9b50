"""Model files for estimators: everything ``predict`` needs, as numbers and JSON.

``model.save(path)`` writes the estimator's class name, its constructor parameters and
every fitted attribute (those ending in ``_``): arrays go into safetensors, small values
and configurations (the network's architecture, the scaler, the training history) into
the JSON header. ``load_model(path)`` rebuilds only classes thalweg knows; nothing in
the file is ever executed.

The optimizer is kept too (its class, step count, schedule and per-parameter state, bound
to the module whose parameters it trains), so ``partial_fit`` on a loaded model
continues exactly where the saved one would have: the same numbers, step for step.
"""

from __future__ import annotations

import inspect

import numpy as np

from thalweg import __version__
from thalweg.data.preprocessing import _Transformer, preprocessor_from_config
from thalweg.errors import FileFormatError
from thalweg.files import read_container, write_container
from thalweg.nn.layers import layer_from_config, layer_to_config
from thalweg.nn.module import Module
from thalweg.optim import OPTIMIZERS
from thalweg.optim.optimizer import Optimizer
from thalweg.serialization import optimizer_state_from_container, optimizer_to_container
from thalweg.train.history import History


def _encode(name: str, value, arrays: dict) -> dict | None:
    """One fitted attribute -> a JSON description (arrays go into ``arrays``)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            arrays[name] = value
            return {"type": "array"}
        return {"type": "labels", "values": value.tolist(), "dtype": value.dtype.kind}
    if isinstance(value, Module):
        for key, array in value.state_dict().items():
            arrays[f"{name}.{key}"] = array
        return {"type": "module", "architecture": layer_to_config(value)}
    if isinstance(value, _Transformer):
        return {"type": "preprocessor", "config": value.to_config()}
    if isinstance(value, History):
        return {"type": "history", "data": value.to_dict()}
    if hasattr(value, "to_state") and hasattr(type(value), "from_state"):
        state = value.to_state()
        for key, item in state.items():
            if isinstance(item, np.ndarray):
                arrays[f"{name}.{key}"] = item
        plain = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
        return {"type": "object", "class": type(value).__name__, "state": plain}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict):
        return {"type": "json", "value": value}
    raise TypeError(f"cannot save fitted attribute {name} of type {type(value).__name__}")


def _encode_optimizer(name: str, optimizer: Optimizer, modules: dict, arrays: dict) -> dict | None:
    """The optimizer's state, bound by name to the fitted module whose parameters it trains.

    None when no module holds exactly its parameters (then it is not saved, and
    ``partial_fit`` after loading starts a fresh one).
    """
    trained = [id(p) for p in optimizer.params]
    for module_name, module in modules.items():
        if [id(p) for p in module.parameters()] == trained:
            optimizer_arrays, metadata = optimizer_to_container(optimizer, f"{name}.")
            arrays.update(optimizer_arrays)
            return {
                "type": "optimizer",
                "module": module_name,
                "packed": optimizer.packed,
                "state": metadata,
            }
    return None


def _decode_optimizer(name: str, spec: dict, arrays: dict, estimator) -> Optimizer:
    """Rebuild an optimizer on the loaded module's parameters and restore its state."""
    cls = OPTIMIZERS.get(spec["state"]["class"])
    if cls is None:
        raise FileFormatError(f"unknown optimizer class {spec['state']['class']!r} in model file")
    module = getattr(estimator, spec["module"])
    optimizer = cls(module.parameters(), packed=spec.get("packed", False))
    optimizer.load_state_dict(optimizer_state_from_container(arrays, spec["state"], f"{name}."))
    return optimizer


def _decode(name: str, spec: dict, arrays: dict, objects: dict):
    kind = spec["type"]
    if kind == "array":
        return arrays[name]
    if kind == "labels":
        values = spec["values"]
        return np.asarray(values, dtype=object if spec["dtype"] == "O" else None)
    if kind == "module":
        module = layer_from_config(spec["architecture"])
        prefix = f"{name}."
        module.load_state_dict(
            {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        )
        return module
    if kind == "preprocessor":
        return preprocessor_from_config(spec["config"])
    if kind == "history":
        return History.from_dict(spec["data"])
    if kind == "object":
        cls = objects.get(spec["class"])
        if cls is None:
            raise FileFormatError(f"unknown object class {spec['class']!r} in model file")
        state = dict(spec["state"])
        prefix = f"{name}."
        state.update({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        return cls.from_state(state)
    if kind == "json":
        return spec["value"]
    raise FileFormatError(f"unknown attribute type {kind!r} in model file")


def save_model(estimator, path, metadata: dict | None = None) -> None:
    """Write a fitted estimator to ``path`` (atomically; safetensors + JSON)."""
    estimator._check_fitted()
    arrays: dict = {}
    state = {}
    fitted = {n: v for n, v in vars(estimator).items() if n.endswith("_") and not n.startswith("_")}
    modules = {n: v for n, v in fitted.items() if isinstance(v, Module)}
    for name, value in fitted.items():
        if isinstance(value, Optimizer):
            encoded = _encode_optimizer(name, value, modules, arrays)
        else:
            encoded = _encode(name, value, arrays)
        if encoded is not None:
            state[name] = encoded
    write_container(
        path,
        arrays,
        {
            "kind": "estimator",
            "class": type(estimator).__name__,
            "params": estimator.get_params(),
            "state": state,
            "thalweg_version": __version__,
            **(metadata or {}),
        },
    )


def load_model(path, registry: dict, objects: dict):
    """Rebuild an estimator saved by :func:`save_model` (only classes in ``registry``)."""
    arrays, meta = read_container(path)
    if meta.get("kind") != "estimator":
        raise FileFormatError(
            f"{path} holds a thalweg {meta.get('kind')!r}, not a trained model; "
            "load it with thalweg.load"
        )
    cls = registry.get(meta.get("class"))
    if cls is None:
        raise FileFormatError(f"{path}: unknown model class {meta.get('class')!r}")
    try:
        estimator = cls(**_restore_tuples(cls, meta["params"]))
        optimizers = {}
        for name, spec in meta["state"].items():
            if spec["type"] == "optimizer":
                optimizers[name] = spec  # after the module it trains
            else:
                setattr(estimator, name, _decode(name, spec, arrays, objects))
        for name, spec in optimizers.items():
            setattr(estimator, name, _decode_optimizer(name, spec, arrays, estimator))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise FileFormatError(f"{path}: the model file is damaged ({error})") from None
    return estimator


def _restore_tuples(cls, params: dict) -> dict:
    """JSON turns tuples into lists; give tuple-valued parameters their tuples back."""
    defaults = {n: p.default for n, p in inspect.signature(cls.__init__).parameters.items()}
    return {
        name: tuple(value)
        if isinstance(value, list) and isinstance(defaults.get(name), tuple)
        else value
        for name, value in params.items()
    }
