"""5. Turning gradient flow off: `stop_gradient` beside PyTorch's three switches.

PyTorch has three ways to keep a value out of the gradient; symdiff has one function
and one argument, because it differentiates code rather than recording a tape:

* `y.detach()`: use y's value but treat it as a constant.
  symdiff: `symdiff.stop_gradient(y)`, inside the traced function (as JAX's
  `jax.lax.stop_gradient`). The "Dive into Deep Learning" example:
  u = detach(x * x), z = u * x, so dz/dx = u, while d(x * x)/dx = 2x.
* `with torch.no_grad(): ...`: compute without recording, e.g. for evaluation or a
  parameter update. symdiff records nothing at run time: calling your function, or
  the generated forward function, is plain NumPy. Nothing to switch off.
* `w.requires_grad_(False)`: freeze a parameter. symdiff: leave it out of `argnums`;
  it becomes an ordinary input of the generated code (and no gradient is computed).

    python examples/stop_gradient.py
"""

import inspect

import numpy as np

import symdiff


def z_detached(x):
    u = symdiff.stop_gradient(x * x)
    return np.sum(u * x)


def z_attached(x):
    u = x * x
    return np.sum(u * x)


def y_plus_two(x):
    return np.sum(x + 2)


def layer_loss(frozen, trained, x):
    return np.sum((frozen * x) * trained)


def main():
    x = np.arange(4.0)
    print(f"x = {x.tolist()}")
    # detach: the stopped factor u = x*x is a constant, so dz/dx = u.
    print(f"  d/dx sum(detach(x*x) * x) = {symdiff.grad(z_detached)(x).tolist()}")
    print(f"  d/dx sum(x*x * x) = {symdiff.grad(z_attached)(x).tolist()}")
    print(f"  d/dx sum(x*x) = {symdiff.grad(lambda x: np.sum(x * x))(x).tolist()}")

    # no_grad: an ordinary call records nothing; the value is all there is.
    print(f"  sum(x + 2) without a tape = {y_plus_two(x):g}")

    # requires_grad_(False): differentiate with respect to `trained` only (argnums=1).
    frozen, trained, data = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    g = symdiff.grad(layer_loss, argnums=1)(frozen, trained, data)
    print(f"  d layer_loss / d trained (frozen not differentiated) = {g.tolist()}")

    compiled = symdiff.grad(z_detached).compile(x)
    print("\nThe generated gradient: the stopped factor is computed, never differentiated.\n")
    print(inspect.getsource(compiled.grad))


if __name__ == "__main__":
    main()
