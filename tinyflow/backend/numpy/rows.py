"""Kernels over short rows (a softmax over 10 classes, a sum over them, a classifier's sparse
cross-entropy and its gradient): one Numba pass per row. NumPy's reductions along a short
last axis cost microseconds of set-up each (its softmax of a 100 x 10 batch: 14 us in five
calls, against ~4 us here; the sparse cross-entropy of 128 x 10, 32 us in a dozen calls
against 9, and as much for its gradient), which dominates a small model's step. The
per-shape pass `passes/row_kernels.py` picks them; they compute what the ops' NumPy kernels
compute, for C-contiguous float arrays reduced over the last axis (else they run those
kernels)."""
from __future__ import annotations

import functools

import numpy as np

from ...ops import nn, reduce
from .registry import KERNELS

# Rows up to this long take the loops: past it NumPy's SIMD exp and reductions win (its
# set-up is paid once per call, the loops' scalar exp once per element). Measured, one
# thread: softmax 100 x 10 4.5 us (NumPy 15.7), 2048 x 10 70 us (168), 2048 x 32 251 us
# (270); at 64 NumPy wins (8192 x 64: 1.4 ms against 1.9).
MAX_ROW = 32


@functools.cache
def _loops():
    from . import _row_loops     # imports Numba: on first use
    return _row_loops


def covers(x_shape: tuple, axis, dtype) -> bool:
    """Whether the row loops cover an op over `axis` of an array of this shape and dtype."""
    if not x_shape or axis is None or np.dtype(dtype) not in (np.float32, np.float64):
        return False
    axes = axis if isinstance(axis, tuple) else (axis,)
    return (len(axes) == 1 and axes[0] % len(x_shape) == len(x_shape) - 1
            and 0 < x_shape[-1] <= MAX_ROW)


def covered(x: np.ndarray, axis: int) -> bool:
    """`covers` for an array in hand, in the few tests the eager kernels can afford on every
    call (their softmax and sum pick the loops by it)."""
    shape = x.shape
    return (0 < len(shape) and 0 < shape[-1] <= MAX_ROW and axis % len(shape) == len(shape) - 1
            and x.dtype in _FLOATS and x.flags.c_contiguous)


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_FLOATS = (_F32, _F64)


def _rows(x: np.ndarray):
    """x as a 2-D C-contiguous (rows, row length) view, or None. (Dtype instances, not
    NumPy's type objects: `in` then finds the dtype by identity, not by a conversion.)"""
    if not x.flags.c_contiguous or x.dtype not in _FLOATS:
        return None
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def softmax_rows(op: nn.Softmax, x: np.ndarray, out=None) -> np.ndarray:
    """`Softmax` over the last axis, row by row."""
    rows = _rows(x)
    if rows is None or (out is not None and (not out.flags.c_contiguous
                                             or out.dtype != x.dtype)):
        return KERNELS[nn.Softmax](op, x, out=out)
    if out is None:
        out = np.empty(rows.shape, x.dtype)
        _loops().softmax(rows, out)
        return out if rows is x else out.reshape(x.shape)
    _loops().softmax(rows, out.reshape(rows.shape))
    return out


def sum_rows(op: reduce.Sum, x: np.ndarray, out=None) -> np.ndarray:
    """`Sum` over the last axis, row by row (in float64, then rounded once)."""
    rows = _rows(x)
    shape = x.shape[:-1] + ((1,) if op.keepdims else ())
    if rows is None or (out is not None and (not out.flags.c_contiguous
                                             or out.dtype != x.dtype)):
        return KERNELS[reduce.Sum](op, x, out=out)
    if out is None:
        out = np.empty(len(rows), x.dtype)   # 1-D: the loop's own shape, no reshape
        _loops().row_sum(rows, out)
        return out if len(shape) == 1 else out.reshape(shape)
    _loops().row_sum(rows, out.reshape(-1))
    return out


def softmax_xent_rows(x: np.ndarray, labels: np.ndarray, out=None):
    """(softmax(x), softmax_cross_entropy(labels, x)) over the last axis in one pass per
    row, with the arithmetic of `softmax_rows` and of the cross-entropy's row kernel (the
    same bits); None where not covered (2-D C-contiguous float rows, labels alike)."""
    if not (x.ndim == 2 and labels.shape == x.shape and labels.dtype == x.dtype
            and x.dtype in (np.float32, np.float64) and x.flags.c_contiguous
            and labels.flags.c_contiguous and (out is None or out.flags.c_contiguous
                                               and out.dtype == x.dtype)):
        return None
    y = np.empty_like(x) if out is None else out
    loss = np.empty(x.shape[0], x.dtype)
    _loops().softmax_xent(x, labels, y, loss)
    return y, loss


def softmax_grad_rows(y: np.ndarray, g: np.ndarray, out=None):
    """g - y * sum(g, -1, keepdims=True) in one pass per row (the gradient of a softmax's
    logits given the gradient of its log); None where not covered."""
    if not (y.ndim == 2 and g.shape == y.shape and g.dtype == y.dtype
            and y.dtype in (np.float32, np.float64) and y.flags.c_contiguous
            and g.flags.c_contiguous and (out is None or out.flags.c_contiguous
                                          and out.dtype == y.dtype)):
        return None
    out = np.empty_like(y) if out is None else out
    _loops().softmax_grad(y, g, out)
    return out


def _sparse_rows(x: np.ndarray, labels: np.ndarray):
    """(x, labels) as [n, k] rows and [n] int64 ids for the sparse cross-entropy's loops, or
    None where they do not cover them (short C-contiguous float rows, integer ids of x's
    rows). The ids are int64 whatever integer type the labels have: the loops then compile
    once per float type, not once more per integer type (a copy of n ids, beside n * k
    floats' work)."""
    if not (0 < x.ndim and 0 < x.shape[-1] <= MAX_ROW and x.dtype in _FLOATS
            and x.flags.c_contiguous and labels.shape == x.shape[:-1]
            and labels.dtype.kind in "iu" and labels.dtype != np.uint64):
        return None
    return x.reshape(-1, x.shape[-1]), labels.reshape(-1).astype(np.int64, copy=False)


def sparse_xent_rows(x: np.ndarray, labels: np.ndarray, ignore_index):
    """`SparseSoftmaxCrossEntropy` of short rows in one pass per row (0 at ignored ids);
    None where not covered or an id is out of range (the caller's kernel then says which)."""
    found = _sparse_rows(x, labels)
    if found is None:
        return None
    rows, ids = found
    loss = np.empty(len(rows), x.dtype)
    ignores, ignore = ignore_index is not None, ignore_index or 0
    if _loops().sparse_cross_entropy(rows, ids, ignores, ignore, loss) >= 0:
        return None
    return loss.reshape(labels.shape)


def sparse_xent_grad_rows(g: np.ndarray, labels: np.ndarray, x: np.ndarray, ignore_index):
    """`SparseSoftmaxCrossEntropyGrad` of short rows in one pass per row (zero rows at
    ignored ids); None where not covered, as `sparse_xent_rows`."""
    found = _sparse_rows(x, labels)
    if found is None or g.shape != labels.shape or g.dtype != x.dtype:
        return None
    rows, ids = found
    out = np.empty(x.shape, x.dtype)
    ignores, ignore = ignore_index is not None, ignore_index or 0
    if _loops().sparse_cross_entropy_grad(g.reshape(-1), rows, ids, ignores, ignore,
                                          out.reshape(rows.shape)) >= 0:
        return None
    return out
