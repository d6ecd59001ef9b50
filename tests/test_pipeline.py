"""The input pipeline (map on processes, batch, prefetch, cache) and the balance diagnostic."""

import json
import time

import numpy as np
import pytest

import thalweg
from thalweg import losses, nn, optim
from thalweg.data import Pipeline, profile_input, stream
from thalweg.train import fit

SLOW_SECONDS = 0.004


# Module-level functions: worker processes import them by name.
def features(i):
    """Example ``i`` -> (features, label); the first feature identifies the example."""
    i = int(i)
    return np.array([i / 100, (i % 7) / 7, 1.0], dtype=np.float32), float(i % 2)


def slow_features(i):
    time.sleep(SLOW_SECONDS)  # a feature function that takes a while
    return features(i)


def fails_on_37(i):
    if int(i) == 37:
        raise KeyError(f"cannot make features for example {i}")
    return features(i)


def ids(batches):
    return [round(float(v) * 100) for X, _ in batches for v in X[:, 0]]


def mse_on_labels(output, y):
    return losses.mse(output, y.reshape(-1, 1).astype(np.float32))


def test_each_epoch_visits_every_example_once_in_a_new_order():
    pipeline = Pipeline(range(100), seed=0).map(features).batch(16)
    first, second = ids(pipeline), ids(pipeline)
    assert sorted(first) == sorted(second) == list(range(100))
    assert first != second
    assert ids(Pipeline(range(100), shuffle=False).map(features).batch(16)) == list(range(100))
    assert [len(X) for X, _ in pipeline][-1] == 100 - 6 * 16


def test_order_depends_on_the_seed_only_not_on_workers_or_prefetch():
    reference = ids(Pipeline(range(120), seed=4).map(features).batch(10))
    assert ids(Pipeline(range(120), seed=4).map(features).batch(10)) == reference
    with Pipeline(range(120), seed=4).map(features, workers=2, chunksize=3) as pooled:
        assert ids(pooled.batch(10).prefetch(3)) == reference
    assert ids(Pipeline(range(120), seed=5).map(features).batch(10)) != reference


@pytest.mark.parametrize("workers", [0, 1])
def test_an_error_in_the_feature_function_surfaces_with_its_type_and_message(workers):
    pipeline = Pipeline(range(100), shuffle=False).map(fails_on_37, workers=workers)
    with pytest.raises(KeyError, match="cannot make features for example 37"):
        list(pipeline.batch(8).prefetch(2))
    pipeline.close()


def test_a_stream_source_is_mapped_batch_by_batch_and_rebatched(tmp_path):
    np.save(tmp_path / "d.npy", np.column_stack([np.arange(50.0), np.arange(50) % 2]))
    data = stream(tmp_path / "d.npy", target=-1, batch_size=8, shuffle_buffer=0)
    pipeline = Pipeline(data, shuffle=False).map(lambda b: (b[0] * 10, b[1])).batch(20)
    batches = list(pipeline)
    assert [len(X) for X, _ in batches] == [20, 20, 10]
    assert batches[0][0][:3, 0].tolist() == [0.0, 10.0, 20.0]
    assert pipeline.n_samples == 50 and pipeline.batch_size == 20


def test_misuse_is_reported_clearly():
    with pytest.raises(thalweg.DataError, match="one-shot iterator"):
        Pipeline(iter(range(5)))
    with pytest.raises(ValueError, match=r"call \.batch"):
        Pipeline(range(5)).map(features).cache("somewhere")
    with pytest.raises(ValueError, match=r"call \.batch"):
        list(Pipeline(range(5)).map(features).epoch_batches(np.random.default_rng(0)))
    with pytest.raises(thalweg.DataError, match="pair"):
        list(Pipeline(range(5)).batch(2))


def test_cache_writes_npy_shards_then_later_epochs_skip_the_features(tmp_path):
    calls = []

    def counted(i):
        calls.append(i)
        return features(i)

    pipeline = Pipeline(range(40), seed=0).map(counted).batch(8).cache(tmp_path / "c")
    first = list(pipeline)
    assert len(calls) == 40
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["shards"] == 5
    assert len(list((tmp_path / "c").glob("*.npy"))) == 10
    second = list(pipeline)
    assert len(calls) == 40  # nothing generated again
    key = [tuple(y.tolist()) + tuple(X[:, 0].tolist()) for X, y in first]
    assert sorted(key) == sorted(tuple(y.tolist()) + tuple(X[:, 0].tolist()) for X, y in second)
    # A new pipeline with the same description reuses the cache across runs.
    again = Pipeline(range(40), seed=0).map(counted).batch(8).cache(tmp_path / "c")
    assert sorted(ids(again)) == list(range(40)) and len(calls) == 40
    # A different pipeline (another batch size) does not read a stale cache.
    other = Pipeline(range(40), seed=0).map(counted).batch(10).cache(tmp_path / "c")
    assert [len(X) for X, _ in other] == [10] * 4 and len(calls) == 80


def test_an_interrupted_first_epoch_leaves_no_cache(tmp_path):
    pipeline = Pipeline(range(40)).map(features).batch(8).cache(tmp_path / "c")
    batches = iter(pipeline)
    next(batches)
    batches.close()
    assert not (tmp_path / "c" / "manifest.json").exists()
    assert sorted(ids(pipeline)) == list(range(40))
    assert (tmp_path / "c" / "manifest.json").exists()


def test_a_slow_map_makes_the_trainer_data_bound_and_the_cache_makes_epoch_two_fast(
    tmp_path, capsys
):
    model = nn.Linear(3, 1, rng=0)
    pipeline = (
        Pipeline(range(96), seed=0)
        .map(slow_features, workers=2)
        .batch(16)
        .cache(tmp_path / "features")
        .prefetch(2)
    )
    with pipeline:
        history = fit(
            model,
            mse_on_labels,
            optim.SGD(model.parameters(), lr=0.1),
            pipeline,
            epochs=2,
            seed=0,
            verbose=1,
        )
    first, second = history["seconds"]
    assert second * 5 <= first  # measured: typically 50-100x
    balance = history.input_balance
    assert balance.epoch_utilisation[0] < 0.5  # the first epoch waited for features
    assert balance.workers == 2 and balance.batch_size == 16 and balance.cached
    assert balance.example_seconds >= 0.8 * SLOW_SECONDS
    assert "input balance" in capsys.readouterr().err


def test_the_diagnostic_calls_a_slow_uncached_pipeline_data_bound_with_advice():
    model = nn.Linear(3, 1, rng=0)
    pipeline = Pipeline(range(64), seed=0).map(slow_features).batch(16)
    history = fit(
        model, mse_on_labels, optim.SGD(model.parameters(), lr=0.1), pipeline, epochs=1, verbose=0
    )
    balance = history.input_balance
    assert balance.data_bound
    assert balance.utilisation < 0.5
    # T_g·B/C against T_step: one batch takes ~64 ms to make and well under that to train.
    assert balance.batch_make_seconds > balance.step_seconds
    assert balance.workers_needed > 1
    assert "workers=" in balance.advice and ".cache(dir)" in balance.advice
    assert "data-bound" in str(balance) and "T_g" in str(balance)


def test_the_diagnostic_calls_a_fast_source_compute_bound():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2048, 64)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    batches = [(X[i : i + 256], y[i : i + 256]) for i in range(0, 2048, 256)]
    model = nn.Sequential(nn.Linear(64, 256, rng=0), nn.ReLU(), nn.Linear(256, 1, rng=1))
    pipeline = Pipeline(batches, seed=0).batch(256)
    history = fit(
        model,
        losses.mse,
        optim.Adam(model.parameters(), lr=1e-3),
        pipeline,
        epochs=2,
        verbose=0,
    )
    balance = history.input_balance
    assert not balance.data_bound and balance.advice == ""
    assert balance.utilisation > 0.9


def test_profile_input_measures_a_pipeline_alone():
    profile = profile_input(Pipeline(range(64)).map(slow_features).batch(8), batches=4)
    assert (profile.batches, profile.examples, profile.batch_size, profile.workers) == (4, 32, 8, 1)
    assert profile.example_seconds >= 0.8 * SLOW_SECONDS
    assert profile.batch_seconds >= 8 * 0.8 * SLOW_SECONDS
    assert "examples/s" in str(profile)
