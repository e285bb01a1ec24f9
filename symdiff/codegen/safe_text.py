"""User text in generated modules: names, comments and literals that cannot break out.

Everything a user passes (a function's name, a file path, a static string argument)
reaches the emitted module only through one of these three functions:

- `identifier` renames what is not a plain Python identifier (`class` -> `class_`,
  `f-1` -> `f_1`), so that `def` and attribute lookups stay valid;
- `comment` escapes every character that could end a comment line or hide text
  (newlines, carriage returns, form feeds, U+2028, terminal escapes ...);
- `literal` prints a static value (None, or an exact bool, int or str: tracing converts
  an IntEnum or a str subclass, see `trace.static_value`, so that no user `__repr__`
  runs) as a standalone expression.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from ..errors import EmitError

__all__ = ["identifier", "comment", "literal"]

_NOT_WORD = re.compile(r"\W")


def identifier(name: str, fallback: str = "f") -> str:
    """`name` as a Python identifier that is no keyword; `fallback` when nothing is left."""
    if not isinstance(name, str):
        return fallback
    # Python folds identifiers to NFKC: the name looked up must be the one defined
    text = unicodedata.normalize("NFKC", name)
    if not text.isidentifier():
        text = _NOT_WORD.sub("_", text).strip("_")
        if text[:1].isdigit():
            text = f"{fallback}_{text}"
    if not text.isidentifier():
        return fallback
    if keyword.iskeyword(text):
        return text + "_"
    return text


def comment(text: str) -> str:
    """`text` safe on one comment line: unprintable characters as escapes (a newline as
    `\\n`), so nothing after it can become code."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    return ch.encode("unicode_escape").decode("ascii")


def literal(value) -> str:
    """Python source of a static value: None, a bool, an int or a str, by the repr of
    its exact builtin type (valid as an expression, never more than one)."""
    if value is None or type(value) in (bool, int, str):
        return repr(value)  # exact builtins: their repr is a literal, whatever the text
    raise EmitError(f"a static argument of type {type(value).__name__} cannot be printed; "
                    "pass None, a bool, an int or a str")
