"""Memory planning: liveness over a plan's steps, then one buffer per group of values whose
lifetimes do not overlap, reused by later steps (in place when the kernel allows it).

Works from a record of one execution (shapes, dtypes, which outputs are views of which
inputs), so it needs no static shapes; a plan records once per feed-shape signature.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import accumulate
from dataclasses import dataclass, field

import numpy as np

from ..backend.numpy.registry import OUT_KERNELS
from .program import Program


@dataclass
class MemoryStats:
    """Planned memory of one plan for one feed-shape signature (intermediates only: feeds,
    variables and constants are not counted)."""
    peak_bytes: int                 # planned peak: buffer pool + transient values
    unplanned_peak_bytes: int       # the same values freed after last use, never reused
    pool_bytes: int                 # preallocated buffers, reused every run
    num_buffers: int
    planned_steps: int              # steps writing into a pool buffer (out=)
    inplace_steps: int              # of those, steps overwriting a dying input's buffer
    recomputed_steps: int = 0       # steps added by checkpointing (forward recomputation)
    recomputed_flops: int = 0       # their estimated FLOPs: the extra compute of a run
    state_writes: int = 0           # steps writing an eager tensor's array (write_state.py)
    flops: int = 0                  # estimated FLOPs of a run without recomputation
    forward_flops: int = 0          # of those, the forward pass (before the first late use)
    by_step: list = field(default_factory=list, repr=False)  # live bytes after each step


def value_roots(program: Program) -> dict:
    """Slot -> the slots owning its memory: itself, or for a view those its input views
    (from the recorded aliases). Kept on the program (it is immutable; callers only read
    it): the per-shape passes ask for it a couple of times per candidate order."""
    roots = program.__dict__.get("_value_roots")
    if roots is not None:
        return roots
    roots = {s: frozenset((s,)) for s in program.externals}
    for step in program.steps:
        aliases = step.record.aliases
        if not aliases:
            roots[step.output] = frozenset((step.output,))
        elif len(aliases) == 1:
            roots[step.output] = roots.get(aliases[0]) or frozenset(aliases)
        else:
            roots[step.output] = frozenset().union(
                *(roots.get(i, frozenset((i,))) for i in aliases))
    program.__dict__["_value_roots"] = roots
    return roots


def reordered(program: Program, steps: list) -> Program:
    """`program` with its steps in another order: its memory roots (`value_roots`) do not
    depend on the order, so the new program starts with them."""
    candidate = program.with_steps(steps)
    candidate.__dict__["_value_roots"] = value_roots(program)
    return candidate


def memory_of(program: Program) -> dict:
    """Slot -> the slots whose memory it may share: `value_roots`, plus, for an eager tensor
    the program writes, the eager tensors that are views of it or it of them (a parameter
    and a slice of it taken before the graph was built are two externals)."""
    roots = value_roots(program)
    eager = {s: e.ref.array for s, e in program.externals.items() if e.kind == "eager"}
    shared = defaultdict(set)
    for w in program.written_in_place & eager.keys():
        group = {s for s, a in eager.items() if np.may_share_memory(a, eager[w])}
        for s in group:
            shared[s] |= group
    return {slot: rs.union(*(shared.get(r, ()) for r in rs)) for slot, rs in roots.items()}


def root_readers(program: Program, roots: dict) -> dict:
    """Root slot -> indices of the steps reading its memory through any view."""
    readers: dict = defaultdict(set)
    for slot, steps in program.readers.items():
        for r in roots.get(slot, (slot,)):
            readers[r].update(steps)
    return readers


def fetched_roots(program: Program, roots: dict) -> set:
    """The memory the caller gets back (through any view)."""
    return set().union(*(roots.get(f, {f}) for f in program.fetches))


def writes_in_place(program: Program) -> set:
    """Outputs of the steps writing an input that may overwrite it: no read of its old value,
    through any view, follows them, and it is not fetched."""
    roots = value_roots(program)
    readers, fetched = root_readers(program, roots), fetched_roots(program, roots)
    in_place = set()
    for n, s in enumerate(program.steps):
        w = getattr(s.op, "writes_input", None)
        if w is not None and s.inputs[w] not in fetched and all(
                m < n for m in readers.get(s.inputs[w], ()) if m != n):
            in_place.add(s.output)
    return in_place


def _place(groups: list) -> tuple:
    """Offsets in one arena: largest first, each at the lowest address free for its whole
    lifetime (greedy by size); returns (offset per group, arena bytes)."""
    placed, offsets = [], [0] * len(groups)
    for g in sorted(range(len(groups)), key=lambda g: (-groups[g][0], groups[g][1])):
        size, start, stop = groups[g]
        size = -(-size // 64) * 64   # cache-line aligned
        offset = 0
        for o, sz in sorted((o, sz) for o, sz, s, e in placed if s <= stop and start <= e):
            if offset + size <= o:
                break
            offset = max(offset, o + sz)
        offsets[g] = offset
        placed.append((offset, size, start, stop))
    return offsets, max((o + sz for o, sz, _, _ in placed), default=0)


@dataclass
class BufferPlan:
    out_buffer: list      # per step: offset in the arena it writes with out=, or None
    buffers: list         # [arena bytes]
    fetch_copy: list      # per fetch: copy before handing out (aliases state)
    stats: MemoryStats
    out_state: dict = field(default_factory=dict)   # step -> eager slot it writes with out=


def plan_buffers(program: Program) -> BufferPlan:
    """Assign pool buffers to step outputs by liveness, from the steps' records. Fetched
    values live to the end and are never pooled; externals (feeds, variables, constants) are
    never written; fetches aliasing state (variables, eager tensors, constants, written
    inputs) are copied before they are handed out."""
    steps, end = program.steps, len(program.steps)
    producer, external = program.producer, program.externals
    roots = value_roots(program)
    state_slots = {s for s, e in external.items() if e.kind != "feed"} | {
        s.output for s in steps if getattr(s.op, "writes_input", None) is not None}
    last = {s: producer.get(s, -1) for s in roots}           # a slot's own last use
    last.update(program.last_use)
    for s in program.fetches:
        last[s] = end
    root_end: dict[int, int] = defaultdict(lambda: -1)      # a buffer lives while any view does
    for s, rs in roots.items():
        for r in rs:
            root_end[r] = max(root_end[r], last[s])
    fetched = fetched_roots(program, roots)

    dying = defaultdict(list)
    for r, n in root_end.items():
        if r in producer and r not in external:
            dying[max(n, producer[r])].append(r)
    groups: list[list] = []     # [bytes, first step, last step] of values sharing memory
    group_of: dict[int, int] = {}
    step_group: list = [None] * end
    inplace_steps = 0
    for n, step in enumerate(steps):
        rec, out = step.record, step.output
        inplace = OUT_KERNELS.get(type(step.op))
        if not (inplace is not None and rec.dtype is not None and not rec.cast
                and rec.shape != () and roots[out] == {out} and out not in fetched):
            continue
        # In place only over a dying input of the very same layout (NumPy's exact overlap),
        # and only if no other input is a view of it (a transpose of it read while it is
        # overwritten: a generated kernel would read values it already wrote).
        same = [r for r in dying[n] if inplace and r in step.inputs and r in group_of
                and (steps[producer[r]].record.shape, steps[producer[r]].record.dtype)
                == (rec.shape, rec.dtype)
                and not any(i != r and r in roots.get(i, ()) for i in step.inputs)]
        if same:
            g = group_of[same[0]]
            groups[g][2] = max(groups[g][2], root_end[out], n)
            inplace_steps += 1
        else:
            g = len(groups)
            groups.append([rec.nbytes, n, max(root_end[out], n)])
        group_of[out] = g
        step_group[n] = g
    offsets, total = _place(groups)
    out_buffer = [None if g is None else offsets[g] for g in step_group]
    buffers = [total]

    fetch_copy = [bool(roots[s] & state_slots) for s in program.fetches]
    stats = _peaks(steps, roots, root_end, external, out_buffer, buffers)
    stats.inplace_steps = inplace_steps
    stats.flops = sum(s.record.flops for s in steps)
    return BufferPlan(out_buffer, buffers, fetch_copy, stats)


def _peaks(steps, roots, root_end, external, out_buffer, buffers):
    """Live bytes over the steps, with and without the pool (each value added where it is
    made and taken off after its last use, then summed: linear in the steps, where adding
    it at every step it lives would be quadratic in a training step's fetched values)."""
    pool = sum(buffers)
    planned = [0] * (len(steps) + 2)
    unplanned = [0] * (len(steps) + 2)
    for n, step in enumerate(steps):
        out = step.output
        if roots[out] != {out} or out in external:
            continue  # a view or state: no memory of its own
        size = step.record.nbytes
        stop = min(max(root_end[out], n), len(steps)) + 1
        unplanned[n] += size
        unplanned[stop] -= size
        if out_buffer[n] is None:
            planned[n] += size
            planned[stop] -= size
    planned = list(accumulate(planned[:-1]))
    unplanned = list(accumulate(unplanned[:-1]))
    peak = pool + max(planned, default=0)
    return MemoryStats(peak_bytes=peak, unplanned_peak_bytes=max(unplanned, default=0),
                       pool_bytes=pool, num_buffers=len(buffers),
                       planned_steps=sum(b is not None for b in out_buffer), inplace_steps=0,
                       by_step=[pool + p for p in planned])
