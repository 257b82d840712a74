"""Merge matmuls that share an input (Q/K/V projections of one `h`) into one wider matmul.

`h @ Wq`, `h @ Wk`, `h @ Wv` become `h @ concat([Wq, Wk, Wv], -1)` and slices of the result
(views, no copy); `Wa @ x`, `Wb @ x` stack the weights' rows instead, and linear layers
(`affine(x, w, b)`) concatenate weights and biases. One product reads `h` once and runs one
larger, more efficient GEMM.

The honest cost: the weights' concat runs on every run (weights are variables and may change
between runs), so it copies every weight once per run. That is why only parameters are merged
(operands with no feed upstream, see `emit.parameters`): merging the products of a backward
pass would copy activation-sized gradients instead. With constant weights (inference) a
constant-folding pass can fold the concat away.
"""
from __future__ import annotations

from ..ops.linalg import Affine, MatMul
from ..ops.shape import Concat, GetItem
from .emit import Emitter, parameters, spliced, static
from .program import Program


def merge_matmuls(program: Program) -> Program:
    """Merge products sharing an operand into concat + one product + slices."""
    groups: dict = {}
    weights = parameters(program)
    for n, s in enumerate(program.steps):
        key = _group_key(program, s, weights)
        if key is not None:
            groups.setdefault(key, []).append(n)
    emit = Emitter(program)
    at: dict = {}        # step index -> the steps replacing it (empty: removed)
    merged = products = 0
    for key, members in groups.items():
        members = _defined_before(program, members)
        if len(members) < 2:
            continue
        at[members[0]] = _merge(program, emit, [program.steps[n] for n in members], key)
        for n in members[1:]:
            at[n] = []
        merged, products = merged + 1, products + len(members)
    if not merged:
        return program
    return program.with_steps(spliced(program, at), num_slots=emit.num_slots, note=(
        "merge_matmuls", f"merged {products} products sharing an input into {merged} "
                         f"(their weights concatenated each run)"))


def _group_key(program: Program, s, weights: set):
    """(op class, flags, shared slot, its position, the weights' dtype and shape off the
    concat axis), or None if the step cannot be merged."""
    if s.control:
        return None
    if isinstance(s.op, Affine):
        x, w, b = s.inputs
        ws, wt = program.value_of(w)
        bs, bt = program.value_of(b)
        if not (static(ws) and static(bs) and wt == bt and w in weights
                and b in weights):
            return None
        return (Affine, (), x, 0, wt, ws[1:])
    if not isinstance(s.op, MatMul) or s.inputs[0] == s.inputs[1]:
        return None
    flags = (s.op.transpose_a, s.op.transpose_b)
    for position in (0, 1):
        shared, weight = s.inputs[position], s.inputs[1 - position]
        shape, dtype = program.value_of(weight)
        if not static(shape) or len(shape) < 2 or dtype != program.value_of(shared)[1] \
                or weight not in weights:
            continue
        axis = _concat_axis(position, flags)
        rest = tuple(d for i, d in enumerate(shape) if i != len(shape) + axis)
        return (MatMul, flags, shared, position, dtype, (len(shape), rest))
    return None


def _concat_axis(position: int, flags: tuple) -> int:
    """Axis of the weight that becomes the output's columns (shared left operand) or rows
    (shared right operand)."""
    transposed = flags[1 - position]
    if position == 0:
        return -2 if transposed else -1
    return -1 if transposed else -2


def _defined_before(program: Program, members: list) -> list:
    """The members whose operands all exist, unchanged, at the first member's position (the
    merged product runs there)."""
    first = members[0]
    ok = [first]
    for n in members[1:]:
        ins = program.steps[n].inputs
        if (all(program.producer.get(i, -1) < first for i in ins)
                and not program.written_between(first, n, ins)):
            ok.append(n)
    return ok


def _merge(program: Program, emit: Emitter, steps: list, key) -> list:
    op_class, flags, shared, position = key[:4]
    if op_class is Affine:
        w = emit(Concat(axis=0), *[s.inputs[1] for s in steps])
        b = emit(Concat(axis=0), *[s.inputs[2] for s in steps])
        out = emit(Affine(), shared, w, b)
        axis, sizes = -1, [program.value_of(s.inputs[1])[0][0] for s in steps]
    else:
        axis = _concat_axis(position, flags)
        weights = [s.inputs[1 - position] for s in steps]
        w = emit(Concat(axis=axis), *weights)
        inputs = (shared, w) if position == 0 else (w, shared)
        out = emit(steps[0].op, *inputs)
        axis = -1 if position == 0 else -2
        sizes = [program.value_of(x)[0][_concat_axis(position, flags)] for x in weights]
    start = 0
    for s, size in zip(steps, sizes):
        piece = (slice(start, start + size),) + (slice(None),) * (-1 - axis)
        emit(GetItem(index=(Ellipsis,) + piece), out, output=s.output, name=s.name)
        start += size
    return emit.take()
