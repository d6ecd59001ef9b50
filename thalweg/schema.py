"""Typed descriptions of the JSON inside thalweg files, checked before anything is built.

*Which schema is this?* This module is about **thalweg's own files**: the JSON header
of a model file or a checkpoint (``Record``, ``Integer``, ``check``; the model file's
entries are described in :mod:`thalweg.models.persistence`). The
**columns of a data table** (which Parquet/CSV files a path holds, each column's type)
are :mod:`thalweg.data.schema`, a different thing with a similar name.

A model file or a checkpoint carries JSON (the architecture, the fitted attributes, the
training settings). Whoever reads it must not trust it: a damaged or hand-edited file
can hold a string where a number belongs, ``null`` where a table belongs, 1,500 levels
of nested lists, a lone UTF-16 surrogate in a name, or a key such as ``__dict__``. So
each file format describes its JSON once, with the small vocabulary below, and the
reader checks the whole header against that description **before** it builds an
object or allocates an array. Anything outside the description is rejected with one
line naming where it is and what was expected.

>>> layer = Record(required={"in_features": Integer(minimum=1), "bias": Boolean()})
>>> check({"in_features": 4, "bias": True}, layer)
{'in_features': 4, 'bias': True}
>>> check({"in_features": "4", "bias": True}, layer, "model.thalweg")
Traceback (most recent call last):
...
thalweg.errors.FileFormatError: model.thalweg is damaged: in_features should be an integer \
(>= 1), not the text '4'

The checks only read: they return the value they were given (dicts and lists are
checked, not copied), so a caller builds its objects from what passed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

from thalweg.errors import FileFormatError

# Deeper than any header thalweg writes (a Sequential of Sequentials is the deepest).
MAX_DEPTH = 48
# Longest text a header field may hold (a feature name, a class label, a path).
MAX_TEXT = 100_000
# Most entries in one list or table of a header (columns, categories, epochs of history).
MAX_ITEMS = 10_000_000

_SURROGATE = re.compile("[\ud800-\udfff]")


class Mismatch(Exception):
    """Raised inside a check: ``where`` (a dotted path) is not what the schema expects."""

    def __init__(self, where: str, expected: str, value):
        super().__init__(where, expected)
        self.where, self.expected, self.value = where, expected, value


def describe(value) -> str:
    """A short, printable description of a JSON value for an error message.

    >>> describe("4"), describe(None), describe([1, 2]), describe(True)
    ("the text '4'", 'null', 'a list of 2 items', 'true')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = ascii(value[:40]) if _SURROGATE.search(value) else repr(value[:40])
        return f"the text {shown}{'...' if len(value) > 40 else ''}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a table of {len(value)} entries"
    return type(value).__name__


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


def _join(where: str, key) -> str:
    """The dotted path of ``key`` inside ``where``; a key that is not a plain name (it
    came from the file: it may hold anything) is shown quoted and escaped."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    if not _NAME.fullmatch(str(key)):
        return f"{where}[{str(key)[:40]!a}]"
    return f"{where}.{key}" if where else str(key)


class Schema:
    """Base class: ``check(value, where, depth)`` raises :class:`Mismatch` or returns."""

    expected = "a value"

    def check(self, value, where: str, depth: int) -> None:
        raise NotImplementedError

    def _fail(self, where: str, value):
        raise Mismatch(where, self.expected, value)


class Integer(Schema):
    """A whole number (``true``/``false`` are not numbers), optionally within bounds."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        bounds = [f">= {minimum}" if minimum is not None else ""]
        bounds.append(f"<= {maximum}" if maximum is not None else "")
        shown = ", ".join(b for b in bounds if b)
        self.expected = f"an integer ({shown})" if shown else "an integer"

    def check(self, value, where, depth):
        if isinstance(value, bool) or not isinstance(value, int):
            self._fail(where, value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            self._fail(where, value)


class Number(Schema):
    """A number (integer or float); ``finite=True`` refuses NaN and infinities;
    ``minimum`` and ``maximum`` are allowed, ``below`` is not."""

    def __init__(
        self,
        finite: bool = False,
        minimum: float | None = None,
        below: float | None = None,
        maximum: float | None = None,
    ):
        self.finite, self.minimum, self.below, self.maximum = finite, minimum, below, maximum
        self.expected = "a finite number" if finite else "a number"
        bounds = [f">= {minimum}" if minimum is not None else "", f"< {below}" if below else ""]
        bounds.append(f"<= {maximum}" if maximum is not None else "")
        if any(bounds):
            self.expected += f" ({', '.join(b for b in bounds if b)})"

    def check(self, value, where, depth):
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(where, value)
        if self.finite and not math.isfinite(value):
            self._fail(where, value)
        if self.minimum is not None and not value >= self.minimum:
            self._fail(where, value)
        if self.below is not None and not value < self.below:
            self._fail(where, value)
        if self.maximum is not None and not value <= self.maximum:
            self._fail(where, value)


class Boolean(Schema):
    expected = "true or false"

    def check(self, value, where, depth):
        if not isinstance(value, bool):
            self._fail(where, value)


class Text(Schema):
    """A string of valid Unicode (no lone surrogates), optionally one of ``choices`` or
    matching ``pattern`` (a regular expression the whole text must match; ``described``
    says in words what it accepts, for messages)."""

    def __init__(
        self,
        choices=None,
        pattern: str | None = None,
        max_length: int = MAX_TEXT,
        described: str | None = None,
    ):
        self.choices = tuple(choices) if choices is not None else None
        self.pattern = re.compile(pattern) if pattern else None
        self.max_length = max_length
        if described is not None:
            self.expected = described
        elif self.choices is not None:
            self.expected = "one of " + ", ".join(repr(c) for c in self.choices)
        elif pattern:
            self.expected = f"a name matching {pattern}"
        else:
            self.expected = "text"

    def check(self, value, where, depth):
        if not isinstance(value, str) or len(value) > self.max_length:
            self._fail(where, value)
        if _SURROGATE.search(value):
            raise Mismatch(where, "valid Unicode text (it holds a lone surrogate)", value)
        if self.choices is not None and value not in self.choices:
            self._fail(where, value)
        if self.pattern is not None and not self.pattern.fullmatch(value):
            self._fail(where, value)


class Null(Schema):
    expected = "null"

    def check(self, value, where, depth):
        if value is not None:
            self._fail(where, value)


class Optional(Schema):
    """``null`` or what ``inner`` accepts."""

    def __init__(self, inner: Schema):
        self.inner = inner
        self.expected = f"null or {inner.expected}"

    def check(self, value, where, depth):
        if value is not None:
            self.inner.check(value, where, depth)


class OneOf(Schema):
    """What any of ``options`` accepts (tried in order)."""

    def __init__(self, *options: Schema):
        self.options = options
        self.expected = " or ".join(o.expected for o in options)

    def check(self, value, where, depth):
        for option in self.options:
            try:
                option.check(value, where, depth)
                return
            except Mismatch as mismatch:
                if mismatch.where != where:  # it matched the outside, failed inside
                    raise
        self._fail(where, value)


class ListOf(Schema):
    """A list whose every item ``item`` accepts, with ``min_items``..``max_items`` items."""

    def __init__(self, item: Schema, min_items: int = 0, max_items: int = MAX_ITEMS):
        self.item, self.min_items, self.max_items = item, min_items, max_items
        self.expected = f"a list of {item.expected}"
        if min_items and min_items == max_items:
            self.expected += f" (exactly {min_items})"
        elif min_items:
            self.expected += f" (at least {min_items})"

    def check(self, value, where, depth):
        if not isinstance(value, list) or not self.min_items <= len(value) <= self.max_items:
            self._fail(where, value)
        _deeper(where, depth)
        for index, item in enumerate(value):
            self.item.check(item, _join(where, index), depth + 1)


class MapOf(Schema):
    """A table from text keys (checked by ``key``) to values ``value`` accepts."""

    def __init__(self, value: Schema, key: Schema | None = None, max_items: int = MAX_ITEMS):
        self.value, self.key, self.max_items = value, key or Text(), max_items
        self.expected = f"a table of {self.value.expected}"

    def check(self, value, where, depth):
        if not isinstance(value, dict) or len(value) > self.max_items:
            self._fail(where, value)
        _deeper(where, depth)
        for key, item in value.items():
            inner = _join(where, key)
            self.key.check(key, f"{inner} (a key)", depth + 1)
            self.value.check(item, inner, depth + 1)


class Record(Schema):
    """A table with named fields: ``required`` ones, ``optional`` ones, and nothing else
    (unless ``extra`` is given: then other keys are allowed and checked by it)."""

    def __init__(
        self,
        required: Mapping[str, Schema] | None = None,
        optional: Mapping[str, Schema] | None = None,
        extra: Schema | None = None,
        name: str = "a table",
    ):
        self.required = dict(required or {})
        self.optional = dict(optional or {})
        self.extra = extra
        fields = ", ".join(self.required) or "no fixed fields"
        self.expected = f"{name} with {fields}"

    def check(self, value, where, depth):
        if not isinstance(value, dict):
            self._fail(where, value)
        _deeper(where, depth)
        for key, schema in self.required.items():
            if key not in value:
                raise Mismatch(_join(where, key), f"present ({schema.expected})", _ABSENT)
            schema.check(value[key], _join(where, key), depth + 1)
        for key, item in value.items():
            if key in self.required:
                continue
            inner = _join(where, key)
            schema = self.optional.get(key, self.extra)
            if schema is None:
                known = ", ".join(sorted({*self.required, *self.optional}))
                raise Mismatch(where, f"free of the unknown key {key!r} (known: {known})", value)
            Text().check(key, f"{inner} (a key)", depth + 1)
            schema.check(item, inner, depth + 1)


class Tagged(Schema):
    """A table whose ``tag`` field picks which of ``variants`` describes the rest."""

    def __init__(self, tag: str, variants: Mapping[str, Schema]):
        # kept as given (not copied): a registry that grows later is seen by this schema
        self.tag, self.variants = tag, variants

    @property
    def expected(self) -> str:
        return f"a table whose {self.tag!r} is one of {', '.join(map(repr, self.variants))}"

    def check(self, value, where, depth):
        if not isinstance(value, dict):
            self._fail(where, value)
        Text(choices=self.variants).check(value.get(self.tag), _join(where, self.tag), depth)
        self.variants[value[self.tag]].check(value, where, depth)


class Lazy(Schema):
    """A schema built on first use: for descriptions that refer to themselves (a
    ``Sequential`` holds layers, which may be ``Sequential``)."""

    def __init__(self, build: Callable[[], Schema], expected: str):
        self.build, self.expected, self._built = build, expected, None

    def check(self, value, where, depth):
        if self._built is None:
            self._built = self.build()
        self._built.check(value, where, depth)


class Json(Schema):
    """Any JSON value (text checked for surrogates), nested at most ``max_depth`` deep:
    for free-form data that is only stored and shown, never used to build anything."""

    expected = "JSON data"

    def __init__(self, max_depth: int = 16):
        self.max_depth = max_depth

    def check(self, value, where, depth):
        self._check(value, where, 0)  # depth counted from here: max_depth is relative

    def _check(self, value, where, level):
        if value is None or isinstance(value, bool | int | float):
            return
        if isinstance(value, str):
            Text().check(value, where, level)
            return
        if level >= self.max_depth:
            raise Mismatch(where, f"nested at most {self.max_depth} levels deep", value)
        if isinstance(value, list):
            for index, item in enumerate(value):
                self._check(item, _join(where, index), level + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                Text().check(key, f"{_join(where, key)} (a key)", level + 1)
                self._check(item, _join(where, key), level + 1)
        else:
            self._fail(where, value)


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT = _Absent()


def _deeper(where: str, depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise Mismatch(where, f"nested at most {MAX_DEPTH} levels deep", _ABSENT)


def check(value, schema: Schema, source: str = "the file", where: str = ""):
    """Return ``value`` if ``schema`` accepts it; else raise a one-line FileFormatError
    that names ``source``, the dotted path of the first bad part, and what it should be.
    """
    try:
        schema.check(value, where, 0)
    except Mismatch as mismatch:
        place = mismatch.where or "its header"
        got = "missing" if mismatch.value is _ABSENT else f"not {describe(mismatch.value)}"
        if mismatch.expected.startswith(("present", "free of", "nested", "valid Unicode")):
            message = f"{place} should be {mismatch.expected}"
        else:
            message = f"{place} should be {mismatch.expected}, {got}"
        raise FileFormatError(f"{source} is damaged: {message}") from None
    return value
