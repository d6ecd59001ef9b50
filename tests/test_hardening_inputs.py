"""Adversarial tests of data input and of the numbers, sizes and text it carries: text
that is not UTF-8, decompression bombs, NPZ members that lie about their size, values
whose square overflows, unsigned integers beyond int64, pandas' nullable columns,
memory limits on size options, and text that would act on a terminal."""

import gzip
import io
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thalweg.errors import DataError, FileFormatError, ResourceLimitError, ThalwegError
from thalweg.io import read_table
from thalweg.limits import (
    available_memory,
    check_network_size,
    check_rows,
    parse_bytes,
)
from thalweg.models import LinearRegression, LogisticRegression, MLPRegressor
from thalweg.models.tabular import TabularModel
from thalweg.terminal import printable, rich_text

SUITE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# ------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (
            "city,y\nZürich,1\nBern,2\n".encode("latin-1"),
            "column 'city', row 1 holds the byte 0xfc",
        ),
        (b"city,y\n" + b"abc,1\n" * 1000 + b"x\xffy,2\n", "row 1001 holds the byte 0xff"),
        (b"a,y\n" + b"1,1\n" * 2000 + b"\xff,2\n", "column 'a', row 2001"),
        ("Zürich,y\n1,2\n".encode("latin-1"), "header line is not UTF-8"),
        ("a,b\n1,2\n".encode("utf-16"), "NUL bytes"),
    ],
)
def test_text_that_is_not_utf8_is_named_with_the_fix(tmp_path, content, words):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(FileFormatError) as caught:
        read_table(path)
    assert words in str(caught.value)
    if b"\x00" not in content:
        assert "--encoding latin-1" in str(caught.value)


def test_the_encoding_parameter_reads_latin1(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("city,ñ\nZürich,1\nBern,2\n".encode("latin-1"))
    table = read_table(path, encoding="latin-1")
    assert list(table) == ["city", "ñ"]
    assert table["city"].tolist() == ["Zürich", "Bern"]


def test_an_unknown_encoding_is_a_one_line_error(tmp_path):
    (tmp_path / "d.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="unknown text encoding 'klingon'"):
        read_table(tmp_path / "d.csv", encoding="klingon")


@SUITE
@given(payload=st.binary(min_size=1, max_size=200))
def test_any_bytes_in_a_csv_are_read_or_refused_in_one_line(tmp_path, payload):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1," + payload + b"\n")
    try:
        table = read_table(path)
    except ThalwegError as error:
        assert "\n" not in str(error)
        return
    assert next(iter(table)) == "a"


def test_a_parquet_binary_column_is_text_when_it_can_be(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({"b": pa.array([b"abc", b"\xc3\xa9"], pa.binary())}), tmp_path / "ok.pq"
    )
    assert read_table(tmp_path / "ok.pq")["b"].tolist() == ["abc", "é"]
    pq.write_table(pa.table({"b": pa.array([b"\xff\xfe", b"x"], pa.binary())}), tmp_path / "no.pq")
    with pytest.raises(FileFormatError, match="column 'b' holds binary data"):
        read_table(tmp_path / "no.pq")


# ------------------------------------------------------------------------- bombs


@pytest.fixture
def small_memory(monkeypatch):
    """Pretend this machine has 64 MiB available."""
    monkeypatch.setenv("THALWEG_MEMORY_LIMIT", "64M")


def test_a_gzip_bomb_is_refused_while_reading_with_the_way_around_it(tmp_path, small_memory):
    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(b"a,b\n")
        for _ in range(40):
            handle.write(b"1,2\n" * 250_000)  # 40 MB of CSV in about 40 KB
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ResourceLimitError, match="--stream"):
            read_table(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 40 * 2**20


def test_a_small_gzip_file_is_read(tmp_path, small_memory):
    path = tmp_path / "ok.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"a,b\n1,2\n3,4\n")
    assert read_table(path)["b"].tolist() == [2, 4]


def test_a_csv_bigger_than_memory_points_at_stream(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 100_000)
    monkeypatch.setenv("THALWEG_MEMORY_LIMIT", "1M")
    with pytest.raises(ResourceLimitError, match="--stream"):
        read_table(path)


def npy_member(header: dict, body: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + body


@pytest.mark.parametrize(
    ("members", "words"),
    [
        (
            {
                "x.npy": npy_member(
                    {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}, b"\0" * 8
                )
            },
            "declares shape (1000000000000,)",
        ),
        (
            {"x.npy": npy_member({"descr": "|V1000000000", "fortran_order": False, "shape": (1,)})},
            "dtype |V1000000000",
        ),
        (
            {
                "x.npy": npy_member(
                    {"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\0" * 8
                )
            },
            "pickled",
        ),
        ({"notes.txt": b"hello"}, "'notes.txt' is not a .npy array"),
        ({"x.npy": b"\x93NUMPY garbage"}, "not a valid .npy array"),
    ],
)
def test_npz_members_are_checked_from_their_headers_before_loading(tmp_path, members, words):
    path = tmp_path / "data.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    tracemalloc.start()
    try:
        with pytest.raises(FileFormatError) as caught:
            read_table(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert words in str(caught.value)
    assert peak < 10 * 2**20


@SUITE
@given(
    shape=st.lists(st.integers(0, 10**9), min_size=1, max_size=3),
    descr=st.sampled_from(["<f8", "<i4", "|b1", "<U5", "|V16", "<c16"]),
    stored=st.integers(0, 64),
)
def test_any_npz_member_header_is_loaded_or_refused_without_a_big_allocation(
    tmp_path, shape, descr, stored
):
    path = tmp_path / "data.npz"
    header = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", npy_member(header, b"\0" * stored))
    tracemalloc.start()
    try:
        read_table(path)
    except ThalwegError as error:
        assert "\n" not in str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 10 * 2**20


# ------------------------------------------------------------------------- integers


def test_uint64_beyond_int64_is_read_exactly(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = np.array([2**64 - 1, 3], dtype=np.uint64)
    pq.write_table(pa.table({"u": values}), tmp_path / "u.parquet")
    np.savez(tmp_path / "u.npz", u=values)
    for name in ("u.parquet", "u.npz"):
        column = read_table(tmp_path / name)["u"]
        assert column.tolist() == [2**64 - 1, 3]
        assert (column >= 0).all()
    small = np.array([1, 2], dtype=np.uint64)
    np.savez(tmp_path / "s.npz", u=small)
    assert read_table(tmp_path / "s.npz")["u"].dtype == np.int64


# ------------------------------------------------------------------------- numbers


@SUITE
@given(
    magnitude=st.floats(min_value=1e154, max_value=1.7e308),
    sign=st.sampled_from([1.0, -1.0]),
    row=st.integers(0, 19),
    column=st.integers(0, 2),
)
def test_values_whose_square_overflows_are_named_by_row_and_column(magnitude, sign, row, column):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=20)
    X[row, column] = sign * magnitude
    for model in (LinearRegression(), LinearRegression(solver="gd", max_epochs=2)):
        with pytest.raises(DataError, match=f"at row {row}, column {column}"):
            model.fit(X, y)
    fitted = LogisticRegression().fit(np.delete(X, row, axis=0), np.delete(y, row) > 0)
    with pytest.raises(DataError, match=f"at row {row}, column {column}"):
        fitted.predict_proba(X)


@SUITE
@given(value=st.floats(min_value=-1e150, max_value=1e150, allow_nan=False))
def test_large_but_safe_values_still_train(value):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    X[0, 1] = value
    y = X[:, 0] * 2
    model = LinearRegression().fit(X, y)
    assert np.isfinite(model.predict(X)).all()


def test_a_huge_cell_in_a_table_is_named_by_column_and_row():
    table = {"a": np.array([1.0, 2.0, 1e200, 4.0]), "b": np.array([1.0, 0.0, 1.0, 0.0])}
    with pytest.raises(DataError, match=r"column 'a', row 3 holds 1e\+200"):
        TabularModel(LinearRegression()).fit(table, np.array([1.0, 2.0, 3.0, 4.0]))
    model = TabularModel(MLPRegressor(max_epochs=2, tol=None)).fit(
        {"a": np.array([1.0, 2.0, 3.0, 4.0])}, np.array([1.0, 2.0, 3.0, 4.0])
    )
    with pytest.raises(DataError, match="column 'a', row 2"):
        model.predict({"a": np.array([1.0, 1e308])})


def test_pandas_nullable_columns_are_numbers_with_missing_values():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "a": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "b": pd.array([1.5, 2, None, 1, 2, 3], dtype="Float64"),
            "s": pd.array(["x", None, "y", "x", "y", "x"], dtype="string"),
        }
    )
    y = np.arange(6.0)
    with pytest.raises(
        DataError, match=r"missing values, in column\(s\) a \(1\), b \(1\), s \(1\)"
    ):
        TabularModel(LinearRegression()).fit(frame, y)
    model = TabularModel(LinearRegression(), missing="mean", min_frequency=1).fit(frame, y)
    assert model.encoder_.categories_[0].tolist() == ["x", "y"]  # NA is not a category
    with pytest.raises(DataError, match="contains NaN in column 0"):
        LinearRegression().fit(frame[["a", "b"]], y)


# ------------------------------------------------------------------------- memory


def test_the_memory_limit_can_be_lowered_and_is_reported(monkeypatch):
    monkeypatch.setenv("THALWEG_MEMORY_LIMIT", "1G")
    assert available_memory() <= parse_bytes("1G")
    with pytest.raises(ResourceLimitError, match=r"hidden 100000,100000.*fewer or narrower"):
        check_network_size([4, 100_000, 100_000, 1])
    check_network_size([4, 64, 64, 1])
    with pytest.raises(ResourceLimitError, match="--shuffle-buffer"):
        check_rows(10**12, 80, "--shuffle-buffer 1000000000000", "use a smaller buffer")
    check_rows(16_384, 80, "--shuffle-buffer 16384", "use a smaller buffer")


@pytest.mark.parametrize("text", ["lots", "", "-1G", "1X"])
def test_a_bad_memory_limit_setting_is_a_clear_error(text):
    if text in ("",):
        return
    with pytest.raises(ValueError, match="is not a size"):
        parse_bytes(text)


# ------------------------------------------------------------------------- the terminal

UNSAFE = set(range(0x00, 0x20)) | set(range(0x7F, 0xA0)) | set(range(0x202A, 0x202F))


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(codec=None), max_size=30))
def test_printable_text_holds_no_terminal_control_and_loses_nothing_else(text):
    shown = printable(text)
    assert not any(ord(c) in UNSAFE or 0xD800 <= ord(c) <= 0xDFFF for c in shown)
    assert "\n" not in shown
    if not any(ord(c) in UNSAFE or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert shown == text


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("[]/\\=ab:\x1bA#@"), max_size=20))
def test_rich_shows_escaped_text_exactly_as_written(text):
    from rich.console import Console

    console = Console(
        file=io.StringIO(), width=200, color_system=None, highlight=False, emoji=False
    )
    console.print(rich_text(text), end="")
    assert console.file.getvalue() == printable(text)


def test_the_cases_of_issue_10_are_shown_not_obeyed():
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, force_terminal=True, highlight=False)
    for text in ["[link=file:///etc/passwd]x[/link]", "price[usd]", "[/]", "[/bold]"]:
        console.print(rich_text(text))
    console.print(rich_text("\x1b]0;pwned\x07\x1b[2J"))
    output = console.file.getvalue()
    assert "\x1b]8;" not in output  # no hyperlink
    assert "price[usd]" in output and "[/bold]" in output
    assert "\x1b]0;" not in output and "\x1b[2J" not in output
    assert os.linesep.join([]) == ""
