"""Streaming mini-batches from Parquet, CSV and .npy files (thalweg.data.stream)."""

import tracemalloc

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import thalweg
from thalweg import losses, nn, optim
from thalweg.data import stream
from thalweg.train import fit

N, D = 1000, 3


def rows(n=N, d=D, seed=0):
    """Features whose row ``i`` is recognisable, and ``y = i`` (the row's id)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X[:, 0] = np.arange(n, dtype=np.float32) / n
    return X, np.arange(n, dtype=np.int64)


def write_parquet(path, X, y, row_group=100, **extra):
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])} | {"y": y} | extra
    pq.write_table(pa.table(columns), path, row_group_size=row_group)
    return path


def write_csv(path, X, y):
    header = ",".join([f"x{j}" for j in range(X.shape[1])] + ["y"])
    body = "\n".join(
        ",".join([repr(float(v)) for v in X[i]] + [str(int(y[i]))]) for i in range(len(y))
    )
    path.write_text(f"{header}\n{body}\n")
    return path


@pytest.fixture
def files(tmp_path):
    X, y = rows()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "Xy.npy", np.column_stack([X, y]).astype(np.float64))
    return {
        "parquet": (write_parquet(tmp_path / "d.parquet", X, y), "y"),
        "csv": (write_csv(tmp_path / "d.csv", X, y), "y"),
        "npy": (tmp_path / "Xy.npy", -1),
        "npy-pair": (tmp_path / "X.npy", tmp_path / "y.npy"),
    }


def epoch(source, seed=0, skip=0):
    return list(source.epoch_batches(np.random.default_rng(seed), skip))


@pytest.mark.parametrize("kind", ["parquet", "csv", "npy", "npy-pair"])
@pytest.mark.parametrize("buffer", [0, 200])
def test_every_row_comes_exactly_once_per_epoch_with_its_own_features(files, kind, buffer):
    path, target = files[kind]
    data = stream(path, target=target, batch_size=64, shuffle_buffer=buffer, read_rows=100)
    X_true, _ = rows()
    for seed in (0, 1):
        batches = epoch(data, seed)
        assert [len(X) for X, _ in batches[:-1]] == [64] * (len(batches) - 1)
        ids = np.concatenate([y for _, y in batches]).astype(int)
        assert sorted(ids.tolist()) == list(range(N))
        X = np.concatenate([X for X, _ in batches])
        np.testing.assert_array_equal(X, X_true[ids])
        assert X.dtype == np.float32 and X.shape == (N, D)
    shuffled = not np.array_equal(ids, np.arange(N))
    assert shuffled == bool(buffer)


def test_shuffling_changes_the_order_every_epoch_and_the_seed_makes_it_reproducible(files):
    path, target = files["parquet"]
    data = stream(path, target=target, batch_size=50, shuffle_buffer=300, seed=7, epochs=3)
    order = np.concatenate([y for _, y in data])
    epochs = order.reshape(3, N)
    assert not np.array_equal(epochs[0], epochs[1])
    again = stream(path, target=target, batch_size=50, shuffle_buffer=300, seed=7, epochs=3)
    np.testing.assert_array_equal(np.concatenate([y for _, y in again]), order)
    other = stream(path, target=target, batch_size=50, shuffle_buffer=300, seed=8, epochs=3)
    assert not np.array_equal(np.concatenate([y for _, y in other]), order)
    # Row groups are visited in a new order too, not only mixed by the buffer.
    first_ids = [int(epochs[e][0]) // 100 for e in range(3)]
    assert len(set(first_ids)) > 1 or not np.array_equal(epochs[1], epochs[2])


def test_the_loops_generator_picks_the_order_and_skip_resumes_an_epoch(files):
    path, target = files["npy"]
    data = stream(path, target=target, batch_size=64, shuffle_buffer=256, read_rows=128)
    full = epoch(data, seed=3)
    assert [y.tolist() for _, y in epoch(data, seed=3)] == [y.tolist() for _, y in full]
    resumed = epoch(data, seed=3, skip=5)
    assert [y.tolist() for _, y in resumed] == [y.tolist() for _, y in full[5:]]


def test_parquet_csv_and_npy_give_the_same_rows_in_file_order(files):
    batches = {
        kind: epoch(stream(p, target=t, batch_size=64, shuffle_buffer=0, read_rows=100))
        for kind, (p, t) in files.items()
    }
    reference = batches["parquet"]
    for kind, got in batches.items():
        assert len(got) == len(reference), kind
        for (X, y), (X_ref, y_ref) in zip(got, reference, strict=True):
            np.testing.assert_array_equal(X, X_ref)
            np.testing.assert_array_equal(y.astype(int), y_ref)


def test_parquet_and_npy_shuffle_identically_when_their_pieces_match(files):
    # Same seed, same pieces (row groups of 100 rows, npy pieces of 100 rows): same order.
    kwargs = dict(batch_size=32, shuffle_buffer=250, seed=5, read_rows=100)
    parquet = np.concatenate([y for _, y in stream(files["parquet"][0], target="y", **kwargs)])
    npy = np.concatenate(
        [y for _, y in stream(files["npy-pair"][0], target=files["npy-pair"][1], **kwargs)]
    )
    np.testing.assert_array_equal(parquet, npy)


def test_n_samples_comes_from_metadata_when_it_is_cheap(files):
    assert stream(files["parquet"][0], target="y", batch_size=8).n_samples == N
    assert stream(files["npy"][0], target=-1, batch_size=8).n_samples == N
    assert stream(files["csv"][0], target="y", batch_size=8).n_samples is None
    data = stream(files["parquet"][0], target="y", batch_size=8)
    assert data.feature_names == ["x0", "x1", "x2"] and data.n_features == 3


def test_a_folder_streams_all_its_files(tmp_path):
    X, y = rows()
    folder = tmp_path / "parts"
    folder.mkdir()
    write_parquet(folder / "a.parquet", X[:600], y[:600])
    write_parquet(folder / "b.parquet", X[600:], y[600:])
    data = stream(folder, target="y", batch_size=100, shuffle_buffer=200, seed=0)
    assert data.n_samples == N
    assert sorted(np.concatenate([y for _, y in data]).tolist()) == list(range(N))


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_memory_stays_bounded_by_buffer_chunk_and_batch(tmp_path, kind):
    n, d = 200_000, 8  # 6.4 MB of float32 features, ~50x what the stream may hold
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = np.arange(n)
    if kind == "npy":
        path, target = tmp_path / "big.npy", -1
        np.save(path, np.column_stack([X, y]).astype(np.float32))
    else:
        path, target = write_parquet(tmp_path / "big.parquet", X, y, row_group=20_000), "y"
    data = stream(path, target=target, batch_size=64, shuffle_buffer=2048, read_rows=1024)
    tracemalloc.start()
    try:
        seen = 0
        for X_batch, _ in data.epoch_batches(np.random.default_rng(0)):  # lazily: one at a time
            seen += len(X_batch)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == n
    assert data.largest_chunk <= 1024
    assert data.max_rows_held <= 2048 + 1024 + 64
    row_bytes = (d + 1) * 8  # the widest a row gets (float64 in the reading path)
    assert peak < 4 * data.max_rows_held * row_bytes  # ~1 MB, against 6.4 MB of data
    assert peak < X.nbytes / 8


def test_a_stream_is_a_batch_source_for_fit(files):
    path, target = files["parquet"]
    X_true, _ = rows()
    w = np.array([[2.0], [-1.0], [0.5]], dtype=np.float32)

    def target_from_ids(ids):
        return (X_true[ids.astype(int)] @ w).astype(np.float32)

    data = stream(path, target=target, batch_size=50, shuffle_buffer=200)
    model = nn.Linear(D, 1, rng=0)
    history = fit(
        model,
        lambda out, ids: losses.mse(out, target_from_ids(ids)),
        optim.SGD(model.parameters(), lr=0.2),
        data,
        epochs=30,
        seed=0,
        verbose=0,
    )
    assert history["examples"] == [N] * 30
    np.testing.assert_allclose(model.weight.data, w, atol=0.05)
    assert history.input_balance is not None and history.input_balance.batch_size == 50


def test_errors_name_the_problem_and_the_fix(tmp_path, files):
    path, _ = files["parquet"]
    with pytest.raises(thalweg.FileFormatError, match="no such file"):
        stream(tmp_path / "missing.parquet", target="y", batch_size=8)
    with pytest.raises(
        thalweg.DataError, match=r"no target column 'label'.*\['x0', 'x1', 'x2', 'y'\]"
    ):
        stream(path, target="label", batch_size=8)
    with pytest.raises(thalweg.DataError, match=r"no column\(s\) \['z'\]"):
        stream(path, target="y", columns=["x0", "z"], batch_size=8)
    X, y = rows(20)
    words = write_parquet(tmp_path / "w.parquet", X, y, city=np.array(["a", "b"] * 10))
    with pytest.raises(thalweg.DataError, match="column 'city' holds string, not numbers"):
        stream(words, target="y", batch_size=8)
    assert stream(words, target="y", columns=["x0", "x1"], batch_size=8).n_features == 2
    with pytest.raises(thalweg.FileFormatError, match=r"cannot stream \.txt"):
        (tmp_path / "a.txt").write_text("x")
        stream(tmp_path / "a.txt", target="y", batch_size=8)
    with pytest.raises(ValueError, match="shuffle_buffer"):
        stream(path, target="y", batch_size=64, shuffle_buffer=10)
    with pytest.raises(thalweg.DataError, match="out of range"):
        stream(files["npy"][0], target=7, batch_size=8)
    np.save(tmp_path / "short_y.npy", np.arange(10))
    with pytest.raises(thalweg.DataError, match="has 10 rows but"):
        stream(files["npy-pair"][0], target=tmp_path / "short_y.npy", batch_size=8)


def test_bad_values_inside_the_file_are_reported_with_the_file_name(tmp_path, monkeypatch):
    # Small blocks, so the bad value sits after the first block (where types are inferred).
    monkeypatch.setattr("thalweg.data.streaming.CSV_BLOCK_BYTES", 4096)
    lines = ["a,y"] + [f"{i},{i % 2}" for i in range(5000)] + ["oops,1"]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    data = stream(bad, target="y", batch_size=8, shuffle_buffer=0)
    with pytest.raises(thalweg.DataError, match=r"bad\.csv.*every feature value must be a number"):
        list(data)
    _, y = rows(10)
    holes = pa.table({"x0": pa.array([1.0, None] * 5), "y": y})
    pq.write_table(holes, tmp_path / "holes.parquet")
    with pytest.raises(thalweg.DataError, match="'x0' has missing values"):
        list(stream(tmp_path / "holes.parquet", target="y", batch_size=4))


def test_map_transforms_chunks_as_they_are_read(files):
    path, target = files["npy"]
    data = stream(path, target=target, batch_size=100, shuffle_buffer=0).map(
        lambda X, y: (X * 2, y + 1)
    )
    X, y = next(iter(data))
    X_true, _ = rows()
    np.testing.assert_array_equal(X, 2 * X_true[:100])
    assert y[0] == 1


def fails_on_chunks(X, y):
    """A stream ``map`` function that raises (module level, so it pickles)."""
    raise ValueError("cannot prepare this chunk")


def test_a_background_reader_returns_the_same_rows_and_surfaces_errors(files):
    from thalweg.data.background import BackgroundReader

    path, target = files["npy"]
    data = stream(path, target=target, batch_size=64, shuffle_buffer=256, read_rows=128)
    with BackgroundReader(data) as reader:
        batches = list(reader.epoch_batches(np.random.default_rng(0)))
        assert sorted(np.concatenate([y for _, y in batches]).astype(int).tolist()) == list(
            range(N)
        )
        assert [len(X) for X, _ in batches[:-1]] == [64] * (len(batches) - 1)
        assert reader.input_stats()["examples"] == N
    with BackgroundReader(data.map(fails_on_chunks)) as reader:
        with pytest.raises(ValueError, match="cannot prepare this chunk"):
            list(reader.epoch_batches(np.random.default_rng(0)))
