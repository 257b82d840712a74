"""Compute a GELU's gradient and the bias gradient of the Linear before it in one pass.

`gelu(x @ W + b)` differentiates to dh = gelu_grad(g, x) and, for b, the sum of dh over its
leading dims (a `Sum` of dh's 2-D reshape, or a `SumTo` the bias's shape): a second pass
over the MLP's largest activation. `GeluGradSum` adds each row of dh into the column sums
as it writes the row; dh is then a view of its rows and the sum a copy of its last row.

Only a sum of every leading dim of a gradient with static shape, g and x of one shape and
dtype, is joined (one sum per gradient).
"""
from __future__ import annotations

import math

from ..core.shapes import normalize_axes
from ..ops.activation import GeluGrad
from ..ops.fused import GeluGradSum
from ..ops.reduce import Sum
from ..ops.shape import Copy, GetItem, Reshape, ReshapeTo, SumTo
from .emit import Emitter, spliced, static
from .program import Program, is_pure


def bias_grads(program: Program) -> Program:
    """Each column sum of a GELU gradient computed with it by one `GeluGradSum` step."""
    emit = Emitter(program)
    at: dict = {}
    for n, step in enumerate(program.steps):
        gelu_at = _summed_gelu_grad(program, n, step)
        if gelu_at is None or gelu_at in at:
            continue
        grad = program.steps[gelu_at]
        rows = math.prod(grad.shape[:-1])
        both = emit(GeluGradSum(approximate=grad.op.approximate), *grad.inputs)
        dh = emit(GetItem(index=(slice(None, rows, None),)), both)
        emit(Reshape(shape=grad.shape), dh, output=grad.output, name=grad.name)
        # the sum copied out at once: a view would keep the whole gradient alive until
        # the bias's (late) update reads it
        emit(Copy(), emit(GetItem(index=(rows,)), both), output=step.output, name=step.name)
        at[gelu_at] = emit.take()
        at[n] = []
    if not at:
        return program
    return program.with_steps(spliced(program, at), num_slots=emit.num_slots, note=(
        "bias_grads", f"joined {len(at) // 2} bias gradient sum(s) with their GELU gradient"))


def _summed_gelu_grad(program: Program, n: int, step):
    """The index of the `GeluGrad` step whose every leading dim step n sums, if any."""
    if not is_pure(step, program) or not static(step.shape) or len(step.shape) != 1:
        return None
    source = step.inputs[0]
    if type(step.op) is Sum and not step.op.keepdims:
        reshaped = program.made_by(source, Reshape, ReshapeTo)
        if reshaped is not None and is_pure(reshaped, program):
            source = reshaped.inputs[0]
            summed = program.value_of(reshaped.output)[0]
        else:
            summed = program.value_of(source)[0]
        if not static(summed) or summed[-1:] != step.shape or step.op.axis is None or sorted(
                normalize_axes(step.op.axis, len(summed))) != list(range(len(summed) - 1)):
            return None
    elif type(step.op) is not SumTo or step.op.axes:
        return None
    gelu_at = program.producer.get(source)
    grad = None if gelu_at is None else program.steps[gelu_at]
    if (grad is None or type(grad.op) is not GeluGrad or not is_pure(grad, program)
            or not static(grad.shape) or len(grad.shape) < 2 or grad.shape[-1:] != step.shape
            or step.dtype != grad.dtype
            or program.value_of(grad.inputs[0]) != program.value_of(grad.inputs[1])
            or program.value_of(grad.inputs[0])[0] != grad.shape):
        return None
    return gelu_at
