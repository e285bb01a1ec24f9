"""3. Vector-Jacobian products: what PyTorch's `backward(v)` computes.

`backward()` works only on a scalar. For a vector output z, PyTorch asks for a vector
v and computes v^T J, the vector-Jacobian product, without forming the Jacobian J:

    x = torch.tensor([1., 2., 3.], requires_grad=True)
    z = (2 * x + 3)**2
    z.backward(torch.ones(3))
    print(x.grad)                       # tensor([20., 28., 36.])

symdiff's `vjp` (as `jax.vjp`) returns z and a function v -> v^T J; `jacobian` gives J
itself. The second example is from PyTorch's "Tensor Gradients and Jacobian Products":

    inp = torch.eye(5, requires_grad=True)
    out = (inp + 1).pow(2)
    out.backward(torch.ones_like(inp), retain_graph=True)
    print(inp.grad)                     # 4 on the diagonal, 2 elsewhere
    out.backward(torch.ones_like(inp), retain_graph=True)
    print(inp.grad)                     # 8 and 4: the second call accumulated

symdiff's functions keep no state, so calling the VJP twice gives 4 and 2 both times.

    python examples/vector_jacobian.py
"""

import inspect

import numpy as np

import symdiff


def z(x):
    return (2 * x + 3) ** 2


def square_plus_one(inp):
    return (inp + 1) ** 2


def main():
    x = np.array([1.0, 2.0, 3.0])
    value, vjp_fn = symdiff.vjp(z, x)
    (vjp,) = vjp_fn(np.ones(3))
    print(f"z at x = {x.tolist()}")
    print(f"  z = {value.tolist()}")
    print(f"  v^T J with v = ones = {vjp.tolist()}")
    jac = symdiff.jacobian(z)(x)
    print(f"  J = {jac.tolist()}")
    print(f"  ones @ J = {(np.ones(3) @ jac).tolist()}")

    inp = np.eye(5)
    out, vjp_fn = symdiff.vjp(square_plus_one, inp)
    first = vjp_fn(np.ones_like(inp))[0]
    second = vjp_fn(np.ones_like(inp))[0]
    print("\n(inp + 1)^2 at inp = eye(5), v = ones")
    print(f"  first call = {first.tolist()}")
    print(f"  second call = {second.tolist()}")

    compiled = symdiff.compile_gradient(square_plus_one, [inp], kinds=("vjp",))
    print("\nThe generated vector-Jacobian product (no Jacobian is formed):\n")
    print(inspect.getsource(compiled.function("vjp")))


if __name__ == "__main__":
    main()
