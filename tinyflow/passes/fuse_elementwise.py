"""Elementwise fusion: each connected group of elementwise steps becomes one fused step, and a
sum over every axis of one becomes one step with it."""
from __future__ import annotations

import heapq
from typing import Optional

from ..backend.numpy.fused import fusable
from ..core import dtypes
from ..ops.fused import FusedElementwise, FusedSum
from ..ops.reduce import Sum
from .fuse_updates import update_pattern
from .program import Program

FLOATS = (dtypes.float32, dtypes.float64)


def fuse_elementwise(program: Program) -> Program:
    """Replace each maximal group of fusable elementwise steps (of one float dtype) whose
    intermediate values are read only inside the group, waited for by no control edge and not
    fetched, by one `FusedElementwise` step at the place of the group's output (groups of one
    step stay as they are); then a sum over every axis that alone reads such a group, or one
    fusable step, becomes one `FusedSum` step with it."""
    blocked = _blocked_updates(program)
    candidates = {n for n in range(len(program.steps)) if _fusable(program, n, blocked)}
    taken, groups = set(), {}
    for root in sorted(candidates, reverse=True):
        if root in taken:
            continue
        members = _grow(program, root, candidates, taken)
        if len(members) > 1:
            taken |= members
            groups[root] = members
    if groups:
        program = _with_groups(program, groups, taken)
    return _absorb_sums(program)


def _with_groups(program: Program, groups: dict, taken: set) -> Program:
    steps = []
    for n, s in enumerate(program.steps):
        if n in groups:
            steps.append(_fused_step(program, sorted(groups[n])))
        elif n not in taken:
            steps.append(s)
    names = ", ".join(s.op.name for s in steps if isinstance(s.op, FusedElementwise))
    return program.with_steps(steps, note=(
        "fuse_elementwise", f"fused {len(taken)} steps into {len(groups)} kernel(s): {names}"))


def _absorb_sums(program: Program) -> Program:
    absorbed = {}     # sum step -> the step it absorbs
    blocked = _blocked_updates(program)
    for n, s in enumerate(program.steps):
        p = _summed_group(program, n, blocked)
        if p is not None:
            absorbed[n] = p
    if not absorbed:
        return program
    steps = []
    for n, s in enumerate(program.steps):
        if n in absorbed:
            group = program.steps[absorbed[n]]
            if type(group.op) is not FusedElementwise:
                group = _fused_step(program, [absorbed[n]])
            op = FusedSum(members=group.op.members, args=group.op.args,
                          num_inputs=group.op.num_inputs, keepdims=s.op.keepdims)
            steps.append(s.replace(op=op, inputs=group.inputs, kernel=None))
        elif n not in absorbed.values():
            steps.append(s)
    names = ", ".join(steps[k].op.name for k in range(len(steps))
                      if isinstance(steps[k].op, FusedSum))
    return program.with_steps(steps, note=(
        "fuse_elementwise", f"fused {len(absorbed)} sum(s) with their elementwise producer: "
                            f"{names}"))


def _summed_group(program: Program, n: int, blocked: set) -> Optional[int]:
    """The step whose value the step n sums over every axis, if it is a fused group or a
    fusable step of the sum's dtype that nothing else reads, waits for or fetches."""
    s = program.steps[n]
    if type(s.op) is not Sum or s.dtype not in FLOATS or s.control:
        return None
    (x,) = s.inputs
    shape = program.value_of(x)[0]
    if s.op.axis is not None and (shape is None or sorted(a % len(shape) for a in s.op.axis)
                                  != list(range(len(shape)))):
        return None
    p = program.producer.get(x)
    if p is None or program.only_reader(x) != n or x in program.waited_for:
        return None
    step = program.steps[p]
    if step.dtype != s.dtype or step.control or program.written_between(p, n, step.inputs):
        return None
    if type(step.op) is FusedElementwise or _fusable(program, p, blocked):
        return p
    return None


def _fusable(program: Program, n: int, blocked: set) -> bool:
    s = program.steps[n]
    if not (s.op.elementwise and fusable(s.op) and s.dtype in FLOATS
            and not getattr(s.op, "stateful", False)) or n in blocked:
        return False
    return all(program.value_of(i)[1] == s.dtype for i in s.inputs)


def _blocked_updates(program: Program) -> set:
    """The scaling and subtraction steps of each `assign(w, w - lr * matmul(a, b))`, which
    the runtime runs as a blocked in-place update (passes/fuse_updates.py): better than
    fusing, as the full weight gradient never exists."""
    blocked = set()
    for n in range(len(program.steps)):
        found = update_pattern(program, n)
        if found is not None:
            blocked |= {program.producer[s.output] for s in found[1:3]}
    return blocked


def _grow(program: Program, root: int, candidates: set, taken: set) -> set:
    """The steps fused with `root`: producers taken latest first, so that when one is
    considered every reader that could join has been decided; it joins when all its readers
    are members, nothing else needs its value, and no step between it and the root (where
    the group runs) overwrites what it reads."""
    members = {root}
    heap = [-p for p in _producers(program, root)]
    heapq.heapify(heap)
    seen = set()
    while heap:
        n = -heapq.heappop(heap)
        if n in seen:
            continue
        seen.add(n)
        s = program.steps[n]
        if (n in candidates and n not in taken and s.dtype == program.steps[root].dtype
                and not s.control
                and s.output not in program.fetches and s.output not in program.waited_for
                and all(r in members for r in program.readers.get(s.output, ()))
                and not program.written_between(n, root, s.inputs)):
            members.add(n)
            for p in _producers(program, n):
                heapq.heappush(heap, -p)
    return members


def _producers(program: Program, n: int) -> list:
    return [program.producer[i] for i in program.steps[n].inputs if i in program.producer]


def _fused_step(program: Program, members: list):
    """One step computing `members` (step indices, in order; the last is the output)."""
    outputs = [program.steps[n].output for n in members]
    inside = set(outputs)
    inputs = list(dict.fromkeys(i for n in members for i in program.steps[n].inputs
                                if i not in inside))
    position = {slot: k for k, slot in enumerate(inputs + outputs)}
    op = FusedElementwise(members=tuple(program.steps[n].op for n in members),
                          args=tuple(tuple(position[i] for i in program.steps[n].inputs)
                                     for n in members),
                          num_inputs=len(inputs))
    return program.steps[members[-1]].replace(op=op, inputs=tuple(inputs), kernel=None)
