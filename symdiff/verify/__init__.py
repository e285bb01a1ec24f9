"""Stage 6, verify: numerical gradient checks (`numerical`), the hand-derivative
checker (`hand`, `proof`) and its formula language (`formula`)."""


from .numerical import GradcheckReport, gradcheck, numerical_gradient, sample_args, verify_compiled

__all__ = ["GradcheckReport", "gradcheck", "numerical_gradient", "sample_args", "verify_compiled"]
