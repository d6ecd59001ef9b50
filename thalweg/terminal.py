"""Untrusted text on a terminal: shown as text, never obeyed as commands.

Column names, category labels, class names and model metadata come from files, and a
file can hold anything: an escape sequence that sets the terminal's title or clears
the screen, a carriage return that overwrites the line before it, a right-to-left
override that shows text reversed, or Rich markup such as ``[link=file:///etc/passwd]``
that a Rich console would render as a hyperlink (and ``price[usd]`` would lose its
``[usd]``). Everything that came from a file goes through :func:`printable` (plain
output, error messages) or :func:`rich_text` (Rich tables) before it is printed:

* control characters (C0, DEL, C1), the Unicode bidirectional controls and lone
  surrogates are shown as Python escapes (``\\x1b``, ``\\u202e``), so a line stays
  one line and the terminal receives no command;
* Rich markup is escaped, so brackets are shown as they are.

>>> printable("title\\x1b]0;pwned\\x07 and\\nnext line")
'title\\\\x1b]0;pwned\\\\x07 and\\\\nnext line'
>>> rich_text("price[usd] [link=file:///etc/passwd]x[/link]")
'price\\\\[usd] \\\\[link=file:///etc/passwd]x\\\\[/link]'
"""

from __future__ import annotations

import re

__all__ = ["printable", "rich_text"]

# C0 controls (tab included: it moves the cursor), DEL, C1 controls, the bidirectional
# embeddings/overrides/isolates and marks, the line and paragraph separators, and lone
# surrogates (which cannot even be encoded for the terminal).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text) -> str:
    """``text`` (any object: ``str()`` is taken) with every character that could act on
    a terminal shown as an escape instead; other text, accents and emoji included, is
    unchanged.

    >>> printable("Zürich")
    'Zürich'
    """
    return _UNSAFE.sub(_escape, str(text))


# A Rich tag (Rich's own rule, from rich.markup) or a lone "[", with the backslashes
# before it: Rich reads "\\[" as "[" even outside a tag.
_BRACKET = re.compile(r"(\\*)(\[(?:[a-z#/@][^[]*?\])?)")


def _escape_bracket(match: re.Match) -> str:
    backslashes, bracket = match.groups()
    if len(bracket) > 1:  # a tag: keep the backslashes, then escape the tag
        return f"{backslashes}{backslashes}\\{bracket}"
    return f"{backslashes}\\{bracket}" if backslashes else bracket


def rich_text(text) -> str:
    """:func:`printable` text with Rich markup escaped, for a Rich table cell or title
    (printed by a console made with ``emoji=False``, so ``:smile:`` stays text).

    Unlike ``rich.markup.escape``, every backslash and bracket comes out as written.

    >>> rich_text("[/bold]")
    '\\\\[/bold]'
    """
    return _BRACKET.sub(_escape_bracket, printable(text))
