"""Straight-line Python for a planned program: one line per kernel call over local variables
and one preallocated arena, so running a plan costs a call per op and nothing else."""
from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sys
import time
import types

import numpy as np

from ..backend.numpy._fused_codegen import cache_dir
from ..backend.numpy.fused import MIN_SIZE, small_group
from ..io.atomic import atomic_path
from ..backend.numpy.registry import KERNELS
from ..ops.fused import FusedElementwise
from .chains import chain_kernel, chains
from .layouts import inverse, transposed_shape
from .row_kernels import row_joins
from .memory import BufferPlan
from .program import Program


def codegen(program: Program, buffers: BufferPlan, timings: list = None,
            clock=time.perf_counter):
    """`run(values) -> list of fetched values`, where `values[slot]` holds each loaded
    external (feed, variable, eager tensor); constants are bound into the code.

    A step with a pool block (`buffers.out_buffer`) writes its value there with `out=`, one
    storing state (`buffers.out_state`) into the eager tensor's loaded array; a step whose
    kernel's dtype differs from the declared one is cast; values not pooled are dropped
    after their last use; an update chain (chains.py) runs as one joined loop at its last
    step, a row join (row_kernels.py) as one row kernel. Kernels: `step.kernel`, else the
    NumPy table's. `timings`: a list of one float per step, to which each call adds its
    kernel's time on `clock` (a profile: wall time, or `time.process_time` for the CPU
    time, which other processes' load inflates less).
    """
    steps = program.steps
    arena = np.empty(buffers.buffers[0], np.uint8)
    pooled = {s.output for s, b in zip(steps, buffers.out_buffer) if b is not None}
    targets = set(buffers.out_state.values())     # live until their writer runs
    free = [[s for s in dead if s not in pooled and s not in targets]
            for dead in program.dead_after]
    fetched = set(program.fetches)
    joined = {c.last: c for c in chains(program, buffers)}
    rows = {j.at: j for j in row_joins(program, buffers)}
    absorbed = {j.absorbed for j in rows.values()}
    deferred = {d for c in joined.values() for d in c.deferred}
    for c in joined.values():   # what the joined loop reads lives until it runs
        for n in range(c.deferred[0], c.last):
            free[c.last] += [s for s in free[n] if s in c.inputs]
            free[n] = [s for s in free[n] if s not in c.inputs]
    env: dict = {}
    lines = ["def run(values):"]
    for s, ext in sorted(program.externals.items()):
        if ext.kind == "const":
            env[f"c{s}"] = ext.ref
            lines.append(f"    v{s} = c{s}")
        elif s in program.readers or s in fetched or s in targets:
            lines.append(f"    v{s} = values[{s}]")
    for n, step in enumerate(steps):
        env[f"k{n}"], env[f"o{n}"] = _kernel(program, step), step.op
        if n in joined:
            env[f"k{n}"] = chain_kernel(program, joined[n])
        if n in rows:
            env[f"k{n}"] = rows[n].kernel
        if timings is not None:
            env[f"k{n}"] = _timed(env[f"k{n}"], timings, n, clock)
        args = "".join(f", v{i}" for i in step.inputs)
        offset, rec = buffers.out_buffer[n], step.record
        if n in absorbed:     # computed with another step (row_kernels.row_joins)
            pass
        elif n in rows:
            j = rows[n]
            out = ""
            if offset is not None:
                env[f"b{n}"] = arena[offset:offset + rec.nbytes].view(rec.dtype).reshape(
                    rec.shape)
                out = f", out=b{n}"
            lines.append(f"    {', '.join(f'v{s}' for s in j.outputs)} = "
                         f"k{n}({', '.join(f'v{i}' for i in j.inputs)}{out})")
        elif n in deferred:     # computed by a later step's joined loop (chains.py)
            lines.append(f"    v{step.output} = v{buffers.out_state[n]}")
        elif n in joined:
            c = joined[n]
            outs = "".join(f"v{buffers.out_state[d]}, " for d in c.deferred)
            lines.append(f"    v{step.output} = k{n}({', '.join(f'v{i}' for i in c.inputs)}, "
                         f"out=v{buffers.out_state[n]}, outs=({outs}))")
        elif n in buffers.out_state:
            lines.append(f"    v{step.output} = k{n}(o{n}{args}, out=v{buffers.out_state[n]})")
        elif offset is not None:
            block = arena[offset:offset + rec.nbytes].view(rec.dtype)
            env[f"b{n}"] = block.reshape(rec.shape) if rec.layout is None else \
                block.reshape(transposed_shape(rec.shape, rec.layout)).transpose(
                    inverse(rec.layout))
            lines.append(f"    v{step.output} = k{n}(o{n}{args}, out=b{n})")
        elif rec.layout is not None:     # a fresh buffer each run, in the chosen layout
            env[f"e{n}"] = functools.partial(_permuted_empty, rec)
            lines.append(f"    v{step.output} = k{n}(o{n}{args}, out=e{n}())")
        else:
            lines.append(f"    v{step.output} = k{n}(o{n}{args})")
            if rec.cast:
                env[f"d{n}"] = step.dtype.np
                lines.append(f"    v{step.output} = v{step.output}.astype(d{n})")
        if free[n]:
            lines.append("    " + " = ".join(f"v{s}" for s in sorted(free[n])) + " = None")
    lines.append("    return [" + ", ".join(f"v{s}" for s in program.fetches) + "]")
    exec(_code("\n".join(lines)), env)
    return env["run"]


CACHED_CHARS = 20_000    # a plan's source at least this long is compiled once per machine


def _code(source: str):
    """`source` compiled; a long one from the cache directory when a process compiled it
    before (CPython's compiler took ~10 ms for the GPT step's 1,500 lines, marshal loads
    its code in ~1; a short one compiles in less than a file costs to look up, so only
    long ones are kept); the file is named by the source's hash and the interpreter's
    version. The cache directory is trusted as Numba's is: its files are executed."""
    if len(source) < CACHED_CHARS:
        return compile(source, "<tinyflow plan>", "exec")
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    path = os.path.join(cache_dir(), f"plan_{digest}.{sys.implementation.cache_tag}.marshal")
    try:
        with open(path, "rb") as f:
            code = marshal.load(f)
        if isinstance(code, types.CodeType):   # else rewritten below
            return code
    except (OSError, EOFError, ValueError, TypeError):   # none yet, or unreadable
        pass
    code = compile(source, "<tinyflow plan>", "exec")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            marshal.dump(code, f)
    except OSError:    # a read-only cache: compiled each process
        pass
    return code


def _timed(kernel, timings: list, n: int, clock):
    def timed(*args, **kwargs):
        start = clock()
        result = kernel(*args, **kwargs)
        timings[n] += clock() - start
        return result
    return timed


def _permuted_empty(rec) -> np.ndarray:
    return np.empty(transposed_shape(rec.shape, rec.layout), rec.dtype).transpose(
        inverse(rec.layout))


def _kernel(program: Program, step):
    """The step's kernel; a widened one's plain function when its input is not a reduced
    float (the dtypes are static here, so the per-call dtype test and frame can go)."""
    kernel = step.kernel or KERNELS[type(step.op)]
    rec = step.record
    if (type(step.op) is FusedElementwise and step.kernel is None and rec is not None
            and rec.shape is not None and np.prod(rec.shape) < MIN_SIZE):
        return small_group(step.op)     # its members' NumPy kernels, looked up once
    plain = getattr(kernel, "plain", None)
    if plain is not None and not program.value_of(step.inputs[kernel.widen_at])[1].is_reduced:
        return plain
    return kernel
