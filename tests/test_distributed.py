"""Dask data-parallel training: the same weights as one process, on a real 2-worker cluster.

One LocalCluster (2 worker processes, 1 thread each) serves the whole module. The
comparisons run in float64, where the only difference between the two paths is the
order in which floating-point sums are added.
"""

import itertools
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import thalweg
from thalweg.distributed import (
    ClusterError,
    ClusterSpec,
    DaskNotInstalled,
    SmallDataWarning,
    combine_moments,
    connect,
    fit,
    parse_spec,
    read_table,
)
from thalweg.models import (
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    load_model,
)

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("dask.distributed")

RTOL = 1e-5
N = 2000
CHUNK = 600  # partitions of 600, 600, 600, 200 rows: the workers get 1200 and 800 rows


@pytest.fixture(scope="module")
def client():
    with connect("local:2") as client:
        yield client


@pytest.fixture(autouse=True)
def float64():
    thalweg.set_default_dtype("float64")
    yield
    thalweg.set_default_dtype("float32")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 5)) * [1.0, 2.0, 0.5, 3.0, 1.5] + [5.0, -2.0, 0.0, 1.0, 10.0]
    regression = X @ [1.0, -0.5, 2.0, 0.3, 0.0] + rng.normal(size=N)
    binary = np.where(X[:, 0] - 5 + 0.5 * rng.normal(size=N) > 0, "yes", "no")
    multiclass = np.digitize(X[:, 1] + 0.5 * X[:, 3], [-3.0, 0.0])
    return X, {"regression": regression, "binary": binary, "multiclass": multiclass}


def dask_arrays(X, y):
    return da.from_array(X, chunks=(CHUNK, -1)), da.from_array(y, chunks=CHUNK)


def assert_same_weights(distributed, single):
    if hasattr(single, "coef_"):
        np.testing.assert_allclose(distributed.coef_, single.coef_, rtol=RTOL)
        np.testing.assert_allclose(distributed.intercept_, single.intercept_, rtol=RTOL)
    else:
        for mine, theirs in zip(distributed.coefs_, single.coefs_, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=1e-12)
        for mine, theirs in zip(distributed.intercepts_, single.intercepts_, strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=1e-12)


FULL_BATCH_CASES = {
    # learning_rate="auto": the curvature is found by a distributed power iteration
    "linear": (LinearRegression(solver="gd", max_epochs=40, tol=None, l2=0.01), "regression"),
    "logistic-binary": (
        LogisticRegression(solver="gd", max_epochs=40, tol=None, optimizer="momentum"),
        "binary",
    ),
    "logistic-multiclass": (
        LogisticRegression(solver="gd", max_epochs=40, tol=None, l1=0.001),
        "multiclass",
    ),
    "mlp-classifier": (
        MLPClassifier(hidden=(8,), batch_size=None, max_epochs=25, tol=None, random_state=0),
        "multiclass",
    ),
    "mlp-regressor": (
        MLPRegressor(
            hidden=(6, 4),
            activation="tanh",
            batch_size=None,
            max_epochs=25,
            tol=None,
            random_state=1,
        ),
        "regression",
    ),
}


@pytest.mark.parametrize("case", FULL_BATCH_CASES)
def test_full_batch_gradient_descent_gives_the_single_process_weights(client, data, case):
    estimator, task = FULL_BATCH_CASES[case]
    X, targets = data
    y = targets[task]
    single = type(estimator)(**estimator.get_params()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallDataWarning)
        distributed = fit(estimator, *dask_arrays(X, y), client=client, solver="gd")
    assert distributed.n_iter_ == single.n_iter_
    assert_same_weights(distributed, single)
    np.testing.assert_allclose(
        distributed.history_["loss"], single.history_["loss"], rtol=RTOL, atol=1e-12
    )


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_lbfgs_agrees_with_single_process_logistic_regression(client, data, task):
    X, targets = data
    y = targets[task]
    single = LogisticRegression(solver="lbfgs", l2=1e-3, tol=1e-9).fit(X, y)
    distributed = fit(
        LogisticRegression(solver="lbfgs", l2=1e-3, tol=1e-9),
        *dask_arrays(X, y),
        client=client,
        warn_small=False,
    )
    assert_same_weights(distributed, single)
    assert distributed.loss_ == pytest.approx(single.loss_, rel=1e-10)


def test_mini_batch_sgd_lowers_the_loss_and_learns(client, data):
    X, targets = data
    y = targets["regression"]
    model = fit(
        LinearRegression(solver="gd", batch_size=250, max_epochs=4, tol=None, random_state=0),
        *dask_arrays(X, y),
        client=client,
        warn_small=False,
    )
    losses = model.history_["loss"]
    assert len(losses) == 4
    # The standardized target's loss at the initial (zero) weights is its variance, 1.
    assert losses[-1] < losses[0] < 0.5
    assert model.history_.rows[0]["examples"] == N  # every row once per epoch
    best = LinearRegression().fit(X, y).score(X, y)
    assert model.score(X, y) > best - 0.01


def test_actors_transport_gives_the_same_weights_as_tasks(client, data):
    X, targets = data
    y = targets["multiclass"]
    settings = dict(hidden=(8,), batch_size=400, max_epochs=3, tol=None, random_state=0)
    runs = [
        fit(
            MLPClassifier(**settings),
            *dask_arrays(X, y),
            client=client,
            transport=transport,
            warn_small=False,
        )
        for transport in ("tasks", "actors")
    ]
    assert runs[0].history_["loss"] == pytest.approx(runs[1].history_["loss"], rel=1e-12)
    assert_same_weights(runs[1], runs[0])


def test_a_parquet_folder_trains_a_model_that_saves_and_predicts(client, data, tmp_path):
    X, targets = data
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = targets["binary"]
    folder = tmp_path / "table"
    folder.mkdir()
    for i, start in enumerate(range(0, N, 500)):
        frame.iloc[start : start + 500].to_parquet(folder / f"part-{i}.parquet")
    settings = dict(solver="gd", max_epochs=20, tol=None)
    single = LogisticRegression(**settings).fit(frame.drop(columns="label"), frame["label"])
    model = fit(
        LogisticRegression(**settings),
        read_table(folder),
        target="label",
        client=client,
        warn_small=False,
    )
    assert_same_weights(model, single)
    assert list(model.feature_names_in_) == list(single.feature_names_in_)
    model.save(tmp_path / "model.thalweg")
    loaded = load_model(tmp_path / "model.thalweg")
    features = frame.drop(columns="label")
    np.testing.assert_array_equal(loaded.predict(features), single.predict(features))


def test_a_scheduler_address_reaches_a_running_cluster(client, data):
    X, targets = data
    with connect(client.scheduler.address) as other:  # "tcp://127.0.0.1:PORT"
        assert sorted(other.nthreads()) == sorted(client.nthreads())
        model = fit(
            LinearRegression(solver="gd", max_epochs=3, tol=None, learning_rate=0.1),
            *dask_arrays(X, targets["regression"]),
            client=other,
            warn_small=False,
        )
    assert model.n_iter_ == 3


def test_small_data_warns_in_one_line(client, data):
    X, targets = data
    with pytest.warns(SmallDataWarning, match="one process trains it faster") as caught:
        fit(
            LinearRegression(solver="gd", max_epochs=2, tol=None, learning_rate=0.1),
            *dask_arrays(X, targets["regression"]),
            client=client,
        )
    assert "\n" not in str(caught[0].message)


def test_unsupported_options_fail_before_touching_the_cluster(data):
    X, targets = data
    with pytest.raises(ValueError, match="early_stopping"):
        fit(MLPClassifier(early_stopping=True), X, targets["binary"], client=object())
    with pytest.raises(ValueError, match="L-BFGS"):
        fit(LogisticRegression(l1=0.1), X, targets["binary"], client=object(), solver="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        fit(LinearRegression(), X, targets["regression"], client=object(), solver="sgd")


# ----------------------------------------------------------------- no cluster needed
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local:2", ClusterSpec("local", n_workers=2)),
        (" local:16 ", ClusterSpec("local", n_workers=16)),
        ("tcp://10.0.0.5:8786", ClusterSpec("address", address="tcp://10.0.0.5:8786")),
        (
            "scheduler.internal:8786",
            ClusterSpec("address", address="tcp://scheduler.internal:8786"),
        ),
        ("tls://host:9000", ClusterSpec("address", address="tls://host:9000")),
    ],
)
def test_cluster_specs_parse(spec, expected):
    assert parse_spec(spec) == expected


def test_plain_local_means_one_worker_per_core():
    spec = parse_spec("local")
    assert spec.kind == "local" and spec.n_workers >= 1


@pytest.mark.parametrize("spec", ["local:0", "local:two", "cluster", "http://host:8786", ""])
def test_bad_cluster_specs_are_one_clear_error(spec):
    with pytest.raises(ClusterError, match="local:N"):
        parse_spec(spec)


def test_moments_of_parts_combine_exactly():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 3)) * 1e3 + 1e6  # a large mean: where naive Σx² fails
    cuts = [0, 1, 200, 200, 650, 1000]  # includes an empty part
    parts = []
    for start, stop in itertools.pairwise(cuts):
        block = X[start:stop]
        mean = block.mean(axis=0) if len(block) else np.zeros(3)
        parts.append({"n": len(block), "mean": mean, "m2": ((block - mean) ** 2).sum(axis=0)})
    n, mean, m2 = combine_moments(parts)
    assert n == 1000
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(m2 / n, X.var(axis=0), rtol=1e-10)


def test_without_dask_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # makes the import fail
    with pytest.raises(DaskNotInstalled, match=r"pip install \"thalweg\[dask\]\""):
        connect("local:2")


def test_importing_thalweg_does_not_import_dask():
    code = (
        "import sys, thalweg, thalweg.models, thalweg.distributed; "
        "assert 'dask' not in sys.modules, 'dask imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
