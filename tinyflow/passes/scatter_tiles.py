"""Pieces reshaped only to be put back together: `getitem_grads(ref, reshape_to(x_1), ...)`
whose pieces tile one axis becomes `scatter_tiles(ref, x_1, ...)`, which writes each x_k
straight through a view of its slice (ops/shape.py). The reshape of a transposed value is a
copy: attention's q, k, v gradients ((batch, heads, seq, head) views of one array) were each
copied into (batch, seq, d) and then copied again into the fused q/k/v projection's
gradient; now they are copied once. A per-shape pass: whether a slice can be viewed in the
piece's shape depends on the recorded shapes."""
from __future__ import annotations

import dataclasses

import numpy as np

from ..backend.numpy.shape import _tile_one_axis, tile_view
from ..ops.shape import GetItemGrads, ReshapeTo, ScatterTiles
from .program import Program


def scatter_tiles(program: Program) -> Program:
    """Rewrite each tiling `getitem_grads` with at least one piece made by a `reshape_to`
    that nothing else reads, whose input can be written through a view of the piece's
    slice."""
    steps, changed = list(program.steps), 0
    for n, step in enumerate(program.steps):
        if type(step.op) is not GetItemGrads or step.record is None or step.record.cast:
            continue
        shape, dtype = step.record.shape, step.record.dtype
        if dtype is None or not _tile_one_axis(step.op.indices, shape):
            continue
        probe = np.empty(shape, dtype)    # strides as the kernel's output has them
        pieces = [_unreshaped(program, g, n, probe, index)
                  for index, g in zip(step.op.indices, step.inputs[1:])]
        if all(p == g for p, g in zip(pieces, step.inputs[1:])):
            continue
        steps[n] = step.replace(op=ScatterTiles(indices=step.op.indices),
                                inputs=(step.inputs[0],) + tuple(pieces), kernel=None,
                                record=dataclasses.replace(step.record, aliases=()))
        changed += 1
    if not changed:
        return program
    return program.with_steps(steps, note=("scatter_tiles", f"{changed} gradient(s) of split "
                                           f"pieces written without reshaping the pieces"))


def _unreshaped(program: Program, slot: int, n: int, probe: np.ndarray, index) -> int:
    """The input of the `reshape_to` making `slot`, if only step n reads it, the input has a
    recorded shape in `probe`'s dtype and `probe[index]` can be viewed in that shape; else
    `slot`."""
    reshape = program.made_by(slot, ReshapeTo)
    if (reshape is None or program.only_reader(slot) != n or slot in program.waited_for
            or reshape.control or reshape.record is None):
        return slot
    source = program.made_by(reshape.inputs[0])
    rec = source.record if source is not None else None
    if rec is None or rec.shape is None or rec.dtype != probe.dtype or rec.cast:
        return slot
    try:
        tile_view(probe, index, rec.shape)
    except ValueError:
        return slot
    return reshape.inputs[0]
