"""Every `# gradient of line N: <statement>` comment quotes a line of the user's file,
for every kind of derivative, when `symdiff emit` runs from a console-script launcher
(whose `sys.exit(main())` was once quoted above Hessian code)."""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "examples", "mlp.py")
COMMENT = re.compile(r"# gradient of line (\d+): (.*)")


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    """A script like the one pip installs as `symdiff`."""
    path = tmp_path_factory.mktemp("bin") / "symdiff"
    path.write_text("import sys\nfrom symdiff.cli import main\n\n\n"
                    "if __name__ == '__main__':\n    sys.exit(main())\n")
    return path


@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "hessian", "jacobian", "vjp",
                                  "jvp"])
def test_every_gradient_comment_quotes_the_users_file(kind, launcher):
    out = subprocess.run(
        [sys.executable, str(launcher), "emit", f"{MLP}:loss", "--wrt", "W1,b1,W2,b2",
         "--example", "make_inputs", "--emit", kind],
        capture_output=True, text=True, timeout=300, check=True).stdout
    with open(MLP, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    comments = COMMENT.findall(out)
    assert comments, out
    for number, text in comments:
        assert lines[int(number) - 1].strip() == text, (number, text)
    # only the statements of `loss` that have a derivative: lines 10, 11 and 12 (a
    # fused forward-mode tangent may cover several under the first one's comment)
    assert {int(n) for n, _ in comments} <= {10, 11, 12}
    if kind in ("grad", "value_and_grad"):
        assert [int(n) for n, _ in comments] == [12, 11, 10]
