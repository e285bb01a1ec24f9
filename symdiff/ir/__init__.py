"""Stage 2, the IR: a DAG of SymPy expressions with shapes (`graph`), its primitives and
their shape rules (`primitives`), canonical indices (`indexing`), the SymPy functions
with NumPy semantics that elementwise expressions are made of (`elementwise`), and the
one graph interpreter (`interpret`)."""

from .conditions import fold_conditions

fold_conditions()  # a mask in a condition is kept when SymPy folds it (see `conditions`)

# The decompositions register their primitives beside the core ones.
from . import decompositions  # noqa: E402,F401
