"""Fused gradient-descent updates: `assign(w, w - lr * matmul(a, b))` as one step that computes
the product a block of rows at a time and subtracts each block from w in place, so the full
weight gradient (the largest value of an MLP's backward pass) never exists. The rewrite is of
a plan's step list, after the recording run; the graph, and the reference loop, are untouched.
The block loop itself is a NumPy kernel (backend/numpy/linalg.subtract_product_blocks).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..backend.numpy.registry import OUT_KERNELS
from ..ops.linalg import MatMul
from ..ops.math import Mul, Sub
from ..ops.state import Assign
from .memory import value_reads, value_roots

BLOCK_BYTES = 1 << 18    # rows of the gradient computed at once (the step's scratch buffer)


class FusedUpdate:
    """`assign(w, w - lr * matmul(a, b))`: inputs (w, a, b, lr); writes w (input 0)."""
    name = "fused_update"
    writes_input = 0
    stateful = True

    def __init__(self, matmul: MatMul, lr_first: bool) -> None:
        self.matmul, self.lr_first = matmul, lr_first


OUT_KERNELS[FusedUpdate] = False   # writes its blocks into a scratch buffer from the pool


def fuse_updates(steps: list, records: list, control: list, origin: list,
                 fetch_slots: list, external: dict, kernel_for) -> tuple:
    """Replace each matmul -> scale -> subtract -> assign chain whose intermediate values
    nothing else reads by one `FusedUpdate` step at the assign's place.

    Args:
        steps, records, control, origin: the plan's steps, their records, control slots and
            index in the plan's own step list.
        fetch_slots: fetched slots (never fused away).
        external: slot -> value of the slots no step produces (to see that lr is a scalar).
        kernel_for(assign_index, matmul kernel): the fused step's kernel for the assign at
            `origin` index `assign_index` (it writes in place only where the plan allows),
            or None if that assign is not to be fused.

    Returns:
        (steps, records, control, origin), rewritten.
    """
    producer = {s[3]: n for n, s in enumerate(steps)}
    roots = value_roots(steps, records, external)
    readers: dict[int, list] = {}
    root_readers: dict[int, set] = {}    # root -> steps reading it through any view
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            readers.setdefault(i, []).append(n)
            for r in roots.get(i, (i,)):
                root_readers.setdefault(r, set()).add(n)
    fetched = set(fetch_slots)
    fetched_roots = set().union(*(roots.get(f, {f}) for f in fetch_slots))

    def shape(slot):
        return records[producer[slot]].shape if slot in producer else np.shape(external[slot])

    def only_use(slot, n, cls):
        """The step producing `slot` if it is a `cls` read only by step n, else None."""
        p = producer.get(slot)
        if (p is None or slot in fetched or readers.get(slot) != [n]
                or type(steps[p][1]) is not cls or records[p].cast or control[p]):
            return None
        return p

    drop, fused = set(), {}
    for n, (_, op, ins, out, dtype) in enumerate(steps):
        if type(op) is not Assign or out in fetched or readers.get(out):
            continue
        w, value = ins
        size = records[n].shape
        s = only_use(value, n, Sub)
        if s is None or steps[s][2][0] != w:
            continue
        m = only_use(steps[s][2][1], s, Mul)
        if m is None:
            continue
        x, y = steps[m][2]
        lr_first = only_use(y, m, MatMul) is not None
        lr, grad = (x, y) if lr_first else (y, x)
        p = only_use(grad, m, MatMul)
        if (p is None or len(size) != 2 or size[0] == 0 or shape(lr) != ()
                or records[p].shape != size or shape(w) != size
                or {records[q].dtype for q in (p, m, s)} != {records[n].dtype}
                or getattr(external.get(w), "dtype", None) != records[n].dtype):
            continue
        mm_kernel, mm_op, (a, b), _, _ = steps[p]
        if w in roots.get(a, (a,)) or w in roots.get(b, (b,)):
            continue    # the product reads w itself: it cannot be overwritten block by block
        if w in fetched_roots or any(r > n for r in root_readers.get(w, ())):
            continue    # the old value is read after the update: it may not be in place
        row_bytes = max(1, records[p].nbytes // size[0])
        rows = max(1, min(size[0], BLOCK_BYTES // row_bytes))
        rec = dataclasses.replace(records[p], shape=(rows, size[1]), nbytes=rows * row_bytes,
                                  aliases=(), flops=sum(records[q].flops for q in (p, m, s)))
        kernel = kernel_for(origin[n], mm_kernel)
        if kernel is None:
            continue
        fused[n] = ((kernel, FusedUpdate(mm_op, lr_first), (w, a, b, lr), out, dtype), rec)
        drop |= {p, m, s}
    if not fused:
        return steps, records, control, origin
    keep = [n for n in range(len(steps)) if n not in drop]
    return ([fused[n][0] if n in fused else steps[n] for n in keep],
            [fused[n][1] if n in fused else records[n] for n in keep],
            [control[n] for n in keep], [origin[n] for n in keep])
