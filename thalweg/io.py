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

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> write_csv(path, {"x": np.array([1.5, 2.0]), "label": np.array(["a", "b"], dtype=object)})
>>> table = read_table(path)
>>> list(table), table["x"].tolist(), table["label"].tolist()
(['x', 'label'], [1.5, 2.0], ['a', 'b'])
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from thalweg.data.filesystems import is_url, read_through_local_copy
from thalweg.errors import DataError, FileFormatError
from thalweg.files import atomic_write

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


def read_table(path) -> Table:
    """Read a CSV, TSV, Parquet or NPZ file into an ordered dict of 1-D columns.

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
        return read_through_local_copy(path, read_table)
    path = Path(path)
    kind = _file_kind(path)
    _check_readable(path)
    if kind in ("csv", "tsv"):
        table = _read_csv(path, delimiter="\t" if kind == "tsv" else ",")
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
    what = f"extension {path.suffix!r}" if path.suffix else "no extension"
    raise FileFormatError(
        f"{path} has {what}; thalweg reads {known} (save the data as CSV and try again)"
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path (and the current folder)")
    if path.is_dir():
        raise FileFormatError(f"{path} is a folder, not a file; pass the data file inside it")
    if not os.access(path, os.R_OK):
        raise FileFormatError(f"{path} cannot be read (permission denied); check its permissions")
    if path.stat().st_size == 0:
        raise FileFormatError(f"{path} is empty (0 bytes); write the data into it first")


# ------------------------------------------------------------------------------ CSV


def _read_csv(path: Path, delimiter: str) -> Table:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    _refuse_binary(path)
    try:
        arrow = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # an empty text cell is a missing value, as it is for numbers
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as error:
        message = str(error).splitlines()[0]
        if "Empty CSV file" in message:
            raise FileFormatError(f"{path} has no header line; write column names first") from None
        if "UTF8" in message or "UTF-8" in message:
            raise FileFormatError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
        raise FileFormatError(
            f"{path} is not valid CSV ({message}); check that every row has the same number "
            "of fields"
        ) from None
    except OSError as error:
        raise FileFormatError(f"{path} cannot be read ({error})") from None
    return _from_arrow(arrow, path)


def _refuse_binary(path: Path) -> None:
    """A CSV never contains NUL bytes; a binary file renamed to .csv does."""
    if path.suffix.lower() in (".gz", ".bz2"):
        return  # compressed: pyarrow decompresses and reports what it finds
    with open(path, "rb") as handle:
        start = handle.read(4096)
    if b"\x00" in start:
        raise FileFormatError(
            f"{path} is not UTF-8 text (it contains NUL bytes: binary data or UTF-16); "
            "save the data as UTF-8 CSV"
        )


# -------------------------------------------------------------------------- Parquet


def _read_parquet(path: Path) -> Table:
    import pyarrow as pa
    from pyarrow import parquet as pq

    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileFormatError(f"{path} is not a readable Parquet file ({message})") from None
    return _from_arrow(arrow, path)


def _from_arrow(arrow, path: Path) -> Table:
    """An Arrow table -> ordered dict of NumPy columns (see the module docstring)."""
    import pyarrow as pa

    names = [str(n) for n in arrow.column_names]
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
            table[name] = values.astype(np.int64) if values.dtype.kind in "iu" else values
        elif pa.types.is_boolean(kind):
            values = column.to_numpy(zero_copy_only=False)
            table[name] = values if column.null_count == 0 else values.astype(object)
        elif pa.types.is_nested(kind):
            raise FileFormatError(
                f"{path}: column {name!r} holds nested values ({kind}); thalweg reads flat "
                "tables of numbers and text only"
            )
        else:  # strings, dates, times: text (a date is a category, not a number)
            values = column.cast(pa.string()) if not pa.types.is_string(kind) else column
            table[name] = np.asarray(values.to_pylist(), dtype=object)
    return table


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


def _npz_column(name: str, values: np.ndarray, path: Path) -> np.ndarray:
    kind = values.dtype.kind
    if kind in "iu":
        return values.astype(np.int64)
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
