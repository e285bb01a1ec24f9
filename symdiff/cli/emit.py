"""`symdiff emit`: write the generated module (or check a file against it)."""

from __future__ import annotations

import argparse
import difflib
import sys

from .. import progress
from ..autodiff.transforms import KINDS
from ..codegen.array_api import ARRAY_API
from ..codegen.formatting import FORMATS, default_format, formatted
from ..codegen.header import DEFAULT_KINDS, emit_command
from ..codegen.numba_backend import compile_error
from ..compile import BACKENDS, array_api_backend, backend_layout, compile_gradient
from ..errors import InputError
from .args import (
    EXAMPLES,
    UsageError,
    _add_inputs,
    _deliver,
    _inputs,
    _kinds,
    _wrt,
    argnums_of,
    load_function,
)
from .check import verify_emitted

#: Lines of unified diff `emit --check` prints for a stale file.
MAX_DIFF_LINES = 40


# -- subcommands ----------------------------------------------------------------------------
def _cmd_emit(ns) -> int:
    fn, path = load_function(ns.target)
    params, args, words = _inputs(fn, ns)
    wrt = _wrt(fn, params, ns.wrt)
    kinds = _kinds(ns.emit)
    if ns.check and not ns.output:
        raise UsageError("--check compares with the file named by -o; add -o FILE")
    command = emit_command(ns.target, wrt, words + (["--dims", ns.dims] if ns.dims != "fixed"
                                                     else []), kinds, ns.output,
                           backend=ARRAY_API if ns.xp else ns.backend)
    try:
        backend_layout(array_api_backend(ns.backend, ns.xp))
    except InputError as exc:  # numba not installed, or --xp with it: a usage error
        raise UsageError(str(exc)) from None
    with progress.task(f"tracing and differentiating {fn.__name__}"):
        compiled = compile_gradient(fn, args, argnums_of(params, wrt), source_name=path,
                                    kinds=kinds, command=command, backend=ns.backend, xp=ns.xp,
                                    dims=None if ns.dims == "fixed" else ns.dims)
    try:
        text = formatted(compiled.source, ns.format)
    except RuntimeError as exc:  # --format ruff without a working ruff
        raise UsageError(str(exc)) from None
    if ns.check:
        return _check_file(ns.output, text)
    if not ns.no_verify:
        with progress.task("checking the gradient against central differences"):
            try:
                verify_emitted(compiled, fn, args)
            except Exception as exc:  # numba compiles kernels at their first call
                error = compile_error(exc)
                if error is None:
                    raise
                raise error from None
    return _deliver(text, ns.output)


def _check_file(path: str, text: str) -> int:
    """0 when `path` holds exactly `text`; else 1, with a short diff on stderr."""
    try:
        with open(path, "rb") as fh:
            old = fh.read()
    except FileNotFoundError:
        print(f"symdiff emit: {path} does not exist; run without --check to write it",
              file=sys.stderr)
        return 1
    if old == text.encode("utf-8"):
        print(f"{path} is up to date", file=sys.stderr)
        return 0
    diff = list(difflib.unified_diff(old.decode("utf-8", "replace").splitlines(True),
                                     text.splitlines(True), f"{path} (on disk)",
                                     f"{path} (generated now)", n=1))
    changed = sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))
    print(f"symdiff emit: {path} is stale ({changed} changed lines); run the same command "
          "without --check to regenerate it", file=sys.stderr)
    sys.stderr.writelines(line if line.endswith("\n") else line + "\n"
                          for line in diff[:MAX_DIFF_LINES])
    if len(diff) > MAX_DIFF_LINES:
        print(f"... {len(diff) - MAX_DIFF_LINES} more diff lines", file=sys.stderr)
    return 1


def _add_emit(sub, common) -> None:
    emit = sub.add_parser("emit", parents=[common], epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter,
                          help="write the derivative module of a function",
                          description="Write a standalone NumPy module with the function "
                          "and its derivatives.")
    _add_inputs(emit)
    emit.add_argument("--emit", default=",".join(DEFAULT_KINDS), metavar="KINDS",
                      help=f"derivatives to emit, comma-separated, from {', '.join(KINDS)} "
                      f"(default: {','.join(DEFAULT_KINDS)})")
    emit.add_argument("--dims", choices=("fixed", "auto"), default="fixed",
                      help="fixed (default): sizes as given, names in --shape symbolic; "
                      "auto: every size but 1 symbolic, shared where the program needs "
                      "them equal (the module then holds for every size)")
    emit.add_argument("--backend", choices=BACKENDS, default="numpy",
                      help="numpy (default), or numba: runs of elementwise statements "
                      "become compiled loops (needs the extra: pip install 'symdiff[numba]'); "
                      "numba-parallel also spreads large loops over the cores (prange)")
    emit.add_argument("--xp", action="store_true",
                      help="Array-API mode: the module takes its namespace from its "
                      "arguments (array_api_compat) and calls only functions of the Array "
                      "API standard, so it runs on NumPy, Dask, JAX, array-api-strict, ... "
                      "(needs array-api-compat at run time: pip install 'symdiff[dask]')")
    emit.add_argument("--format", choices=FORMATS, default=default_format(),
                      help="layout of the written module: auto (`ruff format`'s when ruff "
                      "is installed, else symdiff's own; the default unless the "
                      "environment variable SYMDIFF_FORMAT names another), ruff, or none")
    emit.add_argument("-o", "--output", metavar="FILE",
                      help="write here (atomically) instead of to stdout")
    emit.add_argument("--check", action="store_true", help="write nothing; exit 1 if FILE "
                      "differs from what would be generated now (for CI)")
    emit.add_argument("--no-verify", action="store_true", help="write the module even if "
                      "its gradient fails the numerical check (gradcheck at random inputs)")
    emit.set_defaults(run=_cmd_emit)

