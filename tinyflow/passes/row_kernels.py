"""Short-row kernels: a softmax or a sum over a short last axis (a classifier's 10 classes)
runs the backend's row loops (`backend/numpy/rows.py`) instead of NumPy's reductions, whose
per-call set-up dominates at that size. A per-shape pass (it needs the recorded shapes); the
steps keep their ops, only their kernels change."""
from __future__ import annotations

from ..backend.numpy import rows
from ..ops.nn import Softmax
from ..ops.reduce import Sum
from .program import Program

KERNELS = {Softmax: rows.softmax_rows, Sum: rows.sum_rows}


def row_kernels(program: Program) -> Program:
    """`program` with the row loops as the kernel of each softmax and sum over the last axis
    of a recorded input whose rows are short (and not cast: the loops keep the dtype)."""
    steps, changed = [], 0
    for step in program.steps:
        kernel = KERNELS.get(type(step.op))
        rec = step.record
        if kernel is not None and step.kernel is None and not rec.cast:
            shape, dtype = program.value_of(step.inputs[0])
            x = program.made_by(step.inputs[0])
            x_shape = x.record.shape if x is not None else shape
            if x_shape is not None and None not in x_shape and rows.covers(
                    tuple(x_shape), step.op.axis, rec.dtype) and dtype.np == rec.dtype:
                step = step.replace(kernel=kernel)
                changed += 1
        steps.append(step)
    if not changed:
        return program
    return program.with_steps(steps, note=("row_kernels", f"{changed} short-row kernel(s)"))
