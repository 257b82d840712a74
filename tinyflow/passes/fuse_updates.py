"""Fused gradient-descent updates: `assign(w, w - lr * matmul(a, b))` of a variable becomes
one `FusedUpdate` step, whose kernel computes the product a block of rows at a time and
subtracts each block from w in place, so the full weight gradient (the largest value of an
MLP's backward pass) never exists. A per-shape pass: it needs the recorded shapes."""
from __future__ import annotations

import dataclasses

from ..backend.numpy.linalg import block_rows
from ..ops.linalg import MatMul
from ..ops.math import Mul, Sub
from ..ops.state import Assign, FusedUpdate
from .memory import fetched_roots, root_readers, value_roots
from .program import Program


def fuse_updates(program: Program) -> Program:
    """Replace each matmul -> scale -> subtract -> assign chain of a variable, whose
    intermediate values nothing else reads, by one `FusedUpdate` at the assign's place."""
    roots = value_roots(program)
    readers, fetched = root_readers(program, roots), fetched_roots(program, roots)
    fused, drop = {}, set()
    for n, step in enumerate(program.steps):
        chain = _update_chain(program, n)
        if chain is None:
            continue
        mm, scale, sub, lr, lr_first = chain
        w, (a, b) = step.inputs[0], mm.inputs
        if w in roots[a] or w in roots[b]:
            continue    # the product reads w itself: it cannot be overwritten block by block
        if w in fetched or any(r > n for r in readers.get(w, ())):
            continue    # the old value is read after the update: it may not be in place
        rec = mm.record
        rows = block_rows(rec.shape, rec.dtype.itemsize)
        row_bytes = rec.nbytes // rec.shape[0]
        written = step.record.bytes_written
        record = dataclasses.replace(
            rec, shape=(rows, rec.shape[1]), nbytes=rows * row_bytes, aliases=(),
            flops=sum(s.record.flops for s in (mm, scale, sub)),
            bytes_read=sum(s.record.bytes_read for s in (mm, scale, sub))
            - mm.record.bytes_written - scale.record.bytes_written,   # not the intermediates
            bytes_written=written)
        op = FusedUpdate(transpose_a=mm.op.transpose_a, transpose_b=mm.op.transpose_b,
                         lr_first=lr_first)
        fused[n] = step.replace(op=op, inputs=(w, a, b, lr), record=record, kernel=None)
        drop |= {program.producer[s.output] for s in (mm, scale, sub)}
    if not fused:
        return program
    steps = [fused.get(n, s) for n, s in enumerate(program.steps) if n not in drop]
    return program.with_steps(steps, note=("fuse_updates", f"fused {len(fused)} update(s) of "
                                                           f"{len(drop) + len(fused)} step(s)"))


def update_pattern(program: Program, n: int):
    """(matmul, mul, sub steps, lr slot, lr_first) if step n assigns `w - lr * matmul(a, b)`
    (or `g * lr`) to a variable w, each value read only by the next step: the shape of a
    blocked update, static (elementwise fusion leaves these steps to this pass)."""
    step = program.steps[n]
    if type(step.op) is not Assign or program.readers.get(step.output):
        return None
    w, value = step.inputs
    ext = program.externals.get(w)
    sub = _only_input(program, value, n, Sub)
    if ext is None or ext.kind != "variable" or sub is None or sub.inputs[0] != w:
        return None
    scale = _only_input(program, sub.inputs[1], program.producer[sub.output], Mul)
    if scale is None:
        return None
    m = program.producer[scale.output]
    x, y = scale.inputs
    lr_first = _only_input(program, y, m, MatMul) is not None
    lr, grad = (x, y) if lr_first else (y, x)
    mm = _only_input(program, grad, m, MatMul)
    return None if mm is None else (mm, scale, sub, lr, lr_first)


def _update_chain(program: Program, n: int):
    """`update_pattern` where the recorded values allow the blocked kernel: the update is
    not fetched, w is a matrix, lr a scalar, one dtype throughout, no step casts."""
    found = update_pattern(program, n)
    step = program.steps[n]
    if found is None or step.output in program.fetches:
        return None     # (a fetched update stays: measured slower fused on W1's 784 x 10)
    mm, scale, sub, lr, lr_first = found
    w = step.inputs[0]
    shape, dtype = step.record.shape, step.record.dtype
    if (len(shape) != 2 or shape[0] == 0 or _shape(program, lr) != ()
            or any(s.record.cast for s in (mm, scale, sub))
            or mm.record.shape != shape or _shape(program, w) != shape
            or {s.record.dtype for s in (mm, scale, sub)} != {dtype}
            or program.externals[w].dtype.np != dtype):
        return None
    return found


def _only_input(program: Program, slot: int, n: int, cls):
    """The step producing `slot` if it is a `cls`, read only by step n and waited for by
    none; else None."""
    step = program.made_by(slot, cls)
    if (step is None or type(step.op) is not cls or program.only_reader(slot) != n
            or step.control or slot in program.waited_for):
        return None
    return step


def _shape(program: Program, slot: int):
    """The recorded shape of a slot (an external's static one)."""
    step = program.made_by(slot)
    if step is not None:
        return step.record.shape
    ref = program.externals[slot].ref
    return getattr(ref, "shape", None) if program.externals[slot].kind == "const" else \
        program.externals[slot].shape

