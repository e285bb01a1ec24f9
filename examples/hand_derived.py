"""10. Verifying gradients derived by hand: one right and one wrong answer per model.

Tutorials derive the gradient of the squared error by hand before trusting autograd.
`symdiff.check_derivative(f, df, *args, argnums=...)` checks such a derivation: it
compares `df` with symdiff's own gradient of `f` at many points, then tries to prove
the two equal symbolically. The answer is PROVED (the difference simplifies to 0),
AGREES (equal at every point tried, no proof) or REFUTED (with the symbolic difference
and a point where the two disagree).

Model 1: y_hat = w x + b, loss = (y_hat - y)^2.
    right: dloss/dw = 2 x (y_hat - y),   dloss/db = 2 (y_hat - y)
    wrong: dloss/dw = 2 (y_hat - y)  (the factor x of the inner derivative forgotten)
Model 2: y_hat = x^2 w2 + x w1 + b, loss = (y_hat - y)^2.
    right: dloss/dw2 = 2 x^2 (y_hat - y), dloss/dw1 = 2 x (y_hat - y), dloss/db = 2 (y_hat - y)
    wrong: dloss/dw2 = 2 x (y_hat - y)  (the power rule misapplied: d(x^2 w2)/dw2 = x^2)

    python examples/hand_derived.py
"""

import symdiff


def loss1(w, b, x, y):
    y_hat = w * x + b
    return (y_hat - y) ** 2


def right1(w, b, x, y):
    y_hat = w * x + b
    return 2 * x * (y_hat - y), 2 * (y_hat - y)


def wrong1(w, b, x, y):
    y_hat = w * x + b
    return 2 * (y_hat - y), 2 * (y_hat - y)


def loss2(w2, w1, b, x, y):
    y_hat = x**2 * w2 + x * w1 + b
    return (y_hat - y) ** 2


def right2(w2, w1, b, x, y):
    y_hat = x**2 * w2 + x * w1 + b
    return 2 * x**2 * (y_hat - y), 2 * x * (y_hat - y), 2 * (y_hat - y)


def wrong2(w2, w1, b, x, y):
    y_hat = x**2 * w2 + x * w1 + b
    return 2 * x * (y_hat - y), 2 * x * (y_hat - y), 2 * (y_hat - y)


def main():
    point1 = (1.0, 0.5, 2.0, 3.0)  # w, b, x, y
    point2 = (0.5, -1.0, 0.25, 1.5, 2.0)  # w2, w1, b, x, y
    for label, f, df, point, argnums in (
            ("model 1, right", loss1, right1, point1, (0, 1)),
            ("model 1, wrong", loss1, wrong1, point1, (0, 1)),
            ("model 2, right", loss2, right2, point2, (0, 1, 2)),
            ("model 2, wrong", loss2, wrong2, point2, (0, 1, 2))):
        check = symdiff.check_derivative(f, df, *point, argnums=argnums)
        print(f"{label}: {check.status}")
        print("\n".join(str(check).splitlines()[1:]))


if __name__ == "__main__":
    main()
