"""Stage 5: straight-line programs to a standalone NumPy module (printer + Jinja2).

The printer turns each statement into one assignment; this module chooses names
(the user's own variables where the trace recovered them, adjoints as
`d<out>_d<var>`, the rest `_t<k>`), wraps long lines, writes a comment naming the
source line each gradient block differentiates, and fills the module template.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources

import jinja2

from ..ir import dims
from ..trace.args import ArgSpec
from . import array_api_checks
from .array_api import ARRAY_API
from .checks import CHECK_HELPER, _if, input_checks
from .function import FunctionCode
from .header import CONVENTIONS, _arg_text, module_header, static_constants
from .layout import LINE_LENGTH, call_text
from .shape_checks import binding_lines, bound_dims, dims_read

__all__ = ["ModuleCode", "render_module", "module_code"]


@dataclass
class ModuleCode:
    """What the module template needs, as already-printed strings."""

    header: list[str]
    docstring: str
    params: str
    checks: list[str]
    functions: list[FunctionCode] = field(default_factory=list)
    scalar_params: list[str] = field(default_factory=list)  # all traced float scalars
    constants: list[str] = field(default_factory=list)  # lines defining module constants
    path_check: list[str] = field(default_factory=list)  # guards of a specialised path
    statics: list[str] = field(default_factory=list)  # static arguments' values
    imports_before: list[str] = field(default_factory=list)  # stdlib, before numpy's
    imports: list[str] = field(default_factory=list)  # after numpy's (scipy, the fused backend's)
    helpers: list[str] = field(default_factory=list)  # definitions kernels share
    entry: str = ""  # the lines opening each function in Array-API mode (binding `xp`)

    @property
    def exports(self) -> str:
        """The list literal of `__all__`, one name per line when they do not fit, in
        isort order (what ruff's default rule RUF022 asks for)."""
        names = [f'"{n}"' for n in sorted((f.name for f in self.functions), key=_isort_key)]
        if len("__all__ = []") + len(", ".join(names)) <= LINE_LENGTH:
            return "[" + ", ".join(names) + "]"
        return "[\n" + "".join(f"    {n},\n" for n in names) + "]"

    @property
    def check_signature(self) -> str:
        return call_text("_check_inputs", self.params, 0)

    @property
    def check_call(self) -> str:
        """The call of `_check_inputs` that opens each function. When every argument
        was a traced float scalar, an inline type test skips the call for Python floats:
        a function call costs as much as a small polynomial."""
        if self.entry:
            return self.entry
        call = call_text("_check_inputs", self.params, 4)
        if not self.scalar_params:
            return call
        tests = [f"isinstance({p}, float)" for p in self.scalar_params]
        test = tests[0] if len(tests) == 1 else "(" + " and ".join(tests) + ")"
        guard = _if(f"not {test}")
        if guard.startswith("if (\n"):  # too long for one line: always call
            return call
        return guard + "\n        " + call_text("_check_inputs", self.params, 8)


def _isort_key(name: str) -> tuple:
    """Constants (UPPER_CASE) first, then classes (Capitalized), then the rest, each in
    natural order (digit runs compared as numbers)."""
    if len(name) > 1 and name.upper() == name != name.lower():
        kind = 0
    else:
        kind = 1 if name[0].isupper() else 2
    return kind, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_load_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _load_template(name: str) -> str:
    """Templates ship as the package `symdiff.templates` (the repo's `templates/`). A
    checkout's own `templates/` comes first: an editable install of another tree maps
    `symdiff.templates` to that tree's, and a checkout run in place (CI) has no
    `symdiff.templates` package at all."""
    here = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "templates", name)
    if os.path.exists(here):
        with open(here, encoding="utf-8") as fh:
            return fh.read()
    return resources.files("symdiff.templates").joinpath(name).read_text("utf-8")


def render_module(module: ModuleCode) -> str:
    text = _environment().get_template("module.py.j2").render(m=module)
    return text


def _module_docstring(text: str) -> str:
    if len(f'"""{text}"""') <= LINE_LENGTH:
        return text
    return "\n".join(textwrap.wrap(text, LINE_LENGTH - 3)) + "\n"  # closing quotes below


def module_code(fn, name, specs, nums, functions, source_name=None, command=None,
                backend="numpy", requirements=(), conventions=CONVENTIONS) -> ModuleCode:
    """The template context for a module of `functions` (the forward function first).

    `command` is the `symdiff emit` command line (a list of words) recorded in the
    header; by default one is derived from the traced arguments (and `backend`)."""
    kinds = [f.name[: -len(name) - 1] for f in functions if f.name != name]
    params = ", ".join(s.name for s in specs)
    functions = [replace(f, docstring=_docstring(f, specs), params=f.params or params)
                 for f in functions]
    order = bound_dims(specs)
    xp = backend == ARRAY_API
    bindings = array_api_checks.without_numpy if xp else list
    functions = [replace(f, body=bindings(binding_lines(specs, dims_read(f.body, order)))
                         + f.body) for f in functions]
    summary = f"Forward and derivative code for `{name}`, generated by symdiff."
    before, after, needs = runtime_imports(functions)
    support = _kernel_support([k for f in functions for k in f.kernels])
    checks = (array_api_checks.input_checks if xp else input_checks)(specs, requirements)
    uses_check = any(line.lstrip().startswith("_check(") for line in checks)
    helpers = array_api_checks.HELPERS if xp else [CHECK_HELPER] * uses_check
    return ModuleCode(
        imports_before=before,
        header=module_header(fn, name, specs, nums, source_name, command, kinds,
                             list(dict.fromkeys(r for f in functions for r in f.stable_rewrites)),
                             backend, conventions) + needs,
        docstring=_module_docstring(summary),
        params=params,
        checks=checks,
        functions=functions,
        scalar_params=[s.name for s in specs] if all(_float_scalar(s) for s in specs)
        and not xp else [],
        constants=[line for text in dict.fromkeys(c for f in functions for c in f.constants)
                   for line in text.splitlines()],
        statics=static_constants(specs),
        imports=[array_api_checks.IMPORT] * xp + after + support.get("imports", []),
        helpers=helpers + support.get("helpers", []),
        entry=array_api_checks.entry_lines(params, specs) if xp else "",
    )


#: modules besides NumPy that printed code may call: prefix -> (import, header note)
_RUNTIME_MODULES = {
    "math": ("import math", "Uses Python's math module (erf, gamma, ... of scalars)."),
    "scipy.special": ("import scipy.special",
                      "Needs SciPy at run time: imports scipy.special (special functions)."),
}


def runtime_namespace() -> dict:
    """The names printed code may use, for evaluating it in place (`np`, and `math` and
    `scipy` with scipy.special when SciPy is installed)."""
    import math

    import numpy as np

    namespace = {"np": np, "math": math}
    try:
        import scipy.special  # noqa: F401  (the attribute `special` of `scipy`)
    except ImportError:
        return namespace
    namespace["scipy"] = sys.modules["scipy"]
    return namespace


def runtime_imports(functions) -> tuple[list[str], list[str], list[str]]:
    """The import lines besides NumPy's, grouped as isort does (the standard library
    before `import numpy as np`, then a blank line; third-party after it), and the
    header notes: `math` / `scipy.special` only when the printed code calls them
    (`math` and `scipy` are reserved names, so only the printer writes them)."""
    text = "\n".join(line for f in functions
                     for line in [*f.body, *f.constants, *f.kernels, f.returns])
    used = [m for m in _RUNTIME_MODULES if re.search(rf"(?<![\w.]){re.escape(m)}\.\w", text)]
    before = [_RUNTIME_MODULES[m][0] for m in used if m == "math"]
    after = [_RUNTIME_MODULES[m][0] for m in used if m != "math"]
    return before + [""] * bool(before), after, [_RUNTIME_MODULES[m][1] for m in used]


def _kernel_support(kernels: list[str]) -> dict:
    """The import and the shared helper that the fused backend's kernels need."""
    if not kernels:
        return {}
    from . import fast_trig
    from .numba_backend import ACCUMULATE

    names = ["njit"] + (["prange"] if any("prange(" in k for k in kernels) else [])
    helpers = [ACCUMULATE] if any("_accumulate(" in k for k in kernels) else []
    if any(fast_trig.CALLS.search(k) for k in kernels):
        helpers.append(fast_trig.HELPERS)
    return {"imports": [f"from numba import {', '.join(names)}"], "helpers": helpers}


def _float_scalar(spec: ArgSpec) -> bool:
    return spec.traced and spec.shape == () and spec.dtype.kind == "f"


def _docstring(fn: FunctionCode, specs: Sequence[ArgSpec]) -> str:
    """Summary (wrapped), then `Args:` and `Returns:` with dtypes and shapes; the text
    is indented for a function body and ends where the closing quotes go."""
    pad = " " * 4
    summary, _, more = fn.docstring.partition("\n\n")  # (more: laid out already)
    lines = textwrap.wrap(summary, LINE_LENGTH - len(pad) - 3) or [""]
    lines += ["", *more.splitlines()] if more else []
    symbolic = any(s.traced and dims.is_symbolic(s.shape) for s in specs)
    args = [(s.name, _arg_text(s, symbolic)) for s in specs] + fn.arg_types
    lines += ["", "Args:", *(f"    {n}: {t}" for n, t in args)]
    lines += ["", "Returns:"]
    if len(fn.return_types) == 1 and fn.returns == fn.return_types[0][0]:
        lines.append(f"    {fn.returns}: {fn.return_types[0][1]}")
    else:
        lines += textwrap.wrap(f"{fn.returns}, where", LINE_LENGTH - len(pad) - 4,
                               initial_indent="    ", subsequent_indent="        ",
                               break_on_hyphens=False)
        lines += [f"        {n}: {t}" for n, t in fn.return_types]
    return "\n".join((pad + line).rstrip() if i else line for i, line in enumerate(lines)) \
        + "\n" + pad

