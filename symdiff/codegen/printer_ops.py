"""Printers of the decompositions and of convolution (ir/decompositions.py), installed
as `SymdiffPrinter._print_op_<name>` methods (the table a test checks), and the
installer `register_printer` that extend.py uses for the user's primitives."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ..errors import EmitError
from .node_printer import Block
from .precedence import ATOM, Printed, operand, precedence_of, template_precedence
from .printer import SymdiffPrinter

__all__ = ["register_printer", "template_printer", "literal"]


def register_printer(name: str, method: Callable) -> None:
    """Install `method(printer, node, *args, **params) -> str | Block` for primitive `name`."""
    setattr(SymdiffPrinter, f"_print_op_{name}", method)


def _cholesky(self, node, a):
    return f"{self.xp}.linalg.cholesky({a})"


def _eigh(self, node, a, *, part):
    return f"{self.xp}.linalg.eigh({a}).{('eigenvalues', 'eigenvectors')[part]}"


def _svd(self, node, a, *, part):
    return f"{self.xp}.linalg.svd({a}, full_matrices=False).{('U', 'S', 'Vh')[part]}"


def _qr(self, node, a, *, part):
    return f"{self.xp}.linalg.qr({a}).{('Q', 'R')[part]}"


def _cofactor(self, node, a):
    """adj(a).T from the SVD of `a` (ir/decompositions.py: cofactor), as two statements
    (each wrapped as any other): det(U) det(Vh) U diag(p) Vh, p_i the product of the
    singular values other than S_i."""
    xp = self.xp
    others = (f"{xp}.prod({xp}.where({xp}.eye({{out}}.S.shape[-1], dtype=bool), 1, "
              "{out}.S[..., None, :]), axis=-1)")
    return Block(
        "# cofactors from the SVD, finite if singular",
        f"{{out}} = {xp}.linalg.svd({a})",
        f"{{out}} = ({xp}.linalg.det({{out}}.U) * {xp}.linalg.det({{out}}.Vh))[..., None, None]"
        f" * ({{out}}.U * {others}[..., None, :]) @ {{out}}.Vh")


def _convolve(self, node, a, v):
    return f"{self.xp}.convolve({a}, {v})"


def _argsort(self, node, x, *, axis, kth):
    if kth is None:
        return f"{self.xp}.argsort({x}, axis={axis}, kind='stable')"
    return f"{self.xp}.argpartition({x}, {literal(kth)}, axis={axis})"


def _inverse_gaps(self, node, w, *, what):
    """Statements: the gaps, infinite on the diagonal (so 1/gap is 0 there), a raise
    where two values coincide (a derivative that does not exist), the reciprocal."""
    n, xp, w = node.inputs[0].shape[-1], self.xp, operand(w)
    return Block(
        f"{{out}} = {w}[..., None, :] - {w}[..., :, None]",
        f"{{out}}[..., {xp}.arange({n}), {xp}.arange({n})] = {xp}.inf",
        f"if {xp}.any({{out}} == 0):",
        f"    raise {xp}.linalg.LinAlgError(",
        f"        \"{what} derivatives are undefined at repeated values\"",
        "    )",
        "{out} = 1 / {out}")


for _name, _method in (("cholesky", _cholesky), ("eigh", _eigh), ("svd", _svd), ("qr", _qr),
                       ("convolve", _convolve), ("inverse_gaps", _inverse_gaps),
                       ("cofactor", _cofactor),
                       ("argsort", _argsort)):
    register_printer(_name, _method)


_FIELD = re.compile(r"\{(\w+)\}")


def template_printer(template: str, names: Sequence[str] = ()) -> Callable:
    """A printer method from a template: ``{0}``, ``{1}``... (or the input's parameter
    name from `names`) the printed inputs, ``{name}`` the node's parameter `name`
    printed as a Python literal."""
    def method(self, node, *args, **params):
        def field(m):
            key = m.group(1)
            if key in params:
                return literal(params[key])
            i = int(key) if key.isdigit() else names.index(key) if key in names else None
            if i is not None and i < len(args):
                return _argument(args[i], template, m)
            raise EmitError(f"the printed form {template!r} names {{{key}}}, which is "
                            "neither an input nor a parameter of this call")
        text = _FIELD.sub(field, template)
        text = re.sub(r"\bnp\.", f"{self.xp}.", text) if self.xp != "np" else text
        return Printed(text, template_precedence(template))
    return method


def _argument(text: str, template: str, m) -> str:
    """An input's text as it stands at field `m` of the template: parenthesized where
    an operator of the template reads a compound value (`{0} * 2.0` of `a + b` is
    `(a + b) * 2.0`), as it is where it is a whole argument of a call (`np.sin({0})`)."""
    compound = precedence_of(text) < ATOM
    before = template[:m.start()].rstrip()[-1:]
    after = template[m.end():].lstrip()[:1]
    if not compound or (before in ("(", ",", "") and after in (")", ",", "")):
        return text
    return f"({text})"


def literal(value) -> str:
    """A parameter as source: numbers, booleans, None, short plain strings and tuples
    of them; anything else is refused (a user's value never becomes code)."""
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str) and re.fullmatch(r"[\w ,.:>-]{0,40}", value):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise EmitError(f"a parameter of value {value!r} cannot be printed into generated code; "
                    "use numbers, booleans, None, short plain strings or tuples of them")
