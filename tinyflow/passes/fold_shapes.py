"""Shape-only folding: for one set of feed shapes, values that depend only on shapes (counts,
gradient seeds, `ones_like` of a batch) are constants, and an input a kernel reads only the
shape of can be a stand-in that takes no memory. Both become constant externals, so later
passes see only real data dependencies."""
from __future__ import annotations

import dataclasses

from .program import External, Program, literal, value_reads

FOLD_BYTES = 1 << 16   # larger shape-only constants are recomputed (they would pin memory)


def foldable(program: Program) -> set:
    """Outputs that depend on shapes only (and on literals: Python numbers, constants): of
    pure steps, not fetched, whose value reads are all such outputs themselves (the
    recording run keeps the small ones)."""
    fetched = set(program.fetches)
    constant = {slot for slot, e in program.externals.items()
                if e.kind == "const" or literal(program, slot) is not None}
    for s in program.steps:
        if (getattr(s.op, "writes_input", None) is None and not s.op.stateful
                and s.output not in fetched and all(i in constant for i in value_reads(s))):
            constant.add(s.output)
    return constant


def fold_shapes(program: Program) -> Program:
    """Recorded steps whose value was kept (`Record.folded`) become constant externals; each
    slot read only for its shape is read through one constant stand-in of its shape."""
    externals = dict(program.externals)
    stand_in: dict = {}             # slot read for its shape -> its stand-in's slot
    num_slots, steps, folded = program.num_slots, [], 0
    for s in program.steps:
        rec = s.record
        if rec.folded:
            externals[s.output] = External("const", rec.value,
                                           s.shape if rec.shape is None else rec.shape,
                                           s.dtype, s.name)
            folded += 1
            continue
        if rec.dummies:
            ins = list(s.inputs)
            for k, dummy in rec.dummies.items():
                if ins[k] not in stand_in:
                    stand_in[ins[k]] = num_slots
                    externals[num_slots] = External("const", dummy, dummy.shape,
                                                    program.value_of(ins[k])[1],
                                                    f"shape of v{ins[k]}")
                    num_slots += 1
                ins[k] = stand_in[ins[k]]
            s = s.replace(inputs=tuple(ins), record=dataclasses.replace(rec, dummies={}))
        steps.append(s)
    if not folded and not stand_in:
        return program
    note = ("fold_shapes", f"folded {folded} shape-only value(s) into constants; "
                           f"{len(stand_in)} value(s) read for their shape only")
    return program.replace(steps=tuple(steps), externals=externals, num_slots=num_slots,
                           log=program.log + (note,))


def shapes_from_values(program: Program) -> list:
    """Steps whose output shape is read from their inputs' values rather than their shapes
    (a `range(n)`, a TensorArray of size n, a loop that runs n times, a mask's count), where
    those values are data, not shapes: a plan keyed on feed shapes cannot hold their buffers,
    so such a program runs unplanned. A step is one when its inputs' static shapes are all
    known but its own is not."""
    shape = {slot: e.shape for slot, e in program.externals.items()}
    shape.update((s.output, s.shape) for s in program.steps)
    from_shapes = foldable(program)
    return [s for s in program.steps
            if not _known(s.shape) and all(_known(shape.get(i)) for i in s.inputs)
            and not all(i in from_shapes for i in value_reads(s))]


def _known(shape) -> bool:
    return shape is not None and None not in shape
