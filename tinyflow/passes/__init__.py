"""The graph compiler: the IR (`program.py`) and the passes over it, one module each.

A plan is lowering, then `REWRITES` (each `Program -> Program`, switchable by name), then
the runtime's per-shape passes. `optimize` runs a pass list, verifying the program after
each pass when `VERIFY` is set (the test suite sets it).
"""
from __future__ import annotations

from .constant_fold import constant_fold
from .cse import cse
from .dce import dce
from .simplify import simplify
from .stable_softmax import stable_softmax
from .program import External, Program, Step, VerifyError, literal, lower, rename

VERIFY = False

# Graph rewrites, in order; each entry (name, pass). `Session(optimize=False)` runs none.
REWRITES = [
    ("stable_softmax", stable_softmax),
    ("constant_fold", constant_fold),
    ("simplify", simplify),
    ("cse", cse),
    ("dce", dce),
]


def optimize(program: Program, passes=None, skip=()) -> Program:
    """Run `passes` (default `REWRITES`) except those named in `skip`."""
    if VERIFY:
        program.verify()
    for name, rewrite in REWRITES if passes is None else passes:
        if name in skip:
            continue
        program = rewrite(program)
        if VERIFY:
            try:
                program.verify()
            except VerifyError as e:
                raise VerifyError(f"after pass {name}: {e}") from None
    return program


__all__ = ["External", "Program", "Step", "VerifyError", "literal", "lower", "optimize", "rename",
           "REWRITES"]
