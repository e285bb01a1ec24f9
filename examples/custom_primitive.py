"""Teaching symdiff a new function: `symdiff.register_primitive`.

    python examples/custom_primitive.py
    symdiff emit examples/custom_primitive.py:loss --wrt w

Two registrations, one call each:

- `softplus`, your own function: it stays one call in the generated code, and its
  derivative is the one you give (here sigmoid, written so that it never overflows);
- `np.sinc`, a NumPy function symdiff has no rule for: without the registration,
  tracing it raises UnsupportedOpError pointing here.

See docs/extending.md.
"""

import numpy as np

import symdiff


@symdiff.register_primitive(
    derivatives=[lambda x: np.exp(-np.logaddexp(0.0, -x))],  # sigmoid(x), stably
    numpy="np.logaddexp(0, {x})",
)
def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return np.logaddexp(0.0, x)


# d/dx sinc(x) = (cos(pi x) - sinc(x)) / x for x != 0, and 0 at x = 0 (sinc is even).
symdiff.register_primitive(
    np.sinc,
    derivatives=[lambda x: np.where(x == 0, 0.0, (np.cos(np.pi * x) - np.sinc(x)) / x)],
)


def loss(w, X, y):
    """A softplus (logistic) loss with a sinc feature."""
    margins = y * (X @ w + np.sinc(X[:, 0]))
    return np.mean(softplus(-margins))


def example_inputs_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 3))
    y = np.where(rng.random(8) < 0.5, -1.0, 1.0)
    return np.array([0.5, -0.25, 1.0]), X, y


def main():
    w, X, y = example_inputs_loss()
    grad_loss = symdiff.grad(loss)
    print("loss =", float(loss(w, X, y)))
    print("dloss_dw =", [round(float(v), 12) for v in grad_loss(w, X, y)])
    print("\nThe generated gradient (softplus and sinc stay single NumPy calls):\n")
    source = grad_loss.compile(w, X, y).source
    print(source[source.index("def grad_loss"):source.index("def value_and_grad_loss")])


if __name__ == "__main__":
    main()
