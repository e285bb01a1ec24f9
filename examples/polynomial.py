"""1. A scalar polynomial and its derivative.

The first example of every autograd tutorial. In PyTorch:

    x = torch.tensor(3.0, requires_grad=True)
    y = 3 * x**2 + 4 * x + 2
    y.backward()
    print(y, x.grad)        # tensor(41.) tensor(22.)

PyTorch computes 22 but never shows the derivative it used. symdiff writes it out:

    python examples/polynomial.py
    symdiff emit examples/polynomial.py:f
"""

import symdiff
from symdiff.display import to_latex


def y(x):
    return 3 * x**2 + 4 * x + 2


def f(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def main():
    for fn, formula, x in ((y, "3x^2 + 4x + 2", 3.0), (f, "2x^4 + x^3 + 3x^2 + 5x + 1", 2.0)):
        value, slope = symdiff.value_and_grad(fn)(x)
        name = fn.__name__
        print(f"{name}(x) = {formula} at x = {x:g}")
        print(f"  {name} = {value:g}")
        print(f"  d{name}/dx = {slope:g}")

    compiled = symdiff.grad(f).compile(2.0)
    print("\nThe generated module (what `symdiff emit examples/polynomial.py:f` writes):\n")
    print(compiled.source)
    print("In a notebook the compiled function displays as LaTeX:\n")
    print(to_latex(compiled))


if __name__ == "__main__":
    main()
