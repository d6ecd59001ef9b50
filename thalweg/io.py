"""Tables in and out: CSV, Parquet and NPZ files as ordered dicts of NumPy columns.

A *table* here is a plain ``dict[str, np.ndarray]``: one 1-D array per column, all the
same length, in file order. pandas is not needed. Columns come back as:

* numbers -> ``int64`` (whole numbers, nothing missing) or ``float64`` (NaN = missing);
* true/false -> ``bool`` (or an ``object`` array with None where values are missing);
* anything else (text, dates) -> ``object`` arrays of Python ``str``, None = missing.

Which text columns are really numbers with a typo in them is decided later, by the
rule in :mod:`thalweg.models.tabular`: a reader only reports what the file says.

CSV and Parquet are read with pyarrow, NPZ with NumPy (``allow_pickle=False`` always:
loading data never runs code). pyarrow is imported only when a CSV or Parquet file is
read or written. Every problem raises :class:`~thalweg.errors.DataError` or
:class:`~thalweg.errors.FileFormatError` with one line naming the problem and the fix.

Damaged and hostile files are refused before they cost memory (``docs/security.md``):
text that is not UTF-8 is named by column and row (pass ``encoding=`` for Latin-1 and
friends); a file that would need more memory than the machine has (a big CSV, a
gzip file that expands a thousandfold, an NPZ member declaring 10¹² values) is
refused with the numbers, pointing at ``--stream``; a FIFO, a device or a folder is
named as such; unsigned integers above 2⁶³ stay exact (``uint64``), never wrap.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> write_csv(path, {"x": np.array([1.5, 2.0]), "label": np.array(["a", "b"], dtype=object)})
>>> table = read_table(path)
>>> list(table), table["x"].tolist(), table["label"].tolist()
(['x', 'label'], [1.5, 2.0], ['a', 'b'])
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from thalweg.data.filesystems import is_url, read_through_local_copy
from thalweg.errors import DataError, FileFormatError, ResourceLimitError
from thalweg.files import atomic_write, check_input_file
from thalweg.limits import check_memory

__all__ = ["SUFFIXES", "Table", "format_column", "read_table", "table_to_csv", "write_csv"]

Table = dict[str, np.ndarray]

# File kinds by suffix; ".csv.gz" and friends are decompressed by pyarrow.
SUFFIXES = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".csv.bz2": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".npz": "npz",
}


# Memory one cell of a table takes while it is read, typed and split (Arrow's column, the
# NumPy column, the typed copy, the split's copy; a text cell's Python string): measured,
# a CSV of 50 million rows "1,2" peaks at 28 bytes a cell just to be read.
CELL_BYTES = 48
# Memory a table needs per byte of Parquet (its uncompressed row groups).
PARQUET_MEMORY_FACTOR = 4
STREAM_HINT = "train with --stream (thalweg.data.stream), which reads it piece by piece"


def read_table(path, encoding: str = "utf-8") -> Table:
    """Read a CSV, TSV, Parquet or NPZ file into an ordered dict of 1-D columns.

    ``encoding`` is the text encoding of a CSV/TSV file (``"latin-1"``, ``"cp1252"``,
    ...); the default is UTF-8, and text that is not UTF-8 is reported by column and
    row.

    NPZ files hold either one 1-D array per column, or ``X`` (2-D) with optional
    ``feature_names`` (1-D text) and any other 1-D arrays such as ``y``; ``X``'s columns
    are named by ``feature_names``, else ``x1``, ``x2``, ...

    ``path`` may also be a URL (``s3://``, ``gs://``, ``az://``, ``hdfs://``,
    ``https://``): the file is copied to a temporary local file and read from there
    (see :mod:`thalweg.data.filesystems`).

    Raises
    ------
    DataError
        The file does not exist, or has no rows.
    FileFormatError
        The file cannot be read, is empty, is not valid CSV/Parquet/NPZ, or has an
        unknown extension.
    """
    if is_url(path):
        return read_through_local_copy(path, lambda local: read_table(local, encoding))
    path = Path(path)
    kind = _file_kind(path)
    _check_readable(path)
    encoding = _check_encoding(encoding)
    if kind in ("csv", "tsv"):
        table = _read_csv(path, delimiter="\t" if kind == "tsv" else ",", encoding=encoding)
    elif kind == "parquet":
        table = _read_parquet(path)
    else:
        table = _read_npz(path)
    if not table:
        raise DataError(f"{path} has no columns; check that it is the right file")
    rows = len(next(iter(table.values())))
    if rows == 0:
        raise DataError(f"{path} has a header but no data rows; add rows or pick another file")
    return table


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    for suffix, kind in sorted(SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    known = ", ".join(SUFFIXES)
    if path.is_dir():  # a folder of images, say: "has no extension" would mislead
        raise FileFormatError(
            f"{path} is a folder, not a table; give a data file ({known}) or a Parquet "
            "dataset folder named *.parquet"
        )
    what = f"extension {path.suffix!r}" if path.suffix else "no extension"
    raise FileFormatError(
        f"{path} has {what}; thalweg reads {known} (save the data as CSV and try again)"
    )


def _check_readable(path: Path) -> None:
    check_input_file(path, "data file", missing_error=DataError)
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes); write the data into it first")


def _check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise DataError(
            f"unknown text encoding {encoding!r}; use a name such as utf-8, latin-1 or cp1252"
        ) from None


# ------------------------------------------------------------------------------ CSV


def _read_csv(path: Path, delimiter: str, encoding: str = "utf-8") -> Table:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    source = _csv_source(path)
    try:
        arrow = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # an empty text cell is a missing value, as it is for numbers
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as error:
        message = str(error).splitlines()[0]
        if "Empty CSV file" in message:
            raise FileFormatError(f"{path} has no header line; write column names first") from None
        if "UTF8" in message or "UTF-8" in message:
            raise FileFormatError(f"{path} is not {encoding} text; {_ENCODING_FIX}") from None
        raise FileFormatError(
            f"{path} is not valid CSV ({message}); check that every row has the same number "
            "of fields"
        ) from None
    except (OSError, UnicodeError) as error:
        raise FileFormatError(f"{path} cannot be read as {encoding} text ({error})") from None
    return _from_arrow(arrow, path)


_ENCODING_FIX = (
    "pass the file's encoding (--encoding latin-1 on the command line, "
    "encoding='latin-1' in Python) or save it as UTF-8"
)


def _bytes_per_csv_byte(sample: bytes) -> float:
    """Memory per byte of CSV text, from the cells per byte of a sample (short cells
    cost more per byte than long ones)."""
    cells = sample.count(b",") + sample.count(b"\t") + sample.count(b"\n")
    return max(CELL_BYTES * cells / max(len(sample), 1), 2.0)


def _csv_source(path: Path):
    """What pyarrow reads: the path, or for a compressed file its decompressed bytes,
    read piece by piece and refused past the memory limit (a few kilobytes of gzip can
    expand to gigabytes)."""
    import pyarrow as pa

    from thalweg.limits import MEMORY_FRACTION, available_memory, format_bytes

    size = path.stat().st_size
    suffix = path.suffix.lower()
    if suffix not in (".gz", ".bz2"):
        with open(path, "rb") as handle:
            sample = handle.read(1 << 16)
        _refuse_nul(sample, path)
        check_memory(
            _bytes_per_csv_byte(sample) * size,
            f"reading {path} ({format_bytes(size)} of CSV) whole",
            STREAM_HINT,
        )
        return str(path)
    import bz2
    import gzip

    opener = gzip.open if suffix == ".gz" else bz2.open
    buffer = io.BytesIO()
    budget = MEMORY_FRACTION * available_memory()
    limit = None
    try:
        with opener(path, "rb") as stream:
            while block := stream.read(1 << 20):
                buffer.write(block)
                if limit is None:  # from the first megabyte: what a byte will cost
                    limit = int(budget / _bytes_per_csv_byte(block))
                if buffer.tell() > limit:
                    break
    except (OSError, EOFError, ValueError) as error:
        raise FileFormatError(f"{path} is not a valid {suffix} file ({error})") from None
    if limit is not None and buffer.tell() > limit:
        raise ResourceLimitError(
            f"{path} expands to more than {format_bytes(limit)} of CSV when decompressed, more "
            f"than this machine's memory allows to read whole; {STREAM_HINT}"
        )
    data = buffer.getvalue()
    _refuse_nul(data[:4096], path)
    return pa.BufferReader(data)


def _refuse_nul(start: bytes, path: Path) -> None:
    """A CSV never contains NUL bytes; a binary file renamed to .csv does."""
    if b"\x00" in start[:4096]:
        raise FileFormatError(
            f"{path} is not UTF-8 text (it contains NUL bytes: binary data or UTF-16); "
            "save the data as UTF-8 CSV"
        )


# -------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path) -> Table:
    import pyarrow as pa
    from pyarrow import parquet as pq

    try:
        metadata = pq.read_metadata(path)
    except (pa.ArrowException, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileFormatError(f"{path} is not a readable Parquet file ({message})") from None
    expanded = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    check_memory(PARQUET_MEMORY_FACTOR * expanded, f"reading {path} whole", STREAM_HINT)
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileFormatError(f"{path} is not a readable Parquet file ({message})") from None
    return _from_arrow(arrow, path)


def _from_arrow(arrow, path: Path) -> Table:
    """An Arrow table -> ordered dict of NumPy columns (see the module docstring)."""
    import pyarrow as pa

    try:
        names = [str(n) for n in arrow.column_names]
    except UnicodeDecodeError:
        raise FileFormatError(
            f"{path}: its header line is not UTF-8 text; {_ENCODING_FIX}"
        ) from None
    _check_names(names, path)
    table: Table = {}
    for name, column in zip(names, arrow.columns, strict=True):
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_null(kind):  # every value missing (pyarrow could not tell a type)
            table[name] = np.full(len(column), np.nan)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            values = column.to_numpy()  # ints with nulls come back as float64 with NaN
            if values.dtype.kind == "f" or pa.types.is_decimal(kind):
                values = values.astype(np.float64)
            table[name] = _whole_numbers(values) if values.dtype.kind in "iu" else values
        elif pa.types.is_boolean(kind):
            values = column.to_numpy(zero_copy_only=False)
            table[name] = values if column.null_count == 0 else values.astype(object)
        elif pa.types.is_nested(kind):
            raise FileFormatError(
                f"{path}: column {name!r} holds nested values ({kind}); thalweg reads flat "
                "tables of numbers and text only"
            )
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            table[name] = _binary_as_text(name, column, path)
        else:  # strings, dates, times: text (a date is a category, not a number)
            values = column.cast(pa.string()) if not pa.types.is_string(kind) else column
            table[name] = np.asarray(values.to_pylist(), dtype=object)
    return table


def _whole_numbers(values: np.ndarray) -> np.ndarray:
    """Integers as int64, except unsigned ones beyond int64's range, which stay uint64
    (converting them would wrap 2⁶⁴−1 around to −1)."""
    if values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
        return values.astype(np.uint64)
    return values.astype(np.int64)


def _binary_as_text(name: str, column, path: Path) -> np.ndarray:
    """Bytes that are UTF-8 text become text; anything else is named by its row."""
    values = column.to_pylist()
    for row, value in enumerate(values, start=1):
        if value is None:
            continue
        try:
            values[row - 1] = value.decode("utf-8")
        except UnicodeDecodeError as error:
            byte = value[error.start]
            raise FileFormatError(
                f"{path}: column {name!r}, row {row} holds the byte 0x{byte:02x}, which is not "
                f"UTF-8 text; {_ENCODING_FIX}"
                if Path(str(path)).suffix.lower() not in (".parquet", ".pq")
                else f"{path}: column {name!r} holds binary data (row {row} is not UTF-8 "
                "text); thalweg reads numbers and text: convert the column or remove it"
            ) from None
    return np.asarray(values, dtype=object)


def _check_names(names: list[str], path: Path) -> None:
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name.strip():
            raise FileFormatError(f"{path}: column {index} has no name; name every column")
        if name in seen:
            raise FileFormatError(
                f"{path}: column name {name!r} appears twice; give every column its own name"
            )
        seen.add(name)


# ------------------------------------------------------------------------------ NPZ


def _read_npz(path: Path) -> Table:
    import zipfile

    if not zipfile.is_zipfile(path):  # np.load would try to read it as a pickle instead
        raise FileFormatError(
            f"{path} is not a valid .npz file (not a zip archive); save it with numpy.savez"
        )
    _check_npz_members(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise FileFormatError(
                f"{path} holds Python objects (pickled); thalweg never loads pickles: save "
                "text as a NumPy string array (e.g. np.asarray(values, dtype=str))"
            ) from None
        raise FileFormatError(f"{path} is not a valid .npz file ({error})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise FileFormatError(f"{path} is not a valid .npz file ({error})") from None

    table: Table = {}
    if "X" in arrays:
        X = arrays.pop("X")
        if X.ndim != 2:
            raise FileFormatError(f"{path}: X must be 2-D (rows, columns), got shape {X.shape}")
        names = arrays.pop("feature_names", None)
        if names is None:
            names = [f"x{j + 1}" for j in range(X.shape[1])]
        else:
            names = [str(n) for n in np.asarray(names).ravel()]
            if len(names) != X.shape[1]:
                raise FileFormatError(
                    f"{path}: {len(names)} feature_names for {X.shape[1]} columns of X; "
                    "give one name per column"
                )
        for j, name in enumerate(names):
            table[name] = X[:, j]
    for name, array in arrays.items():
        if array.ndim != 1:
            raise FileFormatError(
                f"{path}: array {name!r} has shape {array.shape}; store one 1-D array per "
                "column (or a 2-D X)"
            )
        if name in table:
            raise FileFormatError(f"{path}: column {name!r} appears twice; rename one")
        table[name] = array
    _check_names(list(table), path)
    lengths = {name: len(values) for name, values in table.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{n} ({m})" for n, m in lengths.items())
        raise FileFormatError(
            f"{path}: columns have different lengths: {shown}; every column needs one value per row"
        )
    return {name: _npz_column(name, values, path) for name, values in table.items()}


def _check_npz_members(path: Path) -> None:
    """Every member is a ``.npy`` array of a usable dtype whose declared shape matches
    its stored size, and all of them fit in memory: checked from the headers, before
    anything is allocated."""
    import zipfile

    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                if not name.endswith(".npy"):
                    raise FileFormatError(
                        f"{path}: member {name!r} is not a .npy array; an .npz file holds "
                        "NumPy arrays only (save it with numpy.savez)"
                    )
                with archive.open(info) as member:
                    shape, dtype, header = _npy_header(member, path, name)
                if dtype.hasobject:
                    raise FileFormatError(
                        f"{path} holds Python objects (pickled); thalweg never loads pickles: "
                        "save text as a NumPy string array (e.g. np.asarray(values, dtype=str))"
                    )
                if dtype.kind not in "biufUS" or dtype.itemsize > 1 << 16:
                    raise FileFormatError(
                        f"{path}: column {name[:-4]!r} has dtype {dtype}, which thalweg cannot "
                        "use; store numbers, booleans or text"
                    )
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if header + declared != info.file_size:
                    raise FileFormatError(
                        f"{path} is damaged: member {name!r} declares shape {shape} "
                        f"({declared:,} bytes) but holds {info.file_size - header:,} bytes"
                    )
                total += declared
    except (FileFormatError, DataError):
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise FileFormatError(f"{path} is not a valid .npz file ({error})") from None
    check_memory(2 * total, f"reading {path} ({total:,} bytes of arrays)", STREAM_HINT)


def _npy_header(member, path: Path, name: str) -> tuple[tuple, np.dtype, int]:
    """``(shape, dtype, header length)`` of a ``.npy`` stream, read without its data."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(member)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npy.read_array_header_2_0(member)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except ValueError as error:
        raise FileFormatError(
            f"{path}: member {name!r} is not a valid .npy array ({error})"
        ) from None
    return tuple(shape), dtype, member.tell()


def _npz_column(name: str, values: np.ndarray, path: Path) -> np.ndarray:
    kind = values.dtype.kind
    if kind in "iu":
        return _whole_numbers(values)
    if kind == "f":
        return values.astype(np.float64)
    if kind == "b":
        return values
    if kind in "US":
        text = values.astype(str).tolist()
        return np.asarray([v if v != "" else None for v in text], dtype=object)
    raise FileFormatError(
        f"{path}: column {name!r} has dtype {values.dtype}, which thalweg cannot use; "
        "store numbers, booleans or text"
    )


# ------------------------------------------------------------------------ writing


def format_column(values: np.ndarray) -> list[str]:
    """Column values as CSV cells: shortest round-trip numbers, empty for missing.

    float32 values print with float32's shortest repr (``5.1``, not ``5.099999904``).

    >>> format_column(np.array([1.5, np.nan], dtype=np.float32))
    ['1.5', '']
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        cells = values.astype(str)  # NumPy's shortest repr at the array's own precision
        cells[np.isnan(values)] = ""
        return cells.tolist()
    if values.dtype.kind == "b":
        return ["true" if v else "false" for v in values.tolist()]
    if values.dtype.kind in "iu":
        return values.astype(str).tolist()
    return ["" if _missing(v) else _cell(v) for v in values.tolist()]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def table_to_csv(table: Mapping[str, np.ndarray]) -> Iterable[str]:
    """The table as CSV text, in chunks of about 10,000 rows (header first)."""
    names = list(table)
    columns = [format_column(table[name]) for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    rows = len(columns[0]) if columns else 0
    for start in range(0, rows, 10_000):
        writer.writerows(zip(*(c[start : start + 10_000] for c in columns), strict=True))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def write_csv(path, table: Mapping[str, np.ndarray]) -> None:
    """Write ``table`` to ``path`` as UTF-8 CSV, atomically (all of it or nothing)."""
    with atomic_write(path, "wb") as handle:
        for chunk in table_to_csv(table):
            handle.write(chunk.encode("utf-8"))
