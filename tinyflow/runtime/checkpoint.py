"""Recomputation (checkpointing, Chen et al. 2016): values kept from early in a run for a late
use (forward activations read by the backward pass) are dropped, except every k-th of them;
before the first late use of a segment, the steps producing its values are run again from
the checkpoints. The rewrite is of the plan's step list; the graph is not touched."""
from __future__ import annotations

import dataclasses
import math

from .memory import value_reads


def segment_lengths(steps: list, records: list, span: int = 8) -> list:
    """Segment lengths worth trying: around sqrt(n) of the n late-used values, and shorter
    (a segment's copies live together, so short segments can win)."""
    n = len(_stashed(steps, records, (), span)[0])
    root = max(1, math.isqrt(n))
    return sorted({2, 3, 4, 5, 6, 8, max(2, root // 2), root})


def _stashed(steps, records, fetch_slots, span):
    producer = {s[3]: n for n, s in enumerate(steps)}
    uses: dict[int, list] = {}
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            uses.setdefault(i, []).append(n)
    fetched = set(fetch_slots)
    stashed = [s for s, us in uses.items() if s in producer and s not in fetched
               and not getattr(steps[producer[s]][1], "stateful", False)
               and records[producer[s]].nbytes and us[-1] > producer[s] + span]
    stashed.sort(key=producer.__getitem__)
    return stashed, producer, uses


def recompute(steps: list, records: list, control: list, external: set, fetch_slots: list,
              first_slot: int, k: int, span: int = 8) -> tuple:
    """Rewrite `steps` so that late uses read recomputed copies of non-checkpoint values.

    Args:
        steps, records, control: the plan's steps in order, their records and control slots.
        external: slots not produced by a step (feeds, variables, constants).
        first_slot: the first unused slot number, for the copies.
        k: segment length: every k-th late-used value is kept (a checkpoint).
        span: a use more than this many steps after the value's producer is a late use.

    Returns:
        (steps, records, control, source): source gives each new step's index in `steps`,
        None for a copy; control of a copy names the step before the first late use, so no
        schedule runs it early.
    """
    stashed, producer, uses = _stashed(steps, records, fetch_slots, span)
    if len(stashed) < 4:
        return steps, records, control, list(range(len(steps)))
    segment = {s: j // k for j, s in enumerate(stashed) if j % k}   # the rest are checkpoints
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
