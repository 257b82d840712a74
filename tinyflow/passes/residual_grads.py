"""Join a layer norm's input gradient with the residual gradient added to it.

In a pre-norm block `x + f(layer_norm(x))` the gradient of x is `r + dx`: r the residual
stream's, dx the layer norm's (rows of a `LayerNormGrads` step, getitem then reshape). The
add is one more pass over three arrays of x's size; `LayerNormGradsAdd` adds r to each row
of dx in the backward loop while the row is in cache, and the add's readers read dx's rows.

Only a dx read by the add alone (through its getitem and reshape) is joined, when every
other reader of the `LayerNormGrads` value takes the parameter rows after dx's, r has x's
static shape and dtype, is made before the layer norm's backward and is not overwritten
before the add.
"""
from __future__ import annotations

from ..ops.fused import LayerNormGradsAdd
from ..ops.math import Add
from ..ops.normalization import LayerNormGrads
from ..ops.shape import GetItem, Reshape
from .emit import private, spliced, static
from .program import Program, is_pure


def residual_grads(program: Program) -> Program:
    """Each `r + dx` of a layer norm's input gradient dx as one `LayerNormGradsAdd` step;
    dx's getitem (and reshape) move to the add's place and write the add's slot."""
    at: dict = {}
    for n, step in enumerate(program.steps):
        if type(step.op) is not Add or not is_pure(step, program):
            continue
        for k in (0, 1):
            found = _joinable(program, n, step, k)
            if found is None or found[0] in at:
                continue
            grads_at, chain = found
            grads = program.steps[grads_at]
            at[grads_at] = [grads.replace(op=LayerNormGradsAdd(eps=grads.op.eps),
                                          inputs=grads.inputs + (step.inputs[1 - k],))]
            moved = [program.steps[m] for m in chain]
            at.update({m: [] for m in chain})
            at[n] = moved[:-1] + [moved[-1].replace(output=step.output, name=step.name)]
            break
    if not at:
        return program
    joined = sum(type(s.op) is Add for n, s in enumerate(program.steps) if n in at)
    return program.with_steps(spliced(program, at), note=(
        "residual_grads", f"joined {joined} residual gradient add(s) with layer norm "
                          f"backward"))


def _joinable(program: Program, n: int, add, k: int):
    """(index of the `LayerNormGrads` step, indices of dx's getitem and reshape) if input k
    of the add at step n is a layer norm's dx that may absorb the add's other input r."""
    dx, r = add.inputs[k], add.inputs[1 - k]
    if dx == r or private(program, dx) != n:
        return None
    chain = program.made_by(dx, GetItem, Reshape)
    if chain is None:
        return None
    moved = [program.producer[dx]]
    if isinstance(chain.op, Reshape):
        if private(program, chain.inputs[0]) != program.producer[dx] or not is_pure(
                chain, program):
            return None
        chain = program.made_by(chain.inputs[0], GetItem)
        if chain is None:
            return None
        moved.insert(0, program.producer[chain.output])
    if not is_pure(chain, program):
        return None
    grads_at = program.producer.get(chain.inputs[0])
    grads = None if grads_at is None else program.steps[grads_at]
    if grads is None or type(grads.op) is not LayerNormGrads or not is_pure(grads, program):
        return None
    x = grads.inputs[1]
    x_shape, dtype = program.value_of(x)
    rows = grads.shape[0] - 2 if static(grads.shape) else None
    if (rows is None or not static(x_shape) or program.value_of(r) != (x_shape, dtype)
            or program.value_of(dx) != (x_shape, dtype) or add.shape != x_shape
            or chain.op.index != (slice(None, rows, None),)
            or program.producer.get(r, -1) > grads_at
            or program.written_between(grads_at, n, (r,))
            or grads.output in program.fetches or grads.output in program.waited_for):
        return None
    others = [program.steps[m] for m in program.readers[grads.output]
              if program.steps[m] is not chain]
    if not all(isinstance(s.op, GetItem) and _after_rows(s.op.index, rows) for s in others):
        return None
    return grads_at, moved


def _after_rows(index: tuple, rows: int) -> bool:
    """Whether a getitem `index` reads only rows `rows` and later (the parameter gradients)."""
    first = index[0] if index else None
    if isinstance(first, int):
        return first >= rows
    return isinstance(first, slice) and first.start is not None and first.start >= rows \
        and (first.step is None or first.step > 0)
