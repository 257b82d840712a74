"""Memory planning: liveness over a plan's steps, then one buffer per group of values whose
lifetimes do not overlap, reused by later steps (in place when the kernel allows it).

Works from a record of one execution (shapes, dtypes, which outputs are views of which
inputs), so it needs no static shapes; a plan records once per feed-shape signature.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..backend.numpy.registry import OUT_KERNELS, SHAPE_ONLY


@dataclass
class Record:
    """What one execution of step n produced: its value's layout and what it aliases."""
    shape: tuple
    dtype: object          # numpy dtype of the value (None: not an array)
    nbytes: int
    cast: bool             # the kernel's dtype differed from the declared one
    aliases: tuple         # input slots whose memory the value may share
    dummies: dict = field(default_factory=dict)  # shape-only input position -> stand-in
    flops: int = 0         # estimated floating-point operations of the kernel call


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
    flops: int = 0                  # estimated FLOPs of a run without recomputation
    forward_flops: int = 0          # of those, the forward pass (before the first late use)
    by_step: list = field(default_factory=list, repr=False)  # live bytes after each step


def value_roots(steps: list, records: list, external=()) -> dict:
    """Slot -> the slots owning its memory: itself, or for a view those its input views."""
    roots: dict[int, frozenset] = {s: frozenset([s]) for s in external}
    for n, (_, op, ins, out, _) in enumerate(steps):
        rs = frozenset().union(*(roots.get(i, frozenset([i])) for i in records[n].aliases))
        roots[out] = rs or frozenset([out])
    return roots


def value_reads(op, ins: tuple) -> tuple:
    """The input slots whose values (not just shapes) a step reads."""
    skip = SHAPE_ONLY.get(type(op), ())
    return tuple(i for k, i in enumerate(ins) if k not in skip) if skip else ins


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


def plan_buffers(steps: list, records: list, fetch_slots: list, external: set,
                 state_slots: set) -> BufferPlan:
    """Assign pool buffers to step outputs by liveness.

    Args:
        steps: the plan's (kernel, op, input slots, output slot, dtype) tuples.
        records: one `Record` per step from an execution of the plan.
        fetch_slots: slots handed back to the caller (they live to the end, never pooled).
        external: slots filled from outside (feeds, variables, constants): never written.
        state_slots: slots holding variable or eager state (fetches aliasing them are copied).
    """
    end = len(steps)
    producer = {s[3]: n for n, s in enumerate(steps)}
    roots = value_roots(steps, records, external)
    state_slots = state_slots | {out for _, op, _, out, _ in steps
                                 if getattr(op, "writes_input", None) is not None}
    last = {s: producer.get(s, -1) for s in roots}           # a slot's own last use
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            last[i] = n
    for s in fetch_slots:
        last[s] = end
    root_end: dict[int, int] = defaultdict(lambda: -1)      # a buffer lives while any view does
    for s, rs in roots.items():
        for r in rs:
            root_end[r] = max(root_end[r], last[s])
    fetched_roots = set().union(*(roots[s] for s in fetch_slots)) if fetch_slots else set()

    dying = defaultdict(list)
    for r, n in root_end.items():
        if r in producer and r not in external:
            dying[max(n, producer[r])].append(r)
    groups: list[list] = []     # [bytes, first step, last step] of values sharing memory
    group_of: dict[int, int] = {}
    step_group: list = [None] * end
    inplace_steps = 0
    for n, (_, op, ins, out, _) in enumerate(steps):
        rec = records[n]
        inplace = OUT_KERNELS.get(type(op))
        if not (inplace is not None and rec.dtype is not None and not rec.cast
                and rec.shape != () and roots[out] == {out} and out not in fetched_roots):
            continue
        # In place only over a dying input of the very same layout (NumPy's exact overlap).
        same = [r for r in dying[n] if inplace and r in ins and r in group_of
                and (records[producer[r]].shape, records[producer[r]].dtype)
                == (rec.shape, rec.dtype)]
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

    fetch_copy = [bool(roots[s] & state_slots) for s in fetch_slots]
    stats = _peaks(steps, records, roots, root_end, producer, external, out_buffer, buffers)
    stats.inplace_steps = inplace_steps
    return BufferPlan(out_buffer, buffers, fetch_copy, stats)


def _peaks(steps, records, roots, root_end, producer, external, out_buffer, buffers):
    """Live bytes over the steps, with and without the pool."""
    pool = sum(buffers)
    planned = [0] * (len(steps) + 1)
    unplanned = [0] * (len(steps) + 1)
    for n, (_, _, _, out, _) in enumerate(steps):
        if roots[out] != {out} or out in external:
            continue  # a view or state: no memory of its own
        size = records[n].nbytes
        stop = min(max(root_end[out], n), len(steps)) + 1
        for k in range(n, stop):
            unplanned[k] += size
            if out_buffer[n] is None:
                planned[k] += size
    peak = pool + max(planned, default=0)
    return MemoryStats(peak_bytes=peak, unplanned_peak_bytes=max(unplanned, default=0),
                       pool_bytes=pool, num_buffers=len(buffers),
                       planned_steps=sum(b is not None for b in out_buffer), inplace_steps=0,
                       by_step=[pool + p for p in planned])
