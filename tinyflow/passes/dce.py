"""Dead-code elimination: drop steps whose value nothing fetches, reads or waits for."""
from __future__ import annotations

from .program import Program


def dce(program: Program) -> Program:
    """Remove pure steps (not stateful, not writing an input) with unused outputs, repeatedly
    (a step kept alive only by a dead one dies too). Control edges keep their sources."""
    live = set(program.fetches)
    keep = []
    for s in reversed(program.steps):
        pure = not getattr(s.op, "stateful", False) and \
            getattr(s.op, "writes_input", None) is None
        if pure and s.output not in live:
            continue
        keep.append(s)
        live.update(s.inputs)
        live.update(s.control)
    if len(keep) == len(program.steps):
        return program
    removed = len(program.steps) - len(keep)
    return program.with_steps(reversed(keep), note=("dce", f"removed {removed} dead step(s)"))
