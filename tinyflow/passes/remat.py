"""Free recomputation: a value kept from early in a run for a late reader (a forward value
the backward pass reads) is made again just before that reader instead, when making it is
a cheap pass over memory and what it is made from is alive there anyway. The value then
holds no memory in between, and the copy has the same bits: kernels are deterministic
and their inputs unchanged.

The cheap ops (`CHEAP`): a cast, whose source is a float32 weight or feed (autocast's low
copies of weights and of the input batch are remade for the backward products) or a value
the backward pass reads anyway; a normalization, whose input layer norm's gradient reads
anyway (so gamma's gradient reads remade normalized values, as PyTorch's layer norm
backward recomputes them from the saved input); one-hot labels, remade from the class ids
for the loss's gradient. Views of the value are remade with it.
Unlike checkpointing (`checkpoint.py`), which trades compute for memory under a budget,
this costs one elementwise pass per copy and is kept only when it lowers the planned peak.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from ..ops.creation import OneHot
from ..ops.math import Cast
from ..ops.normalization import Normalize
from .checkpoint import SPAN
from .memory import BufferPlan, memory_of, plan_buffers
from .program import Program, is_pure, value_reads
from .schedule import SMALL

CHEAP = (Cast, Normalize, OneHot)


def remat(program: Program, buffers: BufferPlan) -> tuple[Program, BufferPlan]:
    """`program` (recorded, in the order it runs) with the late reads of cheap values
    reading copies made just before them, and its buffer plan; `program` itself if that does
    not lower the planned peak. The stats count the copies as recomputed steps."""
    candidate = rematerialize(program)
    if candidate is program:
        return program, buffers
    planned = plan_buffers(candidate)
    if planned.stats.peak_bytes >= buffers.stats.peak_bytes:
        return program, buffers
    copies = [s for s in candidate.steps if s.output >= program.num_slots]
    stats = planned.stats
    stats.recomputed_steps = buffers.stats.recomputed_steps + len(copies)
    stats.recomputed_flops = buffers.stats.recomputed_flops + sum(s.record.flops
                                                                   for s in copies)
    stats.flops = buffers.stats.flops
    note = ("remat", f"remakes {len(copies)} cheap value(s) before their late readers: "
                     f"planned peak {buffers.stats.peak_bytes} -> {stats.peak_bytes} bytes")
    return candidate.replace(log=candidate.log + (note,)), planned


def rematerialize(program: Program, span: int = SPAN) -> Program:
    """The rewrite: for each pure cheap step owning its memory, its readers (through views)
    in groups more than `span` steps apart; each group after the first reads a copy made
    (with the views it reads) just before it, when every input of the copies is alive
    there. A copy waits on the step before its group (a control edge), so no later
    schedule runs it early."""
    steps, roots = program.steps, memory_of(program)
    end = _alive_until(program, roots)
    size = {s.output: s.record.nbytes for s in steps}
    fetched = {r for f in program.fetches for r in roots.get(f, ())}
    views = defaultdict(list)         # root -> view steps of it, in order
    for n, s in enumerate(steps):
        if s.record.aliases and len(roots[s.output]) == 1:
            views[next(iter(roots[s.output]))].append(n)
    inserts: dict[int, list] = defaultdict(list)   # step index -> copies to run before it
    redirect: dict[int, dict] = defaultdict(dict)  # step index -> {slot: copy's slot}
    shortened: set = set()      # values whose late readers now read copies
    next_slot = program.num_slots
    for n, step in enumerate(steps):
        out = step.output
        if (not isinstance(step.op, CHEAP) or not is_pure(step, program) or out in fetched
                or roots[out] != {out} or not step.record.nbytes
                or out in program.waited_for):
            continue
        chain = {out: n} | {steps[v].output: v for v in views[out]}
        uses = sorted((m, slot) for slot in chain for m in program.readers.get(slot, ())
                      if m not in chain.values())
        for group in _groups(uses, span)[1:]:
            needed = _chain_to(program, chain, {slot for _, slot in group})
            outside = {i for v in needed for i in value_reads(steps[v])
                       if i not in chain or chain[i] not in needed}
            # before the group, or before a write to what it reads (a weight's update)
            memory = set(outside).union(*(roots.get(i, ()) for i in outside))
            at = min([group[0][0]] + [m for m, slot in program._writes
                                      if n < m < group[0][0] and slot in memory])
            if any(roots.get(i, frozenset()) & shortened
                   or not _alive(program, roots, end, size, i, n, at) for i in outside):
                continue
            copy_of = {}
            for v in needed:                 # in program order: a view after its base
                s = steps[v]
                new_ins = tuple(copy_of.get(i, i) for i in s.inputs)
                copy_of[s.output] = next_slot
                next_slot += 1
                aliases = tuple(copy_of.get(a, a) for a in s.record.aliases)
                inserts[at].append(s.replace(
                    inputs=new_ins, output=copy_of[s.output], control=(steps[at - 1].output,),
                    record=dataclasses.replace(s.record, aliases=aliases)))
            for m, slot in group:
                redirect[m][slot] = copy_of[slot]
            shortened.add(out)
    if next_slot == program.num_slots:
        return program
    out_steps = []
    for m, step in enumerate(steps):
        out_steps.extend(inserts.get(m, ()))
        mapping = redirect.get(m)
        out_steps.append(step.replace(inputs=tuple(mapping.get(i, i) for i in step.inputs))
                         if mapping else step)
    return program.with_steps(out_steps, num_slots=next_slot)


def _groups(uses: list, span: int) -> list:
    """(step, slot) reads in order, cut where two reads are more than `span` steps apart."""
    groups = []
    for use in uses:
        if groups and use[0] - groups[-1][-1][0] <= span:
            groups[-1].append(use)
        else:
            groups.append([use])
    return groups


def _chain_to(program: Program, chain: dict, wanted: set) -> list:
    """The steps of `chain` (value and views of it) that making `wanted` needs, in order."""
    needed, todo = set(), [s for s in wanted]
    while todo:
        slot = todo.pop()
        if slot in chain and chain[slot] not in needed:
            needed.add(chain[slot])
            todo.extend(program.steps[chain[slot]].inputs)
    return sorted(needed)


def _alive_until(program: Program, roots: dict) -> dict:
    """Root slot -> the last step reading its memory (through any view); fetched: the end."""
    end = defaultdict(lambda: -1)
    last = dict(program.last_use)
    for f in program.fetches:
        last[f] = len(program.steps)
    for slot, n in last.items():
        for r in roots.get(slot, (slot,)):
            end[r] = max(end[r], n)
    return end


def _alive(program: Program, roots: dict, end: dict, size: dict, slot: int, made: int,
           at: int) -> bool:
    """Whether `slot`, read by a step at `made`, still holds the same value at step `at`:
    nothing overwrites its memory in between (a weight's update writes it in place, and so
    every view of it), and that memory is an external, or read at or after `at` anyway (so
    the copy keeps nothing alive longer), or small."""
    memory = roots.get(slot, frozenset([slot]))
    if program.written_between(made, at, memory | {slot}):
        return False
    return all(r in program.externals or end[r] >= at or size.get(r, 0) <= SMALL
               for r in memory)
