"""Held-out rows of streams (RowSplit, surveys) and the one reservoir sample."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thalweg.data import stream
from thalweg.data.holdout import (
    TEST,
    TRAIN,
    VALIDATION,
    Reservoir,
    RowSplit,
    TargetSurvey,
    survey_chunks,
)


def write_parquet(path, table, row_group_size=None):
    pq.write_table(pa.table(table), path, row_group_size=row_group_size)
    return path


def test_held_out_rows_are_the_same_in_every_pass_and_never_trained_on(tmp_path):
    n = 5000
    table = {"id": np.arange(n, dtype=np.float64), "x": np.ones(n), "y": np.arange(n) % 2}
    path = write_parquet(tmp_path / "ids.parquet", table, row_group_size=700)
    data = stream(path, target="y", batch_size=64, shuffle_buffer=1024, seed=0, read_rows=300)
    split = RowSplit((0.8, 0.1, 0.1), seed=3)
    survey = survey_chunks(data.chunks(), split, n_features=2, seed=0)
    parts = {part: set() for part in (TRAIN, VALIDATION, TEST)}
    for X, _ in data.chunks():
        for part in parts:
            parts[part].update(X[split.parts(X) == part, 0].tolist())
    assert [len(parts[p]) for p in (TRAIN, VALIDATION, TEST)] == survey.counts.tolist()
    assert 3800 < len(parts[TRAIN]) < 4200
    assert len(parts[TEST]) == len(survey.test.y)  # small enough: every test row is kept

    training = data.filter(RowSplit((0.8, 0.1, 0.1), seed=3, part=TRAIN))
    rng = np.random.default_rng(0)
    for _ in range(2):  # each epoch reads the pieces in another order: the same rows train
        seen = [row for X, _ in training.epoch_batches(rng) for row in X[:, 0].tolist()]
        assert len(seen) == len(set(seen)) and set(seen) == parts[TRAIN]


def test_rows_are_held_out_by_row_even_when_every_row_is_the_same(tmp_path):
    n = 4000
    path = write_parquet(tmp_path / "same.parquet", {"x": np.ones(n), "y": np.zeros(n)})
    data = stream(path, target="y", batch_size=64, shuffle_buffer=0)
    survey = survey_chunks(data.chunks(), RowSplit((0.8, 0.1, 0.1), seed=0), 1, seed=0)
    train, validation, test = survey.counts.tolist()
    assert 3000 < train < 3400 and 300 < validation < 500 and 300 < test < 500


def test_the_reservoir_keeps_a_uniform_sample_of_rows_and_targets():
    # Each of 100 rows offered in chunks lands in a sample of 10 about equally often.
    hits = np.zeros(100)
    for seed in range(400):
        sample = Reservoir(10, seed)
        for start in range(0, 100, 7):
            rows = np.arange(start, min(start + 7, 100), dtype=np.float64)
            sample.add(rows[:, None], rows.astype(np.int64))
        assert (sample.X[:, 0] == sample.y).all()  # rows and targets stay paired
        hits[sample.X[:, 0].astype(int)] += 1
    assert sample.seen == 100 and not sample.complete
    expected = 400 * 10 / 100
    assert abs(hits.mean() - expected) < 1e-9 and hits.min() > 0.4 * expected


def test_a_target_survey_merges_like_one_pass():
    a, b = TargetSurvey(), TargetSurvey()
    a.add(np.array([0.0, 1.0, np.nan])), b.add(np.array([2.0, 2.5]))
    merged = a.merge(b)
    assert merged.rows == 5 and merged.missing == 1 and merged.fraction == 2.5
    assert merged.values().tolist() == [0.0, 1.0, 2.0, 2.5]
