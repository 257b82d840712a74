"""The graph compiler: the IR (`program.py`) and the passes over it, one module each.

A plan is lowering, then `REWRITES` (each `Program -> Program`, switchable by name), then
the runtime's per-shape passes. `optimize` runs a pass list, verifying the program after
each pass when `VERIFY` is set (the test suite sets it).
"""
from __future__ import annotations

from .constant_fold import constant_fold
from .cse import cse
from .dce import dce
from .fold_batchnorm import fold_batchnorm
from .fuse_elementwise import fuse_elementwise
from .merge_matmuls import merge_matmuls
from .program import External, Program, Step, VerifyError, literal, lower, rename
from .reassociate import reassociate
from .simplify import simplify
from .stable_softmax import stable_softmax

VERIFY = False

# Graph rewrites, in order; each entry (name, pass). `Session(optimize=False)` runs none.
REWRITES = [
    ("stable_softmax", stable_softmax),
    ("constant_fold", constant_fold),
    ("simplify", simplify),
    ("cse", cse),
    ("reassociate", reassociate),         # before merging: it needs the products as written
    ("fold_batchnorm", fold_batchnorm),
    ("merge_matmuls", merge_matmuls),     # after cse: linear layers' reshapes of one x merge
    ("dce", dce),
    ("fuse_elementwise", fuse_elementwise),   # last: the other rewrites match single ops
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
