"""Stage 6, verify: numerical gradient checks (`numerical`, its report in
`gradcheck_report`), the hand-derivative checker (`hand`, `proof`, its answer in
`verdict`) and its formula language (`formula`)."""


from .gradcheck_report import GradcheckReport
from .numerical import gradcheck, numerical_gradient, sample_args, verify_compiled

__all__ = ["GradcheckReport", "gradcheck", "numerical_gradient", "sample_args", "verify_compiled"]
