"""Line layout of generated code: wrapping long statements at the outermost break
points, filling comment and parameter lines within the module's line length."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Sequence

LINE_LENGTH = 88



def call_text(name: str, params: str, indent: int) -> str:
    """`name(params)` on one line at `indent`, or the parameters on lines of their own
    (a `def` line ends with `:` after it, hence the margin)."""
    text = f"{name}({params})"
    if indent + len("def ") + len(text) + 1 <= LINE_LENGTH:
        return text
    pad = " " * (indent + 4)
    lines = _fill(params.split(", "), ", ", LINE_LENGTH - 1, pad, pad)
    return f"{name}(\n" + "\n".join(lines) + f",\n{' ' * indent})"



def _fill(items: Sequence[str], sep: str, width: int, first: str, rest: str,
          cont: str = "") -> list[str]:
    """Join `items` with `sep` into lines of at most `width` columns, breaking only
    between items; lines but the last end with `sep.rstrip() + cont`."""
    lines, current = [], first + items[0] if items else first
    for item in items[1:]:
        if len(current) + len(sep) + len(item) > width:
            lines.append(current + sep.rstrip() + cont)
            current = rest + item
        else:
            current += sep + item
    return lines + [current]



# -- line wrapping -----------------------------------------------------------------------
def _wrap(line: str, indent: int) -> str:
    """Fit `target = expression` in LINE_LENGTH columns by breaking inside parentheses.

    Breaks go at spaces (before a binary operator, after a comma) where possible and
    between any two tokens otherwise. The first line is returned unindented (the
    template indents it); continuation lines carry their absolute indentation."""
    line = re.sub(r"\s*\n\s*", " ", line)  # NumPy prints big arrays over several lines
    if indent + len(line) <= LINE_LENGTH:
        return line
    target, rhs = line.split(" = ", 1)
    lines, depth = [], 0  # a line starting inside k brackets is indented 4k further
    while True:
        pad = " " * (indent + 4 + 4 * depth)
        cut = _break_at(rhs, LINE_LENGTH - len(pad)) if len(pad) + len(rhs) > LINE_LENGTH \
            else None
        if cut is None:
            break
        lines.append(pad + rhs[:cut].rstrip())
        depth += _depth_change(rhs[:cut])
        rhs = rhs[cut:].lstrip()
    lines.append(pad + rhs)
    return f"{target} = (\n" + "\n".join(lines) + f"\n{' ' * indent})"



def _wrap_statement(line: str, indent: int) -> str:
    """`_wrap` for the statements of a Block: an assignment, an augmented assignment
    (``x[i] += v``) or a call (``np.add.at(x, i, v)``, its arguments wrapped)."""
    if indent + len(line) <= LINE_LENGTH:
        return line
    if " += " in line:
        target, rhs = line.split(" += ", 1)
        return _wrap(f"{target}  = {rhs}", indent).replace("  = ", " += ", 1)
    if " = " in line:
        return _wrap(line, indent)
    callee, args = line[:-1].split("(", 1)
    return callee + "(" + _wrap(f"{callee} = {args}", indent)[len(f"{callee} = ("):]



def _depth_change(text: str) -> int:
    return sum(text.count(c) for c in _OPENING) - sum(text.count(c) for c in _CLOSING)



def _break_at(text: str, limit: int) -> int | None:
    """Where to break `text` so the first part fits in `limit` columns: outside as
    many parentheses as possible, at the most preferred kind of place (before an
    operator, after a comma), as far right as possible; if nothing fits, at the
    first break there is."""
    points = _break_points(text)
    fitting = [p for p in points if 0 < p[0] <= limit]
    roomy = [p for p in fitting if p[0] >= _MIN_FIRST_PART]
    fitting = roomy or fitting  # not `-1/6` alone on a line when `-1/6*np.where(` fits
    if fitting:
        return max(fitting, key=lambda p: (-p[1], p[2], p[0]))[0]
    later = [p[0] for p in points if p[0] > 0]
    return min(later) if later else None



#: A break leaving less than this on its line is taken only when no other fits.
_MIN_FIRST_PART = 16



_OPENING, _CLOSING = {"(", "[", "{"}, {")", "]", "}"}



_NO_BREAK_AFTER = {".", "(", "["}



_NO_BREAK_BEFORE = {".", "(", "[", ")", "]", "**", ","}



def _break_points(text: str) -> list[tuple[int, int, int]]:
    """(column, bracket depth, preference) of each place a line break may split `text`:
    spaces, and token boundaries not around `.` nor before `(`, `[` or `**`."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER)]
    except (tokenize.TokenError, SyntaxError):
        return [(i, 0, 1) for i, ch in enumerate(text) if ch == " "]
    points, depth = [], 0
    for left, right in zip(tokens, tokens[1:]):
        depth += (left.string in _OPENING) - (left.string in _CLOSING)
        start, end = left.end[1], right.start[1]
        before_operator = right.type == tokenize.OP and right.string not in _NO_BREAK_BEFORE
        if start < end:  # a space: best before an operator or after a comma
            after_operator = left.type == tokenize.OP and left.string not in _CLOSING | {","}
            points.append((start, depth, 2 if after_operator else 3))
        elif left.string not in _NO_BREAK_AFTER and right.string not in _NO_BREAK_BEFORE:
            points.append((start, depth, 1 if before_operator else 0))
    return points

