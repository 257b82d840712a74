"""Common-subexpression elimination: pure steps with equal ops and equal inputs run once."""
from __future__ import annotations

from ..core.op import field_names
from .program import Program, is_pure, literal, rename


def cse(program: Program) -> Program:
    """Map each pure, unfetched step equal to an earlier one (same op class and attributes,
    same inputs after earlier merges) to the earlier one's value. Literals of equal dtype,
    shape and bytes count as one input, so `x * 2` written twice is one product."""
    merged = _equal_literals(program)
    seen: dict = {}
    steps, removed = [], 0
    for step in program.steps:
        step = rename([step], merged)[0]   # read the kept values of earlier merges
        key = _key(step) if is_pure(step, program) else None
        if key is not None and key in seen and step.output not in program.fetches:
            merged[step.output] = seen[key]
            removed += 1
            continue
        if key is not None:
            seen.setdefault(key, step.output)
        steps.append(step)
    if not removed:
        return program
    return program.with_steps(steps, note=("cse", f"merged {removed} step(s)"))


def _equal_literals(program: Program) -> dict:
    """slot -> the first literal slot with the same dtype, shape and bytes."""
    first, mapping = {}, {}
    for slot in sorted(program.externals):
        value = literal(program, slot)
        if value is None or value.nbytes > 1024:
            continue
        key = (value.dtype.str, value.shape, value.tobytes())
        if key in first:
            mapping[slot] = first[key]
        else:
            first[key] = slot
    return mapping


def _key(step):
    """What makes two steps compute the same value, hashable; None if it cannot be told."""
    return (_op_key(step.op), step.inputs, step.dtype)


def _op_key(op):
    """The op's class and attribute values; an attribute that cannot be hashed (an index
    array, a slice) makes the op equal only to itself."""
    try:
        fields = tuple((name, getattr(op, name)) for name in field_names(type(op)))
        hash(fields)
    except TypeError:
        return (type(op), id(op))
    return (type(op), fields)


