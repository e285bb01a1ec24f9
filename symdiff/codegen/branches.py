"""Branches in generated code: `if`/`else` from the paths of a function, and the guards
of a function specialised to one path.

A branching function was traced once per path (`control.trace_paths`); paths that
agree on their first k conditions share their nodes up to the (k+1)-th. The paths form
a decision tree. A function is printed as that tree: the statements of the segment
before a condition (a *block*), then ``if condition:`` with the True side below it and
the False side after it, each side ending in a *leaf*: the rest of that path's
derivation (forward and, for a derivative, the whole reverse pass), printed from the
path's own derivation graph with every value an enclosing block computed read by name.
So each side is differentiated as written: the derivative of the branch taken.

A function specialised to one path (guards) is printed the same way, its tree having
one side per condition: where the other side would be, the function calls
`_path_changed(k)`, which raises the module's `PathChangedError` naming the user's line
(the conditions are listed once, in the module's `_PATH`). Each check stands where
the condition is computed, so nothing is computed twice.
"""

from __future__ import annotations

import linecache
import os
from collections.abc import Sequence

from ..errors import EmitError
from ..ir.graph import INPUT, Graph, Node, Var
from ..passes.program import to_program
from ..passes.simplify import optimize
from ..trace.control import Path, Traced
from .checks import _if
from .function import FunctionCode, _flatten, print_function
from .layout import LINE_LENGTH, _wrap
from .naming import _identifier

__all__ = ["print_branched", "path_check", "path_holds", "PathDispatch",
           "specialised_function"]

_SHARED_PREFIX = "_b"  # values a block computes for the code below it, without a user name


# -- if/else: the decision tree ----------------------------------------------------------------
def print_branched(traced: Traced, per_path: Sequence[Sequence], out_name: str,
                   constants, kernel_layout=None) -> list[FunctionCode]:
    """One function per derivation kind; `per_path[p][i]` is path p's derivation i (a
    `Derivation` of autodiff/transforms.py: fname, graph, returns, doc, forward, extra_params). A
    fused backend's `kernel_layout` fuses the statements of each block on its own."""
    return [_Tree(traced.paths, [ds[i] for ds in per_path], out_name, constants,
                  kernel_layout).function() for i in range(len(per_path[0]))]


class _Tree:
    """The decision tree of one generated function."""

    def __init__(self, paths: list[Path], derivations: list, out_name: str, constants,
                 kernel_layout=None):
        self.paths, self.derivations = paths, derivations
        self.out_name, self.constants = out_name, constants
        self.kernel_layout = kernel_layout
        self.first = derivations[0]
        # (block prefix, Var id) -> name of a value a block passes to the code below it;
        # ids are only unique along one path, so a name is scoped by its block
        self.names: dict[tuple[tuple, int], str] = {}
        self.taken = set(self._argument_names())
        self.segments: dict[tuple, set[int]] = {}  # prefix -> ids its block defines
        self.leaves: dict[tuple, tuple[Graph, object]] = {}
        self.blocks: dict[tuple, tuple[Graph, Var, Path]] = {}
        needs: dict[tuple, set[int]] = {}
        for path, d in zip(paths, derivations):
            ancestors = _defined_ids(path.graph.nodes[:path.decisions[-1].position])
            graph, read = _cut(d.graph, list(_flatten(d.returns)), ancestors)
            self.leaves[path.outcomes] = (graph, d)
            needs[path.outcomes] = read
        prefixes = {o[:k] for o in self.leaves for k in range(len(o))}
        for prefix in sorted(prefixes, key=len, reverse=True):
            below = needs.get(prefix + (True,), set()) | needs.get(prefix + (False,), set())
            needs[prefix] = self._block(prefix, below)
        self._renumber()
        # (names are known once every block has chosen those of the values it passes on)
        for prefix, (graph, _) in self.leaves.items():
            self._name_inputs(graph, prefix)
        for prefix, (graph, _, _) in self.blocks.items():
            self._name_inputs(graph, prefix)

    def _argument_names(self):
        graph = self.first.graph
        return [graph.names[v] for v in graph.inputs if v in graph.names]

    def _block(self, prefix: tuple, below: set[int]) -> set[int]:
        """Build the block before the condition at `prefix`; the ids it reads from above."""
        path = next(p for p in self.paths if p.outcomes[:len(prefix)] == prefix)
        k = len(prefix)
        lo = path.decisions[k - 1].position if k else 0
        decision = path.decisions[k]
        segment = [n for n in path.graph.nodes[:lo] if n.op == "dim"] + \
            [n for n in path.graph.nodes[lo:decision.position] if n.op != INPUT]
        defined = self.segments[prefix] = {n.out.id for n in segment}
        outputs = [decision.cond] + sorted((v for v in _vars(path.graph, below & defined)
                                            if v is not decision.cond), key=lambda v: v.id)
        for var in outputs:
            if var is not decision.cond or var.id in below:
                self._name(prefix, var, path.graph)
        read = _reads(path.graph, segment, defined) - {v.id for v in path.graph.inputs}
        graph, read = _reading(path.graph, segment, outputs, read, below - defined)
        if not k:
            self._add_extra_inputs(graph)
        self.blocks[prefix] = (graph, decision.cond, path)
        return read

    def _add_extra_inputs(self, graph: Graph) -> None:
        """The parameters a derivative adds (cotangent, tangents) open the root block,
        which prints the function's signature checks."""
        first = self.first.graph
        extra = {name for name, _ in self.first.extra_params}
        for var in first.inputs:
            if first.names.get(var) in extra:
                new = graph.new_var(var.shape, var.dtype)
                graph.add(Node(new, INPUT, params=(("name", first.names[var]),)))
                graph.names[new] = first.names[var]

    def _name(self, prefix: tuple, var: Var, graph: Graph) -> None:
        """A name for `var`, computed by the block at `prefix` for the code below."""
        if (prefix, var.id) in self.names:
            return
        hint = _identifier(graph.names.get(var, "") or "")
        if hint is None or hint in self.taken:
            k = 0
            while f"{_SHARED_PREFIX}{k}" in self.taken:
                k += 1
            hint = f"{_SHARED_PREFIX}{k}"
        self.names[(prefix, var.id)] = hint
        self.taken.add(hint)

    def _renumber(self) -> None:
        """`_b<k>` numbered in the order the code reads (blocks were built deepest first)."""
        ours = sorted((key for key, name in self.names.items()
                       if name.startswith(_SHARED_PREFIX)), key=lambda k: (len(k[0]), k))
        for i, key in enumerate(ours):
            self.names[key] = f"{_SHARED_PREFIX}{i}"

    def _scope(self, reader: tuple, var_id: int) -> tuple | None:
        """The enclosing block (a proper prefix of `reader`) that defines `var_id`."""
        for k in reversed(range(len(reader))):
            if var_id in self.segments.get(reader[:k], ()):
                return reader[:k]
        return None

    def _name_inputs(self, graph: Graph, reader: tuple) -> None:
        for var in graph.inputs:
            scope = self._scope(reader, var.id)
            if scope is not None:
                graph.names[var] = self.names[(scope, var.id)]
            elif var not in graph.names:
                raise EmitError(f"internal: value v{var.id} crosses a branch unnamed")
        for var in graph.outputs:
            if (reader, var.id) in self.names:
                graph.names[var] = self.names[(reader, var.id)]

    # -- printing ------------------------------------------------------------------------
    def function(self) -> FunctionCode:
        body, returns, top = self._print(())
        return FunctionCode(self.first.fname, self.first.doc, body, returns, top.params,
                            top.arg_types, self._last.return_types,
                            sorted(self._rewrites), list(dict.fromkeys(self._constants)),
                            self._kernels)

    _last: FunctionCode
    _rewrites: set
    _constants: list
    _kernels: list

    def _print(self, prefix: tuple, depth: int = 0):
        """(body lines, the returned text of the fall-through leaf, first block printed)."""
        if depth == 0 and not prefix:
            self._rewrites, self._constants, self._kernels = set(), [], []
            self._blocks_printed: list[str] = []
        indent = 4 + 4 * depth
        pad = " " * (4 * depth)
        if prefix in self.leaves:
            graph, d = self.leaves[prefix]
            code = self._print_graph(graph, list(d.returns), indent, d.gradient_part,
                                     optimized=True)
            self._last = code
            return [pad + line for line in code.body], code.returns, code
        graph, cond, _ = self.blocks[prefix]
        extra = self.first.extra_params if not prefix else ()
        code = self._print_graph(graph, graph.outputs, indent, None, extra, optimized=True)
        body = [pad + line for line in code.body]
        test = code.returns.split(", ")[0]
        if body and body[-1].startswith(f"{pad}{test} = ") and "\n" not in body[-1] \
                and (prefix, cond.id) not in self.names:
            test = body.pop()[len(f"{pad}{test} = "):]
        sides = [o for o in (True, False) if self._reaches(prefix + (o,))]
        if len(sides) == 1:  # a guard: the other side raises
            body += [pad + _if(test if not sides[0] else _negated(test), indent),
                     f"{pad}    _path_changed({len(prefix)})"]
            rest, returned, _ = self._print(prefix + (sides[0],), depth)
            return body + rest, returned, code
        body.append(pad + _if(test, indent))
        inner, returned, _ = self._print(prefix + (True,), depth + 1)
        body += inner + [" " * (4 * depth + 4) + _return(returned, indent + 4)]
        rest, returned, _ = self._print(prefix + (False,), depth)
        return body + rest, returned, code

    def _reaches(self, prefix: tuple) -> bool:
        return prefix in self.blocks or prefix in self.leaves

    def _print_graph(self, graph: Graph, returns, indent: int, gradient, extra=(),
                     optimized=False):
        program = to_program(graph if optimized else optimize(graph))
        # (kernels of every block: named after the function and the block's number)
        name = f"{self.first.fname}_b{len(self._blocks_printed)}"
        self._blocks_printed.append(name)
        code = print_function(program, name, "", returns, self.out_name, gradient,
                              extra_params=extra, constants=self.constants, indent=indent,
                              kernel_layout=self.kernel_layout)
        self._rewrites.update(code.stable_rewrites)
        self._constants += code.constants
        self._kernels += code.kernels
        return code


def _negated(test: str) -> str:
    return f"not {test}" if test.isidentifier() else f"not ({test})"


def _return(text: str, indent: int) -> str:
    stand_in = "____ = "  # as long as "return ", so that _wrap measures the same line
    return "return " + _wrap(stand_in + text, indent)[len(stand_in):]


def _defined_ids(nodes) -> set[int]:
    return {n.out.id for n in nodes if n.op != INPUT}


def _vars(graph: Graph, ids: set[int]) -> list[Var]:
    return [n.out for n in graph.nodes if n.out.id in ids]


def _reads(graph: Graph, nodes, defined: set[int]) -> set[int]:
    """Ids of the values `nodes` read that none of them defines."""
    return {v.id for n in nodes for v in graph.operands(n) if v.id not in defined}


def _input_nodes(graph: Graph, ids: set[int]) -> list[Node]:
    """The function's arguments, then the values read from enclosing blocks, as inputs."""
    args = [n for n in graph.nodes if n.op == INPUT]
    shared = [Node(v, INPUT, params=(("name", ""),)) for v in _vars(graph, ids)]
    return args + sorted(shared, key=lambda n: n.out.id)


def _cut(graph: Graph, outputs: list[Var], ancestors: set[int]) -> tuple[Graph, set[int]]:
    """`graph` without the nodes an enclosing block computes (`ancestors`, by id): those
    it reads become inputs; sizes (`dim` nodes, a name such as n, nothing computed)
    are its own. Returns the graph and the ids it reads."""
    kept = [n for n in graph.nodes if n.op != INPUT and (n.out.id not in ancestors
                                                          or n.op == "dim")]
    defined = {n.out.id for n in graph.nodes if n.op == INPUT} | {n.out.id for n in kept}
    read = _reads(graph, kept, defined) | {v.id for v in outputs if v.id not in defined}
    return _reading(graph, kept, outputs, read, set())


def _reading(graph: Graph, body: list, outputs: list[Var], read: set[int],
             passed: set[int]) -> tuple[Graph, set[int]]:
    """The optimised graph of `body` with inputs for the ids it reads from enclosing
    blocks (only those it still reads once optimised: `0*x` reads nothing) and for the
    ids `passed` on to the code below (so that it does not reuse their names)."""
    nodes = _input_nodes(graph, read | passed) + body
    g = graph.derive(nodes, outputs)
    g.inputs = [n.out for n in nodes if n.op == INPUT]
    g = optimize(g)
    read = read & _used(g)
    arguments = {v.id for v in graph.inputs}
    kept = [n for n in g.nodes if n.op != INPUT or n.out.id in read | passed | arguments]
    final = g.derive(kept, g.outputs)
    final.inputs = [n.out for n in kept if n.op == INPUT]
    return final, read | passed


def _used(graph: Graph) -> set[int]:
    """Ids of the values `graph`'s nodes read or it returns."""
    return {v.id for n in graph.nodes for v in graph.operands(n)} | \
        {v.id for v in graph.outputs}


# -- guards: a function specialised to one path ------------------------------------------------
def path_check(path: Path) -> list[str]:
    """Module lines for a function specialised to `path` (printed as a tree with one
    side per condition, the other raising): the conditions, `PathChangedError` and
    `_path_changed(k)`. User text (source lines, paths) only inside repr literals."""
    seen: dict[str, int] = {}
    rows = []
    for d in path.decisions:
        seen[d.loc] = seen.get(d.loc, 0) + 1
        filename, _, line = (d.loc or "?:0").rpartition(":")
        text = linecache.getline(filename, int(line)).strip() if line.isdigit() else ""
        rows += _row(f"{_relative(filename)}:{line}", seen[d.loc], text, d.outcome)
    return [
        "#: The conditions the traced function tested, in order, when this module was",
        "#: generated: (where, which test of that line, the source line, its outcome).",
        "_PATH = (", *rows, ")",
        "", "",
        "class PathChangedError(ValueError):",
        '    """The arguments take another path through the conditions of the traced',
        '    function than the example arguments this module was generated at."""',
        "", "",
        "def _path_changed(k):",
        '    """Raise PathChangedError for condition k of _PATH, which went the other way."""',
        "    where, test, source, outcome = _PATH[k]",
        "    raise PathChangedError(",
        '        f"{where}: `{source}` (test {test} of this line) was {outcome} when this "',
        '        f"module was generated and is {not outcome} for these arguments; regenerate "',
        '        "the module at arguments that take this path (--example), or use "',
        '        "symdiff.grad, which retraces per path"',
        "    )",
    ]


def _row(where: str, test: int, text: str, outcome: bool) -> list[str]:
    """One entry of `_PATH`, on one line when it fits, else one item per line (long
    strings as adjacent literals)."""
    line = f"    ({where!r}, {test}, {text!r}, {outcome}),"
    if len(line) <= LINE_LENGTH:
        return [line]
    strings = [[f"        {chunk!r}" for chunk in _chunks(s, 70)] for s in (where, text)]
    where_lines, text_lines = ([*item[:-1], item[-1] + ","] for item in strings)
    return ["    (", *where_lines, f"        {test},", *text_lines, f"        {outcome},",
            "    ),"]


def _chunks(text: str, width: int) -> list[str]:
    """`text` cut after spaces into pieces of about `width` characters."""
    pieces = [""]
    for word in text.split(" "):
        if pieces[-1] and len(pieces[-1]) + len(word) + 1 > width:
            pieces[-1] += " "
            pieces.append(word)
        else:
            pieces[-1] += (" " if pieces[-1] else "") + word
    return pieces


def _relative(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(os.pardir) else rel


# -- the decorator: one compiled module per path -----------------------------------------------
def path_holds(compiled, args) -> bool:
    """Whether `args` take the path `compiled` was specialised to (always, unspecialised)."""
    module = compiled.module
    error = getattr(module, "PathChangedError", None)
    if error is None:
        return True
    try:
        compiled.forward(*args)
    except error:
        return False
    return True


#: Modules kept per function and argument shapes when they are specialised to paths.
MAX_VARIANTS = 32


class PathDispatch:
    """The generated function of `kind` for the path the arguments take: the modules
    compiled so far are tried in turn (each checks its path first and raises its
    `PathChangedError` on another); when none fits, `compile_at(args)` traces the
    new path. The most recently used module is tried first."""

    def __init__(self, compiled, kind: str, compile_at):
        self.kind, self.compile_at = kind, compile_at
        self.variants = [compiled]

    def __call__(self, *args):
        for i, compiled in enumerate(self.variants):
            try:
                result = compiled.function(self.kind)(*args)
            except compiled.module.PathChangedError:
                continue
            if i:
                self.variants.insert(0, self.variants.pop(i))
            return result
        compiled = self.compile_at(args)
        self.variants.insert(0, compiled)
        del self.variants[MAX_VARIANTS:]  # least recently used last: a bisection has ~one per input
        return compiled.function(self.kind)(*args)


def specialised_function(compiled, kind: str, compile_at):
    """`compiled`'s function of `kind`, or a `PathDispatch` when it checks a path."""
    if getattr(compiled.module, "PathChangedError", None) is None:
        return compiled.function(kind)
    return PathDispatch(compiled, kind, compile_at)
