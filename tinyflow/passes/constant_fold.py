"""Constant folding: compute at plan time the steps whose inputs can never change."""
from __future__ import annotations

import numpy as np

from ..backend.numpy.registry import KERNELS, SHAPE_ONLY
from ..core.tensor import Tensor
from .fold_shapes import FOLD_BYTES   # larger values are recomputed, not pinned in memory
from .program import External, Program, is_pure, literal



def constant_fold(program: Program) -> Program:
    """Replace each pure, unfetched step whose inputs are all constant and whose result is
    small by a literal holding its value. Constant: a literal (`passes.literal`), or an
    input the kernel reads only the shape of (ones_like, count, broadcast_to's target) when
    that shape is static. Eager tensors that are not literals (parameters, tensors a user
    may change in place) are never folded over."""
    externals = dict(program.externals)
    view = program.replace(externals=externals)   # later steps see each fold as a literal
    keep, folded = [], 0
    for step in program.steps:
        arrays = _constant_inputs(view, step)
        value = None
        if (step.inputs and is_pure(step, program) and step.output not in program.fetches
                and all(a is not None for a in arrays) and _small(step)):
            value = _evaluate(step, arrays)
        if value is None:
            keep.append(step)
            continue
        externals[step.output] = External("eager", Tensor._eager(value), value.shape,
                                          step.dtype, step.name)
        folded += 1
    if not folded:
        return program
    read = {i for s in keep for i in s.inputs + s.control}
    externals = {s: e for s, e in externals.items()   # drop folded values only folds read
                 if s in program.externals or s in read}
    return program.with_steps(keep, note=("constant_fold", f"folded {folded} step(s)")) \
        .replace(externals=externals)


def _constant_inputs(program: Program, step) -> list:
    """Per input, its constant value (a stand-in of the right shape for a shape-only input
    of static shape), or None."""
    shape_only = SHAPE_ONLY.get(type(step.op), ())
    values = []
    for k, i in enumerate(step.inputs):
        value = literal(program, i)
        ext = program.externals.get(i)
        if value is None and k in shape_only and (ext is None or ext.kind != "eager"):
            shape, dtype = program.value_of(i)   # (`.data =` may reshape an eager tensor)
            if shape is not None and None not in shape and dtype is not None:
                value = np.broadcast_to(np.zeros((), dtype.np), tuple(shape))
        values.append(value)
    return values


def _small(step) -> bool:
    shape = step.shape
    if shape is None or any(d is None for d in shape):
        return False
    return int(np.prod(shape, dtype=np.int64)) * step.dtype.np.itemsize <= FOLD_BYTES


def _evaluate(step, arrays):
    """The step's value as a read-only array of its own, or None if its kernel refuses."""
    try:
        result = KERNELS[type(step.op)](step.op, *arrays)
    except Exception:   # leave the error to the run, where it names the user's code
        return None
    value = np.array(result, dtype=step.dtype.np)   # a copy: never a view of an input
    if value.shape != tuple(step.shape):
        return None
    value.flags.writeable = False
    return value
