"""Short-row kernels: a softmax or a sum over a short last axis (a classifier's 10 classes)
runs the backend's row loops (`backend/numpy/rows.py`) instead of NumPy's reductions, whose
per-call set-up dominates at that size. A per-shape pass (it needs the recorded shapes); the
steps keep their ops, only their kernels change. At code generation (`row_joins`) a
softmax and its cross-entropy, and the logits' gradient and its row sum, become one row
kernel each: the seed's loss and gradient in two passes over the logits instead of five."""
from __future__ import annotations

import dataclasses

from ..backend.numpy import rows
from ..backend.numpy.registry import KERNELS
from ..ops.fused import FusedElementwise
from ..ops.math import Mul, Sub
from ..ops.nn import Softmax, SoftmaxCrossEntropy
from ..ops.reduce import Sum
from .program import Program

ROW_KERNELS = {Softmax: rows.softmax_rows, Sum: rows.sum_rows}


def row_kernels(program: Program) -> Program:
    """`program` with the row loops as the kernel of each softmax and sum over the last axis
    of a recorded input whose rows are short (and not cast: the loops keep the dtype)."""
    steps, changed = [], 0
    for step in program.steps:
        kernel = ROW_KERNELS.get(type(step.op))
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


@dataclasses.dataclass
class RowJoin:
    """Two steps run as one row kernel at step `at`: the step `absorbed` then emits
    nothing; `kernel(*inputs, out=)` gives the values of `outputs` (a tuple when two)."""
    at: int
    absorbed: int
    inputs: tuple
    outputs: tuple
    kernel: object


def row_joins(program: Program, buffers) -> list:
    """A codegen decision over the final program and its buffer plan: a short-row softmax
    and the cross-entropy of the same logits computed together (at the softmax, the loss
    into a fresh array), and the logits' gradient `g - y * sum(g, -1)` with its row sum
    (at the gradient; the sum, read by nothing else, is never stored)."""
    joins, used = [], set()
    for n, step in enumerate(program.steps):
        for find in (_softmax_xent, _softmax_grad):
            join = find(program, buffers, n, step)
            if join is not None and not {join.at, join.absorbed} & used:
                joins.append(join)
                used |= {join.at, join.absorbed}
                break
    return joins


def _untouched(program: Program, buffers, slots: set, start: int, stop: int) -> bool:
    """No step in [start, stop] writes any of `slots` in place."""
    for m in range(start, stop + 1):
        s = program.steps[m]
        w = getattr(s.op, "writes_input", None)
        if buffers.out_state.get(m) in slots or (w is not None and s.inputs[w] in slots):
            return False
    return True


def _two_d(rec) -> bool:
    return (rec is not None and not rec.cast and rec.layout is None and rec.shape is not None
            and len(rec.shape) == 2 and 0 < rec.shape[1] <= rows.MAX_ROW)


def _softmax_xent(program: Program, buffers, n: int, step):
    if step.kernel is not rows.softmax_rows or not _two_d(step.record) or step.control \
            or n in buffers.out_state:
        return None
    (logits,) = step.inputs
    for c in program.readers.get(logits, ()):
        loss = program.steps[c]
        if (c > n and type(loss.op) is SoftmaxCrossEntropy and loss.inputs[1] == logits
                and not loss.control and buffers.out_buffer[c] is None
                and c not in buffers.out_state and loss.record is not None
                and not loss.record.cast and loss.record.dtype == step.record.dtype
                and loss.output not in program.waited_for
                and _untouched(program, buffers, set(loss.inputs), n, c)):
            labels = loss.inputs[0]
            if program.producer.get(labels, -1) > n:
                continue     # the labels are made after the softmax
            softmax, xent = KERNELS[Softmax], KERNELS[SoftmaxCrossEntropy]

            def run(x, y_, out=None, _op=step.op, _loss=loss.op):
                both = rows.softmax_xent_rows(x, y_, out)
                return both if both is not None else (softmax(_op, x, out=out),
                                                      xent(_loss, y_, x))
            return RowJoin(n, c, (logits, labels), (step.output, loss.output), run)
    return None


def _softmax_grad(program: Program, buffers, n: int, step):
    op = step.op
    if (type(op) is not FusedElementwise or len(op.members) != 2 or op.num_inputs != 3
            or type(op.members[0]) is not Mul or type(op.members[1]) is not Sub
            or not _two_d(step.record) or step.control or n in buffers.out_state):
        return None
    (g_at, product), mul = op.args[1], set(op.args[0])
    if product != 3 or len(mul) != 2 or g_at in mul:
        return None
    for s_at in mul:
        y_at = (mul - {s_at}).pop()
        r = program.producer.get(step.inputs[s_at])
        total = None if r is None else program.steps[r]
        if (total is not None and total.kernel is rows.sum_rows and total.op.keepdims
                and total.inputs[0] == step.inputs[g_at] and not total.control
                and set(program.readers.get(total.output, ())) == {n}
                and total.output not in program.fetches
                and total.output not in program.waited_for
                and total.record.dtype == step.record.dtype
                and _untouched(program, buffers, {step.inputs[g_at], step.inputs[y_at]},
                               r, n)):
            fused, summed = KERNELS[FusedElementwise], rows.sum_rows

            def run(y, g, out=None, _op=op, _sum=total.op, _at=(y_at, s_at, g_at)):
                value = rows.softmax_grad_rows(y, g, out)
                if value is not None:
                    return value
                arrays = [None] * 3
                arrays[_at[0]], arrays[_at[1]], arrays[_at[2]] = y, summed(_sum, g), g
                return fused(_op, *arrays, out=out)
            return RowJoin(n, r, (step.inputs[y_at], step.inputs[g_at]), (step.output,),
                           run)
    return None
