"""Reduction kernels."""
import functools
import math

import numpy as np

from ...core.dtypes import REDUCED_NUMPY
from ...core.kernels import widened
from ...ops import reduce as r
from . import rows
from .registry import kernel


@kernel(r.Sum, out=True)
def sum_(op, x, out=None):
    """A sum over a short last axis takes the row loops (see nn.softmax), one over leading
    axes the column sums (`leading_sums`), others NumPy's.
    Every eager `loss.sum()` runs this: the reduced-float test and NumPy's call inline (not
    in a `widened` or `numpy_sum` frame), and a full sum's NumPy scalar made an array here
    (not in apply's `as_dtype_array` frame)."""
    if x.dtype in REDUCED_NUMPY:
        return _WIDE_SUM(op, x, out=out)
    if out is None and x.ndim > 1 and op.axis is not None and len(op.axis) == 1 and \
            rows.covered(x, op.axis[0]):   # (a vector's one row: NumPy's call is cheaper)
        return rows.sum_rows(op, x)
    if x.ndim > 1 and op.axis is not None and x.size >= COLUMNS_FROM and \
            x.dtype in FLOATS and x.flags.c_contiguous and (out is None or out.dtype == x.dtype):
        total = _leading_sum(op, x, out)   # also into a planned run's `out`: the same bits
        if total is not None:              # as the recording run's, which had none
            return total
    # np.sum without its Python wrapper (the same promotions: small ints sum in int64), on
    # one thread, as the column sums above: a memory-bound pass, a bias gradient's sum over
    # [1024, 1024] took 145 us on one thread and 151 cut across the kernel pool's two (the
    # GPT step 1.7-3% less without).
    # Arguments by position (axis, dtype, out, keepdims) where they can be: NumPy parses
    # keywords slower (`out=...` only as a keyword: measured no dearer than by position).
    if out is None and ARRAY_RESULT:   # a full sum as a 0-d array, not a scalar to wrap
        return np.add.reduce(x, op.axis, None, out=..., keepdims=op.keepdims)
    total = np.add.reduce(x, op.axis, None, out, op.keepdims)
    return total if type(total) is np.ndarray else np.asarray(total)


_WIDE_SUM = widened(sum_, 0)
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# Sums over leading axes (a bias gradient's, over the rows) from this many elements take
# `_sum_loops.column_sums`: 0.43x NumPy's time at [1024, 256], 0.88-0.93x at [1024, 768 and
# 1024] (one thread, warm), in the GPT step 0.7-0.8x; under it NumPy's call costs as little
COLUMNS_FROM = 4096


def _leading_sum(op, x, out=None):
    """x summed over its first k axes when op.axis is exactly those (k < x.ndim), by
    `leading_sums`; else None."""
    k = len(op.axis)
    if k >= x.ndim or (op.axis != (0,) and sorted(a % x.ndim for a in op.axis) != list(range(k))):
        return None
    total = leading_sums(x, k, out)
    if total is None or out is not None or not op.keepdims:
        return total
    return total.reshape((1,) * k + total.shape)


def leading_sums(x, k, out=None):
    """x (float32 or float64, C-contiguous, from `COLUMNS_FROM` elements) summed over its first
    k axes by the column-sum loop, into `out` (x's dtype, x.shape[k:]'s size) or a new array
    [x.shape[k:]]; None for one column. Also SumTo's (a broadcast bias's gradient)."""
    lead = math.prod(x.shape[:k])
    if lead == x.size:   # one column: NumPy's SIMD sum along it took 22.6 us over [100000, 1]
        return None      # float32 (a Linear(n, 1)'s bias gradient), the loop 111
    table = x.reshape(lead, -1)   # (not `rows`: the row loops' module)
    if out is not None and out.flags.c_contiguous:
        _column_sums()(table, out.reshape(-1))   # the loop reads all of x before it writes
        return out
    total = np.empty(x.shape[k:], x.dtype)
    _column_sums()(table, total.reshape(-1))
    if out is not None:
        out[...] = total.reshape(out.shape)
        return out
    return total


@functools.cache
def _column_sums():
    from ._sum_loops import column_sums     # imports Numba: on first use
    return column_sums


def _ufuncs_take_out_ellipsis() -> bool:
    """Whether a ufunc takes `out=...` (NumPy 2.3 on): its result is then an array also when
    it has no dims, where np.asarray of the scalar cost ~1.7k instructions (every
    `loss.sum()`). Tried, not read from the version: NumPy 2.0-2.2 refuse it."""
    try:
        np.add.reduce(np.zeros(1), None, None, out=...)
    except TypeError:
        return False
    return True


ARRAY_RESULT = _ufuncs_take_out_ellipsis()


@kernel(r.Mean, widen=0)
def mean(op, x):
    """The sum, then one division by the count in x's dtype: the values of the sum and the
    divide it stands for. (`total.size`, not np.size: a NumPy scalar has it too.)"""
    total = np.add.reduce(x, axis=op.axis, keepdims=op.keepdims)
    count = x.dtype.type(x.size // max(total.size, 1))
    if type(total) is not np.ndarray:   # a full mean (a loss): NumPy's scalar division, the
        return np.asarray(total / count)   # same IEEE one at a third of the ufunc's call
    return np.true_divide(total, count)


@kernel(r.Max, out=True)
def max_(op, x, out=None):
    return np.maximum.reduce(x, axis=op.axis, keepdims=op.keepdims, out=out)


@kernel(r.Min)
def min_(op, x):
    return np.min(x, axis=op.axis, keepdims=op.keepdims)


@kernel(r.Count, shape_only=(0,))
def count(op, x):
    axes = range(x.ndim) if op.axis is None else op.axis
    return np.array(np.prod([x.shape[a] for a in axes]), dtype=op.dtype.np)


@kernel(r.ArgMax)
def argmax(op, x):
    return np.argmax(x, axis=None if op.axis is None else op.axis[0])


@kernel(r.ArgMin)
def argmin(op, x):
    return np.argmin(x, axis=None if op.axis is None else op.axis[0])


@kernel(r.Cumsum, widen=0)
def cumsum(op, x):
    dtype = np.int64 if x.dtype == np.bool_ else None
    if op.reverse:
        return np.flip(np.cumsum(np.flip(x, op.axis), op.axis, dtype=dtype), op.axis)
    return np.cumsum(x, op.axis, dtype=dtype)
