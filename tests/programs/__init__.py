"""Time-stepping programs written as a scientist would: plain NumPy, no symdiff.

Each module holds the function to differentiate and a `make_inputs(steps, seed)`
helper that draws a well-conditioned problem of that many steps."""
