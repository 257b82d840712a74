"""Kernels of the sparse x dense products: one pass over the nonzeros (Numba loops)."""
import numpy as np

from ...core.errors import IndexOutOfRangeError
from ...ops import sparse as sp
from .registry import kernel


def _coordinates(op_name, indices, rows, cols):
    """Row and column index vectors (int64, contiguous), refused if out of the matrix."""
    ij = np.ascontiguousarray(indices, dtype=np.int64)
    for axis, size in ((0, rows), (1, cols)):
        line = ij[axis]
        if line.size and (line.min() < 0 or line.max() >= size):
            raise IndexOutOfRangeError(
                f"{op_name}: sparse index out of range for dimension {axis} of size {size} "
                f"(indices span [{line.min()}, {line.max()}])")
    return ij[0], ij[1]


@kernel(sp.SparseMatmul, widen=1)
def sparse_matmul(op, indices, values, dense):
    from . import _sparse_loops
    rows, cols = _coordinates("sparse_matmul", indices, op.rows, op.cols)
    out = np.zeros((op.rows, dense.shape[1]), dtype=values.dtype)
    if rows.size and dense.shape[1]:
        _sparse_loops.scatter_rows(rows, cols, np.ascontiguousarray(values),
                                   np.ascontiguousarray(dense), out)
    return out


@kernel(sp.SampledDot, widen=1)
def sampled_dot(op, indices, a, b):
    from . import _sparse_loops
    rows, cols = _coordinates("sampled_dot", indices, op.rows, op.cols)
    dtype = np.result_type(a.dtype, b.dtype)
    if not rows.size or not a.shape[1]:
        return np.zeros(rows.size, dtype)
    out = np.empty(rows.size, dtype)
    _sparse_loops.row_dots(rows, cols, np.ascontiguousarray(a), np.ascontiguousarray(b), out)
    return out
