"""JSON in and out of the server: fast (orjson) when installed, the same answers without it.

Reading a request body:

* **orjson** (``pip install 'thalweg[serve]'`` installs it) parses a 1,000-row body
  several times faster than the standard library. It is strict: UTF-8 only, no
  ``NaN``/``Infinity``, no byte-order mark, at most 1,024 levels of nesting.
* What orjson refuses is read again by the standard library, so that what a Python
  client's ``json.dumps`` writes is accepted: ``NaN`` (a missing value, as ``null``),
  ``Infinity`` (refused later, by the column checks, with the row named), a UTF-8 BOM.
* Either way the result holds only valid Unicode text (a lone surrogate such as
  ``"\\ud800"`` cannot be written to the feature log, or to any UTF-8 file) and
  never raises anything but :class:`ValueError`: deep nesting is a ``ValueError``
  here, not a ``RecursionError``.

Writing an answer: :func:`dumps` takes NumPy arrays as they are (orjson serialises them
natively; without it they go through ``tolist()``) and refuses a non-finite float
(JSON has no ``NaN``): the caller checks its numbers first.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:  # the serve extra's fast codec
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None

# A \uD800-\uDFFF escape: either half of a surrogate pair, or a lone (invalid) one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(body: bytes) -> Any:
    """The JSON document in ``body``; ValueError (with the parser's reason) if there is
    none, or if it holds text that is not valid Unicode.

    >>> loads(b'{"rows": [{"x": 1.5}]}')
    {'rows': [{'x': 1.5}]}
    >>> loads(b'[NaN]')  # Python's json.dumps writes NaN for a missing float
    [nan]
    """
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the standard library reads more, and explains its refusals better
    return _lenient_loads(body)


def _lenient_loads(body: bytes) -> Any:
    """The standard library's reading (NaN, Infinity, a BOM, UTF-16 accepted), checked
    for lone surrogates, with deep nesting reported as a ValueError."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"the body is not UTF-8 text ({error.reason})") from None
    if _SURROGATE_ESCAPE.search(body):
        try:  # valid pairs decode to one character; a lone half stays and cannot encode
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "the JSON holds a lone surrogate escape (\\uD800-\\uDFFF without its pair), "
                "which is not text"
            ) from None
    return document


def _plain(value: Any) -> Any:
    """NumPy values as Python ones, for the standard library's encoder."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(document: Any) -> bytes:
    """``document`` as compact JSON bytes; NumPy arrays and scalars are welcome.

    >>> import numpy as np
    >>> dumps({"predictions": np.array([1.5, 2.0])})
    b'{"predictions":[1.5,2.0]}'
    """
    if orjson is not None:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    return json.dumps(document, separators=(",", ":"), default=_plain, allow_nan=False).encode()
