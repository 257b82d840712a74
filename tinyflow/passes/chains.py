"""Chained state updates in one loop: an elementwise group that writes an eager tensor in
place (an optimizer's moment) and whose value only a later group reads (the parameter's
update, also written in place) runs inside that later group's loop, which then stores both.
AdamW's step per parameter was three loops (first moment, second moment, parameter: ten
passes over parameter-sized memory) and becomes one (seven: p, g, m, v read; p, m, v
written), as the eager one-pass kernel (backend/numpy/state.py).

A codegen decision over the final program and its buffer plan: the deferred group's step
then only names its target array, and the later step runs the joined group
(`backend/numpy/fused.run_chain`), or, where that does not cover the arrays at run time,
the groups one after another as before. Safe because the deferred group's inputs stay as
they were until the later step: every step between them writes only fresh arrays (no pool
block, no state, nothing in place) and none reads the deferred value or its target.
"""
from __future__ import annotations

import dataclasses

from ..backend.numpy.fused import CHAIN_MIN_SIZE, run_chain
from ..backend.numpy.registry import KERNELS
from ..ops.fused import FusedElementwise
from .memory import BufferPlan
from .program import Program


@dataclasses.dataclass
class Chain:
    """The steps `deferred` (indices) joined into step `last`: the joined op, the slots it
    reads, and which member's value goes to each deferred step's target."""
    last: int
    deferred: tuple
    op: FusedElementwise
    inputs: tuple
    stores: tuple


def chains(program: Program, buffers: BufferPlan) -> list:
    """The chains of `program`: for each fused group step writing an eager target in place,
    its inputs made by fused groups that write an eager target
    in place, that it alone reads, of its shape and dtype, with only harmless steps
    between (see the module's text)."""
    found, taken = [], set()
    state = buffers.out_state
    for p, step in enumerate(program.steps):
        if type(step.op) is not FusedElementwise or step.control or not _flat(program, step):
            continue
        if p not in state:     # an eager target: no pool block can overlap it
            continue
        deferred = []
        for slot in dict.fromkeys(step.inputs):
            d = program.producer.get(slot)
            if d is None or d in taken or d not in state:
                continue
            ds = program.steps[d]
            if (type(ds.op) is FusedElementwise and not ds.control and _flat(program, ds)
                    and ds.record.shape == step.record.shape
                    and ds.record.dtype == step.record.dtype
                    and set(program.readers.get(slot, ())) == {p}
                    and slot not in program.waited_for):
                deferred.append(d)
        deferred.sort()
        if deferred and all(_harmless(program, buffers, m, deferred)
                            for m in range(deferred[0] + 1, p) if m not in deferred):
            found.append(_join(program, deferred, p))
            taken.update(deferred + [p])
    return found


def _flat(program: Program, step) -> bool:
    """A group worth one loop: not tiny (`CHAIN_MIN_SIZE`), every input one
    element or of the output's shape (no broadcasting rows), its value not cast."""
    rec = step.record
    if (rec is None or rec.cast or rec.layout is not None or rec.shape is None
            or rec.aliases or _size(rec.shape) < CHAIN_MIN_SIZE):
        return False
    for i in step.inputs:
        shape = _recorded_shape(program, i)
        if shape is None or (_size(shape) != 1 and tuple(shape) != tuple(rec.shape)):
            return False
    return True


def _harmless(program: Program, buffers: BufferPlan, m: int, deferred: list) -> bool:
    """Step m, between a deferred group and its reader: writes only a fresh array and reads
    neither a deferred value nor a deferred group's target."""
    step = program.steps[m]
    if (buffers.out_buffer[m] is not None or m in buffers.out_state or step.control
            or getattr(step.op, "stateful", False)
            or getattr(step.op, "writes_input", None) is not None
            or (step.record is not None and step.record.aliases)):
        return False
    touched = {program.steps[d].output for d in deferred} | {
        buffers.out_state[d] for d in deferred}
    return not touched & set(step.inputs)


def _join(program: Program, deferred: list, last: int) -> Chain:
    """The joined op: the deferred groups' members, then the last group's, its operands
    reading the deferred values as members."""
    groups = deferred + [last]
    made = {program.steps[d].output for d in deferred}
    inputs = list(dict.fromkeys(i for n in groups for i in program.steps[n].inputs
                                if i not in made))
    position = {slot: k for k, slot in enumerate(inputs)}
    members, args, value_at = [], [], {}
    for n in groups:
        step = program.steps[n]
        local = {k: value_at[i] if i in made else position[i]
                 for k, i in enumerate(step.inputs)}
        for j, (member, operands) in enumerate(zip(step.op.members, step.op.args)):
            local[step.op.num_inputs + j] = len(inputs) + len(members)
            members.append(member)
            args.append(tuple(local[k] for k in operands))
        value_at[step.output] = len(inputs) + len(members) - 1
    op = FusedElementwise(members=tuple(members), args=tuple(args), num_inputs=len(inputs))
    stores = tuple(value_at[program.steps[d].output] - len(inputs) for d in deferred)
    return Chain(last, tuple(deferred), op, tuple(inputs), stores)


def chain_kernel(program: Program, chain: Chain):
    """`run(*arrays, out, outs)` for the chain's last step: the joined loop, else each group's
    own kernel in order (the deferred ones into their targets `outs`)."""
    groups = []
    made = {}
    for k, n in enumerate(chain.deferred + (chain.last,)):
        step = program.steps[n]
        where = [("out", made[i]) if i in made else ("in", chain.inputs.index(i))
                 for i in step.inputs]
        groups.append((step.op, where))
        made[step.output] = k
    kernel = KERNELS[FusedElementwise]

    def run(*arrays, out, outs):
        if run_chain(chain.op, chain.stores, arrays, out, outs) is not None:
            return out
        targets = list(outs) + [out]
        for (op, where), target in zip(groups, targets):
            kernel(op, *[arrays[k] if kind == "in" else targets[k] for kind, k in where],
                   out=target)
        return out
    return run


def _recorded_shape(program: Program, slot: int):
    step = program.made_by(slot)
    if step is not None:
        if step.record is not None and step.record.shape is not None:
            return step.record.shape
        return () if step.shape == () else None    # a NumPy scalar (a bias correction)
    ext = program.externals[slot]
    ref = getattr(ext, "ref", None)
    shape = getattr(ref, "shape", None) if ext.kind in ("const", "eager") else ext.shape
    if shape is None or any(n is None for n in shape):   # a feed's symbolic size: unknown
        return None
    return tuple(shape)


def _size(shape) -> int:
    size = 1
    for n in shape:
        size *= n
    return size
