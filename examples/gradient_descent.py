"""7. Linear regression by gradient descent, with generated gradients.

Part 1: y_hat = w x + b on x = [1, 2, 3, 4, 5], y = 2x, from w = 5, b = 1, learning
rate 0.01, loss the mean squared error over the five samples,

    loss(w, b) = mean((w x + b - y)^2),   dloss/dw = mean(2 (w x + b - y) x),
                                          dloss/db = mean(2 (w x + b - y)).

One gradient step gives the tutorial's w = 4.28, b = 0.80 (the residuals are
3x + 1 = [4, 7, 10, 13, 16], so dloss/dw = 72 and dloss/db = 20). Note the
convention: these numbers are one step on the *mean* loss over all five samples. One
pass of per-sample updates (one step per sample, loss (w x_i + b - y_i)^2) lands
elsewhere, at w = 2.6555, b = 0.2797; both are printed below.

Part 2: the "PyTorch Zero to All" loop: y_hat = w x (no bias) on x = [1, 2, 3],
y = [2, 4, 6], from w = 1, loss (w x - y)^2 per sample, learning rate 0.01, 40
epochs of per-sample updates. Every 5 epochs it prints w, the loss of the last
sample (after its step) and the three per-sample gradients, as the tutorial does:
epoch 0 gives grads -2, -7.84, -16.23, then w = 1.26 and loss = 4.92. The prediction
for x = 4 goes from 4.0 to the tutorial's 7.8049 after 10 epochs, and to about 8.0
after 40.

    python examples/gradient_descent.py
    symdiff emit examples/gradient_descent.py:mse --wrt w,b --shape x=5 --shape y=5
"""

import inspect

import numpy as np

import symdiff


def mse(w, b, x, y):
    y_hat = w * x + b
    return np.mean((y_hat - y) ** 2)


def squared_error(w, x, y):
    y_hat = w * x
    return (y_hat - y) ** 2


def part1(lr=0.01):
    x = np.arange(1.0, 6.0)
    y = 2 * x
    grad_mse = symdiff.grad(mse, argnums=(0, 1))
    w, b = 5.0, 1.0
    dw, db = grad_mse(w, b, x, y)
    print(f"one step on mean((w x + b - y)^2) from w = {w:g}, b = {b:g}")
    print(f"  dloss/dw = {dw:g}")
    print(f"  dloss/db = {db:g}")
    print(f"  batch step: w = {w - lr * dw:.4f}, b = {b - lr * db:.4f}")

    w, b = 5.0, 1.0
    for xi, yi in zip(x, y):  # one step per sample: the loss of that sample alone
        dw, db = grad_mse(w, b, np.array([xi]), np.array([yi]))
        w, b = w - lr * dw, b - lr * db
    print(f"  per-sample pass: w = {w:.4f}, b = {b:.4f}")
    print("\nThe generated gradient (symdiff emit examples/gradient_descent.py:mse ...):\n")
    print(inspect.getsource(grad_mse.compile(5.0, 1.0, x, y).grad))


def part2(epochs=40, lr=0.01):
    x_data, y_data = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    grad = symdiff.grad(squared_error)
    w = 1.0
    print(f"predict (before training) x = 4: {4 * w:g}")
    for epoch in range(epochs):
        grads = []
        for x, y in zip(x_data, y_data):
            dw = grad(w, x, y)
            w -= lr * dw
            grads.append(dw)
            loss = squared_error(w, x, y)  # after the step, as the tutorial prints it
        if epoch % 5 == 0:
            print(f"epoch {epoch:2d}  w = {w:.6f}  loss = {loss:.6g}  "
                  f"grads = {[round(g, 6) for g in grads]}")
        if epoch == 9:
            print(f"predict (after 10 epochs) x = 4: {4 * w:.4f}")
    print(f"predict (after training) x = 4: {4 * w:.4f}")


def main():
    part1()
    part2()


if __name__ == "__main__":
    main()
