"""What a data file holds before it is read: which files, which columns, of what kind.

Training on data that is never loaded whole (a stream, a Dask cluster) must decide its
features from the files' metadata: :func:`data_files` lists the Parquet or CSV files of
a path, :func:`column_types` says what each column of one holds (a Parquet footer or a
CSV header and first block: cheap). Paths may be URLs of object stores (``s3://``,
``gs://``, ``az://``, ``hdfs://``; see :mod:`thalweg.data.filesystems`).

*Which schema is this?* This module is about **data tables**: the files and column types
of the data a model trains on or predicts. The typed checks of the JSON inside
**thalweg's own files** (model files, checkpoints) are :mod:`thalweg.schema`, a
different thing with a similar name.
"""

from __future__ import annotations

from pathlib import Path

from thalweg.data.filesystems import Location, is_url, locate, open_for_reading
from thalweg.errors import FileFormatError, OptionError

__all__ = ["STREAMABLE_SUFFIXES", "column_types", "data_files", "dtype_kind"]

STREAMABLE_SUFFIXES = (".parquet", ".pq", ".csv")


def data_files(path) -> list:
    r"""The files to read: ``path`` itself, or the Parquet/CSV files of a folder (sorted).

    Local files come back as ``Path``s; a URL's (``s3://bucket/data/``, see
    :mod:`thalweg.data.filesystems`) as :class:`~thalweg.data.filesystems.Location`\ s.
    """
    path = locate(path) if is_url(path) else Path(path)
    if not path.exists():
        check = "the URL" if isinstance(path, Location) else "the path"
        raise FileFormatError(f"{path}: no such file or folder; check {check}")
    if path.is_dir():
        if isinstance(path, Location):
            files = path.files(STREAMABLE_SUFFIXES)
        else:
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in STREAMABLE_SUFFIXES)
        if not files:
            raise FileFormatError(f"{path}: the folder holds no .parquet, .pq or .csv files")
        return files
    if path.suffix.lower() not in STREAMABLE_SUFFIXES:
        raise OptionError(
            f"stream=True reads Parquet (.parquet, .pq) and CSV (.csv) files or a folder of "
            f"them, not {path.name}: convert it, or train in memory"
        )
    return [path]


def column_types(path) -> dict[str, str]:
    """Each column of a Parquet or CSV file (a path, a URL or a
    :class:`~thalweg.data.filesystems.Location`): ``"number"``, or what it holds instead
    (``"text"``, ``"true/false"``, ``"only missing"``, an Arrow type name)."""
    import pyarrow as pa

    path = locate(path) if is_url(path) else path
    path = path if isinstance(path, Location) else Path(path)
    try:
        if path.suffix.lower() == ".csv":
            from pyarrow import csv

            with (
                open_for_reading(path, random_access=False) as source,
                csv.open_csv(source) as reader,
            ):
                schema = reader.schema
        else:
            import pyarrow.parquet as pq

            with open_for_reading(path) as source:
                schema = pq.read_schema(source)
    except (pa.ArrowInvalid, OSError) as error:
        raise FileFormatError(f"{path}: not a readable file ({error})") from None

    def kind(arrow_type) -> str:
        if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
            return "number"
        if pa.types.is_boolean(arrow_type):
            return "true/false"
        if pa.types.is_null(arrow_type):
            return "only missing"  # an empty column
        return "text" if pa.types.is_string(arrow_type) else str(arrow_type)

    return {name: kind(schema.field(name).type) for name in schema.names}


def dtype_kind(dtype) -> str:
    """A NumPy or pandas dtype as :func:`column_types` words it."""
    kind = getattr(dtype, "kind", "O")
    if kind in "iuf":
        return "number"
    return "true/false" if kind == "b" else "text"
