"""Writing state in place: a value that a compiled function stores into an eager tensor (a
parameter's new value, an optimizer's moments, its step counter) is computed by its kernel
straight into that tensor's array, instead of into a new array the caller copies in after
the run. For the GPT step with AdamW that is 162 arrays a step (of its 216 writes: the
other 54 are 0-d step counts) neither allocated nor copied.

Safe when, in the final order, every read of the old value (through any view) runs before
the writing step or is that step itself reading the array exactly (an elementwise kernel
reads each element before it writes it), the kernel takes `out=`, and nothing else is
handed out aliasing it. The scheduler keeps the readers before the writer
(`schedule.dependencies`), so a reorder cannot undo it.
"""
from __future__ import annotations

from ..backend.numpy.registry import OUT_KERNELS
from .memory import fetched_roots, root_readers, value_roots
from .program import Program


def write_candidates(program: Program, targets: dict) -> dict:
    """Of `targets` (fetched slot -> the eager external slot its value is stored into),
    the ones worth keeping in order: fetched once, produced after every read of the target
    (in the current order) by a step with an `out=` kernel, the target written by no step.
    Returns {fetched slot: target slot}."""
    readers = root_readers(program, value_roots(program))
    producer, fetches = program.producer, list(program.fetches)
    written = {s.inputs[s.op.writes_input] for s in program.steps
               if getattr(s.op, "writes_input", None) is not None}
    found = {}
    for f, e in targets.items():
        n = producer.get(f)
        ext = program.externals.get(e)
        if (n is not None and ext is not None and ext.kind == "eager"
                and fetches.count(f) == 1 and e not in fetches and e not in written
                and OUT_KERNELS.get(type(program.steps[n].op)) is not None
                and all(m <= n for m in readers.get(e, ()))):
            found[f] = e
    return found


def state_writes(program: Program, candidates: dict, values: list) -> dict:
    """Per step index of the recorded, scheduled `program`: the eager external slot it
    writes its value into (`out=`), for the candidates still safe in this order and whose
    loaded array (`values[slot]`) is C-contiguous of the value's shape and dtype."""
    roots = value_roots(program)
    readers = root_readers(program, roots)
    fetched = fetched_roots(program, roots)
    producer, steps = program.producer, program.steps
    out = {}
    for f, e in candidates.items():
        n = producer.get(f)
        if n is None or e in fetched or e in out.values():
            continue
        step, rec, target = steps[n], steps[n].record, values[e]
        in_place = OUT_KERNELS.get(type(step.op))
        if (in_place is None or rec is None or rec.cast or rec.aliases
                or roots.get(f) != frozenset([f])
                or getattr(target, "shape", None) != rec.shape or target.dtype != rec.dtype
                or not target.flags.c_contiguous or not target.flags.writeable):
            continue
        if any(m > n for m in readers.get(e, ())):
            continue      # the old value is read after the write
        if n in readers.get(e, ()) and not (
                in_place and e in step.inputs
                and not any(i != e and e in roots.get(i, ()) for i in step.inputs)):
            continue      # the writer reads it other than exactly, elementwise
        out[n] = e
    return out
