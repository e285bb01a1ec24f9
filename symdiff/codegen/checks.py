"""The input checks that open every generated module: shapes, dtypes and static
values, raising a `ValueError` that says what was expected."""

from __future__ import annotations

import numpy as np

from ..ir import dims
from .header import static_name
from .layout import LINE_LENGTH
from .literals import dtype_name
from .shape_checks import symbolic_checks


def shape_check(name: str, shape: tuple[int, ...], guard: bool = True) -> list[str]:
    """`if` + `raise ValueError` lines checking one argument's shape. A float (Python's
    or np.float64) passes a scalar check by its type alone, which keeps scalar code
    fast (`np.shape` of a float costs about a microsecond); `guard=False` leaves that
    test to the caller."""
    test = f"np.shape({name}) != {shape!r}"
    if shape == () and guard:
        test = f"not isinstance({name}, float) and {test}"
    message = f'f"{name} must have shape {shape}, got {{np.shape({name})}}"'
    return [_if(test), *_raise(message)]



def _if(test: str, indent: int = 4) -> str:
    """`if test:` at column `indent`; a long test goes one `and` clause per line (the
    lines after the first carry their own indentation)."""
    if indent + len(f"if {test}:") <= LINE_LENGTH:
        return f"if {test}:"
    pad = " " * indent
    clauses = test.split(" and ")
    return "if (\n" + "\n".join(pad + ("    and " if i else "    ") + c
                                 for i, c in enumerate(clauses)) + f"\n{pad}):"



def static_check(name: str) -> list[str]:
    """Lines checking that a static (untraced) argument has its generation-time value,
    the module constant `static_name(name)`: the value is never pasted into code."""
    constant = static_name(name)
    message = (f'f"{name} was {{{constant}!r}} when this code was generated, '
               f'got {{{name}!r}}"')
    return [f"if {name} != {constant}:", *_raise(message)]



def _raise(message: str, error: str = "ValueError") -> list[str]:
    """`raise error(message)` in the body of an `if`, where `message` is an f-string
    literal (`f"..."`); a long one is split into adjacent literals between words."""
    line = f"    raise {error}({message})"
    if 4 + len(line) <= LINE_LENGTH:
        return [line]
    parts = _split_fstring(message[2:-1], LINE_LENGTH - 19)  # room for a nested `if`
    literals = [("f" if "{" in part else "") + f'"{part}"' for part in parts]
    return [f"    raise {error}(", *(f"        {lit}" for lit in literals), "    )"]



def _split_fstring(body: str, width: int) -> list[str]:
    """Split the inside of an f-string after spaces outside `{...}` into pieces of at
    most `width` characters where possible."""
    words, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += (ch == "{") - (ch == "}")
        if ch == " " and depth == 0:
            words.append(body[start:i + 1])
            start = i + 1
    words.append(body[start:])
    parts = [""]
    for word in words:
        if parts[-1] and len(parts[-1]) + len(word) > width:
            parts.append("")
        parts[-1] += word
    return parts



#: The helper every module's `_check_inputs` calls once per argument (text without any
#: user data: the names it reports are string literals of checked identifiers).
CHECK_HELPER = '''def _check(name, value, shape, dtype):
    """Raise unless `value` has `shape` (ValueError; None: checked before) and `dtype`
    (TypeError; integers pass where floats or integers were traced, as NumPy promotes
    them). An array's dtype is read from it: np.asarray would compute a Dask array."""
    if shape is not None and np.shape(value) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {np.shape(value)}")
    got = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    if got == dtype:
        return
    dtype = np.dtype(dtype)
    if got.kind in "iu" and dtype.kind in "fiu":
        return
    if dtype.kind == "f":
        raise TypeError(
            f"{name} must be {dtype} as traced (or integers), got dtype {got}; "
            f"convert it with .astype(np.{dtype})"
        )
    wanted = "booleans" if dtype.kind == "b" else "integers"
    raise TypeError(f"{name} must be {wanted} ({dtype} when traced), got dtype {got}")'''


def check_call(name: str, shape, dtype, guard: bool = True) -> list[str]:
    """The `_check` call for one argument: its name, the shape it must have (None when
    the lines before checked it) and its dtype. A float scalar passes by its type alone
    (`np.shape` of a float costs about a microsecond); `guard=False` drops that test."""
    call = f'_check("{name}", {name}, {shape!r}, {dtype_name(np.dtype(dtype))})'
    if guard and shape is not None and shape == () and np.dtype(dtype).kind == "f":
        return [f"if not isinstance({name}, float):", "    " + call]
    return [call]


def input_checks(specs, requirements=(), check=check_call) -> list[str]:
    """Body of `_check_inputs`: one `check` call (`_check` by default) or static value
    check per argument and, for symbolic shapes, the sizes the program requires."""
    if any(s.traced and dims.is_symbolic(s.shape) for s in specs):
        return [line for s in specs if not s.traced for line in static_check(s.name)] \
            + symbolic_checks(specs, requirements, check, _if, _raise)
    lines = []
    for s in specs:
        lines += static_check(s.name) if not s.traced else check(s.name, s.shape, s.dtype)
    return lines or ["pass"]
