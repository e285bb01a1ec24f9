"""The benchmark problems.

Each forward function is plain NumPy written the way a user would write it: symdiff
traces it as is, and the peers (JAX, autograd, PyTorch, SymPy) run the very same code
with the module global ``np`` rebound to their NumPy-like namespace. Forward functions
therefore call nothing but ``np.*``, operators and builtins (no helpers of this module).

Each hand-written gradient is what an expert would write: the adjoint derived on
paper, fused, with in-place updates where they save a pass over memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Problem", "Case", "PROBLEMS", "DEFAULT_SELECTION", "PRESETS"]

PRESETS = ("full", "quick", "check")


@dataclass
class Case:
    """One problem instantiated at one size: the functions and their arguments."""

    forward: Callable
    hand: Callable                  # gradient (or Hessian) w.r.t. the problem's argnums
    args: tuple
    sizes: str                      # human-readable sizes, for the report
    gradient: Callable | None = None    # Hessian problems: the first derivative (for FD)
    sympy_core: Callable | None = None  # elementwise scalar core, for the SymPy peer
    sympy_divisor: int = 1              # forward = sum(core(x)) / divisor


@dataclass
class Problem:
    """A registry entry. `setup(preset, rng)` builds the `Case` for a size preset."""

    name: str
    title: str
    argnums: int | tuple[int, ...]
    setup: Callable[[str, np.random.Generator], Case]
    kind: str = "grad"                          # "grad" or "hessian"
    peers: tuple[str, ...] = ("jax", "torch", "autograd")
    target_vs_hand: float = 1.15                # symdiff time / hand-written time
    target_vs_forward: float | None = 3.0       # symdiff gradient time / forward time
    target_compile: float | None = 1.0          # seconds, trace to loaded module
    unit: str | None = None                     # report unit: "ns", "us", "ms", "s"
    notes: list[str] = field(default_factory=list)


# -- P1: scalar polynomial ------------------------------------------------------------------
def polynomial(x):
    return 2 * x**4 + x**3 + 3 * x**2 + 5 * x + 1


def polynomial_grad(x):
    return ((8 * x + 3) * x + 6) * x + 5


def _setup_polynomial(preset, rng):
    return Case(polynomial, polynomial_grad, (2.0,), "x = 2.0 (Python float)",
                sympy_core=polynomial)


# -- P2: mean of squares ------------------------------------------------------------------
def mean_square(x):
    return np.mean((2 * x + 3) ** 2)


def mean_square_grad(x):
    n = x.size
    g = x * (8.0 / n)
    g += 12.0 / n
    return g


def _mean_square_core(x):
    return (2 * x + 3) ** 2


def _setup_mean_square(preset, rng):
    n = {"full": 10**6, "quick": 1000, "check": 7}[preset]
    return Case(mean_square, mean_square_grad, (rng.standard_normal(n),), f"n = {n:,}",
                sympy_core=_mean_square_core, sympy_divisor=n)


# -- P3: linear-regression MSE, scalar parameters -------------------------------------------
def linreg_mse(w, b, x, y):
    return np.mean((w * x + b - y) ** 2)


def linreg_mse_grad(w, b, x, y):
    r = w * x
    r -= y
    r += b
    scale = 2.0 / x.size
    return float(r @ x) * scale, float(r.sum()) * scale


def _setup_linreg(preset, rng):
    n = {"full": 10**6, "quick": 1000, "check": 9}[preset]
    x = rng.standard_normal(n)
    y = 3.0 * x - 1.0 + 0.1 * rng.standard_normal(n)
    w, b = float(rng.normal()), float(rng.normal())
    return Case(linreg_mse, linreg_mse_grad, (w, b, x, y),
                f"n = {n:,}; w, b Python floats")


# -- P4 and P8: logistic regression, BCE with logits -----------------------------------------
def logreg_bce(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0, z) - y * z)


def _sigmoid(z):
    return 0.5 * np.tanh(0.5 * z) + 0.5      # overflow-free logistic function


def logreg_bce_grad(w, b, X, y):
    r = _sigmoid(X @ w + b)
    r -= y
    r /= len(y)
    return X.T @ r, float(r.sum())


def logreg_bce_grad_w(w, b, X, y):
    return logreg_bce_grad(w, b, X, y)[0]


def logreg_bce_hessian(w, b, X, y):
    s = _sigmoid(X @ w + b)
    return X.T @ ((s * (1 - s) / len(y))[:, None] * X)


def _logreg_inputs(preset, rng):
    m, d = {"full": (10000, 100), "quick": (200, 10), "check": (9, 3)}[preset]
    X = rng.standard_normal((m, d))
    w_true = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(m) < _sigmoid(X @ w_true + 0.5)).astype(np.float64)
    w = 0.1 * rng.standard_normal(d)
    return (w, 0.1, X, y), f"X {m:,}x{d}, b Python float"


def _setup_logreg(preset, rng):
    args, sizes = _logreg_inputs(preset, rng)
    return Case(logreg_bce, logreg_bce_grad, args, sizes)


def _setup_logreg_hessian(preset, rng):
    args, sizes = _logreg_inputs(preset, rng)
    return Case(logreg_bce, logreg_bce_hessian, args, sizes + "; Hessian w.r.t. w",
                gradient=logreg_bce_grad_w)


# -- P5: two-layer tanh MLP, softmax cross-entropy -----------------------------------------
def mlp_xent(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    # logsumexp without the max shift, as many tutorials write it (symdiff adds the
    # shift itself); these logits stay far from exp's overflow at 709.
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * (z - lse), axis=1))


def mlp_xent_stable(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * (z - lse), axis=1))


def mlp_xent_grad(W1, b1, W2, b2, X, Y):
    """Gradient for one-hot rows of Y (d loss / d logits = (softmax - Y) / batch)."""
    a = X @ W1
    a += b1
    h = np.tanh(a, out=a)
    p = h @ W2
    p += b2
    p -= p.max(axis=1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    p -= Y
    p /= len(X)
    dh = p @ W2.T
    dh *= 1 - h * h
    return X.T @ dh, dh.sum(axis=0), h.T @ p, p.sum(axis=0)


def _mlp_inputs(preset, rng):
    batch, d, hidden, classes = {"full": (256, 784, 128, 10), "quick": (16, 20, 8, 5),
                                 "check": (5, 4, 3, 3)}[preset]
    X = rng.standard_normal((batch, d))
    Y = np.eye(classes)[rng.integers(classes, size=batch)]
    W1 = rng.standard_normal((d, hidden)) / np.sqrt(d)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, classes)) / np.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(classes)
    return (W1, b1, W2, b2, X, Y), f"batch {batch}, {d}-{hidden}-{classes}, one-hot Y"


def _setup_mlp(preset, rng):
    args, sizes = _mlp_inputs(preset, rng)
    return Case(mlp_xent, mlp_xent_grad, args, sizes)


def _setup_mlp_stable(preset, rng):
    args, sizes = _mlp_inputs(preset, rng)
    return Case(mlp_xent_stable, mlp_xent_grad, args, sizes + ", max-shifted logsumexp")


# -- P6: an iterated elementwise map -------------------------------------------------------
P6_DEPTH = {"full": 50, "quick": 4, "check": 4}


def make_iterated_map(depth):
    """sum(x) after `depth` steps of x = sin(x) * x + cos(x)."""
    def iterated_map(x):
        for _ in range(depth):
            x = np.sin(x) * x + np.cos(x)
        return np.sum(x)
    return iterated_map


def make_iterated_map_core(depth):
    """The elementwise part of `make_iterated_map` (no final sum), for SymPy."""
    def iterated_map_core(x):
        for _ in range(depth):
            x = np.sin(x) * x + np.cos(x)
        return x
    return iterated_map_core


def make_iterated_map_grad(depth):
    """Forward-mode product of the step derivatives x * cos(x), one pass, no tape."""
    def iterated_map_grad(x):
        x = x.copy()
        g = np.ones_like(x)
        s, c, t = np.empty_like(x), np.empty_like(x), np.empty_like(x)
        for _ in range(depth):
            np.sin(x, out=s)
            np.cos(x, out=c)
            np.multiply(x, c, out=t)
            g *= t
            x *= s
            x += c
        return g
    return iterated_map_grad


def _setup_iterated_map(preset, rng):
    n = {"full": 10**5, "quick": 100, "check": 5}[preset]
    depth = P6_DEPTH[preset]
    return Case(make_iterated_map(depth), make_iterated_map_grad(depth),
                (rng.standard_normal(n),), f"n = {n:,}, depth {depth}",
                sympy_core=make_iterated_map_core(depth))


# -- P7: Rosenbrock ----------------------------------------------------------------------
def rosenbrock(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_grad(x):
    """g[:-1] = 2a(1 - 200t) - 2 and g[1:] += 200t, with a = x[:-1], t = x[1:] - a^2:
    one temporary, every other pass in place."""
    a, b = x[:-1], x[1:]
    g = np.empty_like(x)
    t = a * a
    np.subtract(b, t, out=t)
    t *= 200.0
    head = g[:-1]
    np.multiply(t, -2.0, out=head)
    head += 2.0
    head *= a
    head -= 2.0
    g[-1] = 0.0
    g[1:] += t
    return g


def _setup_rosenbrock(preset, rng):
    n = {"full": 10**6, "quick": 1000, "check": 8}[preset]
    return Case(rosenbrock, rosenbrock_grad, (rng.standard_normal(n),), f"n = {n:,}")


# -- the registry --------------------------------------------------------------------------
_P6_NOTE = ("x -> sin(x)*x + cos(x) has a superattracting fixed point at pi/2: in float64 "
            "the depth-50 gradient is exactly 0 for typical inputs, so the agreement check "
            "at depth 50 only catches gross errors. --quick and --selfcheck use depth 4, "
            "where gradients are O(10).")

PROBLEMS: dict[str, Problem] = {p.name: p for p in [
    Problem("P1", "scalar polynomial 2x^4 + x^3 + 3x^2 + 5x + 1", 0, _setup_polynomial,
            peers=("jax", "torch", "autograd", "sympy"), target_vs_hand=2.0, unit="us"),
    Problem("P2", "mean((2x + 3)^2)", 0, _setup_mean_square,
            peers=("jax", "torch", "autograd", "sympy")),
    Problem("P3", "linear-regression MSE mean((w*x + b - y)^2) w.r.t. scalars (w, b)",
            (0, 1), _setup_linreg),
    Problem("P4", "logistic regression, BCE with logits", (0, 1), _setup_logreg),
    Problem("P5", "2-layer tanh MLP, softmax cross-entropy", (0, 1, 2, 3), _setup_mlp),
    Problem("P5s", "P5 with the max-shifted (stable) logsumexp", (0, 1, 2, 3),
            _setup_mlp_stable),
    Problem("P6", "50 iterations of x = sin(x)*x + cos(x), sum", 0, _setup_iterated_map,
            peers=("jax", "torch", "autograd", "sympy"), target_compile=None,
            notes=[_P6_NOTE]),
    Problem("P7", "Rosenbrock sum(100(x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)", 0,
            _setup_rosenbrock, target_compile=None),
    Problem("P8", "Hessian of P4's loss w.r.t. w (closed form X.T @ (s(1-s)/n * X))", 0,
            _setup_logreg_hessian, kind="hessian", target_vs_hand=1.5,
            target_vs_forward=None),
]}

#: What a plain run benchmarks; P5s replaces P5 under --stable-softmax.
DEFAULT_SELECTION = ("P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8")

