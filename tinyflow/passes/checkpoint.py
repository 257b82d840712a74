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

from .memory import BufferPlan
from .program import Program
from .schedule import schedule

SPAN = 8     # a use more than this many steps after the value's producer is a late use


def recompute_under_budget(program: Program, buffers: BufferPlan,
                           budget: int) -> tuple[Program, BufferPlan]:
    """Of the segmentations (`segmentations`), the rewrite (`recompute`) that fits `budget`
    with the fewest recomputed FLOPs, else the one with the smallest peak, each in its best
    order; `program` itself if none lowers the peak. Its stats count the recomputed steps
    and FLOPs."""
    best = None
    for lengths in segmentations(program):
        candidate = recompute(program, lengths)
        if candidate is program:
            continue
        copies = [s for s in candidate.steps if s.output >= program.num_slots]
        candidate, planned = schedule(candidate)
        planned.stats.recomputed_steps = buffers.stats.recomputed_steps + len(copies)
        planned.stats.recomputed_flops = (buffers.stats.recomputed_flops
                                          + sum(s.record.flops for s in copies))
        if best is None or _cost(planned.stats, budget) < _cost(best[1].stats, budget):
            best = (candidate, planned)
    if best is None or best[1].stats.peak_bytes >= buffers.stats.peak_bytes:
        return program, buffers
    candidate, planned = best
    planned.stats.flops = buffers.stats.flops
    planned.stats.forward_flops = buffers.stats.forward_flops
    note = ("recompute", f"recomputes {planned.stats.recomputed_steps} step(s) "
                         f"({planned.stats.recomputed_flops} FLOPs): planned peak "
                         f"{buffers.stats.peak_bytes} -> {planned.stats.peak_bytes} bytes")
    return candidate.replace(log=candidate.log + (note,)), planned


def _cost(stats, budget: int) -> tuple:
    """Which recomputation to keep: the least extra compute within the budget, else the
    smallest peak."""
    if stats.peak_bytes <= budget:
        return (0, stats.recomputed_flops, stats.peak_bytes)
    return (1, stats.peak_bytes, stats.recomputed_flops)


def segmentations(program: Program, span: int = SPAN) -> list:
    """Segment lengths worth trying, each a list in forward order (the last one repeats):
    equal segments of about sqrt(n) of the n late-used values and shorter, and segments
    shrinking by one from about sqrt(2n)."""
    n = len(_stashed(program, span))
    root, root2 = max(1, math.isqrt(n)), math.isqrt(2 * n)
    equal = [[k - 1] for k in sorted({2, 3, 4, 5, 6, 8, max(2, root // 2), root})]
    shrinking = [list(range(m, 0, -1)) for m in range(max(1, root2 - 2), root2 + 3)]
    return equal + shrinking


def forward_flops(program: Program, span: int = SPAN) -> int:
    """FLOPs of the steps before the first late use of a value: a training step's forward
    pass (and loss), the work that recomputation repeats part of."""
    producer, uses = program.producer, program.readers
    first = min((u for s in _stashed(program, span) for u in uses[s] if u > producer[s] + span),
                default=len(program.steps))
    return sum(s.record.flops for s in program.steps[:first])


def _stashed(program: Program, span: int, skip_fetched: bool = False) -> list:
    """The late-used values, in the reverse of the order the late uses first need them (for
    a chain, forward order): a segment is then recomputed for uses that come together."""
    producer, steps = program.producer, program.steps
    fetched = set(program.fetches) if skip_fetched else set()
    stashed = [s for s, us in program.readers.items() if s in producer and s not in fetched
               and not getattr(steps[producer[s]].op, "stateful", False)
               and steps[producer[s]].record.nbytes and us[-1] > producer[s] + span]
    first_late = {s: next(u for u in program.readers[s] if u > producer[s] + span)
                  for s in stashed}
    stashed.sort(key=lambda s: (-first_late[s], producer[s]))
    return stashed


def recompute(program: Program, lengths: list, span: int = SPAN) -> Program:
    """`program` with late uses reading recomputed copies of non-checkpoint values.

    Args:
        program: a recorded program, in the order it runs.
        lengths: segment lengths in forward order, the last one repeating: that many
            late-used values are recomputed, then one is kept (a checkpoint), and so on.
        span: a use more than this many steps after the value's producer is a late use.

    Returns:
        The rewritten program (`program` itself if too few values are late-used). A copy gets
        a new slot and a control edge from the step before the first late use of its
        segment, so no schedule runs it early.
    """
    stashed = _stashed(program, span, skip_fetched=True)
    if len(stashed) < 4:
        return program
    steps, producer, uses = program.steps, program.producer, program.readers
    segment, j, pos = {}, 0, 0    # stashed value -> its segment; the rest are checkpoints
    while pos < len(stashed):
        length = lengths[min(j, len(lengths) - 1)]
        segment.update((s, j) for s in stashed[pos:pos + length])
        pos, j = pos + length + 1, j + 1      # then one checkpoint
    checkpoints = set(stashed) - set(segment)
    clones: dict[tuple, int] = {}     # (segment, slot) -> copy's slot
    inserts: dict[int, list] = {}     # step index -> copies to run just before it
    next_slot = [program.num_slots]
    late_start = {}
    for s, j in segment.items():
        for u in uses[s]:
            if u > producer[s] + span:
                late_start[j] = min(late_start.get(j, u), u)

    def clone(slot: int, j: int) -> int:
        """The copy of `slot` for segment j, made (with what it needs) if not made yet."""
        if (slot not in producer or slot in checkpoints
                or getattr(steps[producer[slot]].op, "stateful", False)):
            return slot   # random draws are never repeated
        if (j, slot) not in clones:
            step = steps[producer[slot]]
            new_ins = tuple(clone(i, j) for i in step.inputs)
            new = clones[(j, slot)] = next_slot[0]
            next_slot[0] += 1
            at = late_start[j]
            aliases = tuple(new_ins[step.inputs.index(a)] for a in step.record.aliases
                            if a in step.inputs)
            inserts.setdefault(at, []).append(step.replace(
                inputs=new_ins, output=new, control=(steps[at - 1].output,) if at else (),
                record=dataclasses.replace(step.record, aliases=aliases)))
        return clones[(j, slot)]

    rewired = []      # first all copies (one made for a late use may run before it)
    for n, step in enumerate(steps):
        new_ins = tuple(clone(i, segment[i]) if i in segment and n > producer[i] + span
                        else i for i in step.inputs)
        rewired.append(step if new_ins == step.inputs else step.replace(inputs=new_ins))
    out = []
    for n, step in enumerate(rewired):
        out.extend(inserts.get(n, ()))
        out.append(step)
    return program.with_steps(out, num_slots=next_slot[0])
