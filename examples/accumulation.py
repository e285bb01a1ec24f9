"""4. Why PyTorch's `.grad` accumulates, and why symdiff's gradients do not.

The PyTorch tutorial loop:

    weights = torch.ones(4, requires_grad=True)
    for epoch in range(3):
        model_output = (weights * 3).sum()
        model_output.backward()
        print(weights.grad)     # tensor([3., 3., 3., 3.]), then [6, ...], then [9, ...]
        # weights.grad.zero_()  # the fix: without it, gradients pile up

`backward()` *adds* into `weights.grad` (so that gradients of several losses, or of
several mini-batches, can be summed before a step), which is why training loops call
`optimizer.zero_grad()`. The state lives in the tensor.

symdiff is functional, as JAX is: `grad(f)` is a function from arguments to the
gradient, with no state anywhere, so the same loop prints 3, 3, 3 with no `zero_()`.
To sum gradients, add them yourself; that is the whole of "accumulation".

    python examples/accumulation.py
"""

import numpy as np

import symdiff


def model_output(weights):
    return np.sum(weights * 3)


class Tensor:
    """Just enough of a PyTorch leaf tensor to show where `.grad` comes from."""

    def __init__(self, data):
        self.data = data
        self.grad = None

    def backward_into(self, fn):
        """What `fn(self).backward()` does to `self.grad`: add, never overwrite."""
        g = symdiff.grad(fn)(self.data)
        self.grad = g if self.grad is None else self.grad + g

    def zero_(self):
        self.grad = np.zeros_like(self.data)


def main():
    weights = Tensor(np.ones(4))
    print("PyTorch's semantics (a simulated .grad, no zero_()):")
    for epoch in range(3):
        weights.backward_into(model_output)
        print(f"  epoch {epoch}: weights.grad = {weights.grad.tolist()}")

    weights = Tensor(np.ones(4))
    print("PyTorch's semantics with weights.grad.zero_() after each step:")
    for epoch in range(3):
        weights.backward_into(model_output)
        print(f"  epoch {epoch}: weights.grad (zeroed) = {weights.grad.tolist()}")
        weights.zero_()

    grad_fn = symdiff.grad(model_output)
    w = np.ones(4)
    print("symdiff (functional):")
    for epoch in range(3):
        print(f"  epoch {epoch}: grad = {grad_fn(w).tolist()}")

    # Summing gradients on purpose (e.g. over mini-batches) is explicit:
    total = sum(grad_fn(w) for _ in range(3))
    print(f"  explicit sum of three = {total.tolist()}")


if __name__ == "__main__":
    main()
