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

import ast
import builtins
import keyword
import re
import unicodedata

from ..errors import EmitError

__all__ = ["identifier", "comment", "literal", "hidden_names"]

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


#: Module-level names of generated modules besides builtins and `_`-prefixed helpers.
_MODULE_LEVEL = frozenset({"np", "math", "scipy", "njit", "prange", "array_namespace", "xp"})


def hidden_names(source: str, params: list[str], name: str) -> list[tuple[str, str]]:
    """(function, name) for each parameter of a generated function that hides a name
    the function's own code reads from the module or from builtins: `def f(float)`
    makes the input check's `isinstance(float, float)` read the argument, `def f(np)`
    makes `np.shape(np)` read it. A parameter the code only uses as a value is fine.
    `params`, `name`: the traced function's (the module is parsed only when a
    parameter could collide)."""
    if not any(p in _MODULE_LEVEL or p.startswith("_") or name in p or hasattr(builtins, p)
               for p in params):
        return []
    tree = ast.parse(source)
    imports = {a.asname or a.name.split(".")[0] for n in tree.body
               if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    module_names = imports | {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    module_names |= {t.id for n in tree.body if isinstance(n, ast.Assign)
                     for t in n.targets if isinstance(t, ast.Name)}
    found = []
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        params = {a.arg for a in fn.args.args + fn.args.kwonlyargs} & \
            (module_names | set(dir(builtins)))
        if "xp" in {a.arg for a in fn.args.args} and "array_namespace" in module_names:
            params.add("xp")  # (each function binds the namespace as xp)
        body = ast.Module(body=fn.body, type_ignores=[])  # (decorators: module scope)
        for node in ast.walk(body) if params else ():
            for read in _used_as_global(node, imports):
                if read in params:
                    found.append((fn.name, read))
                    params.discard(read)
    return found


#: Attributes the generated code reads of array values (`x.T`, `x.sum(axis=0)`): the
#: owner of one is a module only where it is a module the code imports (`np.sum`).
_VALUE_ATTRIBUTES = {"T", "sum", "max", "min", "prod", "any", "all", "astype", "copy",
                     "shape", "dtype", "ndim"}


def _used_as_global(node, imports=frozenset()) -> list[str]:
    """The names a generated statement reads as a module's or builtin's: a called
    function, an attribute's owner (other than a value's, see _VALUE_ATTRIBUTES), a
    type in isinstance."""
    names = []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        names.append(node.func.id)
        if node.func.id == "isinstance" and len(node.args) == 2 and \
                isinstance(node.args[1], ast.Name):
            names.append(node.args[1].id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
            (node.attr not in _VALUE_ATTRIBUTES or node.value.id in imports):
        names.append(node.value.id)
    return names
