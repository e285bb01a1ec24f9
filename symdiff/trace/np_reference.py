"""The reference text (docs/supported-numpy.md) for what is traced by rebinding names:
arrays built from traced values (`np_constructs`), the math module (`np_math`) and
scipy.special (`np_special`)."""

from __future__ import annotations

from . import np_math, np_special

__all__ = ["reference"]

_CONSTRUCTS = """\
## Arrays built from traced values, and the math module

These calls do not reach symdiff through NumPy's dispatch; while a function is
traced, the names its code (and the helpers, classes and modules of your own code it
reads) binds to `numpy`, `math` and `scipy.special`, or to functions imported from
them, stand for versions that trace them (`symdiff/trace/rebind.py`). A function
reached otherwise (a default argument `fn=math.exp`, code in an installed package) is
not rebound: calling it on traced values raises the usual `TraceError` at your line.

{table}

A buffer is an array made with `np.zeros`, `np.ones`, `np.empty` or `np.full`
inside the traced function; it is NumPy's own until a traced value is written into
it. A view of it (a row, a slice) taken before such a write cannot be read after it,
and a traced value cannot be written through a view (`out[i, :] = t`, not
`row = out[i]; row[:] = t`): NumPy would change the array, which symdiff does not
follow, so both raise `TraceError`.
"""


_ROWS = [
    ("`np.array`, `np.asarray` of traced values",
     "`np.array([a, b * 2, 1.0])`, `np.array([[a, 0.0], [b, c]])`, `np.asarray((t, 2.0))`",
     "a stack of the items (one shape; numbers become constants)"),
    ("NumPy scalar types", "`np.float64(t)`", "a cast (to a float type)"),
    ("lists and tuples given to NumPy",
     "`np.sum([a, b])`, `np.mean((a, b, c))`, `np.linalg.norm([dx, dy])`, `np.max([a, b])`, "
     "`np.exp([a, b])`", "the list as one array"),
    ("`np.r_`, `np.c_`", "`np.r_[x, 1.0, y[:2]]`, `np.c_[x, y]`, `np.r_['1', a, b]`",
     "a concatenation"),
    ("buffers", "`out = np.zeros((n, 3)); out[i] = t; out[j] += s`",
     "item assignment, as into a traced array"),
    ("the `math` module", "`math.exp(t)`, `math.erf(t)`, `math.atan2(a, b)`, `math.pi`",
     "the NumPy function on a traced scalar"),
]


def _table() -> str:
    lines = ["| construct | example | traced as |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in _ROWS])


def reference() -> list[str]:
    """Markdown for docs/supported-numpy.md (independent of SciPy being installed)."""
    math_names = np_math.MATH_NAMES
    lines = [_CONSTRUCTS.format(table=_table()),
             "`math` functions traced: " + ", ".join(f"`math.{n}`" for n in math_names)
             + ". `math.erf`, `math.erfc`, `math.gamma` and `math.lgamma` print as "
             "themselves (generated code then imports `math`); the derivatives of "
             "`gamma`/`lgamma` need SciPy's digamma. On a traced array of more than one "
             "element they raise `TraceError` (use `np.<name>`); `math.cbrt` and "
             "`math.exp2` exist from Python 3.11.", "",
             "## Sorting", "",
             "`np.sort`, `np.partition`, `np.median`, `np.quantile` and `np.percentile` "
             "(method 'linear') gather the values in the order of a stable `np.argsort` "
             "(or `np.argpartition`) that the generated code runs: the order is constant "
             "where the values are distinct, so this is their derivative; at ties each "
             "position's gradient goes to the element NumPy's stable sort puts there. "
             "`np.argsort(x)` gives a traced integer array, usable as an index.", "",
             "## scipy.special", "",
             "With SciPy installed (`pip install 'symdiff[scipy]'`): "
             + ", ".join(f"`scipy.special.{n}`" for n in np_special.ELEMENTWISE_NAMES)
             + " print as themselves, and a generated module that uses them imports "
             "`scipy.special` and says so in its header; "
             + ", ".join(f"`scipy.special.{n}`" for n in np_special.LOWERED_NAMES)
             + " (with `axis`, `keepdims`, and `b` for `logsumexp`) lower to NumPy, "
             "shifted by a maximum that carries no gradient. Any other SciPy function "
             "called on a traced value raises `UnsupportedOpError` naming the "
             "registration that would teach it (extending.md).", ""]
    return lines
