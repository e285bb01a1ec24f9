"""A scalar polynomial and its derivative (the first autograd tutorial example).

    python examples/polynomial.py
    symdiff emit examples/polynomial.py:f
"""

import numpy as np

import symdiff


def f(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def y(x):
    return 3 * x**2 + 4 * x + 2


if __name__ == "__main__":
    for fn, x in ((y, 3.0), (f, 2.0)):
        value, slope = symdiff.value_and_grad(fn)(x)
        print(f"{fn.__name__}({x}) = {value:g}, d{fn.__name__}/dx = {slope:g}")
    print(symdiff.grad(f).compile(2.0).source)
    np.testing.assert_allclose(symdiff.grad(f)(2.0), 93.0)
