"""symdiff: symbolic differentiation of NumPy functions into readable NumPy code."""

__version__ = "0.1.0"

from .api import Compiled, compile_gradient, grad, value_and_grad  # noqa: E402
from .errors import (  # noqa: E402
    EmitError,
    InputError,
    ShapeError,
    SymdiffError,
    TraceError,
    UnsupportedOpError,
)

__all__ = [
    "__version__",
    "grad",
    "value_and_grad",
    "compile_gradient",
    "Compiled",
    "SymdiffError",
    "TraceError",
    "UnsupportedOpError",
    "InputError",
    "ShapeError",
    "EmitError",
]
