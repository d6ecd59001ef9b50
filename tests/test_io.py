"""Reading tables (CSV, TSV, Parquet, NPZ) into dicts of NumPy columns, and writing CSV."""

import gzip
import os

import numpy as np
import pytest

from thalweg.errors import DataError, FileFormatError
from thalweg.io import format_column, read_table, write_csv


def write(path, text: str):
    path.write_text(text)
    return path


def test_csv_columns_come_back_typed_and_in_file_order(tmp_path):
    path = write(
        tmp_path / "t.csv",
        "n,x,city,flag,day\n1,1.5,Paris,true,2024-01-01\n2,,Oslo,false,2024-01-02\n3,2.5,,true,\n",
    )
    table = read_table(path)
    assert list(table) == ["n", "x", "city", "flag", "day"]
    assert table["n"].dtype == np.int64 and table["n"].tolist() == [1, 2, 3]
    assert table["x"].dtype == np.float64 and np.isnan(table["x"][1])
    assert table["city"].tolist() == ["Paris", "Oslo", None]  # an empty text cell is missing
    assert table["flag"].dtype == bool
    assert table["day"].tolist() == ["2024-01-01", "2024-01-02", None]  # dates are text


def test_integers_with_a_missing_value_become_floats_with_nan(tmp_path):
    table = read_table(write(tmp_path / "t.csv", "a\n1\nNA\n3\n"))
    assert table["a"].dtype == np.float64
    assert np.isnan(table["a"]).tolist() == [False, True, False]


def test_tsv_and_gzipped_csv_are_read(tmp_path):
    assert read_table(write(tmp_path / "t.tsv", "a\tb\n1\tx\n"))["b"].tolist() == ["x"]
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert read_table(gz)["b"].tolist() == [2]


def test_parquet_round_trip_keeps_types(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {
                "x": [1.0, None, 3.0],
                "k": pa.array(["a", "b", "a"]).dictionary_encode(),
                "n": [1, 2, 3],
            }
        ),
        path,
    )
    table = read_table(path)
    assert np.isnan(table["x"][1])
    assert table["k"].tolist() == ["a", "b", "a"]
    assert table["n"].dtype == np.int64


def test_npz_with_X_feature_names_and_y(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.arange(6.0).reshape(3, 2), feature_names=np.array(["u", "v"]), y=[0, 1, 0])
    table = read_table(path)
    assert list(table) == ["u", "v", "y"]
    assert table["v"].tolist() == [1.0, 3.0, 5.0]


def test_npz_without_feature_names_names_columns_x1_x2(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.zeros((2, 2)), label=np.array(["a", "b"]))
    table = read_table(path)
    assert list(table) == ["x1", "x2", "label"]
    assert table["label"].tolist() == ["a", "b"]


def test_npz_with_pickled_objects_is_refused_and_never_unpickled(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(FileFormatError, match="never loads pickles"):
        read_table(path)


def test_npz_columns_of_different_lengths_are_an_error(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.zeros(3), b=np.zeros(2))
    with pytest.raises(FileFormatError, match="different lengths"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content", "error", "words"),
    [
        ("missing.csv", None, DataError, "no such file"),
        ("empty.csv", "", FileFormatError, "is empty"),
        ("header.csv", "a,b\n", DataError, "no data rows"),
        ("data.xlsx", "a", FileFormatError, "extension '.xlsx'"),
        ("ragged.csv", "a,b\n1,2\n3\n", FileFormatError, "same number of fields"),
        ("binary.csv", "a\x00b\x01\n", FileFormatError, "not UTF-8 text"),
        ("twice.csv", "a,a\n1,2\n", FileFormatError, "appears twice"),
        ("broken.parquet", "not parquet", FileFormatError, "not a readable Parquet"),
        ("broken.npz", "not a zip", FileFormatError, "not a valid .npz"),
    ],
)
def test_bad_files_raise_one_line_errors_naming_the_fix(tmp_path, name, content, error, words):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=words) as raised:
        read_table(path)
    assert "\n" not in str(raised.value)
    assert name in str(raised.value)


def test_a_folder_is_not_a_data_file(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(FileFormatError, match="is a folder"):
        read_table(folder)


def test_format_column_writes_float32_at_float32_precision_and_blanks_missing():
    assert format_column(np.array([5.1, np.nan], dtype=np.float32)) == ["5.1", ""]
    assert format_column(np.array([0.1, 1e-30])) == ["0.1", "1e-30"]
    assert format_column(np.array(["a", None], dtype=object)) == ["a", ""]
    assert format_column(np.array([True, False])) == ["true", "false"]


def test_write_csv_round_trips_and_leaves_no_temporary_file(tmp_path):
    table = {
        "x": np.array([1.25, np.nan, -3.0]),
        "name": np.array(['a "quoted", text', None, "ü"], dtype=object),
        "n": np.array([1, 2, 3]),
    }
    path = tmp_path / "out.csv"
    write_csv(path, table)
    back = read_table(path)
    assert back["x"][0] == 1.25 and np.isnan(back["x"][1])
    assert back["name"].tolist() == ['a "quoted", text', None, "ü"]
    assert back["n"].tolist() == [1, 2, 3]
    assert os.listdir(tmp_path) == ["out.csv"]
