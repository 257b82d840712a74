"""Copies that copy nothing: a `Copy` step (`contiguous()`, `clone()`) of a value that this
run makes C-contiguous anyway becomes a view of it, as eager `contiguous()` returns the
tensor itself. nanoGPT's `y.transpose(1, 2).contiguous()` after attention is one: the
attention kernel lays its output out so that the transpose is C-ordered (eager pays no
copy; the plan paid 0.17 ms per layer for the GPT at batch 16).

A per-shape pass over the recorded program (the layouts are the recorded ones, which the
planned run keeps: record.py). Only where sharing the memory cannot be seen: the copied
value is made by the program's own steps (no feed, variable or eager tensor, which the
caller or a write may change), in no layout chosen by layouts.py, never written in place,
and neither it nor the copy is fetched (a `clone()` handed out beside its source must be
its own memory); nor when the copy is a small part of the memory it views (a bias gradient,
one row of bias_grads.py's output: the copy lets the rest be freed early)."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..ops.shape import Copy
from .memory import fetched_roots, value_roots
from .program import Program


def elide_copies(program: Program) -> Program:
    roots = value_roots(program)
    fetched = fetched_roots(program, roots)
    written = program.written_in_place
    steps, elided = list(program.steps), 0
    for n, step in enumerate(steps):
        if type(step.op) is not Copy or step.control or step.record is None:
            continue
        (x,) = step.inputs
        source = program.made_by(x)
        mine = roots.get(x, ())
        if (source is None or not source.record.c_order or source.record.cast
                or step.record.cast or step.output in fetched
                or step.output in program.waited_for
                or any(r in program.externals or r in fetched or r in written
                       or program.made_by(r).record.layout is not None
                       or program.made_by(r).record.nbytes > 2 * step.record.nbytes
                       for r in mine)):
            continue
        record = dataclasses.replace(step.record, aliases=(x,), nbytes=0, bytes_written=0,
                                     flops=0, c_order=True)
        steps[n] = step.replace(kernel=_same, record=record)
        elided += 1
    if not elided:
        return program
    return program.with_steps(steps, note=("elide_copies",
                                           f"{elided} copy(ies) of C-ordered values as views"))


def _same(op, x):
    """The copy of a value that is C-ordered: the value itself. Should an input's layout
    differ from the recorded one, a copy still (fresh memory where the plan counted a view:
    it only keeps the source alive longer)."""
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)
