"""Benchmarks: symdiff's generated gradients timed side by side with hand-written NumPy
and with JAX, PyTorch, HIPS autograd and naive SymPy. Run ``python benchmarks/run.py``."""
