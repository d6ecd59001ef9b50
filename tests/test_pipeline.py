"""The input pipeline (map on processes, batch, prefetch, cache) and the balance diagnostic."""

import json

import numpy as np
import pytest

import thalweg
from thalweg import losses, nn, optim
from thalweg.data import Pipeline, profile_input, stream
from thalweg.train import fit
from thalweg.train.batches import InputBalance

SLOW_SECONDS = 0.004


# Module-level functions: worker processes import them by name.
def features(i):
    """Example ``i`` -> (features, label); the first feature identifies the example."""
    i = int(i)
    return np.array([i / 100, (i % 7) / 7, 1.0], dtype=np.float32), float(i % 2)


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


class FakeClock:
    """Stands in for the ``time`` module of the code under test: ``perf_counter`` reads a
    counter that only ``sleep`` advances, so durations are exact and the tests never
    depend on how busy the machine is (speed is measured in ``bench/``, not here)."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


CLOCK = FakeClock()


def clocked_features(i):
    CLOCK.sleep(SLOW_SECONDS)  # the feature function "takes" SLOW_SECONDS of fake time
    return features(i)


@pytest.fixture
def fake_clock(monkeypatch):
    CLOCK.now = 0.0
    monkeypatch.setattr("thalweg.data.pipeline.time", CLOCK)
    monkeypatch.setattr("thalweg.train.loop.time", CLOCK)
    return CLOCK


def test_fit_on_a_pipeline_measures_the_input_and_a_cache_skips_the_features_later(
    tmp_path, capsys, fake_clock
):
    model = nn.Linear(3, 1, rng=0)
    pipeline = Pipeline(range(96), seed=0).map(clocked_features).batch(16).cache(tmp_path / "f")
    history = fit(
        model,
        mse_on_labels,
        optim.SGD(model.parameters(), lr=0.1),
        pipeline,
        epochs=2,
        seed=0,
        verbose=1,
    )
    first, second = history.rows
    # The first epoch waited for every feature (96 × SLOW_SECONDS of the fake clock); the
    # second read the cache, and the feature function never ran again.
    assert first["data_seconds"] == pytest.approx(96 * SLOW_SECONDS)
    assert second["data_seconds"] == 0.0 and fake_clock.now == pytest.approx(96 * SLOW_SECONDS)
    balance = history.input_balance
    assert balance.epoch_utilisation[0] == 0.0  # the trainer took no (fake) time at all
    assert balance.batch_size == 16 and balance.cached and balance.mapped
    assert balance.example_seconds == pytest.approx(SLOW_SECONDS)
    assert "input balance" in capsys.readouterr().err


class Source:
    """A batch source that reports made-up input statistics, for InputBalance.measure."""

    def __init__(self, batch_size, seconds, examples, workers=1, cached=False, mapped=True):
        self.batch_size = batch_size
        self.stats = {"seconds": seconds, "examples": examples, "workers": workers}
        self.stats |= {"cached": cached, "mapped": mapped}

    def input_stats(self):
        return self.stats


def rows(*waits, seconds=1.0, examples=64):
    return [{"seconds": seconds, "data_seconds": wait, "examples": examples} for wait in waits]


def test_the_balance_calls_a_slow_uncached_source_data_bound_and_says_what_to_change():
    before = {"seconds": 0.0, "examples": 0}
    # 64 examples took 0.64 s to make (T_g = 10 ms) and the trainer waited 0.6 of its 1 s.
    balance = InputBalance.measure(rows(0.6), Source(16, 0.64, 64), before)
    assert balance.data_bound and balance.utilisation == pytest.approx(0.4)
    assert balance.example_seconds == pytest.approx(0.01)
    assert balance.batch_make_seconds == pytest.approx(0.16)  # T_g·B/C
    assert balance.step_seconds == pytest.approx(0.1)  # 0.4 s of training for 4 batches
    assert balance.workers_needed == 2  # ceil(T_g·B / T_step)
    assert "workers=2" in balance.advice and ".cache(dir)" in balance.advice
    assert "data-bound" in str(balance) and "T_g" in str(balance)


def test_the_balance_calls_a_fast_source_compute_bound_with_no_advice():
    before = {"seconds": 0.0, "examples": 0}
    balance = InputBalance.measure(rows(0.01, 0.02), Source(16, 0.01, 128), before)
    assert not balance.data_bound and balance.advice == ""
    assert balance.epoch_utilisation == pytest.approx([0.99, 0.98])
    assert "compute-bound" in str(balance)


def test_a_data_bound_stream_is_told_about_reading_and_a_cached_one_about_prefetch():
    before = {"seconds": 0.0, "examples": 0}
    reading = InputBalance.measure(rows(0.5), Source(16, 0.5, 64, mapped=False), before)
    assert "read fewer columns" in reading.advice
    cached = InputBalance.measure(rows(0.9, 0.5), Source(16, 0.5, 128, cached=True), before)
    assert ".prefetch(k)" in cached.advice and "reading the cache" in cached.advice


def test_profile_input_measures_a_pipeline_alone(fake_clock):
    profile = profile_input(Pipeline(range(64)).map(clocked_features).batch(8), batches=4)
    assert (profile.batches, profile.examples, profile.batch_size, profile.workers) == (4, 32, 8, 1)
    assert profile.example_seconds == pytest.approx(SLOW_SECONDS)
    assert profile.seconds == pytest.approx(32 * SLOW_SECONDS)
    assert "examples/s" in str(profile)
