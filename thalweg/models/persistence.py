"""Model files for estimators: everything ``predict`` needs, as numbers and JSON.

``model.save(path)`` writes the estimator's class name, its constructor parameters and
every fitted attribute (those ending in ``_``): arrays go into safetensors, small values
and configurations (the network's architecture, the scaler, the training history) into
the JSON header. ``load_model(path)`` rebuilds only classes thalweg knows; nothing in
the file is ever executed.

The optimizer is kept too (its class, hyperparameters, step count, schedule and
per-parameter state, bound to the module whose parameters it trains), and so is the
state of each layer's own random generator (a ``Dropout(rng=...)``'s), so
``partial_fit`` on a loaded model continues exactly where the saved one would have:
the same numbers, step for step. (A batch norm's running statistics are buffers: saved
with the weights, never given optimizer state.)

The file's schema is defined once, here: :data:`PARAMETERS` types the constructor
parameters, :data:`FITTED_ATTRIBUTES` lists every fitted attribute a model file may
hold and how it is stored. Loading goes in this order, so a damaged or hostile file
is refused with one line before anything is built or allocated:

1. the header (JSON) is checked against the schema: unknown classes, keys, types,
   nesting and text are refused;
2. the declared structure (``n_features_in_``, the layers, the coefficients, the
   classes, the scaler, the optimizer's state per parameter) is checked for
   consistency and against the shapes and dtypes of the stored arrays: every array
   declared must be stored with that shape, and nothing else may be stored, so what is
   allocated is bounded by the file's size;
3. the arrays are read (a NaN or infinite weight or optimizer value is refused) and
   the objects built around them (layers are not initialised first); the optimizer's
   state must survive one trial step on a twin of it (``trial_optimizer_step``);
4. the estimator is built from its typed parameters, its fitted attributes are set by
   the names in :data:`FITTED_ATTRIBUTES` (never by names read from the file), and it
   must predict one row of zeros.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from thalweg import __version__
from thalweg.data.augment import AUGMENTATIONS
from thalweg.data.preprocessing import PREPROCESSOR_CONFIG, _Transformer, preprocessor_from_config
from thalweg.errors import FileFormatError, ThalwegError
from thalweg.files import Container, check_tensors, header_schema, open_container, write_container
from thalweg.limits import check_memory
from thalweg.monitoring.images import IMAGE_PROFILE, IMAGE_STATISTICS
from thalweg.monitoring.profile import (
    CATEGORICAL,
    NUMERIC,
    PREDICTION_PROFILE,
    check_profile_shapes,
)
from thalweg.nn.init import INITIALIZERS
from thalweg.nn.layers import (
    LAYER_CONFIG,
    MAX_WIDTH,
    layer_from_config,
    layer_to_config,
    output_shape,
)
from thalweg.nn.layers import parameter_shapes as layer_parameter_shapes
from thalweg.nn.module import Module
from thalweg.optim import OPTIMIZERS
from thalweg.optim.optimizer import Optimizer
from thalweg.schema import (
    Boolean,
    Integer,
    Json,
    ListOf,
    MapOf,
    Null,
    Number,
    OneOf,
    Optional,
    Record,
    Schema,
    Tagged,
    Text,
    check,
)
from thalweg.serialization import (
    HYPERPARAMETERS,
    OPTIMIZER_FIELDS,
    check_saved_state,
    optimizer_to_container,
    read_optimizer_state,
    trial_optimizer_step,
)
from thalweg.train.history import HISTORY_DATA, History
from thalweg.train.random_state import (
    GENERATOR_STATE,
    check_generator_state,
    generator_state,
    module_generators,
    set_generator_state,
)

# ------------------------------------------------------------------------ the schema

MAX_FEATURES = 10_000_000
MAX_CLUSTERS = 10_000_000
# One layer spec of a CNNClassifier: conv16, conv32x5, pool, avgpool2, gap, bn, dropout0.25,
# dense64 (thalweg.models.cnn.parse_layer says which numbers each takes).
LAYER_SPEC = r"\s*[A-Za-z]{2,7}[0-9]{0,10}\.?[0-9]{0,10}([xX][0-9]{1,5})?\s*"
# One augmentation name, as thalweg.data.augment.Augmenter takes it.
_AUGMENTATION = rf"\s*({'|'.join(sorted(AUGMENTATIONS))})\s*"
_POSITIVE = Number(finite=True, minimum=1e-300)
# A layer's own random generator (Dropout's, GaussianNoise's): its dotted path + ".rng".
_LAYER_GENERATOR = Text(pattern=r"([0-9A-Za-z_]{1,200}\.){0,100}rng", max_length=2000)


def _stored_as(**variants: Schema) -> Tagged:
    """The ways one fitted attribute may be stored, by their ``type`` field."""
    return Tagged("type", variants)


def _json(value: Schema) -> Record:
    return Record(required={"type": Text(), "value": value})


_ARRAY = Record(required={"type": Text()})
_LABEL = OneOf(Text(max_length=10_000), Integer(), Number(finite=True), Boolean())
_LABELS = Record(
    required={"type": Text(), "values": ListOf(_LABEL), "dtype": Text(choices=tuple("USOiufb"))}
)

#: Constructor parameters of the estimators, by name (a class accepts its own subset).
PARAMETERS: dict[str, Schema] = {
    "solver": Text(choices=("auto", "ols", "gd", "lbfgs")),
    "hidden": OneOf(Integer(1, MAX_WIDTH), ListOf(Integer(1, MAX_WIDTH), max_items=1000)),
    "activation": Text(choices=("relu", "tanh", "sigmoid", "linear")),
    "optimizer": Text(
        choices=("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
    ),
    "learning_rate": OneOf(Text(choices=("auto",)), _POSITIVE),
    "batch_size": OneOf(Text(choices=("auto",)), Integer(minimum=1), Null()),
    "max_epochs": Integer(minimum=0),
    "tol": Optional(Number(finite=True)),
    "n_iter_no_change": Integer(minimum=1),
    "early_stopping": Boolean(),
    "validation_fraction": Number(finite=True, minimum=0),
    "l1": Number(finite=True, minimum=0),
    "l2": OneOf(Text(choices=("auto",)), Number(finite=True, minimum=0)),
    "threshold": Number(finite=True),
    "standardize": Boolean(),
    "seed": Optional(Integer()),
    "random_state": Optional(Integer()),
    "class_weight": OneOf(
        Null(), Text(choices=("balanced",)), MapOf(Number(finite=True, minimum=0))
    ),
    "verbose": OneOf(Integer(minimum=0), Boolean()),
    "compile": Boolean(),
    "weight_init": Text(choices=sorted(INITIALIZERS)),
    # KMeans
    "n_clusters": Integer(1, MAX_CLUSTERS),
    "init": OneOf(
        Text(choices=("k-means++", "random")),
        ListOf(ListOf(Number(finite=True), min_items=1), min_items=1),
    ),
    "algorithm": Text(choices=("lloyd", "minibatch")),
    "max_iter": Integer(minimum=1),
    "n_init": OneOf(Text(choices=("auto",)), Integer(minimum=1)),
    "max_no_improvement": Optional(Integer(minimum=1)),
    # Autoencoder
    "code_size": Integer(1, MAX_WIDTH),
    "noise": Number(finite=True, minimum=0),
    # CNNClassifier (the layer specs are only shown once fitted: module_ holds the network)
    "layers": ListOf(
        Text(
            pattern=LAYER_SPEC,
            max_length=40,
            described="a layer such as 'conv16', 'pool', 'bn', 'dropout0.25' or 'dense64'",
        ),
        min_items=1,
        max_items=1000,
    ),
    "augment": OneOf(
        Null(),
        Text(
            pattern=rf"default|robust|none|{_AUGMENTATION}(,{_AUGMENTATION})*",
            described="'default', 'robust', 'none' or augmentation names such as 'flip,rotate'",
        ),
        ListOf(
            Text(pattern=_AUGMENTATION, described="an augmentation name such as 'rotate'"),
            max_items=100,
        ),
    ),
    "augment_probability": Number(finite=True, minimum=0, maximum=1),
    # SSDDetector
    "channels": ListOf(Integer(1, MAX_WIDTH), min_items=2, max_items=100),
    "feature_maps": Integer(1, 100),
    "anchor_sizes": Optional(
        ListOf(ListOf(_POSITIVE, min_items=1, max_items=100), min_items=1, max_items=100)
    ),
    "aspect_ratios": ListOf(_POSITIVE, min_items=1, max_items=100),
    "iou_threshold": Number(finite=True, minimum=0, maximum=1),
    "negatives_per_positive": Number(finite=True, minimum=0),
    "confidence_weighting": Boolean(),
    "alpha": Number(finite=True, minimum=0),
    "confidence_threshold": Number(finite=True, minimum=0, maximum=1),
    "score_threshold": Number(finite=True, minimum=0, maximum=1),
    "nms": Text(choices=("greedy", "soft", "weighted", "fusion")),
    "nms_iou": Number(finite=True, minimum=0, maximum=1),
    "max_detections": Integer(1, MAX_FEATURES),
}


def _saved_optimizer(cls) -> Record:
    """What ``optimizer_to_container`` writes for an optimizer of class ``cls``: every
    one of its hyperparameters, typed, and nothing else."""
    return Record(
        required={
            **OPTIMIZER_FIELDS,
            "kind": Text(choices=("optimizer",)),
            "hyperparameters": Record(
                required={name: HYPERPARAMETERS[name] for name in cls.hyperparameters},
                name=f"{cls.__name__}'s hyperparameters",
            ),
        },
        name="an optimizer's state",
    )


# The fitted attributes holding a network that an optimizer may train.
_TRAINED_MODULES = ("module_",)

#: An estimator's optimizer (``optimizer_``): its state, and the fitted module it trains
#: (arrays ``optimizer_.state.{position}.{entry}``, checked in ``_check_optimizer``).
OPTIMIZER = Record(
    required={
        "type": Text(),
        "module": Text(choices=_TRAINED_MODULES),
        "packed": Boolean(),
        "state": Tagged("class", {name: _saved_optimizer(cls) for name, cls in OPTIMIZERS.items()}),
    },
    name="an optimizer",
)

#: Every fitted attribute a model file may hold, and the ways it may be stored.
FITTED_ATTRIBUTES: dict[str, Tagged] = {
    "n_features_in_": _stored_as(json=_json(Integer(1, MAX_FEATURES))),
    "feature_names_in_": _stored_as(labels=_LABELS),
    # fitted on a stream's unnamed arrays: arrays are taken without a names warning
    "fitted_on_arrays_": _stored_as(json=_json(Boolean())),
    "classes_": _stored_as(array=_ARRAY, labels=_LABELS),
    "coef_": _stored_as(array=_ARRAY),
    "intercept_": _stored_as(array=_ARRAY, json=_json(Number(finite=True))),
    "scaling_": _stored_as(
        object=Record(
            required={
                "type": Text(),
                "class": Text(choices=("Scaling",)),
                "state": Record(
                    required={"y_mean": Number(finite=True), "y_scale": _POSITIVE}, name="a scaling"
                ),
            }
        )
    ),
    "scaler_": _stored_as(
        preprocessor=Record(required={"type": Text(), "config": PREPROCESSOR_CONFIG})
    ),
    "module_": _stored_as(
        module=Record(
            required={"type": Text(), "architecture": LAYER_CONFIG},
            optional={"generators": MapOf(GENERATOR_STATE, key=_LAYER_GENERATOR, max_items=10_000)},
        ),
        json=_json(Null()),
    ),
    "history_": _stored_as(
        history=Record(required={"type": Text(), "data": HISTORY_DATA}), json=_json(Null())
    ),
    "optimizer_": _stored_as(json=_json(Null()), optimizer=OPTIMIZER),
    "n_iter_": _stored_as(json=_json(Integer(minimum=0))),
    "loss_": _stored_as(json=_json(Optional(Number()))),
    "solver_": _stored_as(json=_json(Text(choices=("normal_equations", "lstsq", "gd", "lbfgs")))),
    "y_mean_": _stored_as(json=_json(Number(finite=True))),
    "y_scale_": _stored_as(json=_json(_POSITIVE)),
    # the ridge strength a fit used (l2="auto" resolved; GradientEstimator.resolve_l2)
    "l2_": _stored_as(json=_json(Number(finite=True, minimum=0))),
    # KMeans (shapes checked against each other and n_features_in_ in _check_clusters)
    "cluster_centers_": _stored_as(array=_ARRAY),
    "labels_": _stored_as(array=_ARRAY),
    "counts_": _stored_as(array=_ARRAY),
    "origin_": _stored_as(array=_ARRAY, json=_json(Null())),
    "inertia_": _stored_as(json=_json(Number(finite=True, minimum=0))),
    "n_steps_": _stored_as(json=_json(Integer(minimum=0))),
    # CNNClassifier (checked against each other and module_ in _check_images)
    "image_shape_": _stored_as(
        json=_json(ListOf(Integer(1, MAX_FEATURES), min_items=3, max_items=3))
    ),
    "pixel_range_": _stored_as(json=_json(ListOf(Number(finite=True), min_items=2, max_items=2))),
    "channel_mean_": _stored_as(array=_ARRAY),
    "channel_scale_": _stored_as(array=_ARRAY),
    # SSDDetector (checked against module_ and classes_ in _check_images)
    "anchors_": _stored_as(array=_ARRAY),
    "feature_map_sizes_": _stored_as(
        json=_json(
            ListOf(ListOf(Integer(1, MAX_FEATURES), min_items=2, max_items=2), max_items=100)
        )
    ),
    # What skew checks compare new images with (thalweg.monitoring.images; checked in
    # _check_statistics), and the class shares the model predicted at training time.
    "image_statistics_": _stored_as(json=_json(IMAGE_PROFILE)),
    "prediction_statistics_": _stored_as(json=_json(PREDICTION_PROFILE)),
}
#: Fitted attributes that are tuples (JSON stores them as lists).
TUPLE_ATTRIBUTES = ("image_shape_", "pixel_range_")
#: What an image model stores besides the network (all of them, or it is not one).
IMAGE_ATTRIBUTES = ("image_shape_", "pixel_range_", "channel_mean_", "channel_scale_")

#: Data saved beside the model by ``thalweg train`` (shown by ``inspect``, never built).
TRAINING_DATA = Record(
    optional={
        "command": Text(),
        "mode": Text(choices=("memory", "stream", "dask")),
        "trained_class_counts": Optional(MapOf(Integer(minimum=0))),
        "data": Record(
            optional={
                "source": Text(),
                "rows": Integer(minimum=0),
                "target": Optional(Text()),
                "ignored": ListOf(Text()),
                "dropped_rows": Integer(minimum=0),
                "splits": MapOf(Integer(minimum=0)),
                "columns": ListOf(Json(max_depth=4)),
            },
            extra=Json(max_depth=8),
            name="a data summary",
        ),
        "task": Text(choices=("classification", "regression")),
        "task_reason": Text(),
        "options": MapOf(Json(max_depth=4)),
        "seed": Optional(Integer()),
        "seconds": Number(finite=True, minimum=0),
        "epochs_run": Integer(minimum=0),
        "stop_reason": Optional(Text()),
        "finished": Text(max_length=100),
        "thalweg_version": Text(max_length=100),
    },
    extra=Json(max_depth=8),
    name="training settings",
)
METRICS = MapOf(MapOf(Optional(Number()), max_items=1000), max_items=100)


def model_header(registry: dict, extra: dict[str, Schema] | None = None) -> Record:
    """The schema of a whole model file's header, for the classes in ``registry``.

    ``extra`` adds optional top-level sections (a TabularModel adds ``tabular``).
    """
    return header_schema(
        "estimator",
        required={
            "class": Text(choices=sorted(registry)),
            "params": MapOf(Json(max_depth=4), max_items=200),
            "state": Record(
                required={"n_features_in_": FITTED_ATTRIBUTES["n_features_in_"]},
                optional=FITTED_ATTRIBUTES,
                name="fitted attributes",
            ),
        },
        optional={"training": TRAINING_DATA, "metrics": METRICS, **(extra or {})},
        extra=Json(max_depth=16),  # metadata saved by the user: kept and shown, never built
    )


# ------------------------------------------------------------------------ writing


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
        spec = {"type": "module", "architecture": layer_to_config(value)}
        # Dropout's own generator: partial_fit after loading draws the masks it would have
        generators = module_generators(value)
        if generators:
            spec["generators"] = {key: generator_state(g) for key, g in generators.items()}
        return spec
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

    None when it is not one of :data:`thalweg.optim.OPTIMIZERS`, or no fitted network
    holds exactly its parameters (then it is not saved, and ``partial_fit`` after
    loading starts a fresh one).
    """
    if OPTIMIZERS.get(type(optimizer).__name__) is not type(optimizer):
        return None
    trained = [id(p) for p in optimizer.params]
    for module_name, module in modules.items():
        if module_name in _TRAINED_MODULES and [id(p) for p in module.parameters()] == trained:
            optimizer_arrays, metadata = optimizer_to_container(optimizer, f"{name}.")
            arrays.update(optimizer_arrays)
            return {
                "type": "optimizer",
                "module": module_name,
                "packed": optimizer.packed,
                "state": metadata,
            }
    return None


def save_model(estimator, path, metadata: dict | None = None) -> None:
    """Write a fitted estimator to ``path`` (atomically; safetensors + JSON).

    Only the attributes in :data:`FITTED_ATTRIBUTES` are written; another fitted
    attribute is a TypeError (a new attribute must be added to the schema first).
    """
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
        if encoded is None:
            continue
        if name not in FITTED_ATTRIBUTES:
            raise TypeError(
                f"cannot save {type(estimator).__name__}.{name}: it is not in the model "
                "file schema (thalweg.models.persistence.FITTED_ATTRIBUTES)"
            )
        state[name] = encoded
    write_container(
        path,
        arrays,
        {
            "kind": "estimator",
            "class": type(estimator).__name__,
            # an array parameter (KMeans's init=centres) is stored as nested lists
            "params": {
                name: value.tolist() if isinstance(value, np.ndarray) else value
                for name, value in estimator.get_params().items()
            },
            "state": state,
            "thalweg_version": __version__,
            **(metadata or {}),
        },
    )


# ------------------------------------------------------------------------ reading


def load_model(path, registry: dict, objects: dict, upgrade=None):
    """Rebuild an estimator saved by :func:`save_model` (only classes in ``registry``),
    checking the file as the module docstring describes. ``upgrade(estimator)`` brings
    an estimator from an older file to today's attributes before it is checked."""
    with open_container(path) as container:
        meta = container.metadata
        if meta.get("kind") != "estimator":
            raise FileFormatError(
                f"{path} holds a thalweg {meta.get('kind')!r}, not a trained model; "
                "load it with thalweg.load"
            )
        check(meta, model_header(registry, {"tabular": Json(max_depth=12)}), str(path))
        return build_estimator(container, meta, registry, objects, upgrade)


def build_estimator(container: Container, meta: dict, registry: dict, objects: dict, upgrade=None):
    """Steps 2-4 of the module docstring, for a header that passed the schema
    (``upgrade``: see :func:`load_model`)."""
    source = f"{container.path} is damaged"
    cls = registry[meta["class"]]
    params = _check_params(cls, meta["params"], source)
    state = meta["state"]
    images = "image_shape_" in state or getattr(cls, "input_kind", "rows") == "images"
    _check_structure(container, state, source, images)
    settings = {**_defaults(cls), **params}
    _check_clusters(container, state, settings, source)
    _check_code(state, settings, source)
    _check_images(cls, container, state, source)
    _check_statistics(state, source)
    _check_optimizers(container, state, source)
    try:
        values = {
            name: _decode(name, state[name], container, objects, source)
            for name in FITTED_ATTRIBUTES
            if name in state and state[name]["type"] != "optimizer"
        }
        for name in FITTED_ATTRIBUTES:  # after the network it trains
            if name in state and state[name]["type"] == "optimizer":
                spec = state[name]
                values[name] = _decode_optimizer(name, spec, container, values[spec["module"]])
        estimator = cls(**params)
    except ThalwegError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise FileFormatError(f"{source} ({error})") from None
    scale = values.get("channel_scale_")
    if scale is not None and not (scale > 0).all():
        raise FileFormatError(f"{source}: channel_scale_ holds a scale that is not positive")
    labels, k = values.get("labels_"), settings.get("n_clusters")
    if labels is not None and k is not None and ((labels < 0) | (labels >= k)).any():
        raise FileFormatError(f"{source}: labels_ names a cluster it does not have")
    for name, value in values.items():
        setattr(estimator, name, value)  # names from FITTED_ATTRIBUTES, never from the file
    if upgrade is not None:
        try:
            estimator = upgrade(estimator)
        except (KeyError, TypeError, ValueError) as error:
            raise FileFormatError(f"{source} ({error})") from None
    _check_predicts(estimator, source)
    return estimator


def _check_params(cls, params: dict, source: str) -> dict:
    """The constructor parameters, each checked against :data:`PARAMETERS`; tuples
    (which JSON turned into lists) given back."""
    signature = inspect.signature(cls.__init__).parameters
    checked = {}
    for name, value in params.items():
        if name not in signature or name == "self":
            raise FileFormatError(f"{source}: {cls.__name__} has no parameter {name!r}")
        schema = PARAMETERS.get(name, Json(max_depth=2))
        check(value, schema, source.removesuffix(" is damaged"), where=f"params.{name}")
        default = signature[name].default
        checked[name] = (
            tuple(value) if isinstance(value, list) and isinstance(default, tuple) else value
        )
    return checked


def _defaults(cls) -> dict:
    """The constructor's default parameters (what a file that leaves one out gets)."""
    return {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }


def _check_clusters(container: Container, state: dict, settings: dict, source: str) -> None:
    """A clustering's arrays fit together: ``n_clusters`` centres of ``n_features_in_``
    floats, one count per centre, an origin of ``n_features_in_`` floats, whole-number
    labels (their values are checked once read)."""
    if "cluster_centers_" not in state:
        return
    n, k = state["n_features_in_"]["value"], settings.get("n_clusters")
    if k is None:
        raise FileFormatError(f"{source}: it stores cluster_centers_ for a model with no clusters")
    expected = {
        "cluster_centers_": ((k, n), "f", "floats"),
        "counts_": ((k,), "iu", "whole numbers"),
        "origin_": ((n,), "f", "floats"),
        "labels_": (None, "iu", "whole numbers"),
    }
    for name, (shape, kinds, what) in expected.items():
        if name not in state or state[name]["type"] != "array":
            continue
        info = container.tensors[name]
        if info.dtype.kind not in kinds or (
            info.shape != shape if shape is not None else len(info.shape) != 1
        ):
            wanted = f"{what} of shape {shape if shape is not None else '(rows,)'}"
            raise FileFormatError(
                f"{source}: {name} is stored as {info.dtype} of shape {info.shape}; with "
                f"n_clusters={k} and {n} features it should be {wanted}"
            )


def _check_images(cls, container: Container, state: dict, source: str) -> None:
    """An image model's parts fit together: ``image_shape_`` ``(C, H, W)`` holds
    ``n_features_in_`` pixels, one mean and one positive scale per channel, a pixel range
    ``low < high``, and a network that takes such an image, layer by layer, to one
    score per class (:func:`thalweg.nn.layers.output_shape`: nothing is built), small
    enough to predict one image here."""
    present = [name for name in IMAGE_ATTRIBUTES if name in state]
    if not present and getattr(cls, "input_kind", "rows") != "images":
        return
    fitted = "module_" in state and state["module_"]["type"] == "module"
    if not fitted and not present:
        return
    missing = [name for name in IMAGE_ATTRIBUTES if name not in state]
    if missing:
        raise FileFormatError(
            f"{source}: an image model stores {', '.join(IMAGE_ATTRIBUTES)}; it lacks "
            f"{', '.join(missing)}"
        )
    shape = tuple(state["image_shape_"]["value"])
    n = state["n_features_in_"]["value"]
    if int(np.prod(shape, dtype=object)) != n:
        raise FileFormatError(
            f"{source}: image_shape_ {shape} (C, H, W) holds {np.prod(shape, dtype=object)} "
            f"pixels, but the model has {n} features"
        )
    low, high = state["pixel_range_"]["value"]
    if not low < high:
        raise FileFormatError(f"{source}: pixel_range_ [{low}, {high}] is empty")
    for name in ("channel_mean_", "channel_scale_"):
        info = container.tensors[name]
        if info.shape != shape[:1] or info.dtype.kind != "f":
            raise FileFormatError(
                f"{source}: {name} is stored as {info.dtype} of shape {info.shape}; for "
                f"images of {shape[0]} channel(s) it should be floats of shape ({shape[0]},)"
            )
    if not fitted:
        return
    sizes: list[int] = []
    try:
        out = output_shape(state["module_"]["architecture"], shape, sizes)
    except ValueError as error:
        raise FileFormatError(
            f"{source}: module_ does not take images of shape {shape} (C, H, W): {error}"
        ) from None
    if "anchors_" in state:
        _check_anchors(container, state, out, source)
    elif len(out) != 1:
        raise FileFormatError(
            f"{source}: module_ turns an image into shape {out}, not one score per class"
        )
    # Predicting converts to float64 and keeps each layer's output (and columns) once.
    check_memory(
        8 * (n + sum(sizes)),
        f"checking {container.path} (its network on one image)",
        "the file declares a network or an image size too large for this machine",
    )


def _check_anchors(container: Container, state: dict, out: tuple, source: str) -> None:
    """A detector's network gives, for each of its ``anchors_`` (an ``(A, 4)`` float
    array), four offsets and a score per class and for the background."""
    info = container.tensors["anchors_"]
    if len(info.shape) != 2 or info.shape[1] != 4 or info.dtype.kind != "f":
        raise FileFormatError(
            f"{source}: anchors_ is stored as {info.dtype} of shape {info.shape}; it should be "
            "floats of shape (anchors, 4)"
        )
    count = _class_count(container, state)
    expected = (info.shape[0], 4 + count + 1)
    if tuple(out) != expected:
        raise FileFormatError(
            f"{source}: module_ gives shape {tuple(out)} per image, but {info.shape[0]} anchors "
            f"and {count} class(es) need {expected} (4 offsets, background, classes)"
        )


def _class_count(container: Container, state: dict) -> int:
    spec = state.get("classes_")
    if spec is None:
        return 0
    if spec["type"] == "labels":
        return len(spec["values"])
    return container.tensors["classes_"].shape[0]


def _check_statistics(state: dict, source: str) -> None:
    """The training statistics an image model keeps are numeric profiles whose
    histograms and bins are consistent (``monitoring.profile.check_profile_shapes``)."""
    profiles = {}
    if "image_statistics_" in state:
        for name in IMAGE_STATISTICS:
            profile = state["image_statistics_"]["value"][name]
            if profile["kind"] != NUMERIC:
                raise FileFormatError(
                    f"{source}: image_statistics_ describes {name} as {profile['kind']}, not "
                    "numeric"
                )
            profiles[f"image_statistics_.{name}"] = profile
    if "prediction_statistics_" in state:
        predictions = state["prediction_statistics_"]["value"]
        if "classes_" in state and predictions["kind"] != CATEGORICAL:
            raise FileFormatError(
                f"{source}: prediction_statistics_ of a classifier must describe classes "
                f"(categorical), not {predictions['kind']} values"
            )
        profiles["prediction_statistics_"] = predictions
    for name, profile in profiles.items():
        problem = check_profile_shapes(profile)
        if problem:
            raise FileFormatError(f"{source}: {name} is inconsistent: {problem}")


def _check_code(state: dict, settings: dict, source: str) -> None:
    """An autoencoder's network is ``Sequential(encoder, decoder)``: the encoder ends in
    ``code_size`` units, the decoder takes them and rebuilds ``n_features_in_`` columns."""
    if "code_size" not in settings:
        return
    module = state.get("module_")
    if module is None or module["type"] != "module":
        return  # not fitted: nothing to check
    n, code = state["n_features_in_"]["value"], settings["code_size"]
    parts = module["architecture"].get("config", {}).get("layers", [])
    if module["architecture"]["class"] != "Sequential" or len(parts) != 2:
        raise FileFormatError(f"{source}: module_ should be Sequential(encoder, decoder)")
    encoder, decoder = (_last_linear(parts[0]), _first_linear(parts[1]))
    rebuilt = _last_linear(parts[1])
    if encoder is None or decoder is None or rebuilt is None:
        raise FileFormatError(f"{source}: module_'s encoder or decoder has no Linear layer")
    if encoder["out_features"] != code or decoder["in_features"] != code:
        raise FileFormatError(
            f"{source}: module_'s encoder makes a code of {encoder['out_features']} and its "
            f"decoder takes {decoder['in_features']}, but code_size is {code}"
        )
    if rebuilt["out_features"] != n:
        raise FileFormatError(
            f"{source}: module_ rebuilds {rebuilt['out_features']} column(s), but the model "
            f"has {n} features"
        )


def _first_linear(architecture: dict) -> dict | None:
    if architecture["class"] == "Linear":
        return architecture["config"]
    if architecture["class"] == "Standardized":
        return _first_linear(architecture["config"]["layer"])
    for layer in architecture.get("config", {}).get("layers", []):
        found = _first_linear(layer)
        if found is not None:
            return found
    return None


def _last_linear(architecture: dict) -> dict | None:
    if architecture["class"] == "Linear":
        return architecture["config"]
    if architecture["class"] == "Standardized":
        return _last_linear(architecture["config"]["layer"])
    for layer in reversed(architecture.get("config", {}).get("layers", [])):
        found = _last_linear(layer)
        if found is not None:
            return found
    return None


def _check_structure(container: Container, state: dict, source: str, images: bool) -> None:
    """Step 2: the declared structure is consistent, and matches the stored arrays
    (``images``: an image model, whose network is checked by :func:`_check_images`)."""
    n = state["n_features_in_"]["value"]
    expected: dict[str, tuple] = {}
    for name, spec in state.items():
        kind = spec["type"]
        if kind == "array":
            info = container.tensors.get(name)
            if info is None:
                raise FileFormatError(
                    f"{source}: it declares the array {name}, but does not store it"
                )
            if info.dtype.kind not in "biuf" or len(info.shape) > 2:
                raise FileFormatError(
                    f"{source}: {name} is stored as {info.dtype} of shape {info.shape}"
                )
            expected[name] = (info.shape, None)
        elif kind == "module":
            try:
                shapes = layer_parameter_shapes(spec["architecture"])
            except ValueError as error:
                raise FileFormatError(f"{source}: {name}: {error}") from None
            for key, (shape, dtype) in shapes.items():
                expected[f"{name}.{key}"] = (shape, dtype)
            first = _first_linear(spec["architecture"])
            if first is not None and first["in_features"] != n and not images:
                raise FileFormatError(
                    f"{source}: {name} takes {first['in_features']} inputs, but the model has "
                    f"{n} features"
                )
        elif kind == "object":
            for key in ("x_mean", "x_scale"):
                expected[f"{name}.{key}"] = ((n,), np.dtype(np.float64))
        elif kind == "preprocessor":
            config_state = spec["config"]["state"]
            if config_state is not None and config_state["n_features_in_"] != n:
                raise FileFormatError(
                    f"{source}: {name} expects {config_state['n_features_in_']} columns, but "
                    f"the model has {n} features"
                )
        elif kind == "labels" and name == "feature_names_in_" and len(spec["values"]) != n:
            raise FileFormatError(f"{source}: {len(spec['values'])} feature names for {n} features")
    for name, spec in state.items():
        if spec["type"] == "optimizer":  # its arrays: checked by _check_optimizers, later
            prefix = f"{name}."
            expected.update(
                (key, (info.shape, None))
                for key, info in container.tensors.items()
                if key.startswith(prefix)
            )
    check_tensors(container, expected, what="its header")
    coef = container.tensors.get("coef_") if "coef_" in state else None
    if coef is not None and coef.shape[-1:] != (n,):
        raise FileFormatError(
            f"{source}: coef_ has shape {coef.shape}, but the model has {n} features (the "
            f"last axis must be {n})"
        )
    _check_outputs(container, state, source)


def _check_optimizers(container: Container, state: dict, source: str) -> None:
    """Step 2, last: each optimizer's arrays are exactly those its state declares for the
    network it trains (after the network itself was checked: a network that contradicts
    itself is named as such, not as optimizer state that does not fit it)."""
    for name, spec in state.items():
        if spec["type"] == "optimizer":
            expected = _check_optimizer(container, name, spec, state, source)
            prefix = f"{name}."
            expected = {key[len(prefix) :]: value for key, value in expected.items()}
            check_tensors(container, expected, prefix, what="its optimizer's state")


def _check_optimizer(container: Container, name: str, spec: dict, state: dict, source: str):
    """An optimizer's state fits the network it trains: one state per parameter at most,
    each exactly the entries its algorithm keeps, shaped and typed like its parameter
    (``thalweg.serialization.check_saved_state``). Returns its arrays' ``{name: (shape,
    dtype)}``."""
    module = state.get(spec["module"])
    if module is None or module["type"] != "module":
        raise FileFormatError(f"{source}: {name} trains {spec['module']}, which it does not store")
    try:
        # trainable parameters only: a batch norm's running statistics have no state
        parameters = list(layer_parameter_shapes(module["architecture"], buffers=False).values())
    except ValueError as error:
        raise FileFormatError(f"{source}: {spec['module']}: {error}") from None
    if not parameters:
        raise FileFormatError(f"{source}: {name} trains a network without parameters")
    if spec["packed"] and len({dtype for _, dtype in parameters}) > 1:
        raise FileFormatError(
            f"{source}: {name} is packed, but {spec['module']}'s parameters differ in dtype"
        )
    saved = spec["state"]
    optimizer_class = OPTIMIZERS[saved["class"]]
    stored = check_saved_state(
        container, saved, optimizer_class, parameters, saved["hyperparameters"], f"{name}."
    )
    return {f"{name}.{key}": shape_and_dtype for key, shape_and_dtype in stored.items()}


def _decode_optimizer(name: str, spec: dict, container: Container, module) -> Optimizer:
    """Step 3 for ``optimizer_``: rebuild it on the loaded network's parameters, its
    state read (finite), tried on a twin, then loaded."""
    saved = spec["state"]
    optimizer_class = OPTIMIZERS[saved["class"]]
    state = read_optimizer_state(
        container, saved, optimizer_class, saved["hyperparameters"], f"{name}."
    )
    expected = list(layer_parameter_shapes(layer_to_config(module), buffers=False))
    if [parameter_name for parameter_name, _ in module.named_parameters()] != expected:
        raise FileFormatError(
            f"{container.path}: the network's parameters come in another order than its "
            "architecture lists them; the optimizer's state cannot be matched to them"
        )
    optimizer = optimizer_class(module.parameters(), packed=spec["packed"])
    trial_optimizer_step(optimizer, state, str(container.path))
    optimizer.load_state_dict(state)
    return optimizer


def _check_outputs(container: Container, state: dict, source: str) -> None:
    """A classifier's outputs (coefficient rows, the network's last layer) fit its classes."""
    if "classes_" not in state:
        return
    spec = state["classes_"]
    count = (
        len(spec["values"]) if spec["type"] == "labels" else container.tensors["classes_"].shape[0]
    )
    if spec["type"] == "array" and len(container.tensors["classes_"].shape) != 1:
        raise FileFormatError(f"{source}: classes_ must be a list of labels")
    if "anchors_" in state:  # a detector: one class of object is enough
        if count < 1:
            raise FileFormatError(f"{source}: a detector needs at least 1 class, it has none")
        return
    if count < 2:
        raise FileFormatError(f"{source}: a classifier needs at least 2 classes, it has {count}")
    outputs = 1 if count == 2 else count
    coef = container.tensors.get("coef_")
    if coef is not None and len(coef.shape) == 2 and coef.shape[0] != outputs:
        raise FileFormatError(
            f"{source}: coef_ has {coef.shape[0]} row(s) for {count} classes (needs {outputs})"
        )
    module = state.get("module_")
    if module is not None and module["type"] == "module":
        last = _last_linear(module["architecture"])
        if last is not None and last["out_features"] != outputs:
            raise FileFormatError(
                f"{source}: module_ has {last['out_features']} output(s) for {count} classes "
                f"(needs {outputs})"
            )


def _read_finite(container: Container, name: str, source: str) -> np.ndarray:
    array = container.read(name)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise FileFormatError(f"{source}: the array {name} holds NaN or infinite values")
    return array


def _decode(name: str, spec: dict, container: Container, objects: dict, source: str):
    """Step 3: one fitted attribute, built from its checked description."""
    kind = spec["type"]
    if kind == "array":
        return _read_finite(container, name, source)
    if kind == "labels":
        return _labels(name, spec, source)
    if kind == "module":
        prefix = f"{name}."
        weights = {
            key[len(prefix) :]: _read_finite(container, key, source)
            for key in container.tensors
            if key.startswith(prefix)
        }
        module = layer_from_config(spec["architecture"], weights)
        path = source.removesuffix(" is damaged")
        _restore_generators(module, spec.get("generators", {}), path, name)
        return module
    if kind == "preprocessor":
        return preprocessor_from_config(spec["config"], source.removesuffix(" is damaged"))
    if kind == "history":
        return History.from_dict(spec["data"])
    if kind == "object":
        cls = objects[spec["class"]]
        state = dict(spec["state"])
        for key in ("x_mean", "x_scale"):
            state[key] = _read_finite(container, f"{name}.{key}", source)
        if not (state["x_scale"] > 0).all():
            raise FileFormatError(f"{source}: {name}.x_scale holds a scale that is not positive")
        return cls.from_state(state)
    if name in TUPLE_ATTRIBUTES:
        return tuple(spec["value"])
    return spec["value"]  # "json"


def _restore_generators(module: Module, saved: dict, source: str, name: str) -> None:
    """Give each layer that kept its own random generator (``Dropout(rng=...)``) a
    generator in the saved state, each state checked field by field before NumPy sees
    it (:func:`~thalweg.train.random_state.check_generator_state`)."""
    layers = dict(module.named_modules())
    for key, state in saved.items():
        path, _, attribute = key.rpartition(".")
        layer = layers.get(path)
        if layer is None or getattr(layer, attribute, False) is not None:
            raise FileFormatError(
                f"{source} is damaged: {name} keeps a random generator for {key}, but its "
                "network has no layer with such a generator"
            )
        generator = np.random.Generator(getattr(np.random, state["bit_generator"])())
        check_generator_state(state, generator, source, f"{name}.generators[{key!r}]")
        set_generator_state(generator, state)
        setattr(layer, attribute, generator)


def _labels(name: str, spec: dict, source: str) -> np.ndarray:
    values, dtype = spec["values"], spec["dtype"]
    wanted = {
        "i": int,
        "u": int,
        "f": float | int,
        "b": bool,
        "U": str,
        "S": str,
        "O": str,
    }[dtype]
    if any(not isinstance(v, wanted) or (dtype in "iuf" and isinstance(v, bool)) for v in values):
        raise FileFormatError(f"{source}: {name} mixes labels of different types")
    if len(set(values)) != len(values) and name == "classes_":
        raise FileFormatError(f"{source}: classes_ lists a class twice")
    return np.asarray(values, dtype=object if dtype == "O" else None)


# What a rebuilt model must answer for a row of zeros: its predictions and, for the
# unsupervised ones, its representation (distances to centres, an autoencoder's code)
# and its reconstruction error.
_ANSWERS = ("predict", "transform", "reconstruction_error")


def _check_predicts(estimator, source: str) -> None:
    """Step 4: the rebuilt model predicts (transforms) one row of zeros (an image model:
    one black image of its shape), finitely."""
    problem = getattr(estimator, "loaded_state_problem", None)
    if problem is not None and (found := problem()) is not None:
        raise FileFormatError(f"{source}: {found}")
    shape = getattr(estimator, "image_shape_", None)
    zeros = np.zeros((1, *shape) if shape is not None else (1, estimator.n_features_in_))
    methods = [name for name in _ANSWERS if hasattr(estimator, name)]
    if not methods:
        raise FileFormatError(f"{source}: its {type(estimator).__name__} predicts nothing")
    for method in methods:
        try:
            # A probe of the loader's own, not the user's call: a model fitted on named
            # columns must not warn, at every load, that this row of zeros has no names.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                answer = np.asarray(getattr(estimator, method)(zeros))
        except (ValueError, TypeError, IndexError, AttributeError) as error:
            raise FileFormatError(f"{source}: its parts do not fit together ({error})") from None
        if answer.shape[:1] != (1,) or (answer.dtype.kind == "f" and not np.isfinite(answer).all()):
            what = "predict" if method == "predict" else f"give a {method.replace('_', ' ')}"
            zero = "a black image" if shape is not None else "a row of zeros"
            raise FileFormatError(f"{source}: it does not {what} a finite value for {zero}")
