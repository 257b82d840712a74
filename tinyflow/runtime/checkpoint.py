"""Recomputation (checkpointing, Chen et al. 2016): values kept from early in a run for a late
use (forward activations read by the backward pass) are dropped, except some checkpoints;
before the first late use of a segment, the steps producing its values are run again from
the checkpoints. The rewrite is of the plan's step list; the graph is not touched.

The backward pass meets the segments last to first, and when it reaches segment j only the
checkpoints before it are still alive: so early segments can be longer than late ones
(lengths m, m-1, ..., 1 need about sqrt(2n) values alive, against 2 sqrt(n) for equal ones).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..ops.linalg import Affine, MatMul
from .memory import value_reads


def step_flops(op, args: list, result) -> int:
    """An estimate of a kernel call's floating-point operations, to report the compute that
    recomputation adds: 2 m n k for matrix products, else one per element read or written."""
    size = np.size(result) if isinstance(result, np.ndarray) else 0
    if type(op) is MatMul:
        a = args[0]
        return 2 * size * a.shape[-2 if op.transpose_a else -1]
    if type(op) is Affine:
        return 2 * size * args[0].shape[-1] + size
    return max([size] + [np.size(a) for a in args if isinstance(a, np.ndarray)])


def segmentations(steps: list, records: list, span: int = 8) -> list:
    """Segment lengths worth trying, each a list in forward order (the last one repeats):
    equal segments of about sqrt(n) of the n late-used values and shorter, and segments
    shrinking by one from about sqrt(2n)."""
    n = len(_stashed(steps, records, (), span)[0])
    root, root2 = max(1, math.isqrt(n)), math.isqrt(2 * n)
    equal = [[k - 1] for k in sorted({2, 3, 4, 5, 6, 8, max(2, root // 2), root})]
    shrinking = [list(range(m, 0, -1)) for m in range(max(1, root2 - 2), root2 + 3)]
    return equal + shrinking


def forward_flops(steps: list, records: list, span: int = 8) -> int:
    """FLOPs of the steps before the first late use of a value: a training step's forward
    pass (and loss), the work that recomputation repeats part of."""
    stashed, producer, uses = _stashed(steps, records, (), span)
    first = min((u for s in stashed for u in uses[s] if u > producer[s] + span),
                default=len(steps))
    return sum(r.flops for r in records[:first])


def _stashed(steps, records, fetch_slots, span):
    """The late-used values, in the reverse of the order the late uses first need them (for
    a chain, forward order): a segment is then recomputed for uses that come together."""
    producer = {s[3]: n for n, s in enumerate(steps)}
    uses: dict[int, list] = {}
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            uses.setdefault(i, []).append(n)
    fetched = set(fetch_slots)
    stashed = [s for s, us in uses.items() if s in producer and s not in fetched
               and not getattr(steps[producer[s]][1], "stateful", False)
               and records[producer[s]].nbytes and us[-1] > producer[s] + span]
    first_late = {s: next(u for u in uses[s] if u > producer[s] + span) for s in stashed}
    stashed.sort(key=lambda s: (-first_late[s], producer[s]))
    return stashed, producer, uses


def recompute(steps: list, records: list, control: list, external: set, fetch_slots: list,
              first_slot: int, lengths: list, span: int = 8) -> tuple:
    """Rewrite `steps` so that late uses read recomputed copies of non-checkpoint values.

    Args:
        steps, records, control: the plan's steps in order, their records and control slots.
        external: slots not produced by a step (feeds, variables, constants).
        first_slot: the first unused slot number, for the copies.
        lengths: segment lengths in forward order, the last one repeating: that many
            late-used values are recomputed, then one is kept (a checkpoint), and so on.
        span: a use more than this many steps after the value's producer is a late use.

    Returns:
        (steps, records, control, source): source gives each new step's index in `steps`,
        None for a copy; control of a copy names the step before the first late use, so no
        schedule runs it early.
    """
    stashed, producer, uses = _stashed(steps, records, fetch_slots, span)
    if len(stashed) < 4:
        return steps, records, control, list(range(len(steps)))
    segment, j, pos = {}, 0, 0    # stashed value -> its segment; the rest are checkpoints
    while pos < len(stashed):
        length = lengths[min(j, len(lengths) - 1)]
        segment.update((s, j) for s in stashed[pos:pos + length])
        pos, j = pos + length + 1, j + 1      # then one checkpoint
    checkpoints = set(stashed) - set(segment)
    clones: dict[tuple, int] = {}     # (segment, slot) -> copy's slot
    inserts: dict[int, list] = {}     # step index -> copies to run just before it
    next_slot = [first_slot]
    late_start = {}
    for s, j in segment.items():
        for u in uses[s]:
            if u > producer[s] + span:
                late_start[j] = min(late_start.get(j, u), u)

    def clone(slot: int, j: int) -> int:
        """The copy of `slot` for segment j, made (with what it needs) if not made yet."""
        if (slot in external or slot not in producer or slot in checkpoints
                or getattr(steps[producer[slot]][1], "stateful", False)):
            return slot   # random draws are never repeated
        if (j, slot) not in clones:
            n = producer[slot]
            kernel, op, ins, out, dtype = steps[n]
            new_ins = tuple(clone(i, j) if i in value_reads(op, ins) else i for i in ins)
            new = clones[(j, slot)] = next_slot[0]
            next_slot[0] += 1
            rec = records[n]
            aliases = tuple(new_ins[ins.index(a)] for a in rec.aliases if a in ins)
            inserts.setdefault(late_start[j], []).append(
                ((kernel, op, new_ins, new, dtype), dataclasses.replace(rec, aliases=aliases)))
        return clones[(j, slot)]

    rewired = []
    for n, (kernel, op, ins, out, dtype) in enumerate(steps):
        reads = value_reads(op, ins)
        new_ins = tuple(clone(i, segment[i]) if i in segment and n > producer[i] + span
                        and i in reads else i for i in ins)
        rewired.append((kernel, op, new_ins, out, dtype))
    out_steps, out_records, out_control, source = [], [], [], []
    for n, step in enumerate(rewired):
        for copy, rec in inserts.get(n, ()):
            out_steps.append(copy)
            out_records.append(rec)
            out_control.append((steps[n - 1][3],) if n else ())
            source.append(None)
        out_steps.append(step)
        out_records.append(records[n])
        out_control.append(control[n])
        source.append(n)
    return out_steps, out_records, out_control, source
