"""symdiff: symbolic differentiation of NumPy functions into readable NumPy code."""

__version__ = "0.1.0"

from .api import (  # noqa: E402
    Compiled,
    compile_gradient,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from .errors import (  # noqa: E402
    EmitError,
    ExpressionError,
    GradcheckError,
    InputError,
    ShapeError,
    SymdiffError,
    TraceError,
    UnsupportedOpError,
)
from .extend import register_primitive  # noqa: E402
from .hand import DerivativeCheck, check_derivative  # noqa: E402
from .trace import CapturedArrayWarning  # noqa: E402
from .verify import GradcheckReport, gradcheck  # noqa: E402

__all__ = [
    "__version__",
    "grad",
    "value_and_grad",
    "jacobian",
    "jacfwd",
    "jacrev",
    "hessian",
    "vjp",
    "jvp",
    "hvp",
    "stop_gradient",
    "compile_gradient",
    "Compiled",
    "CapturedArrayWarning",
    "SymdiffError",
    "TraceError",
    "UnsupportedOpError",
    "InputError",
    "ShapeError",
    "EmitError",
    "GradcheckError",
    "ExpressionError",
    "gradcheck",
    "GradcheckReport",
    "check_derivative",
    "DerivativeCheck",
    "register_primitive",
]
