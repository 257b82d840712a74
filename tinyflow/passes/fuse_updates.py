"""Fused gradient-descent updates: `assign(w, w - lr * matmul(a, b))` of a variable becomes
one `FusedUpdate` step, whose kernel computes the product a block of rows at a time and
subtracts each block from w in place, so the full weight gradient (the largest value of an
MLP's backward pass) never exists. Under autocast the product is bfloat16 (or float16) cast
to w's float32: `w - lr * cast(matmul(a, b))` fuses too. A per-shape pass: it needs the
recorded shapes."""
from __future__ import annotations

import dataclasses

from ..backend.numpy.linalg import block_rows
from ..core.dtypes import REDUCED_NUMPY
from ..ops.linalg import MatMul
from ..ops.math import Cast, Mul, Sub
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
        mm, scale, sub, lr, lr_first, cast = chain
        w, (a, b) = step.inputs[0], mm.inputs
        if w in roots[a] or w in roots[b]:
            continue    # the product reads w itself: it cannot be overwritten block by block
        if w in fetched or any(r > n for r in readers.get(w, ())):
            continue    # the old value is read after the update: it may not be in place
        rec, chain_steps = mm.record, (mm, scale, sub) + ((cast,) if cast else ())
        dtype = step.record.dtype          # the scratch rows are w's dtype
        rows = block_rows(rec.shape, dtype.itemsize)
        written = step.record.bytes_written
        record = dataclasses.replace(
            rec, shape=(rows, rec.shape[1]), dtype=dtype,
            nbytes=rows * rec.shape[1] * dtype.itemsize, aliases=(),
            flops=sum(s.record.flops for s in chain_steps),
            bytes_read=sum(s.record.bytes_read for s in chain_steps)
            - sum(s.record.bytes_written for s in chain_steps if s is not sub),
            bytes_written=written)   # (not the intermediates)
        op = FusedUpdate(transpose_a=mm.op.transpose_a, transpose_b=mm.op.transpose_b,
                         lr_first=lr_first)
        fused[n] = step.replace(op=op, inputs=(w, a, b, lr), record=record, kernel=None)
        drop |= {program.producer[s.output] for s in chain_steps}
    if not fused:
        return program
    steps = [fused.get(n, s) for n, s in enumerate(program.steps) if n not in drop]
    return program.with_steps(steps, note=("fuse_updates", f"fused {len(fused)} update(s) of "
                                                           f"{len(drop) + len(fused)} step(s)"))


def update_pattern(program: Program, n: int):
    """(matmul, mul, sub steps, lr slot, lr_first, cast step or None) if step n assigns
    `w - lr * matmul(a, b)` (or `g * lr`, or a cast of the product) to a variable w, each
    value read only by the next step: the shape of a blocked update, static (elementwise
    fusion leaves these steps to this pass)."""
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
    lr_first = _product(program, y, m) is not None
    lr, grad = (x, y) if lr_first else (y, x)
    found = _product(program, grad, m)
    return None if found is None else (found[0], scale, sub, lr, lr_first, found[1])


def _product(program: Program, slot: int, n: int):
    """(matmul step, None) if `slot` is a product read only by step n; (matmul step, cast
    step) if it is the cast of one (autocast: a low-precision product cast to w's dtype)."""
    mm = _only_input(program, slot, n, MatMul)
    if mm is not None:
        return mm, None
    cast = _only_input(program, slot, n, Cast)
    mm = cast and _only_input(program, cast.inputs[0], program.producer[cast.output], MatMul)
    return None if mm is None else (mm, cast)


def _update_chain(program: Program, n: int):
    """`update_pattern` where the recorded values allow the blocked kernel: the update is
    not fetched, w is a matrix, lr a scalar, one dtype throughout (but for a product in a
    reduced float that a Cast step widens), no kernel's result cast."""
    found = update_pattern(program, n)
    step = program.steps[n]
    if found is None or step.output in program.fetches:
        return None     # (a fetched update stays: measured slower fused on W1's 784 x 10)
    mm, scale, sub, lr, lr_first, cast = found
    w = step.inputs[0]
    shape, dtype = step.record.shape, step.record.dtype
    same = (scale, sub) + ((cast,) if cast else (mm,))
    if (len(shape) != 2 or shape[0] == 0 or _shape(program, lr) != ()
            or any(s.record.cast for s in (mm,) + same)
            or mm.record.shape != shape or _shape(program, w) != shape
            or {s.record.dtype for s in same} != {dtype}
            or cast and mm.record.dtype not in REDUCED_NUMPY
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

