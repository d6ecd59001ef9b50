"""Standardizer, OneHotEncoder and FeatureCrosses: values, names, errors and configs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from thalweg.data import FeatureCrosses, OneHotEncoder, Standardizer, preprocessor_from_config
from thalweg.errors import DataError, FileFormatError, NotFittedError, ShapeError


def _json_round_trip(transformer):
    return preprocessor_from_config(json.loads(json.dumps(transformer.to_config())))


# -- Standardizer -------------------------------------------------------------------------


def test_standardizer_matches_hand_computed_mean_and_population_std():
    X = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 60.0]])
    s = Standardizer().fit(X)
    assert s.mean_.tolist() == [2.0, 30.0]
    expected_std = [np.sqrt(2 / 3), np.sqrt((400 + 100 + 900) / 3)]
    np.testing.assert_allclose(s.scale_, expected_std, rtol=1e-15)
    np.testing.assert_allclose(s.transform(X), (X - s.mean_) / expected_std, rtol=1e-15)
    assert s.n_features_in_ == 2 and s.n_samples_seen_ == 3


def test_standardizer_output_has_zero_mean_and_unit_variance():
    X = np.random.default_rng(0).normal(5.0, 3.0, size=(200, 4))
    Z = Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)


def test_standardizer_maps_a_constant_column_to_zero_not_nan():
    X = np.column_stack([np.full(1000, 0.1), np.arange(1000.0)])
    s = Standardizer().fit(X)
    assert s.scale_[0] == 1.0
    Z = s.transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-12)


def test_standardizer_statistics_are_stable_for_a_large_offset():
    # the naive E[x^2] - E[x]^2 loses every digit here; two-pass does not
    X = 1e9 + np.array([[1.0], [2.0], [3.0], [4.0]])
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.var_, [1.25], rtol=1e-9)


def test_standardizer_keeps_float32_and_turns_integers_into_float64():
    X32 = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert Standardizer().fit_transform(X32).dtype == np.float32
    assert Standardizer().fit(X32).mean_.dtype == np.float64  # statistics are float64
    assert Standardizer().fit_transform(np.arange(6).reshape(3, 2)).dtype == np.float64


def test_standardizer_inverse_transform_recovers_the_input():
    X = np.random.default_rng(1).normal(size=(50, 3)) * [1, 10, 100] + [0, -5, 7]
    s = Standardizer().fit(X)
    np.testing.assert_allclose(s.inverse_transform(s.transform(X)), X, rtol=1e-12, atol=1e-12)


def test_standardizer_with_mean_false_only_scales():
    X = np.array([[1.0], [3.0]])
    assert Standardizer(with_mean=False).fit_transform(X).tolist() == [[1.0], [3.0]]
    assert Standardizer(with_std=False).fit_transform(X).tolist() == [[-1.0], [1.0]]


@settings(max_examples=100, deadline=None)
@given(
    X=arrays(
        np.float64,
        st.tuples(st.integers(1, 60), st.integers(1, 4)),
        elements=st.floats(-1e3, 1e3, allow_nan=False),
    ),
    cuts=st.lists(st.integers(0, 60), max_size=6),
)
def test_partial_fit_over_any_chunking_equals_one_fit(X, cuts):
    full = Standardizer().fit(X)
    bounds = sorted({c for c in cuts if 0 < c < len(X)})
    chunked = Standardizer()
    for chunk in np.split(X, bounds):
        chunked.partial_fit(chunk)
    scale = max(1.0, float(np.abs(X).max()))
    assert chunked.n_samples_seen_ == len(X)
    np.testing.assert_allclose(chunked.mean_, full.mean_, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(chunked.var_, full.var_, rtol=1e-12, atol=1e-12 * scale**2)


def test_fit_after_partial_fit_starts_over():
    s = Standardizer().partial_fit(np.array([[100.0]]))
    s.fit(np.array([[1.0], [3.0]]))
    assert s.mean_.tolist() == [2.0] and s.n_samples_seen_ == 2


def test_standardizer_config_round_trip_through_json_is_exact():
    X = np.random.default_rng(2).normal(size=(30, 3))
    s = Standardizer(with_std=True).fit(X)
    restored = _json_round_trip(s)
    assert isinstance(restored, Standardizer)
    assert np.array_equal(restored.transform(X), s.transform(X))
    assert restored.get_params() == s.get_params()


def test_unfitted_config_round_trips_to_an_unfitted_transformer():
    restored = Standardizer.from_config(json.loads(json.dumps(Standardizer(False).to_config())))
    assert restored.with_mean is False
    with pytest.raises(NotFittedError):
        restored.transform(np.zeros((1, 1)))


def test_standardizer_remembers_dataframe_column_names():
    df = pd.DataFrame({"height": [1.0, 2.0], "weight": [3.0, 5.0]})
    s = Standardizer().fit(df)
    assert s.feature_names_in_ == ["height", "weight"]
    assert s.get_feature_names_out() == ["height", "weight"]
    assert _json_round_trip(s).feature_names_in_ == ["height", "weight"]


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_transform_before_fit_raises_not_fitted_error(cls):
    with pytest.raises(NotFittedError, match="call fit"):
        cls().transform(np.zeros((2, 2)))


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_wrong_column_count_raises_shape_error(cls):
    t = cls().fit(np.arange(6).reshape(3, 2))
    with pytest.raises(ShapeError, match="fitted on 2 column"):
        t.transform(np.zeros((3, 3), dtype=np.int64))


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_dataframe_columns_in_another_order_raise_shape_error(cls):
    t = cls().fit(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    with pytest.raises(ShapeError, match=r"fitted on columns \['a', 'b'\] but X has \['b', 'a'\]"):
        t.transform(pd.DataFrame({"b": [3, 4], "a": [1, 2]}))


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_one_dimensional_input_raises_shape_error_suggesting_reshape(cls):
    with pytest.raises(ShapeError, match=r"reshape\(-1, 1\)"):
        cls().fit(np.arange(3.0))


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_nan_in_input_raises_data_error(cls):
    X = np.array([[1.0, 2.0], [np.nan, 3.0]])
    with pytest.raises(DataError, match=r"NaN.*column\(s\) \[0\]"):
        cls().fit(X)


@pytest.mark.parametrize("cls", [Standardizer, OneHotEncoder, FeatureCrosses])
def test_empty_input_raises_data_error(cls):
    with pytest.raises(DataError, match="0 rows"):
        cls().fit(np.zeros((0, 2)))


def test_standardizer_rejects_text_columns_with_a_hint():
    with pytest.raises(DataError, match="OneHotEncoder"):
        Standardizer().fit(np.array([["a"], ["b"]]))


def test_constructor_stores_params_unchanged():
    assert Standardizer(with_mean=0).with_mean == 0
    assert OneHotEncoder(handle_unknown="bogus").handle_unknown == "bogus"  # checked in fit
    assert FeatureCrosses(pairs=False).get_params() == {
        "pairs": False,
        "squares": True,
        "sines": False,
    }


# -- OneHotEncoder ------------------------------------------------------------------------

COLORS = np.array([["red", "s"], ["blue", "m"], ["red", "l"], ["green", "m"]], dtype=object)


def test_one_hot_categories_are_sorted_and_columns_follow_them():
    enc = OneHotEncoder().fit(COLORS)
    assert enc.categories_[0].tolist() == ["blue", "green", "red"]
    assert enc.categories_[1].tolist() == ["l", "m", "s"]
    out = enc.transform(COLORS)
    assert out.dtype == np.float32 and out.shape == (4, 6)
    assert out[0].tolist() == [0, 0, 1, 0, 0, 1]  # red, s
    assert out[1].tolist() == [1, 0, 0, 0, 1, 0]  # blue, m
    assert (out.sum(axis=1) == 2).all()


def test_one_hot_feature_names_join_input_name_and_category():
    enc = OneHotEncoder().fit(COLORS)
    assert enc.get_feature_names_out(["color", "size"]) == [
        "color=blue",
        "color=green",
        "color=red",
        "size=l",
        "size=m",
        "size=s",
    ]
    assert enc.get_feature_names_out()[0] == "x1=blue"  # default names are x1, x2, ...


def test_one_hot_round_trip_recovers_the_categories():
    enc = OneHotEncoder().fit(COLORS)
    back = enc.inverse_transform(enc.transform(COLORS))
    assert back.tolist() == COLORS.tolist()


def test_one_hot_works_on_integer_and_string_arrays():
    ints = np.array([[3], [1], [3], [2]])
    enc = OneHotEncoder().fit(ints)
    assert enc.categories_[0].tolist() == [1, 2, 3]
    assert enc.transform(ints)[:, 2].tolist() == [1, 0, 1, 0]
    strs = np.array([["b"], ["a"]])
    assert OneHotEncoder().fit_transform(strs).tolist() == [[0, 1], [1, 0]]


def test_one_hot_keeps_mixed_types_of_a_nested_list_apart_per_column():
    enc = OneHotEncoder().fit([["red", 1], ["blue", 2]])
    assert enc.categories_[1].tolist() == [1, 2]  # not the strings "1", "2"


def test_unknown_category_with_error_policy_names_column_values_and_fix():
    enc = OneHotEncoder().fit(COLORS)
    new = np.array([["purple", "m"], ["red", "xl"]], dtype=object)
    with pytest.raises(
        DataError, match=r"column 'x1' has value\(s\) not seen in fit: 'purple'"
    ) as e:
        enc.transform(new)
    assert 'handle_unknown="other"' in str(e.value)


def test_unknown_category_error_uses_dataframe_column_names():
    df = pd.DataFrame({"color": ["red", "blue"]})
    enc = OneHotEncoder().fit(df)
    with pytest.raises(DataError, match=r"column 'color'.*'pink'"):
        enc.transform(pd.DataFrame({"color": ["pink"]}))


def test_unknown_category_with_other_policy_goes_to_the_other_column():
    enc = OneHotEncoder(handle_unknown="other").fit(COLORS)
    assert enc.get_feature_names_out(["color", "size"]) == [
        "color=blue",
        "color=green",
        "color=red",
        "color=__other__",
        "size=l",
        "size=m",
        "size=s",
        "size=__other__",
    ]
    out = enc.transform(np.array([["purple", "m"], ["red", "m"]], dtype=object))
    assert out[0].tolist() == [0, 0, 0, 1, 0, 1, 0, 0]
    assert out[1].tolist() == [0, 0, 1, 0, 0, 1, 0, 0]
    assert enc.inverse_transform(out).tolist() == [[None, "m"], ["red", "m"]]


def test_invalid_handle_unknown_raises_data_error_listing_choices():
    with pytest.raises(DataError, match='"error" or "other"'):
        OneHotEncoder(handle_unknown="ignore").fit(COLORS)


def test_one_hot_none_in_object_column_raises_data_error():
    X = np.array([["a"], [None]], dtype=object)
    with pytest.raises(DataError, match=r"NaN/None in column 'x1'"):
        OneHotEncoder().fit(X)


def test_one_hot_column_mixing_types_raises_data_error():
    X = np.array([["a"], [1]], dtype=object)
    with pytest.raises(DataError, match="mixes value types"):
        OneHotEncoder().fit(X)


@pytest.mark.parametrize("policy", ["error", "other"])
def test_one_hot_config_round_trip_through_json_gives_same_output(policy):
    X = np.array([["red", 3], ["blue", 1], ["red", 2]], dtype=object)
    enc = OneHotEncoder(handle_unknown=policy).fit(X)
    restored = _json_round_trip(enc)
    assert np.array_equal(restored.transform(X), enc.transform(X))
    assert restored.get_feature_names_out() == enc.get_feature_names_out()


def test_one_hot_config_is_json_serialisable_for_numpy_scalars_in_object_columns():
    X = np.array([[np.int64(2)], [np.int64(1)]], dtype=object)
    enc = OneHotEncoder().fit(X)
    assert json.loads(json.dumps(enc.to_config()))["state"]["categories_"] == [[1, 2]]


def test_one_hot_config_round_trip_works_for_string_dtype_arrays():
    X = np.array([["b"], ["a"]])  # '<U1', not object
    enc = OneHotEncoder().fit(X)
    assert np.array_equal(_json_round_trip(enc).transform(X), enc.transform(X))


# -- FeatureCrosses -----------------------------------------------------------------------


def test_feature_crosses_values_follow_the_names():
    X = np.array([[2.0, 3.0, 5.0]])
    fc = FeatureCrosses(sines=True).fit(X)
    names = fc.get_feature_names_out()
    assert names == [
        "x1",
        "x2",
        "x3",
        "x1^2",
        "x2^2",
        "x3^2",
        "x1*x2",
        "x1*x3",
        "x2*x3",
        "sin(x1)",
        "sin(x2)",
        "sin(x3)",
    ]
    expected = [2, 3, 5, 4, 9, 25, 6, 10, 15, np.sin(2), np.sin(3), np.sin(5)]
    np.testing.assert_allclose(fc.transform(X)[0], expected, rtol=1e-15)
    assert fc.n_features_out_ == 12


def test_feature_crosses_options_switch_groups_off():
    X = np.array([[2.0, 3.0]])
    assert FeatureCrosses(pairs=False).fit(X).get_feature_names_out() == [
        "x1",
        "x2",
        "x1^2",
        "x2^2",
    ]
    only_pairs = FeatureCrosses(squares=False).fit(X)
    assert only_pairs.get_feature_names_out(["a", "b"]) == ["a", "b", "a*b"]
    assert only_pairs.transform(X).tolist() == [[2.0, 3.0, 6.0]]
    none = FeatureCrosses(pairs=False, squares=False).fit(X)
    assert none.transform(X).tolist() == [[2.0, 3.0]]


def test_feature_crosses_keep_float32():
    X = np.ones((4, 2), dtype=np.float32)
    assert FeatureCrosses(sines=True).fit_transform(X).dtype == np.float32


def test_feature_crosses_wrong_number_of_input_names_raises_shape_error():
    fc = FeatureCrosses().fit(np.zeros((1, 2)))
    with pytest.raises(ShapeError, match="1 input name"):
        fc.get_feature_names_out(["a"])


def test_feature_crosses_config_round_trip_through_json():
    X = np.random.default_rng(3).normal(size=(5, 3))
    fc = FeatureCrosses(pairs=True, squares=False, sines=True).fit(X)
    restored = _json_round_trip(fc)
    assert restored.get_params() == fc.get_params()
    assert np.array_equal(restored.transform(X), fc.transform(X))


# -- configs ------------------------------------------------------------------------------


def test_from_config_of_another_class_raises_file_format_error():
    with pytest.raises(FileFormatError, match="describes a 'Standardizer'"):
        OneHotEncoder.from_config(Standardizer().to_config())


def test_preprocessor_from_config_rejects_unknown_class_listing_known_ones():
    with pytest.raises(
        FileFormatError, match="known: CalendarFeatures, FeatureCrosses, OneHotEncoder"
    ):
        preprocessor_from_config({"class": "Pickle", "params": {}, "state": None})


def test_from_config_rejects_a_malformed_dict():
    with pytest.raises(FileFormatError, match="'class', 'params'"):
        Standardizer.from_config({"params": {}})


def test_from_config_with_damaged_params_or_state_raises_file_format_error():
    config = Standardizer().fit(np.zeros((2, 1))).to_config()
    with pytest.raises(FileFormatError, match="damaged Standardizer config"):
        Standardizer.from_config(config | {"params": {"bogus": 1}})
    with pytest.raises(FileFormatError, match="damaged Standardizer config"):
        Standardizer.from_config(config | {"state": {"n_features_in_": 1}})


def test_set_params_changes_params_and_rejects_unknown_names():
    enc = OneHotEncoder().set_params(handle_unknown="other")
    assert enc.handle_unknown == "other"
    with pytest.raises(DataError, match="no parameter 'sparse'"):
        enc.set_params(sparse=True)


def test_transformers_work_inside_a_scikit_learn_pipeline():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from thalweg.datasets import xor

    X, y, _ = xor(n=200, seed=0)
    pipe = make_pipeline(FeatureCrosses(), Standardizer(), LogisticRegression())
    assert pipe.fit(X, y).score(X, y) > 0.9  # the x1*x2 cross makes XOR linear
    assert clone(Standardizer(with_mean=False)).get_params() == {
        "with_mean": False,
        "with_std": True,
    }
