"""9. A small multilayer perceptron trained on two moons, with generated gradients.

A 2-16-1 network (tanh hidden layer) classifies the two interleaved half circles of
the classic "two moons" toy dataset, made here with NumPy alone. The loss is the mean
binary cross-entropy with logits; symdiff compiles its gradient with respect to all
four parameter arrays once, and the training loop is Adam written out in NumPy. At
the end, `symdiff.gradcheck` compares that gradient with central differences.
The loss curve is saved as a PNG when matplotlib is installed (and skipped quietly
otherwise).

    python examples/two_moons_mlp.py [--epochs 300] [--plot two_moons_loss.png]
"""

import argparse
import inspect
import os
import tempfile

import numpy as np

import symdiff

HIDDEN = 16


def loss(W1, b1, W2, b2, X, y):
    hidden = np.tanh(X @ W1 + b1)
    logits = hidden @ W2 + b2
    return np.mean(np.logaddexp(0.0, logits) - y * logits)


def predict(params, X):
    W1, b1, W2, b2 = params
    return (np.tanh(X @ W1 + b1) @ W2 + b2 > 0).astype(np.float64)


def make_moons(n=200, noise=0.1, seed=0):
    """Two interleaving half circles (as scikit-learn's make_moons), labels 0 and 1."""
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0, np.pi, n_outer)
    t_inner = np.linspace(0, np.pi, n_inner)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)])
    X = np.vstack([outer, inner]) + rng.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return X, y


def init_params(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=1.0, size=(2, HIDDEN)), np.zeros(HIDDEN),
            rng.normal(scale=1 / np.sqrt(HIDDEN), size=HIDDEN), 0.0]


def train(X, y, epochs, lr=0.05, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam on the full batch; returns the parameters and the loss per epoch."""
    value_and_grad = symdiff.value_and_grad(loss, argnums=(0, 1, 2, 3))
    params = init_params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    history = []
    for t in range(1, epochs + 1):
        value, grads = value_and_grad(*params, X, y)
        history.append(float(value))
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            step = lr * (m[i] / (1 - beta1**t)) / (np.sqrt(v[i] / (1 - beta2**t)) + eps)
            params[i] = params[i] - step
    return params, history, value_and_grad


def plot(history, path=None):
    """Save the loss curve to `path`, by default into a new temporary directory."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    if path is None:  # never litter the current directory unasked
        path = os.path.join(tempfile.mkdtemp(prefix="symdiff-"), "two_moons_loss.png")
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(history)
    ax.set(xlabel="epoch", ylabel="loss", title="two moons, 2-16-1 MLP")
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--plot", metavar="PNG",
                        help="where to save the loss curve (default: a new temporary directory)")
    ns = parser.parse_args(argv)

    X, y = make_moons()
    params, history, value_and_grad = train(X, y, ns.epochs)
    for epoch in sorted({0, *range(49, ns.epochs, 50), ns.epochs - 1}):
        print(f"epoch {epoch + 1:4d}  loss = {history[epoch]:.6f}")
    print(f"final loss = {loss(*params, X, y):.6f}")
    print(f"accuracy = {np.mean(predict(params, X) == y):.4f}")
    X_test, y_test = make_moons(seed=7)
    print(f"test accuracy = {np.mean(predict(params, X_test) == y_test):.4f}")
    plot(history, ns.plot)

    # The generated gradient against central differences, at the trained weights.
    print()
    print(symdiff.gradcheck(loss, *params, X, y, argnums=(0, 1, 2, 3)))

    compiled = value_and_grad.compile(*params, X, y)
    print("\nThe generated value-and-gradient:\n")
    print(inspect.getsource(compiled.value_and_grad))


if __name__ == "__main__":
    main()
