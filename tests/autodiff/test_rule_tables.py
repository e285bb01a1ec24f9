"""Every structured primitive has a VJP rule, a JVP rule and a printer."""

import pytest

from symdiff.autodiff.rules import JVP, VJP
from symdiff.codegen.printer import SymdiffPrinter
from symdiff.ir.primitives import PRIMITIVES


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_is_complete(name):
    assert name in VJP, f"{name} has no VJP rule"
    assert name in JVP, f"{name} has no JVP rule"
    assert hasattr(SymdiffPrinter, f"_print_op_{name}"), f"{name} has no printer"
