"""Printers of the decompositions and of convolution (ir/decompositions.py), installed
as `SymdiffPrinter._print_op_<name>` methods (the table a test checks), and the
installer `register_printer` that extend.py uses for the user's primitives."""

from __future__ import annotations

from collections.abc import Callable

from .printer import Block, SymdiffPrinter, _operand

__all__ = ["register_printer"]


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


def _convolve(self, node, a, v):
    return f"{self.xp}.convolve({a}, {v})"


def _inverse_gaps(self, node, w, *, what):
    """Statements: the gaps, infinite on the diagonal (so 1/gap is 0 there), a raise
    where two values coincide (a derivative that does not exist), the reciprocal."""
    n, xp, w = node.inputs[0].shape[-1], self.xp, _operand(w)
    return Block(
        f"{{out}} = {w}[..., None, :] - {w}[..., :, None]",
        f"{{out}}[..., {xp}.arange({n}), {xp}.arange({n})] = {xp}.inf",
        f"if {xp}.any({{out}} == 0):",
        f"    raise {xp}.linalg.LinAlgError(",
        f"        \"{what} derivatives are undefined at repeated values\"",
        "    )",
        "{out} = 1 / {out}")


for _name, _method in (("cholesky", _cholesky), ("eigh", _eigh), ("svd", _svd), ("qr", _qr),
                       ("convolve", _convolve), ("inverse_gaps", _inverse_gaps)):
    register_printer(_name, _method)
