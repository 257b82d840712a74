"""The kernel of a fused elementwise group: a generated Numba loop (`_fused_codegen`) where
the generator covers the group, else the members' NumPy kernels one after another (the
reference, and the fallback)."""
from __future__ import annotations

import numpy as np

from ...ops.fused import FusedElementwise, FusedSum
from . import _fused_codegen as codegen
from .registry import KERNELS, OUT_KERNELS, kernel

# Below this many elements (of the largest input) the members' NumPy kernels run instead: a
# compile costs about a second once per machine, and a generated kernel's call costs ~12 us
# more than a NumPy ufunc's (measured break-even with three ufuncs: 2^15 to 2^16 float32).
MIN_SIZE = 1 << 15


def fusable(op) -> bool:
    """Whether fusing this member op pays: the generator covers it with a loop that
    vectorizes (the fusion pass asks)."""
    return codegen.pays(op)


def evaluate_members(op: FusedElementwise, arrays, out=None) -> np.ndarray:
    """The group member by member with the NumPy kernels (each result in the member's
    dtype, as `apply` would give it); the last one into `out` when its kernel can."""
    values = list(arrays)
    *first, (kernel, member, operands) = _members(op)
    for k, m, a in first:
        values.append(k(m, *[values[i] for i in a]))
    args = [values[i] for i in operands]
    return kernel(member, *args) if out is None else _into(member, args, out)


_MEMBERS: dict = {}    # id(op) -> (op, its members' (kernel, member, operands))


def _members(op: FusedElementwise) -> tuple:
    """Each member's kernel, the member and its operands, looked up once per op (a small
    group runs member by member on every call: the lookups were most of its cost)."""
    found = _MEMBERS.get(id(op))
    if found is None or found[0] is not op:
        found = _MEMBERS[id(op)] = (op, tuple((KERNELS[type(m)], m, a)
                                              for m, a in zip(op.members, op.args)))
    return found[1]


def small_group(op: FusedElementwise):
    """The kernel of a group whose output has fewer than `MIN_SIZE` elements (a plan knows
    its shapes): `evaluate_members` without the per-call size test and lookups."""
    *first, (kernel, member, operands) = _members(op)
    in_place = OUT_KERNELS.get(type(member))

    def run(op, *arrays, out=None):
        values = list(arrays)
        for k, m, a in first:
            values.append(k(m, *[values[i] for i in a]))
        args = [values[i] for i in operands]
        if out is None:
            return kernel(member, *args)
        if in_place:
            result = kernel(member, *args, out=out)
            if result is out:
                return out
        return _into(member, args, out)
    return run


def _into(member, args, out: np.ndarray) -> np.ndarray:
    """`member` computed into `out`: through its kernel's out= when it has one (and may write
    over its inputs, or does not have to), else copied in."""
    in_place = OUT_KERNELS.get(type(member))
    if in_place or in_place is False and not any(np.may_share_memory(a, out) for a in args):
        result = KERNELS[type(member)](member, *args, out=out)
        if result is out:
            return out
    else:
        result = KERNELS[type(member)](member, *args)
    out[...] = result
    return out


def covered(op: FusedElementwise, arrays) -> bool:
    """Whether the generator covers this call: every member has a template and every input
    has the same float dtype (the output's)."""
    dtype = arrays[0].dtype
    return dtype.name in codegen.DTYPES and all(a.dtype == dtype for a in arrays) and \
        _templated(op)


_TEMPLATED: dict = {}    # id(op) -> (op, whether every member has a template)


def _templated(op: FusedElementwise) -> bool:
    found = _TEMPLATED.get(id(op))
    if found is None or found[0] is not op:
        found = _TEMPLATED[id(op)] = (op, all(codegen.supports(m) for m in op.members))
    return found[1]


def run_generated(op: FusedElementwise, arrays, out: np.ndarray) -> np.ndarray:
    """Compute a covered group into `out` with its generated loop: elementwise into an out of
    the broadcast shape, or (`FusedSum`) the total into a 1-element out."""
    total = isinstance(op, FusedSum)
    shape = np.broadcast_shapes(*[a.shape for a in arrays]) if total else out.shape
    dims, view, inputs, patterns = codegen.collapse(shape, None if total else out, arrays)
    reads = () if total else codegen.in_place_reads([("out", view)], inputs, patterns)
    module = codegen.load(op, out.dtype.name, len(dims), patterns, total, reads=reads)
    module.kernel(dims, out.reshape(1) if total else view, *inputs)
    return out


@kernel(FusedElementwise, inplace=True)
def fused_elementwise(op: FusedElementwise, *arrays, out=None):
    """In place is safe: each output element is written after its inputs' elements are read
    (the planner hands an input's buffer only when its layout is exactly the output's and no
    other input of the step is a view of it)."""
    if max(a.size for a in arrays) >= MIN_SIZE and covered(op, arrays) and (
            out is None or out.dtype == arrays[0].dtype):
        if out is None:
            out = np.empty(np.broadcast_shapes(*[a.shape for a in arrays]), arrays[0].dtype)
        return run_generated(op, arrays, out)
    return evaluate_members(op, arrays, out)


@kernel(FusedSum, out=True)
def fused_sum(op: FusedSum, *arrays, out=None):
    """The members' values added up as they are computed (in float64 when generated)."""
    if max(a.size for a in arrays) >= MIN_SIZE and covered(op, arrays) and (
            out is None or out.dtype == arrays[0].dtype and out.flags.c_contiguous):
        if out is None:
            ndim = max(a.ndim for a in arrays)
            out = np.empty((1,) * ndim if op.keepdims else (), arrays[0].dtype)
        return run_generated(op, arrays, out)
    return np.add.reduce(evaluate_members(op, arrays), axis=None, keepdims=op.keepdims,
                         out=out)


# An update chain (passes/chains.py) runs as one loop from this many elements: one call of
# its generated loop costs less than the members' NumPy kernels group by group (AdamW's
# three groups are 16 ufunc calls), and the loop is the one the large parameters compiled.
CHAIN_MIN_SIZE = 1 << 8


def run_chain(op: FusedElementwise, stores: tuple, arrays, out: np.ndarray, outs: tuple):
    """Several fused groups as one loop (`op`, their members joined; member `stores[k]`'s
    values stored into `outs[k]`, the last member's into `out`): each element of every input
    read once, every result written once. Only for flat arrays: each input one element or
    C-contiguous of out's shape, every output C-contiguous of out's shape and dtype. Returns
    out, or None where not covered (the caller then runs the groups one by one). It runs
    once per parameter of a training step, so its checks are one pass over the arrays."""
    shape, dtype, size = out.shape, out.dtype, out.size
    name = _DTYPE_NAMES.get(dtype.char)     # (a dtype's .name is slow: ~2 us)
    if not (size >= CHAIN_MIN_SIZE and name is not None and out.flags.c_contiguous
            and _templated(op)):
        return None
    targets = [out, *outs]
    for o in outs:
        if not (o.shape == shape and o.dtype == dtype and o.flags.c_contiguous):
            return None
    names = ["out"] + [f"o{k}" for k in range(len(outs))]
    inputs, patterns, reads = [], [], []
    for k, a in enumerate(arrays):
        if a.dtype != dtype:
            return None
        if a.size == 1:
            v = a.reshape(1)
            patterns.append(())
        elif a.shape == shape and a.flags.c_contiguous:
            v = a.reshape(-1)
            patterns.append((0,))
            for o, o_name in zip(targets, names):
                if a is o or np.may_share_memory(a, o):
                    # the very buffer an output overwrites is read through that output
                    # (`codegen.source`); any other overlap: the groups one by one
                    if not (a is o or _start(a) == _start(o)):
                        return None
                    reads.append((k, o_name))
                    break
        else:
            return None
        v.flags.writeable = False   # read-only, as `codegen.collapse` passes them
        inputs.append(v)
    module = codegen.load(op, name, 1, tuple(patterns), stores=stores, reads=tuple(reads))
    module.kernel((size,), *[t.reshape(-1) for t in targets], *inputs)
    return out


_DTYPE_NAMES = {np.dtype(name).char: name for name in codegen.DTYPES}


def _start(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]
