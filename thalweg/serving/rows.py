"""Request bodies as tables: ``{"rows": [{column: value, ...}, ...]}`` or CSV text.

The result is a table the model's own :meth:`~thalweg.models.tabular.TabularModel.transform`
checks exactly as ``thalweg predict`` does (a missing column, text in a numeric column,
a missing value the model cannot fill: one line naming the column). Only what JSON adds
is checked here: the body's shape, and values that are not scalars.
"""

from __future__ import annotations

import csv
import io
import json
import operator
from collections.abc import Sequence

import numpy as np

from thalweg.errors import DataError, ThalwegError


class BadRequest(ThalwegError, ValueError):
    """A request the server cannot read: not JSON, wrong shape, wrong content type."""

    status = 400


NUMBER_TYPES = {float, int, type(None)}
SCALAR_TYPES = {float, int, str, bool, type(None)}


def _columns(rows: list, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    names = [name for name, _ in columns]
    try:  # every row's values in the model's column order, in one pass over the rows
        records = list(map(operator.itemgetter(*names), rows))
    except KeyError:
        return _columns_one_by_one(rows, columns)  # says which row lacks which column
    if len(names) == 1:
        records = [(value,) for value in records]
    matrix = np.empty((len(rows), len(names)), dtype=object)
    matrix[:] = records
    table = {}
    for j, (name, kind) in enumerate(columns):
        values = matrix[:, j]
        types = set(map(type, values))
        if not types <= SCALAR_TYPES:
            _refuse_nested(name, values)
        if kind == "numeric" and types <= NUMBER_TYPES:
            table[name] = np.array(values.tolist(), dtype=np.float64)  # null -> NaN (missing)
        else:
            table[name] = values
    return table


def _refuse_nested(name: str, values) -> None:
    odd = next(type(v).__name__ for v in values if type(v) not in SCALAR_TYPES)
    raise DataError(
        f"column {name!r} holds a JSON {'object' if odd == 'dict' else 'array'}; "
        "each value must be a number, text, true/false or null"
    )


def _columns_one_by_one(rows: list, columns: Sequence[tuple[str, str]]) -> dict:
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
    raise AssertionError("a KeyError without a missing column")  # pragma: no cover


def _extras(rows: list, names: set[str]) -> list[str | None] | None:
    """Each row's fields beyond the model's columns, as JSON text (None: no extras)."""
    if all(len(row) == len(names) for row in rows):
        return None  # every row has exactly the model's columns (checked already)
    extras = []
    for row in rows:
        other = {k: v for k, v in row.items() if k not in names}
        extras.append(json.dumps(other) if other else None)
    return extras


def table_from_json(
    body: bytes, columns: Sequence[tuple[str, str]]
) -> tuple[dict[str, np.ndarray], list[str | None] | None, int]:
    """``(table, extras, rows)`` from ``{"rows": [{...}, ...]}``.

    >>> table, extras, n = table_from_json(b'{"rows": [{"x": 1.5, "id": 7}]}', [("x", "numeric")])
    >>> table["x"].tolist(), extras, n
    ([1.5], ['{"id": 7}'], 1)
    """
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f'the body is not valid JSON ({error}); send {{"rows": [...]}}') from None
    if not isinstance(document, dict) or "rows" not in document:
        raise BadRequest('the body must be a JSON object {"rows": [{column: value, ...}, ...]}')
    rows = document["rows"]
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"rows" must be a non-empty list of objects, one per row')
    if not all(isinstance(row, dict) for row in rows):
        index = next(i for i, row in enumerate(rows) if not isinstance(row, dict))
        raise BadRequest(f'row {index + 1} of "rows" is not an object {{column: value}}')
    table = _columns(rows, columns)
    return table, _extras(rows, {name for name, _ in columns}), len(rows)


def table_from_csv(
    body: bytes, columns: Sequence[tuple[str, str]]
) -> tuple[dict[str, np.ndarray], list[str | None] | None, int]:
    """``(table, extras, rows)`` from CSV text with a header line (empty cell: missing).

    >>> table, _, n = table_from_csv(b"x,city\\n1.5,Oslo\\n,Rome\\n", [("x", "numeric")])
    >>> table["x"].tolist(), n  # text: the model parses numbers as for a CSV file
    (['1.5', None], 2)
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("the CSV body is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise BadRequest("the CSV body is empty; send a header line and at least one row")
    records = [record for record in reader if record]
    if not records:
        raise BadRequest("the CSV body has a header but no rows")
    width = len(header)
    short = next((i for i, r in enumerate(records) if len(r) != width), None)
    if short is not None:
        raise BadRequest(
            f"CSV row {short + 1} has {len(records[short])} fields, the header {width}"
        )
    position = {name.strip(): j for j, name in enumerate(header)}
    table = {}
    for name, _ in columns:
        if name not in position:
            needed = ", ".join(n for n, _ in columns)
            raise DataError(
                f"the CSV lacks column {name!r} that the model was trained on; add it "
                f"(the model uses: {needed})"
            )
        j = position[name]
        table[name] = np.array([r[j] if r[j] != "" else None for r in records], dtype=object)
    names = {name for name, _ in columns}
    extra_names = [n for n in position if n not in names]
    extras = None
    if extra_names:
        extras = [json.dumps({n: r[position[n]] for n in extra_names}) for r in records]
    return table, extras, len(records)
