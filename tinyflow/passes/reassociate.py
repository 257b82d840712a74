"""Re-associate matmul chains by FLOP count: `(M1 @ M2) @ v` with a thin `v` runs as
`M1 @ (M2 @ v)` (and `v @ (M1 @ M2)` as `(v @ M1) @ M2`) when that does fewer FLOPs.

Matrix products are associative, so the value is the same up to rounding; the order changes
the work: for n x n matrices and a vector, 2n^3 + 2n^2 FLOPs become 4n^2. Only 2-D products
with fully static shapes of one dtype are re-associated, and only when the inner product is
read by nothing else (not fetched, no other reader: a gradient that reads it keeps it).
"""
from __future__ import annotations

from ..ops.linalg import MatMul
from .emit import Emitter, private, static
from .program import Program


def reassociate(program: Program) -> Program:
    """Re-associate matmul pairs, one at a time, while that lowers the FLOPs."""
    # a longer chain `((M1 @ M2) @ M3) @ v` re-associates pair by pair
    count, saved = 0, 0
    current = program
    while True:
        found = _first_rewrite(current)
        if found is None:
            break
        current, flops = found
        count, saved = count + 1, saved + flops
    if not count:
        return program
    return program.with_steps(current.steps, num_slots=current.num_slots, note=(
        "reassociate", f"re-associated {count} matmul chain(s), {saved} fewer FLOPs"))


def _first_rewrite(program: Program):
    for n, outer in enumerate(program.steps):
        if not isinstance(outer.op, MatMul):
            continue
        for position in (0, 1):
            inner_slot = outer.inputs[position]
            inner = program.made_by(inner_slot, MatMul)
            if inner is None or private(program, inner_slot) != n or inner.control \
                    or outer.control or outer.inputs[1 - position] == inner_slot \
                    or program.written_between(program.producer[inner_slot], n, inner.inputs):
                continue    # (the inner product's reads move to the outer's place)
            plan = _cheaper(program, inner, outer, position)
            if plan is not None:
                return _apply(program, n, inner, outer, *plan)
    return None


def _cheaper(program: Program, inner, outer, position: int):
    """(first product, second product, FLOPs saved) of the cheaper order, or None.

    With op(X) the flag-applied operand, outer = op(t) op(C) (t at position 0) or
    op(C) op(t) (position 1), and t = op(A) op(B). Writing the transpose of t out,
    every case is a product of three flag-applied matrices P Q R: from (P Q) R to P (Q R)
    (position 0) or from P (Q R) to (P Q) R (position 1)."""
    a, b = inner.inputs
    c = outer.inputs[1 - position]
    types = [program.value_of(x) for x in (a, b, c)]
    if any(not static(s) or len(s) != 2 or d != outer.dtype for s, d in types) \
            or inner.dtype != outer.dtype:
        return None
    ta, tb = inner.op.transpose_a, inner.op.transpose_b
    tt = outer.op.transpose_a if position == 0 else outer.op.transpose_b
    tc = outer.op.transpose_b if position == 0 else outer.op.transpose_a
    # the chain as three (slot, transposed) factors in order, t unfolded
    t_factors = [(b, not tb), (a, not ta)] if tt else [(a, ta), (b, tb)]
    factors = t_factors + [(c, tc)] if position == 0 else [(c, tc)] + t_factors
    dims = [_rows_cols(program.value_of(s)[0], t) for s, t in factors]
    (m, k), (_, n), (_, p) = dims
    now = 2 * m * k * n + 2 * m * n * p if position == 0 else 2 * k * n * p + 2 * m * k * p
    new = 2 * k * n * p + 2 * m * k * p if position == 0 else 2 * m * k * n + 2 * m * n * p
    if new >= now:
        return None
    (p_, tp), (q_, tq), (r_, tr) = factors
    if position == 0:     # P (Q R)
        return (MatMul(transpose_a=tq, transpose_b=tr), (q_, r_),
                lambda qr: (MatMul(transpose_a=tp, transpose_b=False), (p_, qr)), now - new)
    return (MatMul(transpose_a=tp, transpose_b=tq), (p_, q_),          # (P Q) R
            lambda pq: (MatMul(transpose_a=False, transpose_b=tr), (pq, r_)), now - new)


def _rows_cols(shape, transposed: bool) -> tuple:
    return (shape[1], shape[0]) if transposed else tuple(shape)


def _apply(program: Program, n: int, inner, outer, first_op, first_in, second, saved):
    emit = Emitter(program)
    product = emit(first_op, *first_in)
    op, ins = second(product)
    emit(op, *ins, output=outer.output, name=outer.name)
    gone = program.producer[inner.output]
    steps = [s for k, s in enumerate(program.steps[:n]) if k != gone] + emit.take() + \
        list(program.steps[n + 1:])
    return program.with_steps(steps, num_slots=emit.num_slots), saved
