"""Adversarial tests of model files, module files and checkpoints: every tampered or
damaged variant either loads into a working model or is refused with one
FileFormatError (never another exception), nothing from the file is set as an
attribute, and nothing big is allocated for a small file however large the shapes it
declares.

Generated cases (hypothesis) replace, delete or add any part of a real file's header,
or change its stored arrays; the table below adds the named cases of issue 10.
"""

import copy
import io
import json
import math
import struct
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save as safetensors_bytes

import thalweg
from thalweg.errors import FileFormatError, ThalwegError
from thalweg.files import read_container
from thalweg.models import LogisticRegression, MLPClassifier, load_model
from thalweg.models.persistence import FITTED_ATTRIBUTES
from thalweg.models.table_clustering import cluster_table, embed_table
from thalweg.models.tabular import TabularModel
from thalweg.train import Checkpoint, fit

PEAK_BYTES = 40 * 2**20  # a small file may never make a load allocate more than this


def table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "size": rng.normal(size=n),
        "weight": rng.normal(size=n) * 10,
        "color": np.asarray(rng.choice(["red", "green", "blue"], size=n), dtype=object),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Real model files: an MLP with categories and crosses, and a logistic model."""
    folder = tmp_path_factory.mktemp("models")
    data = table()
    labels = np.where(data["size"] + (data["color"] == "red") > 0.3, "yes", "no")
    files = {}
    mlp = TabularModel(
        MLPClassifier(hidden=(4,), max_epochs=3, tol=None, random_state=0), crosses=True
    )
    mlp.fit(data, labels).save(folder / "mlp.thalweg", {"training": {"seed": 0}})
    files["mlp"] = folder / "mlp.thalweg"
    logistic = TabularModel(LogisticRegression(), missing="mean").fit(data, labels)
    logistic.save(folder / "logistic.thalweg")
    files["logistic"] = folder / "logistic.thalweg"
    # Without a target: a clustering (KMeans, scale=True, a choice of k in its record)
    # and a denoising autoencoder (a GaussianNoise layer in its network).
    cluster_table(data, ks=[2, 3], random_state=0).save(folder / "kmeans.thalweg", "cluster")
    files["kmeans"] = folder / "kmeans.thalweg"
    embedding = embed_table(data, code_size=2, hidden=(3,), max_epochs=2, tol=None, noise=0.1)
    embedding.save(folder / "autoencoder.thalweg", "embed")
    files["autoencoder"] = folder / "autoencoder.thalweg"
    return files


def contents(path):
    arrays, meta = read_container(path)
    return arrays, meta


def write_raw(path, arrays, meta):
    """A container with exactly this header, bypassing every check of the writer."""
    text = json.dumps(meta)  # lone surrogates become \\ud800 escapes, as a hand edit would
    for depth in (60, 100, 1500):
        text = text.replace(f'"<nested {depth}>"', "[" * depth + "]" * depth)
    path.write_bytes(safetensors_bytes(arrays, metadata={"thalweg": text}))
    return path


def loads_or_refuses(path, sample=None):
    """Load ``path``; it must work or raise a ThalwegError, with a small peak memory.

    Returns the model, or None when it was refused.
    """
    tracemalloc.start()
    try:
        model = TabularModel.load(path)
    except ThalwegError as error:
        assert "\n" not in str(error)
        return None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < PEAK_BYTES, f"loading allocated {peak:,} bytes"
    # What loaded must work, or refuse input with a ThalwegError.
    params = set(model.estimator_.get_params())
    assert set(vars(model.estimator_)) <= params | set(FITTED_ATTRIBUTES)
    shown = inspect_text(model, path)
    assert "\x1b" not in shown
    sample = sample if sample is not None else table(5, seed=1)
    try:
        # every column of the output: predictions, probabilities, clusters, codes, errors
        predicted = model.prediction_table(sample)
    except ThalwegError:
        return model
    assert all(len(column) == 5 for column in predicted.values())
    return model


def inspect_text(model, path) -> str:
    """What ``thalweg inspect`` prints for ``model``, as plain text."""
    from rich.console import Console

    from thalweg.cli.display import Output
    from thalweg.cli.inspect_model import show
    from thalweg.models.inspection import describe

    output = Output()
    output.console = Console(file=io.StringIO(), width=120, color_system=None, emoji=False)
    info = describe(model, path)
    show(info, output)
    json.dumps(info, default=str)  # what --json prints
    return output.console.file.getvalue()


# --------------------------------------------------------------------- generated


def paths(value, prefix=()):
    """Every path into a JSON value (tuples of keys and indices)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            yield from paths(item, (*prefix, index))


def replaced(value, path, new):
    """A copy of ``value`` with ``new`` at ``path`` (added, if the last key is new)."""
    if not path:
        return new
    copied = copy.copy(value)
    inner = value[path[0]] if len(path) > 1 else None
    copied[path[0]] = replaced(inner, path[1:], new)
    return copied


def deleted(value, path):
    if len(path) == 1:
        copied = copy.copy(value)
        del copied[path[0]]
        return copied
    copied = copy.copy(value)
    copied[path[0]] = deleted(value[path[0]], path[1:])
    return copied


awkward_text = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        ["\ud800", "x\udfff", "\x1b]0;pwned\x07", "[/]", "[link=file:///etc/passwd]x", "1e999"]
    ),
    st.sampled_from(["__dict__", "predict", "__class__", "_fit_extras", "fit", "module_"]),
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        awkward_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(awkward_text, children, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("which", ["mlp", "logistic", "kmeans", "autoencoder"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_tampered_header_loads_or_is_refused_in_one_line(saved, tmp_path, which, data):
    arrays, meta = contents(saved[which])
    where = data.draw(st.sampled_from(sorted(paths(meta), key=str)), label="path")
    action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
    if action == "replace" or not where:
        meta = replaced(meta, where, data.draw(json_values, label="value"))
    elif action == "delete":
        meta = deleted(meta, where)
    else:
        parent = where[:-1]
        container = meta
        for key in parent:
            container = container[key]
        if not isinstance(container, dict):
            return
        key = data.draw(awkward_text, label="key")
        meta = replaced(meta, (*parent, key), data.draw(json_values, label="value"))
    loads_or_refuses(write_raw(tmp_path / "tampered.thalweg", arrays, meta))


@pytest.mark.parametrize("which", ["mlp", "logistic", "kmeans", "autoencoder"])
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_tampered_array_loads_or_is_refused_in_one_line(saved, tmp_path, which, data):
    arrays, meta = contents(saved[which])
    name = data.draw(st.sampled_from(sorted(arrays)), label="array")
    change = data.draw(
        st.sampled_from(["transpose", "drop", "extra", "dtype", "shape", "nan", "scalar"]),
        label="change",
    )
    array = arrays[name]
    if change == "transpose":
        arrays[name] = np.ascontiguousarray(array.T if array.ndim > 1 else array[::-1])
    elif change == "drop":
        del arrays[name]
    elif change == "extra":
        arrays[name + "_extra"] = array
    elif change == "dtype":
        dtype = data.draw(st.sampled_from([np.int8, np.float16, np.uint64, np.bool_, np.float64]))
        arrays[name] = array.astype(dtype)
    elif change == "shape":
        arrays[name] = np.resize(array, data.draw(st.integers(0, 3)) + array.size)
    elif change == "nan":
        arrays[name] = np.full_like(array, np.nan) if array.dtype.kind == "f" else array
    else:
        arrays[name] = np.asarray(array.ravel()[:1].reshape(()))
    loads_or_refuses(write_raw(tmp_path / "tampered.thalweg", arrays, meta))


# --------------------------------------------------------------------- the named cases


def _set(meta, path, value):
    return replaced(meta, tuple(path), value)


def nested(depth):
    """A stand-in that :func:`write_raw` writes as ``depth`` nested lists (too deep for
    Python's own JSON encoder)."""
    return f"<nested {depth}>"


def layers(count, width, dtype="float32"):
    config = {"in_features": width, "out_features": width, "bias": True, "dtype": dtype}
    return {
        "class": "Sequential",
        "config": {"layers": [{"class": "Linear", "config": config} for _ in range(count)]},
    }


NAMED_CASES = {
    "format_version as text": lambda m: _set(m, ["format_version"], "1"),
    "format_version null": lambda m: _set(m, ["format_version"], None),
    "format_version a list": lambda m: _set(m, ["format_version"], [1]),
    "format_version from the future": lambda m: _set(m, ["format_version"], 99),
    "state a list": lambda m: _set(m, ["state"], []),
    "params null": lambda m: _set(m, ["params"], None),
    "kind missing": lambda m: deleted(m, ("kind",)),
    "class missing": lambda m: deleted(m, ("class",)),
    "class unknown": lambda m: _set(m, ["class"], "os.system"),
    "training a list": lambda m: _set(m, ["training"], [1, 2]),
    "training.data a list": lambda m: _set(m, ["training"], {"data": []}),
    "metrics a string": lambda m: _set(m, ["metrics"], "accuracy"),
    "metrics of text": lambda m: _set(m, ["metrics"], {"test": {"accuracy": "high"}}),
    "1,500-deep nesting": lambda m: _set(m, ["training"], {"deep": nested(1500)}),
    "deep nesting in params": lambda m: _set(m, ["params", "hidden"], nested(60)),
    "lone surrogate in a column name": lambda m: _set(
        m, ["tabular", "columns", 0, "name"], "size\ud800"
    ),
    "lone surrogate in a class": lambda m: _set(
        m, ["state", "classes_"], {"type": "labels", "values": ["no", "\udfff"], "dtype": "U"}
    ),
    "state key __dict__": lambda m: _set(m, ["state", "__dict__"], {"type": "json", "value": {}}),
    "state key predict": lambda m: _set(m, ["state", "predict"], {"type": "json", "value": 1}),
    "state key _fit_extras": lambda m: _set(
        m, ["state", "_fit_extras"], {"type": "json", "value": 1}
    ),
    "a property as state": lambda m: _set(m, ["state", "coefs_"], {"type": "json", "value": 1}),
    "unknown parameter": lambda m: _set(m, ["params", "__init__"], 1),
    "hidden as text": lambda m: _set(m, ["params", "hidden"], "abc"),
    "activation unknown": lambda m: _set(m, ["params", "activation"], "os.system"),
    "n_features_in_ wrong": lambda m: _set(m, ["state", "n_features_in_", "value"], 7),
    "n_features_in_ huge": lambda m: _set(m, ["state", "n_features_in_", "value"], 10**12),
    "25 Linear(4000, 4000) layers": lambda m: _set(
        m, ["state", "module_", "architecture"], layers(25, 4000)
    ),
    "Linear(100000, 100000)": lambda m: _set(
        m, ["state", "module_", "architecture"], layers(1, 100_000)
    ),
    "Linear of dtype V1000000000": lambda m: _set(
        m, ["state", "module_", "architecture"], layers(1, 4, dtype="V1000000000")
    ),
    "encoder of dtype V1000000000": lambda m: _set(
        m, ["tabular", "encoder", "params", "dtype"], "V1000000000"
    ),
    "preprocessor class unknown": lambda m: _set(
        m, ["state", "scaler_", "config", "class"], "Pickler"
    ),
    "scaler with fewer means than columns": lambda m: _set(
        m, ["state", "scaler_", "config", "state", "mean_"], [0.0]
    ),
    "feature crosses of another width": lambda m: _set(
        m, ["tabular", "crosses", "state", "n_features_out_"], 3
    ),
    "encoder of fewer columns": lambda m: _set(
        m, ["tabular", "encoder", "state", "categories_"], []
    ),
    "column listed twice": lambda m: _set(
        m, ["tabular", "columns"], [*m["tabular"]["columns"], m["tabular"]["columns"][0]]
    ),
    "task that contradicts the model": lambda m: _set(m, ["tabular", "task"], "regression"),
    "fill value for an unknown column": lambda m: _set(m, ["tabular", "fill_values"], {"x": 1}),
}


@pytest.mark.parametrize("case", sorted(NAMED_CASES))
def test_named_damaged_model_files_are_refused_in_one_line(saved, tmp_path, case):
    arrays, meta = contents(saved["mlp"])
    path = write_raw(tmp_path / "damaged.thalweg", arrays, NAMED_CASES[case](meta))
    with pytest.raises(FileFormatError) as caught:
        assert loads_or_refuses(path) is None, "the damaged file loaded"
        TabularModel.load(path)
    assert "\n" not in str(caught.value)


def _arrays(change):
    """A case that changes the stored arrays, not the header."""
    return lambda m, a: (m, {**a, **change(a)})


def _header(change):
    return lambda m, a: (change(m), a)


# Files of models trained without a target: (which file, change of (header, arrays)).
UNSUPERVISED_CASES = {
    "centres transposed": (
        "kmeans",
        _arrays(lambda a: {"cluster_centers_": np.ascontiguousarray(a["cluster_centers_"].T)}),
    ),
    "centres of whole numbers": (
        "kmeans",
        _arrays(lambda a: {"cluster_centers_": a["cluster_centers_"].astype(np.int64)}),
    ),
    "centres NaN": (
        "kmeans",
        _arrays(lambda a: {"cluster_centers_": np.full_like(a["cluster_centers_"], np.nan)}),
    ),
    "n_clusters contradicts the centres": (
        "kmeans",
        _header(lambda m: _set(m, ["params", "n_clusters"], 5)),
    ),
    "n_clusters zero": ("kmeans", _header(lambda m: _set(m, ["params", "n_clusters"], 0))),
    "counts of another length": (
        "kmeans",
        _arrays(lambda a: {"counts_": np.resize(a["counts_"], a["counts_"].size + 1)}),
    ),
    "labels naming a cluster it lacks": (
        "kmeans",
        _arrays(lambda a: {"labels_": np.full_like(a["labels_"], 99)}),
    ),
    "labels of floats": ("kmeans", _arrays(lambda a: {"labels_": a["labels_"].astype(float)})),
    "origin of another width": (
        "kmeans",
        lambda m, a: (
            _set(m, ["state", "origin_"], {"type": "array"}),
            {**a, "origin_": np.zeros(2)},
        ),
    ),
    "inertia as text": (
        "kmeans",
        _header(lambda m: _set(m, ["state", "inertia_"], {"type": "json", "value": "low"})),
    ),
    "init unknown": ("kmeans", _header(lambda m: _set(m, ["params", "init"], "os.system"))),
    "n_init zero": ("kmeans", _header(lambda m: _set(m, ["params", "n_init"], 0))),
    "algorithm unknown": ("kmeans", _header(lambda m: _set(m, ["params", "algorithm"], "elkan"))),
    "a clustering with a target": (
        "kmeans",
        _header(lambda m: _set(m, ["tabular", "target"], "y")),
    ),
    "a clustering said to be regression": (
        "kmeans",
        _header(lambda m: _set(m, ["tabular", "task"], "regression")),
    ),
    "a clustering said to be an embedding": (
        "kmeans",
        _header(lambda m: _set(m, ["tabular", "task"], "embedding")),
    ),
    "task unknown": ("kmeans", _header(lambda m: _set(m, ["tabular", "task"], "anything"))),
    "scaler of fewer features": (
        "kmeans",
        _header(lambda m: _set(m, ["tabular", "scaler", "state", "n_features_in_"], 2)),
    ),
    "scaler that is an encoder": (
        "kmeans",
        _header(lambda m: _set(m, ["tabular", "scaler"], m["tabular"]["encoder"])),
    ),
    "scaler a list": ("kmeans", _header(lambda m: _set(m, ["tabular", "scaler"], [1]))),
    "clustering record a list": ("kmeans", _header(lambda m: _set(m, ["clustering"], [1]))),
    "clustering sizes of text": (
        "kmeans",
        _header(lambda m: _set(m, ["clustering", "sizes"], ["big"])),
    ),
    "clustering record with a data list": (
        "kmeans",
        _header(lambda m: _set(m, ["clustering", "data"], [])),
    ),
    "noise layer of negative std": (
        "autoencoder",
        _header(
            lambda m: _set(
                m,
                ["state", "module_", "architecture", "config", "layers", 0, "config", "layers", 0],
                {"class": "GaussianNoise", "config": {"std": -1.0}},
            )
        ),
    ),
    "noise layer of text std": (
        "autoencoder",
        _header(
            lambda m: _set(
                m,
                ["state", "module_", "architecture", "config", "layers", 0, "config", "layers", 0],
                {"class": "GaussianNoise", "config": {"std": "loud"}},
            )
        ),
    ),
    "noise layer with an rng": (
        "autoencoder",
        _header(
            lambda m: _set(
                m,
                ["state", "module_", "architecture", "config", "layers", 0, "config", "layers", 0],
                {"class": "GaussianNoise", "config": {"std": 0.1, "rng": 0}},
            )
        ),
    ),
    "code_size contradicts the network": (
        "autoencoder",
        _header(lambda m: _set(m, ["params", "code_size"], 5)),
    ),
    "noise negative": ("autoencoder", _header(lambda m: _set(m, ["params", "noise"], -0.5))),
    "network without its decoder": (
        "autoencoder",
        lambda m, a: (
            _set(
                m,
                ["state", "module_", "architecture", "config", "layers"],
                m["state"]["module_"]["architecture"]["config"]["layers"][:1],
            ),
            {k: v for k, v in a.items() if not k.startswith("module_.1.")},
        ),
    ),
    "decoder rebuilding one column": (
        "autoencoder",
        lambda m, a: (
            _set(
                m,
                ["state", "module_", "architecture", "config", "layers", 1, "config", "layers", 2],
                {
                    "class": "Linear",
                    "config": {"in_features": 3, "out_features": 1, "dtype": "float64"},
                },
            ),
            {
                **a,
                "module_.1.2.weight": np.zeros((3, 1)),
                "module_.1.2.bias": np.zeros(1),
            },
        ),
    ),
    "an autoencoder said to be a clustering": (
        "autoencoder",
        _header(lambda m: _set(m, ["tabular", "task"], "clustering")),
    ),
    "scaler_ with fewer means": (
        "autoencoder",
        _header(lambda m: _set(m, ["state", "scaler_", "config", "state", "mean_"], [0.0])),
    ),
    "embedding epochs as text": (
        "autoencoder",
        _header(lambda m: _set(m, ["embedding", "epochs_run"], "two")),
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPERVISED_CASES))
def test_damaged_clustering_and_autoencoder_files_are_refused_in_one_line(saved, tmp_path, case):
    which, change = UNSUPERVISED_CASES[case]
    arrays, meta = contents(saved[which])
    meta, arrays = change(meta, arrays)
    path = write_raw(tmp_path / "damaged.thalweg", arrays, meta)
    with pytest.raises(FileFormatError) as caught:
        assert loads_or_refuses(path) is None, "the damaged file loaded"
        TabularModel.load(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("which", ["kmeans", "autoencoder"])
def test_clustering_and_autoencoder_files_load_and_answer_as_saved(saved, which):
    model = loads_or_refuses(saved[which])
    assert model is not None and model.task == {"kmeans": "clustering"}.get(which, "embedding")
    again = TabularModel.load(saved[which])
    sample = table(7, seed=4)
    first, second = model.prediction_table(sample), again.prediction_table(sample)
    assert list(first) == list(second)
    for name in first:  # the noise layer is off once trained: the same rows, the same answer
        np.testing.assert_array_equal(np.asarray(first[name]), np.asarray(second[name]))


def test_a_transposed_coefficient_matrix_is_refused(saved, tmp_path):
    arrays, meta = contents(saved["logistic"])
    arrays["coef_"] = np.ascontiguousarray(arrays["coef_"].T)
    path = write_raw(tmp_path / "transposed.thalweg", arrays, meta)
    with pytest.raises(FileFormatError, match="coef_ has shape"):
        TabularModel.load(path)


def test_nan_weights_are_refused(saved, tmp_path):
    arrays, meta = contents(saved["mlp"])
    arrays["module_.0.weight"] = np.full_like(arrays["module_.0.weight"], np.nan)
    with pytest.raises(FileFormatError, match="NaN or infinite"):
        TabularModel.load(write_raw(tmp_path / "nan.thalweg", arrays, meta))


def test_a_header_declaring_a_huge_tensor_is_refused_before_allocation(tmp_path):
    header = json.dumps(
        {
            "w": {"dtype": "F64", "shape": [10**6, 10**6], "data_offsets": [0, 8]},
            "__metadata__": {"thalweg": json.dumps({"format": "thalweg", "format_version": 2})},
        }
    ).encode()
    path = tmp_path / "huge.thalweg"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError):
            thalweg.load(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES


def test_a_file_from_format_version_1_still_loads(saved, tmp_path):
    arrays, meta = contents(saved["mlp"])
    meta["format_version"] = 1
    model = TabularModel.load(write_raw(tmp_path / "v1.thalweg", arrays, meta))
    original = TabularModel.load(saved["mlp"])
    sample = table(5, seed=3)
    np.testing.assert_array_equal(model.predict_proba(sample), original.predict_proba(sample))


def test_loading_builds_no_layer_twice_and_keeps_the_stored_weights(saved):
    arrays, _ = contents(saved["mlp"])
    model = load_model(saved["mlp"])
    for name, parameter in model.module_.named_parameters():
        np.testing.assert_array_equal(parameter.data, arrays[f"module_.{name}"])
        assert parameter.data.flags.writeable  # partial_fit can continue training


def test_a_file_with_user_metadata_keeps_it_but_never_as_attributes(saved, tmp_path):
    arrays, meta = contents(saved["mlp"])
    meta["predict"] = "not code"
    model = TabularModel.load(write_raw(tmp_path / "meta.thalweg", arrays, meta))
    assert model.metadata_["predict"] == "not code"
    assert callable(model.predict)


# --------------------------------------------------------------------- thalweg.save / load


@pytest.mark.parametrize(
    ("architecture", "stored"),
    [
        (layers(25, 4000), {}),
        (layers(1, 100_000), {"0.weight": np.zeros((2, 2), np.float32)}),
        (layers(1, 4, "V1000000000"), {}),
        ({"class": "Linear", "config": {"in_features": -1, "out_features": 2}}, {}),
        ({"class": "Evil", "config": {}}, {}),
        ({"class": "Dropout", "config": {"p": 2.0}}, {}),
        ({"class": "Sequential", "config": {"layers": nested(100)}}, {}),
    ],
)
def test_module_files_with_a_bad_architecture_are_refused(tmp_path, architecture, stored):
    meta = {
        "format": "thalweg",
        "format_version": 2,
        "kind": "module",
        "class": "Sequential",
        "architecture": architecture,
    }
    path = write_raw(tmp_path / "net.thalweg", stored, meta)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError):
            thalweg.load(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES


def test_text_arrays_round_trip_through_save_and_load(tmp_path):
    arrays = {"names": np.array([["a", "b"], ["é", "🙂"]]), "x": np.arange(3)}
    thalweg.save(arrays, tmp_path / "a.thalweg")
    loaded = thalweg.load(tmp_path / "a.thalweg")
    np.testing.assert_array_equal(loaded["names"], arrays["names"])
    np.testing.assert_array_equal(loaded["x"], arrays["x"])


def test_saving_objects_that_are_not_arrays_is_a_clear_type_error(tmp_path):
    with pytest.raises(TypeError, match="numbers, booleans and text only"):
        thalweg.save({"mixed": np.array([1, "a", None], dtype=object)}, tmp_path / "m.thalweg")


def test_optimizer_files_cannot_set_unknown_attributes(tmp_path):
    net = thalweg.nn.Linear(2, 1, rng=0)
    optimizer = thalweg.optim.Adam(net.parameters(), lr=0.1)
    thalweg.save(optimizer, tmp_path / "opt.thalweg")
    arrays, meta = contents(tmp_path / "opt.thalweg")
    meta["hyperparameters"]["step"] = 5  # a method of the optimizer
    path = write_raw(tmp_path / "opt2.thalweg", arrays, meta)
    with pytest.raises(FileFormatError, match="no hyperparameter 'step'"):
        thalweg.load(path, into=optimizer)
    assert callable(optimizer.step)


# --------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "run.checkpoint"
    X, y = checkpoint_data()
    model, optimizer = small_model()
    fit(
        model,
        thalweg.losses.mse,
        optimizer,
        X,
        y,
        epochs=2,
        batch_size=8,
        seed=0,
        verbose=0,
        callbacks=[Checkpoint(path, every=1)],
    )
    return path


def checkpoint_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3)).astype(np.float32)
    return X, (X @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def small_model():
    thalweg.manual_seed(0)
    model = thalweg.nn.Sequential(thalweg.nn.Linear(3, 4, rng=0), thalweg.nn.Tanh())
    model = thalweg.nn.Sequential(model[0], model[1], thalweg.nn.Linear(4, 1, rng=1))
    return model, thalweg.optim.Adam(model.parameters(), lr=0.01)


def resume_or_refuse(path):
    X, y = checkpoint_data()
    model, optimizer = small_model()
    before = [p.data.copy() for p in model.parameters()]
    try:
        fit(
            model,
            thalweg.losses.mse,
            optimizer,
            X,
            y,
            epochs=3,
            batch_size=8,
            seed=0,
            verbose=0,
            resume=path,
        )
    except FileFormatError as error:
        assert "\n" not in str(error)
        for parameter, old in zip(model.parameters(), before, strict=True):
            np.testing.assert_array_equal(parameter.data, old)  # nothing half-restored
        return False
    except ThalwegError as error:  # e.g. a damaged learning rate that makes training diverge
        assert "\n" not in str(error)
        return False
    assert all(math.isfinite(float(v)) for p in model.parameters() for v in p.data.ravel())
    return True


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a damaged rate may diverge: refused
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_tampered_checkpoint_resumes_or_is_refused(checkpoint, tmp_path, data):
    arrays, meta = contents(checkpoint)
    if data.draw(st.booleans(), label="header"):
        where = data.draw(st.sampled_from(sorted(paths(meta), key=str)), label="path")
        meta = replaced(meta, where, data.draw(json_values, label="value"))
    else:
        name = data.draw(st.sampled_from(sorted(arrays)), label="array")
        array = arrays[name]
        arrays[name] = data.draw(
            st.sampled_from(
                [
                    np.ascontiguousarray(array.T),
                    np.resize(array, array.size + 1),
                    array.astype(np.float16),
                    np.zeros(()),
                ]
            )
        )
    resume_or_refuse(write_raw(tmp_path / "tampered.checkpoint", arrays, meta))


CHECKPOINT_CASES = {
    "epoch as text": lambda m, a: (_set(m, ["epoch"], "1"), a),
    "epoch negative": lambda m, a: (_set(m, ["epoch"], -1), a),
    "history a list": lambda m, a: (_set(m, ["history"], []), a),
    "history rows of text": lambda m, a: (_set(m, ["history", "rows"], [{"loss": "x"}]), a),
    "rng state garbage": lambda m, a: (_set(m, ["epoch_rng_state"], {"bit_generator": "X"}), a),
    "rng state of another generator": lambda m, a: (
        _set(m, ["epoch_rng_state", "bit_generator"], "MT19937"),
        a,
    ),
    "optimizer of another class": lambda m, a: (_set(m, ["optimizer", "class"], "SGD"), a),
    "optimizer hyperparameter __class__": lambda m, a: (
        _set(m, ["optimizer", "hyperparameters", "__class__"], 1),
        a,
    ),
    "optimizer state for parameter 99": lambda m, a: (
        m,
        {**a, "optimizer.state.99.m": np.zeros(3, np.float32)},
    ),
    "transposed weight": lambda m, a: (
        m,
        {**a, "model.0.weight": np.ascontiguousarray(a["model.0.weight"].T)},
    ),
    "missing weight": lambda m, a: (m, {k: v for k, v in a.items() if k != "model.2.bias"}),
    "callbacks not a list": lambda m, a: (_set(m, ["callbacks"], {"a": 1}), a),
    "a module instead of a checkpoint": lambda m, a: (_set(m, ["kind"], "module"), a),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_named_damaged_checkpoints_are_refused_in_one_line(checkpoint, tmp_path, case):
    arrays, meta = contents(checkpoint)
    meta, arrays = CHECKPOINT_CASES[case](meta, arrays)
    path = write_raw(tmp_path / "damaged.checkpoint", arrays, meta)
    assert not resume_or_refuse(path)


def test_an_intact_checkpoint_still_resumes(checkpoint):
    assert resume_or_refuse(checkpoint)


def test_ctrl_c_when_the_checkpoint_cannot_be_written_says_so(tmp_path):
    import os
    import signal

    from thalweg.train import Callback, TrainingInterrupted

    class PressCtrlC(Callback):
        def on_batch_end(self, state, loss):
            if state.batch_in_epoch == 2:
                os.kill(os.getpid(), signal.SIGINT)

    blocked = tmp_path / "run.checkpoint"
    blocked.mkdir()  # a folder where the checkpoint should go
    X, y = checkpoint_data()
    model, optimizer = small_model()
    with pytest.raises(TrainingInterrupted, match="could not be saved") as caught:
        fit(
            model,
            thalweg.losses.mse,
            optimizer,
            X,
            y,
            epochs=2,
            batch_size=4,
            verbose=0,
            callbacks=[PressCtrlC(), Checkpoint(blocked)],
        )
    assert caught.value.checkpoint is None
    assert blocked.is_dir() and not list(blocked.iterdir())


def test_saving_an_estimator_to_a_folder_is_a_one_line_error(tmp_path):
    from thalweg.errors import OutputPathError

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    with pytest.raises(OutputPathError, match="is a folder"):
        model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []
