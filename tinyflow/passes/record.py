"""The recording run: execute a program once for one set of feed shapes, writing no state, and
note on every step what its value turned out to be (a `Record`), for the per-shape passes.

Everything after it (folding, fusion, scheduling, memory, recomputation) works from these
records, so none of them needs static shapes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..backend.numpy.registry import OUT_KERNELS, KERNELS, SHAPE_ONLY
from ..core.modes import AmaxHistory
from ..core.op import kernel_error
from ..core.random import generator
from ..ops.dataset import host_states
from ..ops.linalg import Affine, MatMul
from .fold_shapes import FOLD_BYTES, foldable
from .program import Program

NOT_FOLDED = object()


@dataclass
class Record:
    """What one execution of a step produced: its value's layout and what it aliases."""
    shape: tuple
    dtype: object          # numpy dtype of the value (None: not an array)
    nbytes: int            # memory of its own (0 for a write into an input, or a non-array)
    cast: bool = False     # the kernel's dtype differed from the declared one
    aliases: tuple = ()    # input slots whose memory the value may share
    dummies: dict = field(default_factory=dict)  # shape-only input position -> stand-in
    flops: int = 0         # estimated floating-point operations of the kernel call
    bytes_read: int = 0    # bytes of the input values it reads
    bytes_written: int = 0  # bytes of the value it writes
    layout: tuple = None   # written into a C-ordered buffer of its transpose by this (layouts.py)
    c_order: bool = False  # the value is a C-contiguous array (copies.py)
    value: Any = field(default=NOT_FOLDED, repr=False)   # kept for folding (fold_shapes)

    @property
    def folded(self) -> bool:
        return self.value is not NOT_FOLDED


def record(program: Program, values: list, fetched: list = None) -> Program:
    """Run `program` on `values` (slot -> loaded feed / variable / eager / constant value)
    without writing any variable, the random state or an fp8 amax history; return it with a
    `Record` on each step. Small values that depend only on shapes are kept in their records
    for `fold_shapes`. `fetched`, if given, receives the fetched values (a program that
    writes nothing then needs no second run for its first result)."""
    values = list(values)
    rng = generator().bit_generator
    saved = rng.state
    histories = {id(h): (h, list(h.amaxes)) for h in _amax_histories(program)}
    holders = [(h, h.snapshot()) for h in host_states(program.steps)]   # tf.data
    keep = foldable(program)
    steps = []
    try:
        for step, dead in zip(program.steps, program.dead_after):
            try:
                recorded = _run(step, values, step.output in keep)
            except (ValueError, TypeError, IndexError) as e:   # a symbolic size, fed wrong
                raise kernel_error(step.op, [values[i] for i in step.inputs], e) from None
            steps.append(step.replace(record=recorded))
            for i in dead:
                values[i] = None
        if fetched is not None:
            fetched.extend(values[s] for s in program.fetches)
    finally:
        rng.state = saved
        for history, amaxes in histories.values():   # fp8 delayed scaling: as before
            history.amaxes.clear()
            history.amaxes.extend(amaxes)
        for holder, taken in holders:                # tf.data iterators: elements given back
            holder.restore(taken)
    return program.with_steps(steps)


def _amax_histories(program: Program) -> list:
    """The amax histories (fp8 delayed scaling) the program's kernels extend."""
    return [value for step in program.steps if step.op.stateful
            for value in vars(step.op).values() if isinstance(value, AmaxHistory)]


def _run(step, values: list, fold: bool) -> Record:
    op, ins = step.op, step.inputs
    args = [values[i] for i in ins]
    writes = getattr(op, "writes_input", None)
    if writes is None:
        result = (step.kernel or KERNELS[type(op)])(op, *args)
    elif len(args) == 2:      # an assign: its value is the value written
        result = args[1 - writes]
    else:                     # a write computed from the target: on a copy of it
        args[writes] = np.array(args[writes])
        result = (step.kernel or KERNELS[type(op)])(op, *args)
    cast = step.dtype is not None and hasattr(result, "dtype") and result.dtype != step.dtype.np
    if cast:
        result = result.astype(step.dtype.np)
    if (writes is None and type(op) in OUT_KERNELS and isinstance(result, np.ndarray)
            and not result.flags.c_contiguous
            and not any(isinstance(a, np.ndarray) and np.may_share_memory(a, result)
                        for a in args)):
        # A planned run may hand this kernel a C-ordered buffer (NumPy keeps a transposed
        # input's order): record that layout, so a reshape of it is seen to be a view.
        result = np.ascontiguousarray(result)
    values[step.output] = result
    is_array = isinstance(result, np.ndarray)
    aliases = () if writes is not None or not is_array else tuple(
        i for i in ins if isinstance(values[i], np.ndarray)
        and np.may_share_memory(values[i], result))
    shape_only = SHAPE_ONLY.get(type(op), ())
    read = sum(a.nbytes for k, a in enumerate(args)
               if isinstance(a, np.ndarray) and k not in shape_only and k != writes)
    written = result.nbytes if is_array else 0
    rec = Record(shape=result.shape if is_array else None,
                 dtype=result.dtype if is_array else None,
                 nbytes=written if writes is None else 0, cast=cast, aliases=aliases,
                 dummies={k: _stand_in(args[k]) for k in shape_only},
                 flops=0 if writes is not None else step_flops(op, args, result),
                 bytes_read=read, bytes_written=written,
                 c_order=is_array and result.flags.c_contiguous)
    if fold and (aliases or not is_array or written <= FOLD_BYTES):
        rec = replace(rec, value=result)
    return rec


def _stand_in(value):
    """An array of value's shape and dtype that takes no memory, for shape-only inputs."""
    arr = np.asarray(value)
    return np.broadcast_to(np.zeros((), arr.dtype), arr.shape)


def step_flops(op, args: list, result) -> int:
    """An estimate of a kernel call's floating-point operations (for reports and the cost of
    recomputation): 2 m n k for matrix products, else one per element read or written."""
    size = np.size(result) if isinstance(result, np.ndarray) else 0
    if type(op) is MatMul:
        a = args[0]
        return 2 * size * a.shape[-2 if op.transpose_a else -1]
    if type(op) is Affine:
        return 2 * size * args[0].shape[-1] + size
    return max([size] + [np.size(a) for a in args if isinstance(a, np.ndarray)])
