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

import re

import numpy as np

from thalweg import __version__
from thalweg.errors import FileFormatError
from thalweg.files import check_tensors, header_schema, open_container, write_container
from thalweg.nn.layers import LAYER_CONFIG, layer_from_config, layer_to_config, parameter_shapes
from thalweg.nn.module import Module
from thalweg.optim.optimizer import Optimizer
from thalweg.schema import (
    Boolean,
    Integer,
    ListOf,
    MapOf,
    Null,
    Number,
    OneOf,
    Optional,
    Record,
    Tagged,
    Text,
    check,
)

# --------------------------------------------------------------------------- schemas

_RATE = Number(finite=True, minimum=0)
_STEPS = Integer(minimum=1)


def _schedule(**fields) -> Record:
    return Record(required={"class": Text(), **fields}, name="a schedule")


#: A learning rate: a number, or a schedule ``{"class": "StepDecay", "lr": ..., ...}``.
LEARNING_RATE = OneOf(
    _RATE,
    Tagged(
        "class",
        {
            "Constant": _schedule(lr=_RATE),
            "StepDecay": _schedule(lr=_RATE, drop=_RATE, every=_STEPS),
            "ExponentialDecay": Record(
                required={
                    "class": Text(),
                    "lr": _RATE,
                    "decay_rate": _RATE,
                    "decay_steps": _STEPS,
                },
                optional={"staircase": Boolean()},
                name="a schedule",
            ),
            "InverseScaling": _schedule(lr=_RATE, power=_RATE, decay_steps=_STEPS),
            "CosineDecay": _schedule(lr=_RATE, decay_steps=_STEPS, alpha=Number(finite=True)),
        },
    ),
)
_POSITION = Text(pattern=r"[0-9]{1,9}")
_FRACTION = Number(finite=True, minimum=0, below=1)

#: The optimizers' hyperparameters, typed (an optimizer accepts its own subset).
HYPERPARAMETERS = {
    "momentum": Number(finite=True, minimum=0, below=1.0001),
    "nesterov": Boolean(),
    "weight_decay": _RATE,
    "beta1": _FRACTION,
    "beta2": _FRACTION,
    "rho": _FRACTION,
    "eps": Number(finite=True, minimum=1e-300),
    "initial_accumulator": _RATE,
}

#: The JSON part of an optimizer's state (arrays are stored as ``state.{position}.{key}``).
OPTIMIZER_FIELDS = {
    "class": Text(max_length=200),
    "global_step": Integer(minimum=0),
    "lr": LEARNING_RATE,
    "hyperparameters": Record(
        optional=HYPERPARAMETERS, extra=OneOf(Number(finite=True), Boolean())
    ),
    "scalar_state": MapOf(
        Record(
            optional={"step": Integer(minimum=0)},
            extra=OneOf(Number(finite=True), Boolean(), Null()),
            name="a parameter's state",
        ),
        key=_POSITION,
    ),
}
MODULE_HEADER = header_schema(
    "module",
    required={"class": Text(max_length=200), "architecture": Optional(LAYER_CONFIG)},
)
OPTIMIZER_HEADER = header_schema("optimizer", required=OPTIMIZER_FIELDS)
ARRAYS_HEADER = header_schema(
    "arrays",
    optional={
        "text_arrays": MapOf(
            Record(
                required={
                    "shape": ListOf(Integer(minimum=0), max_items=32),
                    "values": ListOf(Text()),
                }
            )
        )
    },
)
_STATE_ARRAY = r"state\.([0-9]{1,9})\.([A-Za-z_][A-Za-z0-9_]{0,63})"


def save(obj, path) -> None:
    """Save a ``Module``, an ``Optimizer`` or a dict of arrays to ``path`` (atomically).

    A dict may hold numeric, boolean and text arrays (text is kept in the JSON header).
    """
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
        arrays, text = _split_text_arrays(obj)
        metadata = {"kind": "arrays", "thalweg_version": __version__}
        if text:
            metadata["text_arrays"] = text
        write_container(path, arrays, metadata)
    else:
        raise TypeError(
            f"save: cannot save a {type(obj).__name__}; pass a Module, an Optimizer or a dict "
            "of arrays (estimators have their own .save())"
        )


def _split_text_arrays(obj: dict) -> tuple[dict, dict]:
    """Numeric and boolean arrays for safetensors; text arrays as JSON."""
    arrays, text = {}, {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: array names must be text, got {name!r}")
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            arrays[name] = array
        elif array.dtype.kind in "US" or (
            array.dtype.kind == "O" and all(isinstance(v, str) for v in array.ravel().tolist())
        ):
            values = array.astype(str).ravel().tolist()
            text[name] = {"shape": list(array.shape), "values": values}
        else:
            raise TypeError(
                f"save: array {name!r} has dtype {array.dtype}; thalweg files hold numbers, "
                "booleans and text only"
            )
    return arrays, text


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


def check_optimizer_state(
    container, metadata: dict, optimizer: Optimizer, prefix: str = ""
) -> dict[str, tuple]:
    """Check saved optimizer state (``metadata`` already matches :data:`OPTIMIZER_FIELDS`)
    against the optimizer it will be loaded into, before any array is loaded: the same
    class, known hyperparameters, and each parameter's state as
    :func:`check_saved_state` describes. Returns what that returns."""
    source = f"{container.path}"
    if metadata["class"] != type(optimizer).__name__:
        raise FileFormatError(
            f"{source} holds {metadata['class']} optimizer state, but it is being loaded into "
            f"{type(optimizer).__name__}; build a {metadata['class']}"
        )
    unknown = sorted(set(metadata["hyperparameters"]) - set(optimizer.hyperparameters))
    if unknown:
        raise FileFormatError(
            f"{source} is damaged: {type(optimizer).__name__} has no hyperparameter {unknown[0]!r}"
        )
    parameters = [(tuple(p.shape), p.dtype) for p in optimizer.params]
    settings = loaded_settings(optimizer, metadata)
    return check_saved_state(container, metadata, type(optimizer), parameters, settings, prefix)


def loaded_settings(optimizer: Optimizer, metadata: dict) -> dict:
    """The hyperparameters ``optimizer`` will have once the saved state ``metadata`` is
    loaded: its own, replaced by the saved ones."""
    settings = {name: getattr(optimizer, name) for name in optimizer.hyperparameters}
    settings.update(metadata["hyperparameters"])
    return settings


def check_saved_state(
    container,
    metadata: dict,
    optimizer_class: type,
    parameters: list[tuple[tuple[int, ...], np.dtype]],
    settings: dict,
    prefix: str = "",
) -> dict[str, tuple]:
    """Check each parameter's saved state, before any array is loaded.

    ``parameters`` are the ``(shape, dtype)`` of the parameters the state will train, by
    position; ``settings`` the hyperparameters the optimizer will have. Every stored
    array ``{prefix}state.{position}.{entry}`` must be shaped and typed like its
    parameter, and (for the built-in optimizers, see ``Optimizer.state_entries``) a
    parameter's state must hold exactly the entries the algorithm keeps, or none; step
    counts must lie between 1 and ``global_step``. Returns ``{name: (shape, dtype)}`` of
    the arrays checked (names without ``prefix``), for :func:`thalweg.files.check_tensors`.
    """
    source = f"{container.path} is damaged"
    count = len(parameters)
    entries = optimizer_class.state_entries(settings)
    held: dict[int, set] = {}  # position -> the entries its saved state holds

    def position_of(text: str, where: str) -> int:
        position = int(text)
        if str(position) != text:  # "01" and "1" would be the same parameter
            raise FileFormatError(f"{source}: {where} names parameter {text!r}; write {position}")
        if position >= count:
            raise FileFormatError(
                f"{source}: it holds optimizer state for parameter {position}, but the "
                f"optimizer has {count}"
            )
        return position

    for text, scalars in metadata["scalar_state"].items():
        position = position_of(text, "scalar_state")
        for key, value in scalars.items():
            if entries is not None and entries.get(key) != "count":
                raise FileFormatError(
                    f"{source}: {optimizer_class.__name__} keeps no number {key!r} for a "
                    f"parameter (it keeps {_listed(entries)})"
                )
            whole = isinstance(value, int) and not isinstance(value, bool)
            if entries is not None and not (whole and 1 <= value <= metadata["global_step"]):
                raise FileFormatError(
                    f"{source}: parameter {position}'s {key} is {value!r}; it counts updates, so "
                    f"it lies between 1 and the optimizer's global_step "
                    f"({metadata['global_step']})"
                )
            held.setdefault(position, set()).add(key)
    expected = {}
    for name, info in container.tensors.items():
        if not name.startswith(prefix + "state."):
            continue
        match = re.fullmatch(_STATE_ARRAY, name[len(prefix) :])
        if match is None:
            raise FileFormatError(f"{source}: unexpected optimizer array {name!r}")
        position = position_of(match.group(1), name)
        key = match.group(2)
        if entries is not None and entries.get(key) not in ("array", "square"):
            raise FileFormatError(
                f"{source}: {optimizer_class.__name__} keeps no array {key!r} for a parameter "
                f"(it keeps {_listed(entries)})"
            )
        shape, dtype = parameters[position]
        if info.shape != tuple(shape) or info.dtype != dtype:
            raise FileFormatError(
                f"{source}: optimizer array {name} is {info.dtype} of shape "
                f"{info.shape}, but parameter {position} is {dtype} of shape {tuple(shape)}"
            )
        held.setdefault(position, set()).add(key)
        expected[name[len(prefix) :]] = (info.shape, info.dtype)
    if entries is not None:
        for position, keys in sorted(held.items()):
            if keys != set(entries):
                missing = sorted(set(entries) - keys)
                raise FileFormatError(
                    f"{source}: parameter {position}'s {optimizer_class.__name__} state lacks "
                    f"{missing[0]!r} (a parameter's state holds {_listed(entries)}, or nothing)"
                )
    return expected


def _listed(entries: dict) -> str:
    return ", ".join(map(repr, entries)) if entries else "nothing"


def read_optimizer_state(
    container, metadata: dict, optimizer_class: type, settings: dict, prefix: str = ""
) -> dict:
    """Read the state arrays that :func:`check_saved_state` passed, refusing NaN or
    infinite values and negative ones where the algorithm keeps squares, and return the
    dict ``load_state_dict`` takes."""
    source = f"{container.path} is damaged"
    kinds = optimizer_class.state_entries(settings) or {}
    arrays = {}
    for name in container.tensors:
        if not name.startswith(prefix + "state."):
            continue
        array = container.read(name)
        key = name.rsplit(".", 1)[-1]
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise FileFormatError(f"{source}: the optimizer array {name} holds NaN or infinities")
        if kinds.get(key) == "square" and (array < 0).any():
            raise FileFormatError(
                f"{source}: the optimizer array {name} holds negative values, but it is a "
                "sum or mean of squares"
            )
        arrays[name] = array
    return optimizer_state_from_container(arrays, metadata, prefix)


def trial_optimizer_step(optimizer: Optimizer, state: dict, source: str) -> None:
    """Load ``state`` into a twin of ``optimizer`` (same class, built with the saved
    hyperparameters, over copies of its parameters) and take one step with zero
    gradients: state that the optimizer's own code cannot use (a missing counter, a
    value of the wrong kind, hyperparameters its constructor refuses, weights that the
    step would make NaN or infinite) is refused here, with one line, instead of failing
    in the middle of training.

    The optimizer itself is not touched.
    """
    from thalweg.nn.module import Parameter

    clones = [Parameter(np.array(p.data)) for p in optimizer.params]
    for clone in clones:
        clone.grad = np.zeros_like(clone.data)
    current = {name: getattr(optimizer, name) for name in optimizer.hyperparameters}
    try:
        type(optimizer)(clones, lr=optimizer.lr, **current)
    except (TypeError, ValueError):
        return  # an optimizer built some other way: its own load_state_dict must do
    damaged = f"{source} is damaged: its {type(optimizer).__name__} state cannot be used"
    try:
        saved = {**current, **state.get("hyperparameters", {})}
        twin = type(optimizer)(clones, lr=optimizer.lr, **saved)
        twin.load_state_dict(
            {**state, "state": {k: dict(v) for k, v in state.get("state", {}).items()}}
        )
        finite = all(np.isfinite(clone.data).all() for clone in clones)
        with np.errstate(all="ignore"):
            twin.step()
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as error:
        raise FileFormatError(f"{damaged} ({type(error).__name__}: {error})") from None
    if finite and not all(np.isfinite(clone.data).all() for clone in clones):
        raise FileFormatError(f"{damaged}: its next step would make the weights NaN or infinite")


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
        ``into`` expects. Its whole header is checked against the schema of its kind,
        and the arrays it declares against those it stores, before any array is
        loaded or any layer built. Nothing in the file is ever executed.
    """
    with open_container(path) as container:
        meta = container.metadata
        kind = meta.get("kind")
        source = str(path)
        if kind == "module":
            check(meta, MODULE_HEADER, source)
            return _load_module(container, meta, into, source)
        if kind == "optimizer":
            check(meta, OPTIMIZER_HEADER, source)
            if not isinstance(into, Optimizer):
                raise FileFormatError(
                    f"{path} holds {meta['class']} optimizer state; load it with "
                    "thalweg.load(path, into=optimizer) after building the optimizer"
                )
            stored = check_optimizer_state(container, meta, into)
            check_tensors(container, stored, what="its optimizer state")
            state = read_optimizer_state(container, meta, type(into), loaded_settings(into, meta))
            trial_optimizer_step(into, state, source)
            try:
                into.load_state_dict(state)
            except (ValueError, TypeError) as error:
                raise FileFormatError(f"{path} is damaged: {error}") from None
            return into
        if kind == "arrays":
            check(meta, ARRAYS_HEADER, source)
            arrays = container.read_all()
            for name, entry in meta.get("text_arrays", {}).items():
                size = int(np.prod(entry["shape"], dtype=object))
                if size != len(entry["values"]) or name in arrays:
                    raise FileFormatError(f"{path} is damaged: text array {name!r} is inconsistent")
                arrays[name] = np.asarray(entry["values"], dtype=str).reshape(entry["shape"])
            return arrays
    raise FileFormatError(
        f"{path} holds a thalweg {kind!r}, which thalweg.load does not read; "
        "use the loader of that kind (e.g. thalweg.models.load_model)"
    )


def _load_module(container, meta: dict, into, source: str) -> Module:
    if into is None:
        architecture = meta["architecture"]
        if architecture is None:
            raise FileFormatError(
                f"{source} holds the weights of a custom {meta['class']} module; build "
                "the model in code and call thalweg.load(path, into=model)"
            )
        check_tensors(container, parameter_shapes(architecture), what="its architecture")
        try:
            return layer_from_config(architecture, container.read_all())
        except (ValueError, TypeError) as error:
            raise FileFormatError(f"{source}: bad architecture in header ({error})") from None
    if not isinstance(into, Module):
        raise FileFormatError(f"{source} holds a module; pass a Module as into=")
    expected = {name: (p.shape, None) for name, p in into.named_parameters()}
    expected.update((name, (b.shape, None)) for name, b in into.named_buffers())
    try:
        check_tensors(container, expected, what="the model passed as into=")
    except FileFormatError as error:
        raise FileFormatError(
            f"{error}; the saved model was built differently from this one"
        ) from None
    into.load_state_dict(container.read_all())
    return into
