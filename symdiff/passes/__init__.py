"""Stage 4, simplify: fusion, value numbering, constant folding, reduction rewrites,
numerically stable rewrites, and the straight-line program (`simplify.to_program`)."""
