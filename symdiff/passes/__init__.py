"""Stage 4, simplify: fusion, value numbering, constant folding, reduction rewrites,
numerically stable rewrites, and the straight-line program (`program.to_program`)."""
