"""Stage 1, trace: tracer values (`tracer`), the NumPy surface they implement
(`numpy_api`, the `np_*` modules and the array methods, `array_methods`), the traced function (`function`),
its argument specs (`args`) and what it reads from outside its arguments (`captured`)."""

# Importing the package registers the whole NumPy surface on tracers (subscripts,
# methods, functions), in the order the reference lists them.
from . import array_methods, numpy_api, subscript  # noqa: F401

from . import np_reductions, np_linalg, np_shapes, np_selection  # noqa: F401  isort: skip

# Beyond NumPy's dispatch: calls caught by rebinding names (rebind), and more functions.
from . import np_constructs, np_math, np_special  # noqa: F401  isort: skip
from . import np_decompositions, np_filters, np_sorting, np_more  # noqa: F401  isort: skip
from . import np_sized  # noqa: F401  isort: skip
from . import control  # noqa: F401  isort: skip  (if/while on tracers; np.all, np.any)
