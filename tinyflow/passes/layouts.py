"""Choosing a product's output layout: `reshape(transpose(matmul(a, b)))` copies the
transposed product into C order (attention's heads put back side by side: the
(batch, heads, time, head_dim) product read as (batch, time, heads * head_dim), and its
three gradients). Written instead into a C-ordered buffer of the transposed shape,
through the inverse permutation (`np.matmul` takes a strided `out=`), the transpose is
that buffer and the reshape a view of it: no copy. For the GPT step, 16 copies of 2 MB.

Per shape, on the records (before the buffers are planned, which then see the reshape
as a view of the product's buffer); codegen builds the permuted `out=` (`Record.layout`).
"""
from __future__ import annotations

from dataclasses import replace

from ..ops.linalg import MatMul
from ..ops.shape import Reshape, ReshapeTo, Transpose
from .program import Program


def transposed_products(program: Program) -> Program:
    """Mark each matmul read only by a transpose read only by a copying reshape (none of
    them fetched or waited for) to write in the transposed layout, and its reshape a view."""
    steps = list(program.steps)
    producer = program.producer
    changed = 0
    for r, step in enumerate(steps):
        if type(step.op) not in (Reshape, ReshapeTo) or step.record is None \
                or step.record.aliases or step.record.dtype is None:
            continue      # not a reshape, or already a view
        t_slot = step.inputs[0]
        t = producer.get(t_slot)
        if t is None or type(steps[t].op) is not Transpose or not _private(program, t_slot):
            continue
        m_slot = steps[t].inputs[0]
        m = producer.get(m_slot)
        if m is None or type(steps[m].op) is not MatMul or not _private(program, m_slot):
            continue
        rec = steps[m].record
        if rec is None or rec.cast or rec.aliases or rec.layout is not None \
                or rec.dtype != step.record.dtype or not rec.shape:
            continue
        perm = steps[t].op.perm
        perm = tuple(reversed(range(len(rec.shape)))) if perm is None else tuple(perm)
        steps[m] = steps[m].replace(record=replace(rec, layout=perm))
        steps[r] = step.replace(record=replace(step.record, aliases=(t_slot,)))
        changed += 1
    if not changed:
        return program
    return program.with_steps(steps, note=(
        "layouts", f"{changed} product(s) written transposed: their reshapes are views"))


def _private(program: Program, slot: int) -> bool:
    """Read by one step only, not fetched, not waited for."""
    return program.only_reader(slot) is not None and slot not in program.waited_for


def transposed_shape(shape: tuple, perm: tuple) -> tuple:
    """The C-ordered buffer's shape for a value of `shape` written in layout `perm`."""
    return tuple(shape[p] for p in perm)


def inverse(perm: tuple) -> tuple:
    out = [0] * len(perm)
    for k, p in enumerate(perm):
        out[p] = k
    return tuple(out)
