"""6. `if` and `while` on values: the Huber loss, Newton's square root, a fixed point.

An `if` on a traced value becomes an `if` in the generated code, each side
differentiated as written (the derivative of the branch taken, as in JAX and
autograd). A `while` loop stays a `while` loop: the gradient pushes each iterate onto a
list and walks it backwards, so one module serves every number of iterations; the
derivative is that of the iterates.
`symdiff.fixed_point` instead differentiates the solution itself (implicit function
theorem, as JAX's custom_root).

    python examples/branches.py
"""

import inspect

import numpy as np

import symdiff


def huber(r, delta):
    if abs(r) <= delta:
        return 0.5 * r**2
    return delta * (abs(r) - 0.5 * delta)


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-12 * a:
        y = 0.5 * (y + a / y)
    return y


def cosine_fixed_point(a):
    """x = 0.5 cos(x) + a."""
    return symdiff.fixed_point(lambda x, a: 0.5 * np.cos(x) + a, 0.0, a)


def main():
    grad_huber = symdiff.grad(huber, argnums=(0, 1))
    for r in (0.5, 3.0):  # inside and outside delta = 1
        dr, ddelta = grad_huber(r, 1.0)
        print(f"huber'(r={r}) = {float(dr)!r}")
        print(f"dhuber/ddelta(r={r}) = {float(ddelta)!r}")
    print(inspect.getsource(grad_huber.compile(0.5, 1.0).grad))

    grad_sqrt = symdiff.grad(newton_sqrt)
    for a in (2.0, 30.0):  # 5 and 7 Newton steps: one module
        print(f"sqrt'(a={a}) = {float(grad_sqrt(a))!r}")
    print(f"modules compiled = {grad_sqrt.cache_info().compiles}")
    print(inspect.getsource(grad_sqrt.compile(2.0).grad))

    for a in (0.2, 1.0):
        print(f"x*(a={a}) = {float(cosine_fixed_point(a))!r}")
        print(f"dx*/da(a={a}) = {float(symdiff.grad(cosine_fixed_point)(a))!r}")


if __name__ == "__main__":
    main()
