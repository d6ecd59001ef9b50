"""A learner's own data: a CSV file with two numeric feature columns and a label.

:func:`read_upload` parses the bytes of an uploaded CSV (never evaluating anything in
it), picks the columns (given, or the first two numeric columns and the last column),
decides the problem (a label with two values classifies; a numeric label with more
values is regression) and works out the linear maps that place the data where the
Playground's features make sense: each feature column onto [-5, 5], a regression
target onto [-1, 1]. Everything wrong with a file raises :class:`UploadError` with one
line naming the problem and the fix; files over :data:`MAX_UPLOAD_BYTES` or with more
than :data:`MAX_UPLOAD_ROWS` rows are refused.

>>> rows = b"0,0,cat\\n1,0,dog\\n0,1,dog\\n1,1,cat\\n" * 3
>>> data = read_upload(b"a,b,kind\\n" + rows, "pets.csv")
>>> data.x1, data.x2, data.label, data.problem, data.classes
('a', 'b', 'kind', 'classification', ['cat', 'dog'])
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

import numpy as np

from thalweg.errors import DataError

__all__ = [
    "FEATURE_HALF_RANGE",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_ROWS",
    "MIN_UPLOAD_ROWS",
    "UploadError",
    "UploadedDataset",
    "read_upload",
]

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_ROWS = 100_000
MIN_UPLOAD_ROWS = 10
FEATURE_HALF_RANGE = 5.0  # feature columns land on [-5, 5], inside the heat map's [-6, 6]


class UploadError(DataError):
    """An uploaded file the playground cannot use; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class UploadedDataset:
    """An uploaded table, reduced to what a run needs.

    ``x`` is ``(n, 2)`` float64 (the columns ``x1`` and ``x2`` as in the file); ``y`` is
    ``(n,)``: the labels as in the file (classification) or the float target. The
    playground's plane is ``(x - offset) / scale``; a regression target is trained as
    ``(y - target_offset) / target_scale``.
    """

    filename: str
    columns: list[str]
    x1: str
    x2: str
    label: str
    problem: str
    x: np.ndarray
    y: np.ndarray
    classes: list | None
    offset: tuple[float, float]
    scale: tuple[float, float]
    target_offset: float = 0.0
    target_scale: float = 1.0
    id: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.x)

    def summary(self) -> dict:
        """What the page shows about the upload (JSON-ready)."""
        return {
            "id": self.id,
            "filename": self.filename,
            "columns": list(self.columns),
            "x1": self.x1,
            "x2": self.x2,
            "label": self.label,
            "problem": self.problem,
            "rows": self.n_rows,
            "classes": None if self.classes is None else [str(c) for c in self.classes],
        }


def _decode(raw: bytes) -> str:
    if b"\0" in raw[:4096]:
        raise UploadError("the file is not text (it holds binary data); upload a CSV file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("latin-1")  # old spreadsheets; every byte is a character
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
            raise UploadError("the file is not text; save it as CSV (UTF-8)") from None


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _pick_columns(
    names: list[str], first_row: list[str], x1: str | None, x2: str | None, label: str | None
) -> tuple[str, str, str]:
    for option, value in (("x1", x1), ("x2", x2), ("label", label)):
        if value is not None and value not in names:
            raise UploadError(
                f"{option}: the file has no column {value!r}; its columns are {', '.join(names)}"
            )
    label = label if label is not None else names[-1]
    numeric = [
        name
        for name, cell in zip(names, first_row, strict=True)
        if name != label and _as_number(cell.strip()) is not None
    ]
    chosen = [c for c in (x1, x2) if c is not None]
    spare = [name for name in numeric if name not in chosen]
    if x1 is None:
        x1 = spare.pop(0) if spare else None
    if x2 is None:
        x2 = spare.pop(0) if spare else None
    if x1 is None or x2 is None:
        raise UploadError(
            "the playground needs two numeric feature columns and a label column; this "
            f"file's columns are {', '.join(names)} (the label is the last column unless you "
            "choose another)"
        )
    if len({x1, x2, label}) < 3:
        raise UploadError(
            f"x1, x2 and label must be three different columns; got {x1!r}, {x2!r}, {label!r}"
        )
    return x1, x2, label


def _linear_map(values: np.ndarray, half_range: float, name: str) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    if not high > low:
        raise UploadError(
            f"column {name!r} has the same value ({low:g}) in every row; choose a column "
            "that varies"
        )
    return (low + high) / 2, (high - low) / 2 / half_range


def _label_values(cells: list[str]) -> np.ndarray:
    numbers = [_as_number(c) for c in cells]
    if all(n is not None for n in numbers):
        values = np.asarray(numbers, dtype=np.float64)
        return values.astype(np.int64) if np.all(values == np.round(values)) else values
    return np.asarray(cells, dtype=object)


def read_upload(
    raw: bytes,
    filename: str = "upload.csv",
    x1: str | None = None,
    x2: str | None = None,
    label: str | None = None,
    problem: str | None = None,
) -> UploadedDataset:
    """Parse an uploaded CSV into an :class:`UploadedDataset` (see the module docstring).

    ``x1``, ``x2``, ``label`` choose columns by name; ``problem`` forces
    ``"classification"`` or ``"regression"``.
    """
    if len(raw) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"the file is {len(raw) / 2**20:.1f} MB; uploads are limited to 10 MB "
            "(and 100,000 rows): upload a sample of it",
            status=413,
        )
    if problem is not None and problem not in ("classification", "regression"):
        raise UploadError(f"problem must be classification or regression; got {problem!r}")
    text = _decode(raw)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise UploadError(
            "the file is empty or starts with a blank line; the first line must name the "
            "columns (e.g. x1,x2,label)"
        )
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    names = [name.strip() for name in next(reader)]
    if len(names) < 3:
        raise UploadError(
            f"the first line names {len(names)} column(s) ({', '.join(names)}); the playground "
            "needs two numeric feature columns and a label, with names on the first line"
        )
    if any(not name for name in names) or len(set(names)) != len(names):
        raise UploadError(
            "every column needs a name on the first line, each different; got "
            + ", ".join(repr(n) for n in names)
        )
    rows: list[list[str]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue  # blank lines between rows are harmless
        if len(row) != len(names):
            raise UploadError(
                f"line {reader.line_num} has {len(row)} values but the first line names "
                f"{len(names)} columns; fix that line"
            )
        rows.append(row)
        if len(rows) > MAX_UPLOAD_ROWS:
            raise UploadError(
                "the file has more than 100,000 rows; uploads are limited to 100,000 rows "
                "(and 10 MB): upload a sample of it",
                status=413,
            )
    if len(rows) < MIN_UPLOAD_ROWS:
        raise UploadError(
            f"the file has {len(rows)} data row(s); the playground needs at least "
            f"{MIN_UPLOAD_ROWS} to split into training and test points"
        )
    x1, x2, label = _pick_columns(names, rows[0], x1, x2, label)
    index = {name: j for j, name in enumerate(names)}
    columns = []
    for name in (x1, x2):
        j = index[name]
        values = np.empty(len(rows))
        for i, row in enumerate(rows):
            value = _as_number(row[j].strip())
            if value is None:
                shown = row[j].strip()
                raise UploadError(
                    f"row {i + 1}, column {name!r}: {shown!r} is not a number"
                    + (" (the cell is empty)" if not shown else "")
                    + "; feature columns must hold finite numbers in every row"
                )
            values[i] = value
        columns.append(values)
    x = np.stack(columns, axis=1)
    label_cells = [row[index[label]].strip() for row in rows]
    empty = [i + 1 for i, cell in enumerate(label_cells) if not cell]
    if empty:
        raise UploadError(
            f"row {empty[0]}, column {label!r}: the label is empty; every row needs a label"
        )
    y = _label_values(label_cells)
    distinct = np.unique(y)
    numeric = y.dtype != object
    if problem is None:
        problem = "classification" if len(distinct) == 2 or not numeric else "regression"
    if problem == "classification":
        if len(distinct) != 2:
            shown = ", ".join(str(v) for v in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
            raise UploadError(
                f"label column {label!r} has {len(distinct)} different values ({shown}); the "
                "playground classifies two classes: choose a two-valued column"
                + (", or problem regression" if numeric else "")
            )
        classes = distinct.tolist()
        target_offset, target_scale = 0.0, 1.0
    else:
        if not numeric:
            raise UploadError(
                f"label column {label!r} holds text; regression needs numbers (or choose "
                "problem classification for a two-valued label)"
            )
        y = y.astype(np.float64)
        classes = None
        target_offset, target_scale = _linear_map(y, 1.0, label)
    offsets, scales = zip(
        *(_linear_map(x[:, j], FEATURE_HALF_RANGE, name) for j, name in enumerate((x1, x2))),
        strict=True,
    )
    return UploadedDataset(
        filename=filename,
        columns=names,
        x1=x1,
        x2=x2,
        label=label,
        problem=problem,
        x=x,
        y=y,
        classes=classes,
        offset=(offsets[0], offsets[1]),
        scale=(scales[0], scales[1]),
        target_offset=target_offset,
        target_scale=target_scale,
    )
