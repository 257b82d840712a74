"""Orders that lower peak memory: greedy list schedules over a plan's steps, using the sizes
from a recorded run. The plan keeps whichever order (these or the original) plans smallest."""
from __future__ import annotations

from collections import defaultdict

from .memory import value_reads, value_roots


def dependencies(steps: list, extra: list) -> list:
    """Per step, the steps that must run before it: producers of the inputs it reads (not
    those it needs only the shape of: a planned run passes stand-ins), plus `extra`."""
    producer = {s[3]: n for n, s in enumerate(steps)}
    deps = []
    for n, (_, op, ins, _, _) in enumerate(steps):
        deps.append({producer[i] for i in value_reads(op, ins) if i in producer} | set(extra[n]))
    return deps


def state_dependencies(steps: list, records: list, control: list, fetch_slots: list) -> tuple:
    """Orderings a schedule must keep besides data: control inputs, reads of a written
    target on the side of the write they were on, writes to one target and random draws
    in their order. Also: for each assign step, whether it may write in place (no read of
    the old value, through any view, follows it)."""
    producer = {s[3]: n for n, s in enumerate(steps)}
    roots = value_roots(steps, records)
    readers = defaultdict(set)
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            for r in roots.get(i, (i,)):
                readers[r].add(n)
    fetched = set().union(*(roots.get(s, {s}) for s in fetch_slots)) if fetch_slots else set()
    extra = [{producer[c] for c in cs if c in producer} for cs in control]
    last_writer, last_random = {}, None
    for n, (_, op, ins, _, _) in enumerate(steps):
        w = getattr(op, "writes_input", None)
        if w is not None:
            t = ins[w]
            for m in readers[t] - {n}:
                (extra[n] if m < n else extra[m]).add(m if m < n else n)
            if t in last_writer:
                extra[n].add(last_writer[t])
            last_writer[t] = n
        elif op.stateful:
            if last_random is not None:
                extra[n].add(last_random)
            last_random = n
    return extra, readers, fetched


def greedy_orders(steps: list, records: list, deps: list, fetch_slots: list) -> list:
    """Candidate orders: smallest net allocation first; and most bytes freed first."""
    orders = []
    for key in (lambda alloc, freed: (alloc - freed,), lambda alloc, freed: (-freed, alloc)):
        orders.append(_list_schedule(steps, records, deps, fetch_slots, key))
    return orders


def _list_schedule(steps, records, deps, fetch_slots, key) -> list:
    roots = value_roots(steps, records)
    pending = defaultdict(int)     # root -> value reads still to run (views included)
    for n, (_, op, ins, _, _) in enumerate(steps):
        for i in value_reads(op, ins):
            for r in roots.get(i, ()):
                pending[r] += 1
    for s in fetch_slots:
        for r in roots.get(s, ()):
            pending[r] += 1 << 30           # fetched: never freed
    size = {steps[n][3]: records[n].nbytes for n in range(len(steps))
            if roots[steps[n][3]] == {steps[n][3]}}
    users = defaultdict(list)
    waiting = [len(d) for d in deps]
    for n, d in enumerate(deps):
        for p in d:
            users[p].append(n)
    ready = {n for n, w in enumerate(waiting) if w == 0}
    order = []
    while ready:
        def score(n):
            _, op, ins, out, _ = steps[n]
            reads = defaultdict(int)
            for i in value_reads(op, ins):
                for r in roots.get(i, ()):
                    reads[r] += 1
            freed = sum(size.get(r, 0) for r, c in reads.items() if pending[r] == c)
            return key(size.get(out, 0), freed) + (n,)
        n = min(ready, key=score)
        ready.remove(n)
        order.append(n)
        _, op, ins, _, _ = steps[n]
        for i in value_reads(op, ins):
            for r in roots.get(i, ()):
                pending[r] -= 1
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.add(u)
    assert len(order) == len(steps), "dependency cycle in a plan"
    return order
