"""train_val_test_split: exact sizes, no lost rows, stratification, determinism, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thalweg.backend import manual_seed
from thalweg.data import train_val_test_split
from thalweg.errors import DataError, ShapeError


def _indices(n: int, fractions=(0.6, 0.2, 0.2), **kwargs) -> list[np.ndarray]:
    """Split the row numbers themselves, so each part says which rows it got."""
    return train_val_test_split(np.arange(n), fractions=fractions, **kwargs)


fraction_weights = st.lists(st.integers(1, 20), min_size=2, max_size=3)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(3, 400), weights=fraction_weights, seed=st.integers(0, 2**32 - 1))
def test_sizes_sum_to_n_and_each_is_within_one_row_of_its_fraction(n, weights, seed):
    fractions = tuple(w / sum(weights) for w in weights)
    parts = _indices(n, fractions, seed=seed)
    sizes = np.array([len(p) for p in parts])
    assert sizes.sum() == n
    assert (sizes >= 1).all()
    exact = np.array(fractions) * n
    if (exact >= 1).all():  # otherwise the one-row minimum may move a row
        assert (np.abs(sizes - exact) < 1).all()


@settings(max_examples=100, deadline=None)
@given(n=st.integers(3, 300), weights=fraction_weights, shuffle=st.booleans())
def test_every_row_lands_in_exactly_one_split(n, weights, shuffle):
    fractions = tuple(w / sum(weights) for w in weights)
    parts = _indices(n, fractions, shuffle=shuffle, seed=0)
    together = np.concatenate(parts)
    assert np.array_equal(np.sort(together), np.arange(n))


def test_default_fractions_give_60_20_20_sizes():
    parts = _indices(10, seed=0)
    assert [len(p) for p in parts] == [6, 2, 2]


def test_largest_remainder_gives_leftover_rows_to_largest_fractional_parts():
    # quotas 3.5, 3.3, 3.2 -> floors 3, 3, 3; the one leftover row goes to the 0.5 remainder
    parts = _indices(10, (0.35, 0.33, 0.32), seed=0)
    assert [len(p) for p in parts] == [4, 3, 3]


def test_equal_remainders_favour_the_earlier_split():
    parts = _indices(4, (0.5, 0.25, 0.25), seed=0)  # exact: 2, 1, 1
    assert [len(p) for p in parts] == [2, 1, 1]
    parts = _indices(5, (0.4, 0.3, 0.3), seed=0)  # quotas 2, 1.5, 1.5 -> val gets the row
    assert [len(p) for p in parts] == [2, 2, 1]


def test_tiny_fractions_still_get_one_row_each():
    parts = _indices(3, (0.8, 0.1, 0.1), seed=0)
    assert [len(p) for p in parts] == [1, 1, 1]


def test_two_fractions_return_train_and_test_only():
    X, y = np.zeros((10, 2)), np.arange(10)
    out = train_val_test_split(X, y, fractions=(0.7, 0.3), seed=0)
    assert len(out) == 4
    X_train, X_test, y_train, y_test = out
    assert X_train.shape == (7, 2) and X_test.shape == (3, 2)
    assert len(y_train) == 7 and len(y_test) == 3


def test_output_order_is_array_by_array_then_train_val_test():
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    X_tr, X_va, X_te, y_tr, y_va, y_te = train_val_test_split(X, y, seed=3)
    for X_part, y_part in [(X_tr, y_tr), (X_va, y_va), (X_te, y_te)]:
        assert np.array_equal(X_part[:, 0] // 2, y_part)  # rows stay paired across arrays


def test_same_seed_gives_same_split_and_different_seeds_differ():
    a = _indices(100, seed=7)
    b = _indices(100, seed=7)
    c = _indices(100, seed=8)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c, strict=True))


def test_seed_none_follows_thalweg_manual_seed():
    manual_seed(123)
    a = _indices(50)
    manual_seed(123)
    b = _indices(50)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_a_numpy_generator_is_accepted_as_seed():
    a = _indices(30, seed=np.random.default_rng(5))
    b = _indices(30, seed=np.random.default_rng(5))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_shuffle_false_gives_consecutive_blocks_in_order():
    train, val, test = _indices(10, shuffle=False)
    assert train.tolist() == [0, 1, 2, 3, 4, 5]
    assert val.tolist() == [6, 7]
    assert test.tolist() == [8, 9]


def test_lists_come_back_as_lists_with_their_items():
    items = [f"row{i}" for i in range(10)]
    train, val, test = train_val_test_split(items, seed=0)
    assert isinstance(train, list)
    assert sorted(train + val + test) == sorted(items)


def test_dataframes_and_series_are_split_by_position_and_keep_their_index():
    df = pd.DataFrame({"a": range(10), "b": list("abcdefghij")}, index=range(100, 110))
    s = pd.Series(range(10), index=range(100, 110), name="target")
    df_tr, df_va, df_te, s_tr, s_va, s_te = train_val_test_split(df, s, seed=0)
    assert isinstance(df_tr, pd.DataFrame) and isinstance(s_tr, pd.Series)
    assert len(df_tr) == 6 and len(df_va) == 2 and len(df_te) == 2
    assert sorted(df_tr.index.tolist() + df_va.index.tolist() + df_te.index.tolist()) == list(
        range(100, 110)
    )
    for frame, series in [(df_tr, s_tr), (df_va, s_va), (df_te, s_te)]:
        assert frame.index.equals(series.index)  # the same rows went to the same split


# -- stratification -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    class_sizes=st.lists(st.integers(3, 40), min_size=1, max_size=8),
    weights=fraction_weights,
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_class_counts_are_within_one_row_of_exact(class_sizes, weights, seed):
    fractions = np.array(weights) / sum(weights)
    labels = np.repeat(np.arange(len(class_sizes)), class_sizes)
    n = len(labels)
    parts = train_val_test_split(
        np.arange(n), fractions=tuple(fractions), stratify=labels, seed=seed
    )
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))
    exact_all = np.outer(class_sizes, fractions)
    for k, part in enumerate(parts):
        counts = np.bincount(labels[part], minlength=len(class_sizes))
        assert (counts >= 1).all()  # every class appears in every split
        if (exact_all >= 1).all():
            assert (np.abs(counts - exact_all[:, k]) < 1).all()
    if (exact_all >= 1).all():  # split sizes are then the same as without stratify
        unstratified = _indices(n, tuple(fractions), seed=seed)
        assert [len(p) for p in parts] == [len(p) for p in unstratified]


def test_stratified_counts_match_both_class_sizes_and_split_sizes_when_greedy_is_not_enough():
    # This case needs the augmenting-path step: a greedy pass alone misses a split size.
    class_sizes = [9, 7, 10]
    fractions = (3 / 14, 4 / 14, 7 / 14)
    labels = np.repeat([0, 1, 2], class_sizes)
    parts = train_val_test_split(np.arange(26), fractions=fractions, stratify=labels, seed=0)
    assert [len(p) for p in parts] == [len(p) for p in _indices(26, fractions, seed=0)]
    for k, part in enumerate(parts):
        counts = np.bincount(labels[part], minlength=3)
        assert (np.abs(counts - np.array(class_sizes) * fractions[k]) < 1).all()


def test_stratified_split_keeps_a_rare_class_in_every_split():
    labels = np.array([0] * 97 + [1] * 3)
    parts = train_val_test_split(np.arange(100), stratify=labels, seed=0)
    assert [int((labels[p] == 1).sum()) for p in parts] == [1, 1, 1]
    assert sum(len(p) for p in parts) == 100


def test_stratified_split_is_deterministic_by_seed():
    labels = np.tile([0, 1, 2], 20)
    a = train_val_test_split(np.arange(60), stratify=labels, seed=11)
    b = train_val_test_split(np.arange(60), stratify=labels, seed=11)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))


def test_stratified_split_accepts_string_labels_and_a_series():
    labels = pd.Series(["cat", "dog"] * 10)
    parts = train_val_test_split(np.arange(20), stratify=labels, seed=0)
    for part in parts:
        assert set(labels.iloc[part]) == {"cat", "dog"}


def test_stratified_shuffle_false_keeps_the_original_order_in_each_split():
    labels = np.tile([0, 1], 10)
    train, val, test = train_val_test_split(np.arange(20), stratify=labels, shuffle=False)
    assert train.tolist() == list(range(12))
    assert val.tolist() == [12, 13, 14, 15]
    assert test.tolist() == [16, 17, 18, 19]


# -- errors -------------------------------------------------------------------------------


def test_fractions_not_summing_to_one_raise_data_error():
    with pytest.raises(DataError, match="must sum to 1"):
        _indices(10, (0.6, 0.3, 0.2))


def test_fractions_within_tolerance_of_one_are_accepted():
    parts = _indices(10, (0.6, 0.2, 0.2 + 1e-9), seed=0)
    assert sum(len(p) for p in parts) == 10


def test_wrong_number_of_fractions_raises_data_error():
    with pytest.raises(DataError, match="3 entries"):
        _indices(10, (0.25, 0.25, 0.25, 0.25))
    with pytest.raises(DataError, match="3 entries"):
        _indices(10, (1.0,))


def test_zero_or_negative_fraction_raises_data_error():
    with pytest.raises(DataError, match="positive"):
        _indices(10, (0.8, 0.0, 0.2))
    with pytest.raises(DataError, match="positive"):
        _indices(10, (1.2, -0.2))


def test_non_numeric_fractions_raise_data_error():
    with pytest.raises(DataError, match="fractions must be"):
        _indices(10, ("a", "b"))


def test_too_few_rows_for_the_splits_raises_data_error():
    with pytest.raises(DataError, match="need at least 3"):
        _indices(2)


def test_no_arrays_raises_data_error():
    with pytest.raises(DataError, match="at least one array"):
        train_val_test_split()


def test_arrays_of_different_lengths_raise_shape_error():
    with pytest.raises(ShapeError, match=r"same number of rows; got lengths \[10, 9\]"):
        train_val_test_split(np.zeros(10), np.zeros(9))


def test_scalar_array_raises_shape_error():
    with pytest.raises(ShapeError, match="0-d"):
        train_val_test_split(np.float64(3.0))


def test_stratify_of_wrong_length_raises_shape_error():
    with pytest.raises(ShapeError, match="stratify has 9 labels"):
        train_val_test_split(np.zeros(10), stratify=np.zeros(9))


def test_stratify_that_is_not_one_dimensional_raises_shape_error():
    with pytest.raises(ShapeError, match="1-D"):
        train_val_test_split(np.zeros(10), stratify=np.zeros((10, 2)))


def test_class_with_too_few_members_raises_data_error_naming_it():
    labels = np.array(["a"] * 10 + ["rare"] * 2)
    with pytest.raises(DataError, match=r"'rare' \(2 members\)"):
        train_val_test_split(np.arange(12), stratify=labels)
    # two splits need only two members
    parts = train_val_test_split(np.arange(12), fractions=(0.5, 0.5), stratify=labels, seed=0)
    assert [int((labels[p] == "rare").sum()) for p in parts] == [1, 1]
