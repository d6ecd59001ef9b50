"""Ratings: one row per (item, rater, label), checked and coded as integers.

>>> import numpy as np
>>> table = {"item": np.array(["a", "a", "b", "b"], dtype=object),
...          "rater": np.array(["ann", "bob", "ann", "bob"], dtype=object),
...          "label": np.array(["cat", "cat", "dog", "cat"], dtype=object)}
>>> ratings = ratings_from_table(table)
>>> ratings.items, ratings.raters, ratings.classes
(['a', 'b'], ['ann', 'bob'], ['cat', 'dog'])
>>> ratings.label_codes.tolist()
[0, 0, 1, 0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from thalweg.errors import DataError


@dataclass
class Ratings:
    """Ratings coded as integers: rating ``r`` is rater ``rater_codes[r]`` giving item
    ``item_codes[r]`` the class ``label_codes[r]``.

    ``items``, ``raters`` and ``classes`` are sorted text labels; items keep their first
    appearance order in ``item_order`` (output follows the input's order).
    """

    items: list[str]
    raters: list[str]
    classes: list[str]
    item_codes: np.ndarray
    rater_codes: np.ndarray
    label_codes: np.ndarray
    item_order: list[int]

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.label_codes)

    def counts(self) -> np.ndarray:
        """``(n_items, n_classes)``: how many ratings gave each item each class."""
        counts = np.zeros((self.n_items, self.n_classes), dtype=np.int64)
        np.add.at(counts, (self.item_codes, self.label_codes), 1)
        return counts


def _text(value) -> str | None:
    """One spelling per value: ``1``, ``1.0`` and ``"1"`` are all ``"1"``; None missing."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def ratings_from_table(
    table: Mapping[str, np.ndarray],
    item: str = "item",
    rater: str = "rater",
    label: str = "label",
    *,
    source: str = "the ratings",
) -> Ratings:
    """Check and code a table of ratings (one row per rating).

    Raises DataError with one line for: a missing column, no rows, an empty cell (an
    item with no rater or no label: rated by nobody), a single rater, a single class.
    """
    columns = ", ".join(table) or "none"
    for option, name in (("--item", item), ("--rater", rater), ("--label", label)):
        if name not in table:
            raise DataError(
                f"{source} have no column {name!r}; its columns are: {columns} (choose the "
                f"column with {option} NAME)"
            )
    n = len(table[item])
    if n == 0:
        raise DataError(f"{source} have no rows; one row per rating is needed (item, rater, label)")
    values = {
        role: [_text(v) for v in np.asarray(table[name]).tolist()]
        for role, name in (("item", item), ("rater", rater), ("label", label))
    }
    for role, name in (("item", item), ("rater", rater), ("label", label)):
        empty = [i for i, v in enumerate(values[role]) if v is None]
        if empty:
            row = empty[0]
            owner = values["item"][row]
            what = f"item {owner!r}" if owner is not None else "a rating"
            raise DataError(
                f"row {row + 1}: {what} has an empty {name!r} cell, so it was rated by nobody "
                f"there ({len(empty)} such row(s)); fill in or remove those rows"
            )
    raters = sorted(set(values["rater"]))
    if len(raters) < 2:
        raise DataError(
            f"every rating in {source} comes from one rater ({raters[0]!r}); agreement and "
            "aggregation need at least two raters"
        )
    classes = sorted(set(values["label"]))
    if len(classes) < 2:
        raise DataError(
            f"every rating in {source} is {classes[0]!r}; with a single class there is "
            "nothing to aggregate"
        )
    first_seen: dict[str, int] = {}
    for value in values["item"]:
        first_seen.setdefault(value, len(first_seen))
    items = sorted(first_seen)
    item_index = {name: i for i, name in enumerate(items)}
    rater_index = {name: i for i, name in enumerate(raters)}
    class_index = {name: i for i, name in enumerate(classes)}
    return Ratings(
        items=items,
        raters=raters,
        classes=classes,
        item_codes=np.asarray([item_index[v] for v in values["item"]], dtype=np.int64),
        rater_codes=np.asarray([rater_index[v] for v in values["rater"]], dtype=np.int64),
        label_codes=np.asarray([class_index[v] for v in values["label"]], dtype=np.int64),
        item_order=[item_index[name] for name in first_seen],
    )
