"""The kernel of a fused elementwise group: a generated Numba loop (`_fused_codegen`) where
the generator covers the group, else the members' NumPy kernels one after another (the
reference, and the fallback)."""
from __future__ import annotations

import numpy as np

from ...ops.fused import FusedElementwise
from . import _fused_codegen as codegen
from .registry import KERNELS, kernel

# Below this many output elements the members' NumPy kernels run instead: a compile costs
# about a second once per machine, and on small arrays the per-call overheads dominate.
MIN_SIZE = 1 << 14


def fusable(op) -> bool:
    """Whether fusing this member op pays: the generator covers it with a loop that
    vectorizes (the fusion pass asks)."""
    return codegen.pays(op)


def evaluate_members(op: FusedElementwise, arrays) -> np.ndarray:
    """The group member by member with the NumPy kernels (each result in the member's
    dtype, as `apply` would give it)."""
    values = list(arrays)
    for member, operands in zip(op.members, op.args):
        result = KERNELS[type(member)](member, *[values[k] for k in operands])
        values.append(result)
    return values[-1]


def covered(op: FusedElementwise, arrays) -> bool:
    """Whether the generator covers this call: every member has a template and every input
    has the same float dtype (the output's)."""
    dtype = arrays[0].dtype
    return dtype.name in codegen.DTYPES and all(a.dtype == dtype for a in arrays) and \
        all(codegen.supports(member) for member in op.members)


def run_generated(op: FusedElementwise, arrays, out: np.ndarray) -> np.ndarray:
    """Compute a covered group into `out` (of the broadcast shape) with its generated loop."""
    view, inputs, scalars = codegen.collapse(out, arrays)
    module = codegen.load(op, out.dtype.name, view.ndim, scalars)
    module.kernel(view, *inputs)
    return out


@kernel(FusedElementwise, inplace=True)
def fused_elementwise(op: FusedElementwise, *arrays, out=None):
    """In place is safe: each output element is written after its inputs' elements are read
    (the planner hands an input's buffer only when its layout is exactly the output's)."""
    arrays = [np.asarray(a) for a in arrays]
    shape = np.broadcast_shapes(*[a.shape for a in arrays])
    if (int(np.prod(shape)) >= MIN_SIZE and covered(op, arrays)
            and (out is None or out.dtype == arrays[0].dtype)):
        return run_generated(op, arrays, np.empty(shape, arrays[0].dtype) if out is None
                             else out)
    result = evaluate_members(op, arrays)
    if out is None:
        return result
    out[...] = result
    return out
