"""Request bodies as tables: ``{"rows": [...]}``, ``{"columns": {...}}`` or CSV text.

The result is a table the model's own :meth:`~thalweg.models.tabular.TabularModel.transform`
checks exactly as ``thalweg predict`` does (a missing column, text in a numeric column,
an infinite number, a missing value the model cannot fill: one line naming the column).
Only what the request format adds is checked here: the body's shape, values that are not
scalars, columns of different lengths. A CSV body is read by the same reader as a CSV
file given to ``thalweg predict`` (pyarrow: the same missing-value spellings, the same
refusal of a repeated column name).

The two JSON forms give the same table:

``{"rows": [{"x": 1.5, "city": "Oslo"}, {"x": 2.0, "city": "Rome"}]}``
    one object per row, the natural form for a client sending a record or two;
``{"columns": {"x": [1.5, 2.0], "city": ["Oslo", "Rome"]}}``
    one list per column, the fast form for large requests (no per-row objects to
    build, parse or take apart).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Sequence

import numpy as np

from thalweg.errors import DataError, ThalwegError
from thalweg.serving import jsonio


class BadRequest(ThalwegError, ValueError):
    """A request the server cannot read: not JSON, wrong shape, wrong content type."""

    status = 400


Columns = Sequence[tuple[str, str]]  # the model's (name, kind) pairs
NUMBER_TYPES = {float, int, type(None)}
SCALAR_TYPES = {float, int, str, bool, type(None)}
FORMS = '{"rows": [{column: value, ...}, ...]} or {"columns": {column: [value, ...], ...}}'


def _as_floats(values: list) -> np.ndarray:
    """Numbers (and None: missing) as float64; an integer too large for a float is
    infinite (and refused by the column checks, which name its row)."""
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:
        return np.array([_float(v) for v in values], dtype=np.float64)


def _float(value: float | int | None) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except OverflowError:  # an integer beyond 1.8e308
        return np.inf if value > 0 else -np.inf


def _column(name: str, kind: str, values: Sequence) -> np.ndarray:
    """One column's JSON values as an array: float64 when they are all numbers (or null)
    for a numeric column, else an object array for the model's checks to type."""
    types = set(map(type, values))
    if not types <= SCALAR_TYPES:
        odd = next(type(v).__name__ for v in values if type(v) not in SCALAR_TYPES)
        raise DataError(
            f"column {name!r} holds a JSON {'object' if odd == 'dict' else 'array'}; "
            "each value must be a number, text, true/false or null"
        )
    if kind == "numeric" and types <= NUMBER_TYPES:
        return _as_floats(values)  # null -> NaN (missing)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _values_of_rows(rows: list, columns: Columns) -> dict[str, Sequence]:
    names = [name for name, _ in columns]
    try:  # every row's values in the model's column order, in one pass over the rows
        records = list(map(operator.itemgetter(*names), rows))
    except KeyError:
        _name_the_missing_column(rows, columns)
        raise
    by_column = [records] if len(names) == 1 else zip(*records, strict=True)
    return dict(zip(names, by_column, strict=True))


def _name_the_missing_column(rows: list, columns: Columns) -> None:
    """The slow path, for a body where some row lacks a column: name the row."""
    for name, _ in columns:
        lacking = [i for i, row in enumerate(rows) if name not in row]
        if len(lacking) == len(rows):
            needed = ", ".join(n for n, _ in columns)
            raise DataError(
                f"the rows lack column {name!r} that the model was trained on; add it "
                f"(the model uses: {needed})"
            )
        if lacking:
            raise DataError(
                f"row {lacking[0] + 1} lacks column {name!r} (the other rows have it); give "
                "every row every column, null for a missing value"
            )


def _extras_of_rows(rows: list, names: set[str]) -> list[str | None] | None:
    """Each row's fields beyond the model's columns, as JSON text (None: no extras)."""
    if all(len(row) == len(names) for row in rows):
        return None  # every row has exactly the model's columns (checked already)
    extras = []
    for row in rows:
        other = {k: v for k, v in row.items() if k not in names}
        extras.append(json.dumps(other) if other else None)
    return extras


def _extras_of_columns(data: dict, names: set[str], count: int) -> list[str | None] | None:
    other = [name for name in data if name not in names]
    if not other:
        return None
    values = [data[name] for name in other]
    return [json.dumps(dict(zip(other, row, strict=True))) for row in zip(*values, strict=True)]


def _from_rows(rows, columns: Columns):
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"rows" must be a non-empty list of objects, one per row')
    if not all(type(row) is dict for row in rows):
        index = next(i for i, row in enumerate(rows) if not isinstance(row, dict))
        raise BadRequest(f'row {index + 1} of "rows" is not an object {{column: value}}')
    values = _values_of_rows(rows, columns)
    return values, _extras_of_rows(rows, {name for name, _ in columns}), len(rows)


def _from_columns(data, columns: Columns):
    if not isinstance(data, dict) or not data:
        raise BadRequest('"columns" must be an object {column: [value, ...], ...}')
    lists = {name: values for name, values in data.items() if isinstance(values, list)}
    if len(lists) != len(data):
        name = next(name for name in data if name not in lists)
        raise BadRequest(f'"columns": column {name!r} is not a list of values, one per row')
    lengths = {len(values) for values in lists.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{name} {len(values)}" for name, values in lists.items())
        raise BadRequest(f'"columns" have different lengths ({sizes}); give one value per row')
    count = lengths.pop()
    if count == 0:
        raise BadRequest('"columns" hold no rows; send at least one value per column')
    absent = [name for name, _ in columns if name not in lists]
    if absent:
        needed = ", ".join(n for n, _ in columns)
        raise DataError(
            f"the columns lack {', '.join(repr(a) for a in absent)} that the model was "
            f"trained on; add them (the model uses: {needed})"
        )
    values = {name: lists[name] for name, _ in columns}
    return values, _extras_of_columns(lists, {name for name, _ in columns}, count), count


def json_values(
    body: bytes, columns: Columns
) -> tuple[dict[str, Sequence], list[str | None] | None, int]:
    """``(values, extras, rows)`` from ``{"rows": [...]}`` or ``{"columns": {...}}``:
    each model column's values as parsed, not yet typed (see :func:`as_arrays`).

    ``extras``: per row, the fields the model does not use (an id, say) as JSON text,
    or None when no row has any. Raises BadRequest for a body of the wrong shape,
    DataError for a missing column.
    """
    try:
        document = jsonio.loads(body)
    except ValueError as error:
        raise BadRequest(f"the body is not valid JSON ({error}); send {FORMS}") from None
    if not isinstance(document, dict) or ("rows" in document) == ("columns" in document):
        raise BadRequest(f"the body must be a JSON object, either {FORMS}")
    if "rows" in document:
        return _from_rows(document["rows"], columns)
    return _from_columns(document["columns"], columns)


def as_arrays(values: dict[str, Sequence], columns: Columns) -> dict[str, np.ndarray]:
    """Parsed JSON values as the model's table: float64 columns where a numeric column
    holds numbers (null: NaN), object columns otherwise (the model's checks type them);
    a JSON array or object as a value is a DataError naming the column.

    The values of several requests can be joined first, to type them all at once.
    """
    return {name: _column(name, kind, values[name]) for name, kind in columns}


def table_from_json(
    body: bytes, columns: Columns
) -> tuple[dict[str, np.ndarray], list[str | None] | None, int]:
    """``(table, extras, rows)`` from ``{"rows": [{...}, ...]}`` or ``{"columns": {...}}``.

    >>> table, extras, n = table_from_json(b'{"rows": [{"x": 1.5, "id": 7}]}', [("x", "numeric")])
    >>> table["x"].tolist(), extras, n
    ([1.5], ['{"id": 7}'], 1)
    >>> table, extras, n = table_from_json(b'{"columns": {"x": [1.5, null]}}', [("x", "numeric")])
    >>> table["x"].tolist(), extras, n
    ([1.5, nan], None, 2)
    """
    values, extras, count = json_values(body, columns)
    return as_arrays(values, columns), extras, count


def table_from_csv(
    body: bytes, columns: Columns
) -> tuple[dict[str, np.ndarray], list[str | None] | None, int]:
    """``(table, extras, rows)`` from CSV text with a header line, read as ``thalweg
    predict`` reads a CSV file (an empty cell, ``NA``, ``NaN``, ``null``: missing).

    >>> table, _, n = table_from_csv(b"x,city\\n1.5,Oslo\\n,Rome\\n", [("x", "numeric")])
    >>> table["x"].tolist(), n
    ([1.5, nan], 2)
    """
    import io

    import pyarrow as pa
    from pyarrow import csv as pacsv

    from thalweg.errors import FileFormatError
    from thalweg.io import _from_arrow

    if b"\x00" in body:
        raise BadRequest("the CSV body is not UTF-8 text (it holds NUL bytes)")
    try:
        arrow = pacsv.read_csv(
            io.BytesIO(body),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as error:
        message = str(error).splitlines()[0]
        if "Empty CSV" in message:
            message = "it is empty; send a header line and at least one row"
        elif "UTF8" in message or "UTF-8" in message:
            message = "it is not UTF-8 text"
        raise BadRequest(f"the CSV body cannot be read: {message}") from None
    if arrow.num_rows == 0:
        raise BadRequest("the CSV body has a header but no rows")
    try:
        table = _from_arrow(arrow, "the CSV body")
    except FileFormatError as error:
        raise BadRequest(str(error)) from None
    except pa.ArrowInvalid as error:  # text that is not UTF-8, found when converted
        raise BadRequest(f"the CSV body cannot be read: {error}; send UTF-8 text") from None
    for name, _ in columns:
        if name not in table:
            needed = ", ".join(n for n, _ in columns)
            raise DataError(
                f"the CSV lacks column {name!r} that the model was trained on; add it "
                f"(the model uses: {needed})"
            )
    names = {name for name, _ in columns}
    extra_names = [n for n in table if n not in names]
    extras = None
    if extra_names:
        extra_values = [table[n].tolist() for n in extra_names]
        extras = [
            json.dumps(dict(zip(extra_names, row, strict=True)), default=str)
            for row in zip(*extra_values, strict=True)
        ]
    return {name: table[name] for name, _ in columns}, extras, arrow.num_rows
