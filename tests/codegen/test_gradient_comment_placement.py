"""`# gradient of line N` comments open the code that differentiation computed, never a
value the forward pass computes (the forward function shares those values)."""

import numpy as np

from symdiff.compile import compile_gradient


def logistic(w, b, X, y):
    logits = X @ w + b
    p = 1 / (1 + np.exp(-logits))
    loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return loss


def _body(source: str, name: str) -> list[str]:
    lines = source.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"def {name}(")))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("def ")),
               len(lines))
    return [line.strip() for line in lines[start:end]]


def test_forward_values_print_before_the_first_gradient_comment():
    rng = np.random.default_rng(3)
    args = (rng.normal(size=3), 0.25, rng.normal(size=(20, 3)),
            (rng.random(20) > 0.5).astype(float))
    source = compile_gradient(logistic, args, (0, 1),
                              kinds=("grad", "value_and_grad")).source
    for name, forward in (("grad_logistic", ["logits"]),
                          ("value_and_grad_logistic", ["logits", "loss"])):
        body = _body(source, name)
        first_comment = next(i for i, line in enumerate(body)
                             if line.startswith("# gradient of line"))
        for value in forward:
            assigned = next(i for i, line in enumerate(body) if line.startswith(f"{value} = "))
            assert assigned < first_comment, (name, value, body)
        assert body[first_comment + 1].startswith("_t"), body  # the first gradient statement
