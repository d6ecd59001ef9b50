"""Box annotations as a table: the CSV format thalweg reads for detection, and checks.

One row per box, one file for a whole folder of images::

    image,x_min,y_min,x_max,y_max,label
    scene_0001.png,12.5,40,44,71.5,face
    scene_0001.png,60,8,84,32,face
    scene_0002.png,30,30,58,58,face

Coordinates are pixels, xyxy (``x_max ≥ x_min``, ``y_max ≥ y_min``). Detections add a
``score`` column (and are written in the same format, so one model's detections can
train another). An image with no boxes simply has no row.

In Python a box table is a dict of NumPy arrays with those column names; every function
that takes one (``coco_evaluate``, ``average_precision``, ...) also accepts a pandas
DataFrame or a pyarrow Table.

>>> table = as_box_table({"image": ["a.png"], "x_min": [1], "y_min": [2], "x_max": [5],
...                       "y_max": [6], "label": ["face"]})
>>> table["x_max"], table["label"]
(array([5.]), array(['face'], dtype='<U4'))
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence

import numpy as np

from thalweg.errors import DataError, FileFormatError
from thalweg.files import atomic_write

__all__ = [
    "BOX_COLUMNS",
    "as_box_table",
    "boxes_by_image",
    "read_boxes_csv",
    "write_boxes_csv",
]

BOX_COLUMNS = ("image", "x_min", "y_min", "x_max", "y_max", "label")
_COORDINATES = ("x_min", "y_min", "x_max", "y_max")


def _columns_of(table, what: str) -> dict[str, np.ndarray]:
    """A pandas DataFrame, pyarrow Table or mapping of columns, as a dict of arrays."""
    if hasattr(table, "column_names") and hasattr(table, "column"):  # pyarrow.Table
        return {name: table.column(name).to_numpy() for name in table.column_names}
    if hasattr(table, "columns") and hasattr(table, "to_numpy"):  # pandas.DataFrame
        return {str(name): table[name].to_numpy() for name in table.columns}
    if isinstance(table, Mapping):
        return {str(name): np.asarray(values) for name, values in table.items()}
    raise DataError(
        f"{what} must be a dict of columns, a pandas DataFrame or a pyarrow Table, got "
        f"{type(table).__name__}"
    )


def as_box_table(
    table, what: str = "boxes", score: bool = False, line_numbers=None
) -> dict[str, np.ndarray]:
    """Check a box table and return it as a dict of arrays (coordinates as float64).

    Parameters
    ----------
    table : dict of arrays, pandas DataFrame or pyarrow Table
        Columns ``image, x_min, y_min, x_max, y_max, label`` (and ``score`` when
        ``score=True``); other columns are kept as they are.
    what : str
        How errors name the table (``"detections"``, ``"ground_truth"``, a file name).
    score : bool
        Require a ``score`` column (detections).
    line_numbers : sequence of int, optional
        The file line of each row, for errors about a file ("line 7" instead of "row 5").

    Returns
    -------
    dict of arrays, all of length N
        ``image`` and ``label`` as given (strings or ints), coordinates and ``score`` float64.

    Raises :class:`~thalweg.errors.DataError` naming the first bad row: a missing column,
    a non-numeric or non-finite coordinate or score, ``x_max < x_min``, ``y_max < y_min``.
    """
    columns = _columns_of(table, what)

    def where(row: int) -> str:
        return f"line {line_numbers[row]}" if line_numbers is not None else f"row {row}"

    required = BOX_COLUMNS + (("score",) if score else ())
    missing = [name for name in required if name not in columns]
    if missing:
        raise DataError(
            f"{what}: missing column(s) {', '.join(missing)}; a box table needs "
            f"{', '.join(required)} (found: {', '.join(columns) or 'none'})"
        )
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise DataError(f"{what}: columns have different lengths {lengths}")
    out = dict(columns)
    for name in (*_COORDINATES, *(("score",) if score else ())):
        values = columns[name]
        try:
            values = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            row = _first_non_numeric(columns[name])
            raise DataError(
                f"{what}, {where(row)}: {name} is {columns[name][row]!r}, not a number"
            ) from None
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{what}, {where(row)}: {name} is {values[row]}; it must be finite")
        out[name] = values
    for low, high in (("x_min", "x_max"), ("y_min", "y_max")):
        inverted = out[high] < out[low]
        if inverted.any():
            row = int(np.flatnonzero(inverted)[0])
            raise DataError(
                f"{what}, {where(row)}: {high} ({out[high][row]:g}) < {low} "
                f"({out[low][row]:g}); columns are x_min, y_min, x_max, y_max in pixels"
            )
    for name in ("image", "label"):
        values = np.asarray(columns[name])
        if values.dtype == object:  # e.g. from pandas: strings, made a plain str array
            if not all(isinstance(v, str) for v in values.tolist()):
                kinds = sorted({type(v).__name__ for v in values.tolist()})
                raise DataError(
                    f"{what}: column {name} mixes {', '.join(kinds)}; use strings or ints"
                )
            values = values.astype(str) if len(values) else np.zeros(0, str)
        if values.dtype.kind == "U" and len(values):
            blank = np.char.strip(values) == ""
            if blank.any():  # an empty label would become a class named ""
                row = int(np.flatnonzero(blank)[0])
                raise DataError(f"{what}, {where(row)}: {name} is empty; give every box one")
        out[name] = values
    return out


def _first_non_numeric(values) -> int:
    for row, value in enumerate(np.asarray(values, dtype=object).tolist()):
        try:
            float(value)
        except (TypeError, ValueError):
            return row
    return 0


def boxes_by_image(table, images: Sequence | None = None) -> tuple[list, list[np.ndarray]]:
    """Split a box table per image: the ``gt_boxes`` / ``gt_labels`` lists of a batch.

    Parameters
    ----------
    table : box table
    images : sequence, optional
        The images in the order wanted (images without a row get empty arrays). Default:
        the images of the table, sorted.

    Returns
    -------
    boxes : list of float64 arrays (G_i, 4)
    labels : list of arrays (G_i,)

    >>> t = {"image": ["b", "a", "b"], "x_min": [0, 1, 2], "y_min": [0, 1, 2],
    ...      "x_max": [5, 6, 7], "y_max": [5, 6, 7], "label": ["face"] * 3}
    >>> boxes, labels = boxes_by_image(t, images=["a", "b", "c"])
    >>> [len(b) for b in boxes], labels[1].tolist()
    ([1, 2, 0], ['face', 'face'])
    """
    table = as_box_table(table)
    xyxy = np.stack([table[name] for name in _COORDINATES], axis=1)
    if images is None:
        images = np.unique(table["image"])
    rows_of: dict = {}
    for row, image in enumerate(table["image"].tolist()):
        rows_of.setdefault(image, []).append(row)
    boxes, labels = [], []
    for image in list(images):
        rows = np.asarray(rows_of.get(image, []), np.int64)
        boxes.append(xyxy[rows])
        labels.append(table["label"][rows])
    return boxes, labels


def read_boxes_csv(path) -> dict[str, np.ndarray]:
    """Read a box CSV (``image, x_min, y_min, x_max, y_max, label`` [, ``score``]).

    Returns the table as a dict of arrays (see :func:`as_box_table`); ``image`` and
    ``label`` are strings. Errors name the file and its line: a missing column, a
    coordinate that is not a number, ``x_max < x_min``, a row with too few fields.
    """
    from thalweg.files import check_input_file

    path = check_input_file(path, "boxes CSV (image,x_min,...,label)", missing_error=DataError)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise FileFormatError(f"{path} is not UTF-8 text; save it as UTF-8 CSV") from None
    if not rows:
        raise FileFormatError(f"{path} is empty; its first line must be {','.join(BOX_COLUMNS)}")
    header = [name.strip() for name in rows[0]]
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:  # which of the two would be the box? neither guess is safe
        raise DataError(f"{path}: the header names {', '.join(twice)} twice; keep one of each")
    missing = [name for name in BOX_COLUMNS if name not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must name "
            f"{','.join(BOX_COLUMNS)} (found: {','.join(header)})"
        )
    body = [row for row in rows[1:] if row]  # (blank lines are skipped)
    for number, row in enumerate(rows[1:], start=2):
        if row and len(row) != len(header):
            raise DataError(
                f"{path}, line {number}: {len(row)} fields, but the header has {len(header)}"
            )
    columns = {name: [row[k].strip() for row in body] for k, name in enumerate(header)}
    line_of = [number for number, row in enumerate(rows[1:], start=2) if row]
    table: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if name in (*_COORDINATES, "score"):
            numbers = np.empty(len(values))
            for k, value in enumerate(values):
                try:
                    numbers[k] = float(value)
                except ValueError:
                    raise DataError(
                        f"{path}, line {line_of[k]}: {name} is {value!r}, not a number"
                    ) from None
            table[name] = numbers
        else:
            table[name] = np.asarray(values, dtype=str)
    return as_box_table(table, what=str(path), score="score" in table, line_numbers=line_of)


def write_boxes_csv(path, table) -> None:
    """Write a box table as CSV, atomically; ``score`` (and other columns) follow ``label``.

    >>> import tempfile, os
    >>> target = os.path.join(tempfile.mkdtemp(), "boxes.csv")
    >>> write_boxes_csv(target, {"image": ["a.png"], "x_min": [1.5], "y_min": [2.0],
    ...                          "x_max": [5.0], "y_max": [6.25], "label": ["face"]})
    >>> print(open(target).read().strip())
    image,x_min,y_min,x_max,y_max,label
    a.png,1.5,2,5,6.25,face
    """
    table = as_box_table(table, what="write_boxes_csv", score=False)
    with atomic_write(path, "w") as handle:
        print_boxes_csv(table, handle)


def print_boxes_csv(table, handle) -> None:
    """Write a box table as CSV text to an open text ``handle`` (standard output, say),
    exactly as :func:`write_boxes_csv` writes the file."""
    table = as_box_table(table, what="print_boxes_csv", score=False)
    names = list(BOX_COLUMNS) + [name for name in table if name not in BOX_COLUMNS]
    columns = [_cells(table[name]) for name in names]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*columns, strict=True))


def _cells(values: np.ndarray) -> list[str]:
    values = np.asarray(values)
    if values.dtype.kind == "f":
        # shortest round-trip repr, and "2" rather than "2.0" for whole pixels
        return [str(int(v)) if v.is_integer() else repr(v) for v in values.tolist()]
    return [str(v) for v in values.tolist()]
