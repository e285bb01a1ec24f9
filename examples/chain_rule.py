"""2. The chain rule through intermediate values.

PyTorch's autograd tutorial:

    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = 2 * x + 3
    z = y**2
    out = z.mean()
    out.backward()
    print(out, x.grad)      # tensor(51.6667) tensor([ 6.6667,  9.3333, 12.0000])

By the chain rule, d out/dx_i = (1/n) * 2 y_i * 2 = 4 (2 x_i + 3) / 3. symdiff finds
the same numbers and prints the gradient code: the intermediates `y` and `z` are each
used once, so they fuse into one expression that simplifies to that closed form.

    python examples/chain_rule.py
    symdiff emit examples/chain_rule.py:out --shape x=3
"""

import inspect

import numpy as np

import symdiff


def out(x):
    y = 2 * x + 3
    z = y**2
    return np.mean(z)


def out2(x):
    y = 3 * x + 2
    z = 2 * y**2
    return z.mean()


def show(fn, x):
    value, grad = symdiff.value_and_grad(fn)(x)
    name = fn.__name__
    print(f"{name} at x = {x.tolist()}")
    print(f"  {name} = {value:.4f}")
    print(f"  d{name}/dx = {np.round(grad, 4).tolist()}")
    return symdiff.grad(fn).compile(x)


def main():
    compiled = show(out, np.array([1.0, 2.0, 3.0]))
    # The second tutorial example: a matrix input, z = 2(3x + 2)^2, dz/dx = 12 (3x + 2) / n.
    show(out2, np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]))
    print("\nThe generated gradient of `out`:\n")
    print(inspect.getsource(compiled.grad))


if __name__ == "__main__":
    main()
