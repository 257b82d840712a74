"""The graph compiler: the IR (`program.py`) and the passes over it, one module each.

A plan is lowering, then `REWRITES` (each `Program -> Program`, switchable by name), then
for each set of feed shapes the per-shape pipeline (`plan_for_shapes`: record, fold shapes,
fuse updates, schedule with cheap values remade, recompute under a budget, short-row kernels)
and `codegen`.
`optimize` runs a pass list, verifying the program after each pass when `VERIFY` is set (the
test suite sets it).
"""
from __future__ import annotations

from .add_layer_norm import add_layer_norm
from .bias_grads import bias_grads
from .checkpoint import forward_flops, recompute_under_budget
from .codegen import codegen
from .constant_fold import constant_fold
from .copies import elide_copies
from .cse import cse
from .dce import dce
from .fold_batchnorm import fold_batchnorm
from .fold_shapes import fold_shapes, shapes_from_values
from .fuse_elementwise import fuse_elementwise
from .fuse_updates import fuse_updates
from .layouts import transposed_products
from .memory import BufferPlan, MemoryStats
from .merge_matmuls import merge_matmuls
from .program import External, Program, Step, VerifyError, literal, lower, rename
from .reassociate import reassociate
from .record import Record, record
from .remat import remat
from .residual_grads import residual_grads
from .row_kernels import row_kernels
from .scatter_tiles import scatter_tiles
from .schedule import schedule
from .simplify import simplify
from .stable_softmax import stable_softmax
from .write_state import state_writes, write_candidates

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
    ("residual_grads", residual_grads),   # after dce: the add's dx must have no dead reader
    ("bias_grads", bias_grads),
    ("add_layer_norm", add_layer_norm),
    ("fuse_elementwise", fuse_elementwise),   # last: the other rewrites match single ops
]


def optimize(program: Program, passes=None, skip=()) -> Program:
    """Run `passes` (default `REWRITES`) except those named in `skip`."""
    if VERIFY:
        program.verify()
    for name, rewrite in REWRITES if passes is None else passes:
        if name in skip:
            continue
        program = _checked(name, rewrite(program))
    return program


def plan_for_shapes(program: Program, values: list, memory_budget=None,
                    writes: dict = None, fetched: list = None) -> tuple[Program, BufferPlan]:
    """The per-shape pipeline: `program` recorded on `values` (slot -> loaded external),
    shape-only values folded, split pieces' gradients scattered without their reshapes
    (scatter_tiles.py) (and the steps then unread dropped: a loss computed only for the
    shape of its gradient), SGD updates fused, products written in the layout their
    reshapes read (layouts.py), copies of C-ordered values made views (copies.py), in
    the order of smallest planned peak with cheap values remade before their late readers
    (`remat`), and (over `memory_budget` bytes) with
    recomputation; and its buffer plan, where the values `writes` stores into eager tensors
    (fetched slot -> their slot) are computed into those tensors' arrays where it is safe
    (passes/write_state.py); softmaxes and sums over short rows then run row loops
(row_kernels.py). `fetched`: receives the recording run's fetched values."""
    program = _checked("record", record(program, values, fetched))
    program = _checked("fold_shapes", fold_shapes(program))
    program = _checked("scatter_tiles", scatter_tiles(program))   # (its reshapes: dce below)
    program = _checked("dce", _renamed(program, dce(program), "dce (after fold_shapes)"))
    program = _checked("fuse_updates", fuse_updates(program))
    program = _checked("layouts", transposed_products(program))
    program = _checked("elide_copies", elide_copies(program))
    candidates = write_candidates(program, writes or {})
    program, buffers = schedule(program, candidates, then=remat)
    _checked("schedule", program)
    buffers.stats.forward_flops = forward_flops(program)
    if memory_budget is not None and buffers.stats.peak_bytes > memory_budget:
        program, buffers = recompute_under_budget(program, buffers, memory_budget)
        _checked("recompute", program)
    buffers.out_state = state_writes(program, candidates, values)
    buffers.stats.state_writes = len(buffers.out_state)
    return _checked("row_kernels", row_kernels(program)), buffers


def _renamed(before: Program, after: Program, name: str) -> Program:
    """`after` with the note its pass added to `before`'s log, if any, under `name`."""
    if len(after.log) == len(before.log):
        return after
    return after.replace(log=after.log[:-1] + ((name, after.log[-1][1]),))


def _checked(name: str, program: Program) -> Program:
    """`program`, verified when `VERIFY` is set (a failure names the pass)."""
    if VERIFY:
        try:
            program.verify()
        except VerifyError as e:
            raise VerifyError(f"after pass {name}: {e}") from None
    return program


__all__ = ["BufferPlan", "External", "MemoryStats", "Program", "Record", "Step", "VerifyError",
           "codegen", "literal", "lower", "optimize", "plan_for_shapes", "rename", "REWRITES",
           "shapes_from_values"]
