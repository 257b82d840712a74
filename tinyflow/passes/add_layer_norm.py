"""Compute a residual add and the layer norm of its sum in one pass.

A pre-norm transformer's stream is `x = x + f(layer_norm(x))`: each block's add is read by
the next block's layer norm, which reads the whole sum again. `AddLayerNorm` writes the sum
and normalizes each row while it is in cache; the sum and the normalized values are the two
halves of its output (getitem views), so the add's other readers (the next residual add,
the layer norm's backward) read the first.

Only an add of two values of one static shape and dtype (no broadcasting) is joined, with
the first layer norm reading it, whose scale and shift are made before the add.
"""
from __future__ import annotations

from ..ops.fused import AddLayerNorm
from ..ops.math import Add
from ..ops.normalization import LayerNorm
from ..ops.shape import GetItem
from .emit import Emitter, spliced, static
from .program import Program, is_pure


def add_layer_norm(program: Program) -> Program:
    """Each add whose sum a layer norm reads, with that layer norm, as one step."""
    emit = Emitter(program)
    at: dict = {}
    for n, step in enumerate(program.steps):
        norm_at = _normalized_sum(program, n, step)
        if norm_at is None or norm_at in at:
            continue
        norm = program.steps[norm_at]
        both = emit(AddLayerNorm(eps=norm.op.eps), *step.inputs, *norm.inputs[1:])
        emit(GetItem(index=(0,)), both, output=step.output, name=step.name)
        at[n] = emit.take()
        emit(GetItem(index=(1,)), both, output=norm.output, name=norm.name)
        at[norm_at] = emit.take()
    if not at:
        return program
    return program.with_steps(spliced(program, at), num_slots=emit.num_slots, note=(
        "add_layer_norm", f"joined {len(at) // 2} add(s) with the layer norm of the sum"))


def _normalized_sum(program: Program, n: int, add):
    """The index of the first layer norm reading the sum of the add at step n, if the two
    can be one step."""
    if type(add.op) is not Add or not is_pure(add, program) or not static(add.shape):
        return None
    a, b = add.inputs
    if program.value_of(a) != (add.shape, add.dtype) or program.value_of(b) != (
            add.shape, add.dtype):
        return None
    for m in program.readers.get(add.output, ()):
        norm = program.steps[m]
        if type(norm.op) is LayerNorm and norm.inputs[0] == add.output:
            if (is_pure(norm, program) and norm.dtype == add.dtype
                    and add.output not in norm.inputs[1:]
                    and all(program.producer.get(p, -1) < n for p in norm.inputs[1:])):
                return m
            return None
    return None
