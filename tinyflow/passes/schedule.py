"""Scheduling: of the orders that keep a program's meaning, the one with the smallest planned
peak memory. Candidates are the program's own order and greedy list schedules using the
recorded sizes; each is judged by planning its buffers (`memory.plan_buffers`)."""
from __future__ import annotations

from collections import defaultdict

from .memory import (BufferPlan, memory_of, plan_buffers, reordered, root_readers,
                     value_roots)
from .program import Program


SMALL = 1 << 16    # bytes a sinking step may keep alive longer for free: lets chains sink


def schedule(program: Program, writes: dict = None, then=None) -> tuple[Program, BufferPlan]:
    """The recorded `program` in its best order, and that order's buffer plan. `writes`
    (fetched slot -> eager slot its value is written into, passes/write_state.py): steps
    that stay after every read of the old value. `then`, a pass `(program, buffers) ->
    (program, buffers)` run on each candidate order before it is judged (the remaking of
    cheap values, whose gain depends on the order)."""
    deps = dependencies(program, writes)
    best = None
    orders = [list(range(len(program.steps)))] + greedy_orders(program, deps)
    tried = set()
    for order in orders + [sunk(program, deps, order) for order in orders]:
        if tuple(order) in tried:     # greedy and sunk orders often coincide: judge once
            continue
        tried.add(tuple(order))
        candidate = reordered(program, [program.steps[k] for k in order])
        buffers = plan_buffers(candidate)
        if then is not None:
            candidate, buffers = then(candidate, buffers)
        if best is None or buffers.stats.peak_bytes < best[2].stats.peak_bytes:
            best = (order, candidate, buffers)
    gathered = updates_last(program, deps, best[0], writes or {})
    if gathered != best[0]:     # kept when its peak is no higher
        candidate = reordered(program, [program.steps[k] for k in gathered])
        buffers = plan_buffers(candidate)
        if then is not None:
            candidate, buffers = then(candidate, buffers)
        if buffers.stats.peak_bytes <= best[2].stats.peak_bytes:
            best = (gathered, candidate, buffers)
    order, candidate, buffers = best
    if order == sorted(order):
        return (program if candidate.steps == program.steps else candidate), buffers
    moved = sum(k != n for n, k in enumerate(order))
    note = ("schedule", f"moved {moved} of {len(order)} step(s): planned peak "
                        f"{buffers.stats.peak_bytes} bytes")
    return candidate.replace(log=candidate.log[:len(program.log)] + (note,)
                             + candidate.log[len(program.log):]), buffers


def dependencies(program: Program, writes: dict = None) -> list:
    """Per step, the steps that must run before it: the producers of its inputs and of its
    control inputs, reads of a written target (through any view, or an eager tensor sharing
    its memory) on the side of the write they were on, writes to one target and random draws
    in their order; a step whose value `writes` stores in place after every read of that
    eager tensor."""
    producer, steps = program.producer, program.steps
    roots = memory_of(program)
    readers = root_readers(program, roots)
    deps = [{producer[i] for i in s.inputs + s.control if i in producer} for s in steps]
    for f, e in (writes or {}).items():
        deps[producer[f]].update(readers[e] - {producer[f]})
    last_writer, last_random = {}, None
    for n, s in enumerate(steps):
        w = getattr(s.op, "writes_input", None)
        if w is not None:
            t = s.inputs[w]
            for m in readers[t] - {n}:
                (deps[n] if m < n else deps[m]).add(m if m < n else n)
            if t in last_writer:
                deps[n].add(last_writer[t])
            last_writer[t] = n
        elif s.op.stateful:
            if last_random is not None:
                deps[n].add(last_random)
            last_random = n
    return deps


def greedy_orders(program: Program, deps: list) -> list:
    """Candidate orders: smallest net allocation first; and most bytes freed first."""
    orders = []
    for key in (lambda alloc, freed: (alloc - freed,), lambda alloc, freed: (-freed, alloc)):
        orders.append(_list_schedule(program, deps, key))
    return orders


def _list_schedule(program: Program, deps: list, key) -> list:
    steps = program.steps
    roots = value_roots(program)
    size = {s.output: s.record.nbytes for s in steps if roots[s.output] == {s.output}}
    fetched = {r for f in program.fetches for r in roots.get(f, ())}
    freeable = {r for r, b in size.items() if b and r not in fetched}
    reads = []      # per step: freeable root -> how many of its reads go to that root's memory
    pending = defaultdict(int)     # freeable root -> value reads still to run (views included)
    for s in steps:
        counts = defaultdict(int)
        for i in s.inputs:
            for r in roots.get(i, ()):
                if r in freeable:
                    counts[r] += 1
                    pending[r] += 1
        reads.append(counts)
    users = defaultdict(list)
    waiting = [len(d) for d in deps]
    for n, d in enumerate(deps):
        for p in d:
            users[p].append(n)
    order = []

    def score(n):
        freed = sum(size[r] for r, c in reads[n].items() if pending[r] == c)
        return key(size.get(steps[n].output, 0), freed) + (n,)

    # the ready steps' scores, each remade only when a step reading one of its roots runs
    ready = {n: score(n) for n, w in enumerate(waiting) if w == 0}
    while ready:
        n = min(ready, key=ready.__getitem__)
        del ready[n]
        order.append(n)
        ran = reads[n]
        if ran:
            for r, c in ran.items():
                pending[r] -= c
            ran = ran.keys()
            for u in ready:
                if not ran.isdisjoint(reads[u]):
                    ready[u] = score(u)
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready[u] = score(u)
    assert len(order) == len(steps), "dependency cycle in a program"
    return order


def sunk(program: Program, deps: list, order: list) -> list:
    """`order` with each step moved down to just before the first step needing it when
    that ends more bytes than it keeps alive: its own value is then made just before it is
    read (a loss's one-hot labels, a weight's low copy, a gradient seed built from shapes),
    and it holds an input longer only if it was that input's last reader. Steps are taken
    from the last up, so a chain sinks together."""
    steps, roots = program.steps, value_roots(program)
    readers = root_readers(program, roots)
    fetched = {r for f in program.fetches for r in roots.get(f, ())}
    size = {s.output: s.record.nbytes for s in steps
            if roots[s.output] == {s.output} and s.output not in fetched}
    users = defaultdict(list)
    for n, d in enumerate(deps):
        for p in d:
            users[p].append(n)
    order = list(order)
    at = {k: p for p, k in enumerate(order)}
    for n in reversed(list(order)):
        step = steps[n]
        if not users[n] or step.op.stateful or getattr(step.op, "writes_input", None) is not None:
            continue
        first = min(at[u] for u in users[n])
        if first <= at[n] + 1:
            continue
        here = at[n]
        kept = sum(size.get(r, 0) for r in {r for i in step.inputs for r in roots.get(i, ())}
                   if all(at[m] <= here for m in readers[r]))   # n reads it last
        if kept <= size.get(step.output, 0) + SMALL:
            order.insert(first, n)
            del order[here]
            for p in range(here, first):
                at[order[p]] = p
    return order


def updates_last(program: Program, deps: list, order: list, writes: dict) -> list:
    """`order` with the small state updates moved to its end, together with the small steps
    only they need (an optimizer's bias corrections, its moments): in a training step the
    updates of biases and norms otherwise run one by one between the backward's products,
    each then finding its arrays and the interpreter's own data out of cache (the GPT's
    256-element AdamW loop 110-150 us there, 20-30 us after another). A step moves when
    every step after it that depends on it moves, it is elementwise or a view (not a
    product, not a row kernel that a neighbour may join: row_kernels.py), writes no state in
    place, draws no random numbers, and what it allocates and every input it reads is
    small, fetched or an external: moving it then keeps nothing large alive longer."""
    steps, roots = program.steps, value_roots(program)
    fetched = {r for f in program.fetches for r in roots.get(f, ())}
    users = defaultdict(list)
    for n, d in enumerate(deps):
        for p in d:
            users[p].append(n)
    updates = {program.producer[f] for f in writes if f in program.producer}

    def small(slot) -> bool:
        return all(r in program.externals or r in fetched
                   or program.made_by(r).record.nbytes <= SMALL for r in roots.get(slot, ()))

    moved = set()
    for n in reversed(order):
        step = steps[n]
        if (step.op.stateful or step.control or step.record is None
                or not (step.op.elementwise or step.op.view)
                or getattr(step.op, "writes_input", None) is not None
                or not (n in updates or users[n]) or any(u not in moved for u in users[n])
                or step.record.nbytes > SMALL or not all(small(i) for i in step.inputs)):
            continue
        moved.add(n)
    return [k for k in order if k not in moved] + [k for k in order if k in moved]
