"""Whether printed code needs parentheses where an operator reads it."""

from __future__ import annotations

import re

__all__ = ["_operand", "_balanced_call"]


def _operand(text: str) -> str:
    """Parenthesize a printed argument unless it is a name, a call or a row `x[t]`."""
    if text.isidentifier() or (text.endswith(")") and _balanced_call(text)):
        return text
    if re.fullmatch(r"[A-Za-z_]\w*\[[A-Za-z_]\w*\]", text):  # a loop's row of an array
        return text
    if text.endswith(".T") and _operand(text[:-2]) == text[:-2]:  # X.T, f(x).T; not a @ b.T
        return text
    return f"({text})"


def _balanced_call(text: str) -> bool:
    """True for `f(...)` whose outer parentheses enclose the whole tail."""
    head = text.split("(", 1)[0]
    if not head.replace(".", "").replace("_", "").isalnum():
        return False
    depth = 0
    for i, ch in enumerate(text[len(head):]):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - len(head) - 1:
            return False
    return True
