"""Kernels for indexing by tensors; gradients scatter-add so repeated indices accumulate."""
import functools

import numpy as np

from ...core.errors import IndexOutOfRangeError
from ...ops import indexing as ix
from .registry import kernel


def _check_range(indices, size, what, negative=True):
    """Refuse indices outside the dim (negative ones count from the end only if allowed)."""
    low = -size if negative else 0
    if indices.size and (indices.min() < low or indices.max() >= size):
        raise IndexOutOfRangeError(f"{what}: index out of range for a dimension of size {size} "
                         f"(indices span [{indices.min()}, {indices.max()}])")


@kernel(ix.Take)
def take(op, x, indices):
    _check_range(indices, x.shape[op.axis], op.what, op.wraps)
    return np.take(x, indices, axis=op.axis)


@functools.cache
def _add_rows():
    """out[idx[k]] += rows[k] for each k: an embedding's backward (np.add.at is ~20x slower)."""
    from ._numba import numba

    @numba.njit(cache=True, nogil=True, fastmath=True)
    def add_rows(out, idx, rows):
        for k in range(idx.shape[0]):
            i = idx[k]
            for j in range(rows.shape[1]):
                out[i, j] += rows[k, j]
    return add_rows


@kernel(ix.TakeGrad, shape_only=(2,), widen=0)
def take_grad(op, g, indices, ref):
    out = np.zeros(ref.shape, dtype=g.dtype)
    a = op.axis % ref.ndim  # negative where the rank was unknown when the graph was built
    flat = indices.reshape(-1)
    if a == 0 and out.size and flat.size:  # rows of a table, in order in memory
        _check_range(flat, out.shape[0], "take gradient")  # the loop does no bounds checks
        # int64 ids whatever the indices' integer type: the loop compiles once per dtype
        flat = np.where(flat < 0, flat + out.shape[0], flat).astype(np.int64, copy=False)
        rows = np.ascontiguousarray(g).reshape(flat.size, -1)
        _add_rows()(out.reshape(out.shape[0], -1), flat, rows)
        return out
    # Move the scattered axis first so np.add.at adds whole slices per index.
    moved = np.moveaxis(out, a, 0)
    g_moved = g.reshape(g.shape[:a] + (indices.size,) + g.shape[a + indices.ndim:])
    np.add.at(moved, flat, np.moveaxis(g_moved, a, 0))
    return out


@kernel(ix.Gather)
def gather(op, x, index):
    _check_range(index, x.shape[op.axis], "gather", negative=False)   # as torch.gather
    axis = op.axis % x.ndim  # negative where the rank was unknown when the graph was built
    # PyTorch allows index to be smaller than x in the other dims: gather from that corner.
    corner = tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(index.shape))
    return np.take_along_axis(x[corner], index, axis=axis)


@kernel(ix.GatherGrad, shape_only=(2,), widen=0)
def gather_grad(op, g, index, ref):
    out = np.zeros(ref.shape, dtype=g.dtype)
    idx = list(np.indices(index.shape, sparse=True))
    idx[op.axis] = index
    np.add.at(out, tuple(idx), g)
    return out


@kernel(ix.SetItem, inplace=True)
def setitem(op, x, value, out=None):
    """`out` may be x itself: `x[i] = v` outside autograd writes only the indexed elements
    (NumPy copies a `value` that overlaps them first), where a copy of x cost O(x.size)."""
    if out is None or out is not x and np.may_share_memory(out, value):
        result = x.copy()
        result[op.index] = value
        if out is None:
            return result
        out[...] = result
        return out
    if out is not x:
        out[...] = x
    out[op.index] = value
    return out


@kernel(ix.ArgSort)
def argsort(op, x):
    if op.descending:   # stable among ties, as in ascending order
        key = -x if x.dtype.kind in "fiV" else ~x if x.dtype == np.bool_ else -x.astype(np.int64)
        return np.argsort(key, axis=op.axis, kind="stable")
    return np.argsort(x, axis=op.axis, kind="stable")
