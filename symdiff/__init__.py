"""symdiff: symbolic differentiation of NumPy functions into readable NumPy code."""

from .api import (
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    stop_gradient,
    value_and_grad,
)
from .compile import Compiled, compile_gradient
from .errors import (
    BranchError,
    EmitError,
    ExpressionError,
    GradcheckError,
    InputError,
    ShapeError,
    SymbolicDimError,
    SymdiffError,
    TraceError,
    UnsupportedOpError,
)
from .extend import register_primitive
from .implicit import fixed_point
from .ir.dims import dim
from .products import hvp, jvp, vjp
from .trace.args import ShapeDtype
from .trace.captured import CapturedArrayWarning
from .verify.gradcheck_report import GradcheckReport
from .verify.hand import check_derivative
from .verify.numerical import gradcheck
from .verify.verdict import DerivativeCheck
from .version import __version__

__all__ = [
    "__version__",
    # transforms, as JAX names them
    "grad", "value_and_grad", "jacobian", "jacfwd", "jacrev", "hessian", "vjp", "jvp", "hvp",
    "stop_gradient",
    # the generated module
    "compile_gradient", "Compiled", "CapturedArrayWarning",
    # errors
    "SymdiffError", "TraceError", "BranchError", "UnsupportedOpError", "InputError",
    "ShapeError", "SymbolicDimError", "EmitError", "GradcheckError", "ExpressionError",
    # checking derivatives, extending
    "gradcheck", "GradcheckReport", "check_derivative", "DerivativeCheck", "register_primitive",
    # symbolic sizes
    "ShapeDtype", "dim",
    # a fixed point differentiated implicitly
    "fixed_point",
]
