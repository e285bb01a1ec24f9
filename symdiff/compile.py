"""The pipeline, top to bottom:

    trace -> optimize (fuse) -> differentiate -> optimize (simplify, CSE) -> emit -> load
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import progress
from .autodiff.transforms import _Context, derivations
from .codegen import branches
from .codegen.array_api import ARRAY_API, XP
from .codegen.derivatives_doc import derivatives_doc
from .codegen.formatting import default_format, formatted
from .codegen.function import ConstantPool, print_function
from .codegen.header import CONVENTIONS, kink_conventions
from .codegen.load import load_from_file, load_module
from .codegen.module import module_code, render_module
from .codegen.numba_backend import NumbaLayout, require_numba
from .codegen.print_memo import PrintMemo
from .codegen.safe_text import hidden_names, identifier
from .collector import fewer_collections
from .errors import ArrayAPIError, InputError, SymbolicDimError, SymdiffError, located
from .ir.graph import Graph
from .ir.loops import WhileFallback
from .passes.simplify import optimize
from .passes.whole_module import module_programs
from .trace.args import ArgSpec, describe_args, function_location, normalize_argnums
from .trace.construct import construction_memo
from .trace.control import StandInArguments, Traced, crossing_values, trace_paths
from .trace.function import trace
from .trace.symbolic import (
    auto_specs,
    declared_specs,
    fix_dims,
    needs_fixed_sizes,
    reused_trace,
    trace_reuse,
)
from .trace.tracer import Tracer
from .trace.while_loops import FOLD_WHILE


@dataclass
class Compiled:
    """A generated module and its functions, for one set of argument shapes."""

    name: str
    source: str
    module: Any
    argnums: int | tuple[int, ...]
    specs: list[ArgSpec]
    graph: Graph = field(repr=False)
    traced: Traced | None = field(default=None, repr=False)  # its paths, when it branches
    fn: Any = field(default=None, repr=False)  # a weak reference to the function, traced
    # again for pictures of loops (a strong one would keep it alive through the caches)

    @property
    def forward(self) -> Callable:
        return getattr(self.module, self.name)

    @property
    def grad(self) -> Callable:
        return getattr(self.module, f"grad_{self.name}")

    @property
    def value_and_grad(self) -> Callable:
        return getattr(self.module, f"value_and_grad_{self.name}")

    def function(self, kind: str) -> Callable:
        """The generated function of a derivative kind ("grad", "hessian", ...)."""
        return getattr(self.module, f"{kind}_{self.name}")

    def save(self, path: str, format: str | None = None) -> None:
        """Write the module atomically (a temporary file, then a rename), laid out by
        ``ruff format`` when ruff is installed (`format`: "auto", the default unless
        $SYMDIFF_FORMAT names another, "ruff" or "none")."""
        write_atomic(path, formatted(self.source, format or default_format()))

    def picture(self, *args):
        """The computational graph and its backward pass, drawn as the autograd
        tutorials draw them (`symdiff graph --grad`); given the arguments, with every
        value and gradient at that point. In a notebook it shows itself as SVG when
        Graphviz is installed; `.dot` is the DOT text, `.save(path)` writes a file."""
        from .display.graphviz import GraphPicture, traced_picture

        if args and len(args) != len(self.specs):
            raise InputError(f"picture() takes no arguments or all {len(self.specs)} of "
                             f"{self.name}, got {len(args)}")
        for spec, a in zip(self.specs, args):
            if spec.traced and np.shape(a) != spec.shape:
                raise InputError(f"picture(): {spec.name} has shape {np.shape(a)}, but "
                                 f"{self.name} was compiled for {spec.shape}")
        out = self.graph.outputs[0]
        scalar = out.shape == () and out.dtype.kind == "f"
        nums = normalize_argnums(self.argnums, len(self.specs)) if scalar else ()
        graph = self.graph
        fn = self.fn() if self.fn is not None else None
        if fn is not None and any(n.op == "loop" for n in graph.nodes):
            graph = trace(fn, self.specs, fold=False)  # a box per step taken
        return GraphPicture(traced_picture(graph, self.specs, nums, args or None,
                                           self.name, self.name))

    # Rich display in notebooks: the derivative as LaTeX, the module highlighted.
    def _repr_latex_(self) -> str:
        from .display.latex import to_latex

        return to_latex(self)

    def _repr_html_(self) -> str:
        from .display.latex import to_html

        return to_html(self)

    def _repr_markdown_(self) -> str:
        from .display.latex import to_markdown

        return to_markdown(self)


def write_atomic(path: str, text: str | bytes) -> None:
    """Write `text` to `path` all at once (a reader sees the old file or the new one).

    A symlink is written through: its target gets the text and the link stays. An
    existing file keeps its permission bits (a new one gets 0666 less the umask, as
    `open` would give). The temporary file beside the target, `.<name>.<pid>.symdiff-tmp`,
    is removed on every exit, including SIGTERM (which raises SystemExit while writing)
    and Ctrl-C; one that SIGKILL left behind is removed by the next write to the same
    target, once its process is gone."""
    path = os.path.realpath(path)
    directory, base = os.path.split(path)
    _remove_stale_temporaries(directory, base)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    with _terminate_as_exit():
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            with open(fd, "wb") as fh:  # bytes: the same file on every platform
                fh.write(text.encode("utf-8") if isinstance(text, str) else text)
                fh.flush()
                if mode is not None:
                    os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)


#: How the temporary files of `write_atomic` end (after `.<target name>.<pid>`).
TEMP_SUFFIX = ".symdiff-tmp"


def _remove_stale_temporaries(directory: str, base: str) -> None:
    """Delete the temporary files of earlier writes to `base` whose process no longer
    runs (killed by SIGKILL mid-write); a live writer's file is left alone."""
    prefix = f".{base}."
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):-len(TEMP_SUFFIX)]
        if name.startswith(prefix) and name.endswith(TEMP_SUFFIX) and pid.isdigit() \
                and int(pid) != os.getpid() and not _running(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another user's process: running)
        return True
    return True


class _terminate_as_exit:
    """SIGTERM raises SystemExit(143) while this context is active (main thread only),
    so that `finally` blocks run; the previous handler is restored afterwards."""

    def __enter__(self):
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            self.previous = signal.signal(signal.SIGTERM, _exit_on_term)
        return self

    def __exit__(self, *exc):
        if self.active:  # a handler installed outside Python reads back as None
            signal.signal(signal.SIGTERM, self.previous if self.previous is not None
                          else signal.SIG_DFL)
        return False


def _exit_on_term(signum, frame):
    raise SystemExit(128 + signum)


def _keep_user_locations(programs, traced: Graph) -> None:
    """Forget a statement's source line unless it is in a file the traced function's
    own lines are in: a node built while differentiating, outside any `located`
    block, would otherwise quote whatever frame called symdiff (the installed
    `symdiff` launcher's `sys.exit(main())`) in a "# gradient of line" comment."""
    files = {node.loc.rpartition(":")[0] for node in traced.nodes if node.loc}
    for program in programs:
        for stmt in program.statements:
            if stmt.loc and stmt.loc.rpartition(":")[0] not in files:
                stmt.loc = None


def compile_gradient(
    fn: Callable,
    args: Sequence[Any],
    argnums: int | tuple[int, ...] = 0,
    source_name: str | None = None,
    kinds: Sequence[str] = ("grad", "value_and_grad"),
    command: Sequence[str] | None = None,
    dims: str | Mapping | None = None,
    backend: str = "numpy",
    xp: bool = False,
) -> Compiled:
    """Trace `fn` at `args`, build the derivatives named by `kinds` (see `KINDS`) with
    respect to `argnums`, emit one module holding them all, and load it. `command`
    (the words of a `symdiff emit` command line) is recorded in the header.

    `dims` picks symbolic dimensions: None keeps the sizes of `args` (which may be
    `ShapeDtype` stand-ins with symbolic shapes), a mapping declares shapes by
    argument name (``{"X": ("n", "d"), "w": ("d",)}``: names are symbols, ints fixed
    sizes), and "auto" makes every size but 1 symbolic, merging those the program
    requires equal (see `symbolic`); where the program needs a number, that dimension
    keeps its size, and where symbolic shapes fail, all do (`needs_fixed_sizes`:
    an error symdiff raises about the program, or the user's code failing on a symbolic
    size; an exception from symdiff's own code surfaces). `backend` is "numpy" or
    "numba" (runs of elementwise statements fused into compiled loops); `xp=True` asks
    for the Array-API mode (the module calls only standard functions on the namespace
    of its arguments; an op outside the standard is an `ArrayAPIError`)."""
    backend = array_api_backend(backend, xp)
    nums = normalize_argnums(argnums, len(args), where=function_location(fn))
    concrete = describe_args(fn, args, nums)
    # (construction_memo, trace_reuse: the traces of one compile agree)
    with fewer_collections(), construction_memo(), trace_reuse():
        return _compile_gradient(fn, args, argnums, source_name, kinds, command, dims,
                                 backend, concrete)


def _compile_gradient(fn, args, argnums, source_name, kinds, command, dims, backend,
                      concrete) -> Compiled:
    specs = _symbolic_specs(fn, concrete, dims)
    for _ in range(len(specs) * 8 + 1):
        try:
            return _compile(fn, specs, argnums, source_name, kinds, command, backend,
                            _values(args, specs, concrete))
        except SymbolicDimError as e:
            if dims != "auto":
                raise
            specs = fix_dims(specs, concrete, e.dims)
        except Exception as e:
            if dims != "auto" or specs == concrete or not needs_fixed_sizes(e):
                raise
            specs = concrete  # a limit of symbolic shapes: compile for these sizes
    return _compile(fn, concrete, argnums, source_name, kinds, command, backend, args)


def _symbolic_specs(fn, specs: list[ArgSpec], dims) -> list[ArgSpec]:
    if dims is None or dims == "fixed":
        return specs
    if dims == "auto":
        try:
            return auto_specs(fn, specs)
        except SymdiffError as e:
            if not needs_fixed_sizes(e):
                raise
            return specs  # tracing fails at these sizes too: _compile reports it
    if isinstance(dims, Mapping):
        return declared_specs(fn, specs, dims)
    raise InputError(f"dims must be None, 'auto', 'fixed' or a mapping from argument "
                     f"names to shapes, got {dims!r}", function_location(fn))


def _values(args, specs, concrete):
    """The arguments, for the conditions of a loop (guards): stand-ins when the sizes
    became symbolic (a value at one size does not decide a program for all)."""
    return args if specs == concrete else StandInArguments(args, symbolic=True)


def _compile(fn, specs, argnums, source_name, kinds, command, backend, values=None) \
        -> Compiled:
    """One module; a function whose while loop lacks a derivative asked for (forward
    mode through it) is traced again with its while loops specialised per count."""
    try:
        return _compile_once(fn, specs, argnums, source_name, kinds, command, backend, values)
    except WhileFallback:
        if not FOLD_WHILE.get():
            raise
    token = FOLD_WHILE.set(False)
    try:
        return _compile_once(fn, specs, argnums, source_name, kinds, command, backend, values)
    finally:
        FOLD_WHILE.reset(token)


def _compile_once(fn, specs, argnums, source_name, kinds, command, backend, values=None) \
        -> Compiled:
    kernel_layout = backend_layout(backend)
    with progress.task("tracing"):
        ctx = _prepare(fn, specs, argnums, values=values)
    with located(None):  # seeds and zeros belong to no line (not the caller's)
        functions, constants = _functions(ctx, kinds, kernel_layout, backend)
    kinks = [line for line in CONVENTIONS if any(line in kink_conventions(p.graph)
                                                 for p in ctx.traced.paths)]
    module = module_code(fn, ctx.name, ctx.specs, ctx.nums, functions, source_name, command,
                         backend, ctx.graph.requirements, kinks)
    if ctx.traced.guarded:
        module.path_check = branches.path_check(ctx.traced.paths[0])
    source = render_module(module)
    hidden = hidden_names(source, [s.name for s in ctx.specs], ctx.name)
    if hidden:
        function, param = hidden[0]
        raise InputError(
            f"{function_location(fn)}: the parameter {param!r} of {ctx.name} hides the "
            f"name {param} that the generated {function} reads (a builtin or a name of "
            f"the module); rename the parameter (for example {param}_)")
    name = f"symdiff_generated_{ctx.name}"
    if kernel_layout is None:
        loaded = load_module(source, name)
    else:  # from a file, where numba caches the compiled kernels
        loaded = load_from_file(source, name, write_atomic)
    return Compiled(ctx.name, source, loaded, argnums, ctx.specs, ctx.graph, ctx.traced,
                    _weak(fn))


def _functions(ctx: _Context, kinds, kernel_layout, backend="numpy"):
    """The printed functions of the module, and its pool of constants. A function that
    branches (or is specialised to a path) is printed as a tree of blocks (the fused
    backend's kernels each stay within one block)."""
    constants = ConstantPool()
    with progress.task("differentiating, simplifying, printing"):
        if ctx.traced.paths[0].decisions:  # branches (if/else) or guards (one path)
            if backend == ARRAY_API:
                raise ArrayAPIError(
                    "a Python if/while on a traced value is printed as a branch on an "
                    "array's truth, which the Array-API mode does not emit; drop --xp "
                    "(xp=True), or write the choice with np.where",
                    function_location(ctx.fn))
            per_path = [derivations(ctx if i == 0 else _path_context(ctx, p), kinds)
                        for i, p in enumerate(ctx.traced.paths)]
            return branches.print_branched(ctx.traced, per_path, ctx.out_name,
                                           constants, kernel_layout), constants
        ds = derivations(ctx, kinds)
        programs = module_programs([d.graph for d in ds])  # the module is optimised as one
        _keep_user_locations(programs, ctx.graph)
        memo = PrintMemo()  # (what the module's functions print alike, printed once)
        return [print_function(program, d.fname,
                               d.doc + derivatives_doc(program, ctx.out_name, d.gradient_part),
                               d.returns, ctx.out_name,
                               d.gradient_part, extra_params=d.extra_params,
                               constants=constants, kernel_layout=kernel_layout,
                               xp=XP if backend == ARRAY_API else "np", memo=memo)
                for d, program in zip(ds, programs)], constants


def _weak(fn):
    try:
        return weakref.ref(fn)
    except TypeError:  # (not weakly referenceable: no picture of its loops)
        return None


#: The code generators: plain NumPy (the default), NumPy calling numba loops, and the
#: same with the outer loop of kernels without offset writes spread over the cores.
BACKENDS = ("numpy", "numba", "numba-parallel")


def backend_layout(backend: str):
    """The kernel layout of a backend (None for plain NumPy). A usage error for an
    unknown backend, or for numba when it is not installed."""
    if backend in ("numpy", ARRAY_API):
        return None
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    require_numba()
    return NumbaLayout(parallel=backend == "numba-parallel")


def array_api_backend(backend: str, xp: bool) -> str:
    """The backend compiling for `backend` and `xp`: the Array-API mode is one of its
    own (it prints NumPy calls on no array library, so it does not combine with numba)."""
    if not xp:
        return backend
    if backend not in ("numpy", ARRAY_API):
        raise InputError(f"the Array-API mode (xp=True, --xp) prints standard calls only; "
                         f"it does not combine with the {backend} backend: drop one of them")
    return ARRAY_API


def _prepare(fn: Callable, args: Sequence[Any], argnums, delegate=None, values=None) \
        -> _Context:
    """Trace `fn` at `args` (values, tracers, or the `ArgSpec`s of a trace, then with
    the arguments' `values` when known, for the conditions of a loop). Inside another
    transform, `delegate(specs)` gives the function that answers the conditions (see
    control.trace_paths)."""
    nums = normalize_argnums(argnums, len(args), where=function_location(fn))
    given = bool(args) and all(isinstance(a, ArgSpec) for a in args)
    specs = list(args) if given else describe_args(fn, args, nums)
    values = values if given else args
    nested = any(isinstance(a, Tracer) for a in args)  # inside another transform
    traced = reused_trace(fn, specs) if given else None  # (dims="auto" traced it already)
    token = FOLD_WHILE.set(False) if nested else None  # (the outer trace decides)
    try:
        if traced is None:
            traced = trace_paths(trace, fn, specs, None if nested else values,
                                 delegate(specs) if nested and delegate else None)
    finally:
        if token is not None:
            FOLD_WHILE.reset(token)
    path = traced.paths[0]
    ctx = _context(fn, specs, nums, argnums, path.graph,
                   crossing_values(path) if traced.branched or traced.guarded else ())
    ctx.traced = traced
    return ctx


def _context(fn: Callable, specs, nums, argnums, graph: Graph, keep=()) -> _Context:
    """`keep`: values fusion must leave as values (those a branch's blocks pass on)."""
    if keep:
        forward = optimize(graph.derive(graph.nodes, graph.outputs + list(keep)),
                           simplify=False)
        forward.outputs = forward.outputs[:len(graph.outputs)]
    else:
        forward = optimize(graph, simplify=False)
    traced = [i for i, s in enumerate(specs) if s.traced]
    wrt = [forward.inputs[traced.index(i)] for i in nums]
    name = getattr(fn, "__name__", "f")
    name = "f" if name == "<lambda>" else identifier(name)  # `class` -> `class_`
    out_name = graph.names.get(graph.outputs[0]) or name
    return _Context(fn, name, specs, nums, argnums, graph, forward, wrt, out_name)


def _path_context(ctx: _Context, path) -> _Context:
    """The context of another traced path of a branching function (same names)."""
    other = _context(ctx.fn, ctx.specs, ctx.nums, ctx.argnums, path.graph,
                     crossing_values(path))
    other.out_name = ctx.out_name
    return other
