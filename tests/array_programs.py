"""Programs a user writes (the examples, and the shapes of the issue's failures),
with arguments to compile and run their gradients at: the table the Dask and
Array-API tests run (docs/dask.md lists them)."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"dask_example_{name}",
                                                  ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rng = np.random.default_rng(0)


def make_data(n=40, d=3):
    X = rng.normal(size=(n, d))
    return X, (rng.random(n) < 0.5).astype(np.float64)


# -- programs a user writes (the examples, and the shapes of the failures) -------
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def padded_smoothness(x):
    p = np.pad(x, 1)
    return np.sum((p[2:] - 2 * p[1:-1] + p[:-2]) ** 2)


IDX = np.array([0, 2, 2, 5, 0, 0])


def embedding_lookup(E, y):
    return np.sum((E[IDX] @ np.ones(3) - y) ** 2)


def softmax_cross_entropy(W, X, labels):
    z = X @ W
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    onehot = labels[:, None] == np.arange(4)
    return -np.mean(np.sum(onehot.astype(np.float64) * logp, axis=1))


def ridge_least_squares(w, X, y):
    r = X @ w - y
    return 0.5 * np.mean(r ** 2) + 0.01 * np.sum(w ** 2)


def relu_layer(W, X):
    return np.sum(np.maximum(X @ W, 0.0) ** 2) / X.shape[0]


def huber(w, X, y):
    r = X @ w - y
    return np.mean(np.where(np.abs(r) < 1.0, 0.5 * r ** 2, np.abs(r) - 0.5))


def _programs():
    X, y = make_data()
    logreg, linreg = _example("logistic_regression"), _example("linear_regression")
    mlp, softmax = _example("mlp"), _example("softmax_regression")
    newton, chain = _example("logistic_newton"), _example("chain_rule")
    moons = _example("two_moons_mlp")
    Xn, yn = newton.make_data(40)
    return {
        "logistic_regression.loss": (logreg.loss, (rng.normal(size=3), 0.1, X, y), (0, 1)),
        "linear_regression.mse": (linreg.mse, (rng.normal(size=3), 0.2, X, X @ [1, 2, 3.]),
                                  (0, 1)),
        "mlp.loss": (mlp.loss, mlp.make_inputs(), (0, 1, 2, 3)),
        "softmax_regression.loss": (softmax.loss, softmax.example_inputs_loss(), (0, 1)),
        "logistic_newton.bce_with_logits": (newton.bce_with_logits,
                                            (rng.normal(size=Xn.shape[1]), Xn, yn), 0),
        "chain_rule.out": (chain.out, (rng.normal(size=7),), 0),
        "two_moons_mlp.loss": (moons.loss, (*moons.init_params(), *moons.make_moons(40)),
                               (0, 1, 2, 3)),
        "rosenbrock": (rosenbrock, (rng.normal(size=9),), 0),
        "padded_smoothness": (padded_smoothness, (rng.normal(size=9),), 0),
        "embedding_lookup": (embedding_lookup, (rng.normal(size=(6, 3)), rng.normal(size=6)),
                             0),
        "softmax_cross_entropy": (softmax_cross_entropy,
                                  (rng.normal(size=(3, 4)), X, rng.integers(0, 4, 40)), 0),
        "ridge_least_squares": (ridge_least_squares, (rng.normal(size=3), X, y), 0),
        "relu_layer": (relu_layer, (rng.normal(size=(3, 5)), X), 0),
        "huber": (huber, (rng.normal(size=3), X, 3 * y), 0),
    }


PROGRAMS = _programs()


def _stepping():
    """The time-stepping programs of tests/programs (loops folded into loop nodes)."""
    from programs import euler, kalman, leapfrog, p6, rnn

    theta, z0, observed, dt, steps = euler.make_inputs(20)
    k, q, p, target, lsteps = leapfrog.make_inputs(10)
    return {
        "euler.euler_loss": (euler.euler_loss, (theta, z0, observed, dt, steps), 0),
        "kalman.kalman_loglik": (kalman.kalman_loglik, kalman.make_inputs(10), 0),
        "leapfrog.leapfrog_loss": (leapfrog.leapfrog_loss, (k, q, p, target, lsteps), 0),
        "p6.p6": (p6.p6, (rng.normal(size=3) * 0.5, 4), 0),
        "rnn.rnn_loss": (rnn.rnn_loss, rnn.make_inputs(8), (0, 1, 2, 3)),
    }


STEPPING = _stepping()
