"""Reductions and scans PyTorch has beyond sum/mean/max: prod, cumprod, norm, nansum,
nanmean, median, quantile, kthvalue, mode, cummax/cummin, logcumsumexp, diff, trace, and the
counting ones (histc, bincount).

Values are compositions of ops (sorts, gathers, sums), so gradients flow as in PyTorch; where
PyTorch's result is an index found by looking at the values (cummax's, mode's), the index is
computed from the data (a graph break under tinyflow.compile) and the values gathered with it.
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.matrix import factorization
from ..ops.product import cumulative_product
from ..ops.product import reduce_prod
from .inplace import write_out, with_out
from .movement import flatten, narrow
from .reduce import MaxResult, correction_of, in_outs_dtype, summed, widened as _widened

ValuesIndices = MaxResult   # (values, indices): median, kthvalue, mode, cummax, cummin


def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """The product of all elements, or along `dim` (exact with zeros, gradients too)."""
    x = _widened(input, in_outs_dtype(dtype, out))
    if x.dtype is dtypes.bool_:   # dtype=bool: PyTorch multiplies bools into a bool, an "all"
        return write_out(ops.cast(prod(ops.cast(x, dtypes.int64), dim, keepdim), dtypes.bool_),
                         out)
    if dim is None:
        return write_out(reduce_prod(ops.reshape(x, (-1,)), 0), out)
    return write_out(reduce_prod(x, dim, keepdim), out)


def torch_cumprod(input, dim, *, dtype=None, out=None):  # noqa: A002
    """`torch.cumprod(x, dim)`: running products along dim."""
    return write_out(cumulative_product(_widened(input, in_outs_dtype(dtype, out)), dim), out)


# ---- norms ----------------------------------------------------------------------------

def _require_floating(x, what):
    if not x.dtype.is_floating:
        raise RuntimeError(f"{what}: the input is {x.dtype.name}; this norm is defined for "
                           f"floating point tensors: convert with .float()")


def _root_of_sum_of_squares(x, dim, keepdim):
    """sqrt(sum x^2) whose gradient at a zero norm is 0, as PyTorch's (sqrt's is 0 / 0)."""
    return ops.reduce.root(ops.reduce_sum(x * x, dim, keepdim))


@ops.in_float32   # float16 / bfloat16: summed in float32, as PyTorch
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """(sum |x|^ord)^(1/ord) over `dim` (all elements if None); inf / -inf: the largest /
    smallest |x|; 0: the number of nonzeros."""
    x = as_tensor(x) if dtype is None else ops.cast(as_tensor(x), dtypes.torch_dtype(dtype))
    _require_floating(x, "linalg.vector_norm")
    if dim is None and not keepdim:
        x, dim = ops.reshape(x, (-1,)), 0
    dim = None if dim is None or isinstance(dim, (tuple, list)) and not dim else dim
    a = ops.abs(x)
    if ord == 2:
        result = _root_of_sum_of_squares(x, dim, keepdim)
    elif ord == 1:
        result = ops.reduce_sum(a, dim, keepdim)
    elif ord == math.inf:
        result = ops.reduce_max(a, dim, keepdim) if x.numel() else ops.reduce_sum(a, dim,
                                                                                keepdim)
    elif ord == -math.inf:
        result = ops.reduce_min(a, dim, keepdim)
    elif ord == 0:
        result = ops.reduce_sum(ops.cast(ops.not_equal(x, 0), x.dtype), dim, keepdim)
    elif ord > 0:   # powers and root taken only of positive values: zeros' gradient is 0
        result = _where_positive(ops.reduce_sum(_where_positive(a, ord), dim, keepdim),
                                 1.0 / ord)
    else:
        result = ops.reduce_sum(a ** ord, dim, keepdim) ** (1.0 / ord)
    return write_out(result, out)


def _where_positive(a, power: float):
    """a ** power where a > 0, else 0, differentiable at 0 (gradient 0, as PyTorch's norm
    backward gives, where the power's own derivative is infinite or 0 / 0)."""
    positive = ops.greater(a, 0)
    return ops.where(positive, ops.where(positive, a, ops.ones_like(a)) ** power,
                     ops.zeros_like(a))


@ops.in_float32   # float16 / bfloat16: summed in float32, as PyTorch
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None,  # noqa: N803
                out=None):
    """Frobenius ('fro'), or the largest (1, inf) / smallest (-1, -inf) column / row sum of
    |A|, over the two dims `dim`."""
    x = as_tensor(A) if dtype is None else ops.cast(as_tensor(A), dtypes.torch_dtype(dtype))
    _require_floating(x, "linalg.matrix_norm")
    if x.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: A has {x.ndim} dims; it needs 2 or more "
                           f"(matrices in the last two)")
    rows, cols = (d % x.ndim for d in dim)
    if ord == "fro":
        return write_out(_root_of_sum_of_squares(x, (rows, cols), keepdim), out)
    if ord in (1, -1, math.inf, -math.inf):
        summed_dim, picked_dim = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = ops.reduce_sum(ops.abs(x), summed_dim, True)
        pick = ops.reduce_max if ord > 0 else ops.reduce_min
        result = pick(sums, picked_dim, True)
        return write_out(result if keepdim else ops.squeeze(result, (rows, cols)), out)
    if ord in (2, -2, "nuc"):
        return write_out(_spectral_norm(x, ord, rows, cols, keepdim), out)
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def _spectral_norm(x, ord, rows, cols, keepdim):
    """The largest (2) or smallest (-2) singular value, or their sum ('nuc'), from the
    eigenvalues of the smaller Gram matrix (differentiable through eigh)."""
    x = ops.transpose(x, [d for d in range(x.ndim) if d not in (rows, cols)] + [rows, cols])
    xt = ops.transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))
    gram = ops.matmul(xt, x) if x.shape[-2] >= x.shape[-1] else ops.matmul(x, xt)
    squares = ops.maximum(factorization(gram, "eigh", 0), 0.0)
    if ord == "nuc":
        result = ops.reduce_sum(ops.sqrt(squares), -1)
    else:
        result = ops.sqrt((ops.reduce_max if ord == 2 else ops.reduce_min)(squares, -1))
    if keepdim:
        for d in sorted((rows, cols)):
            result = ops.expand_dims(result, d)
    return result


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: N803,A002
    """`torch.linalg.norm`: a vector norm (1-D input, one dim, or ord None with dim None),
    else a matrix norm over two dims."""
    x = as_tensor(A)
    if isinstance(dim, int) or dim is None and (ord is None or x.ndim == 1) or (
            isinstance(dim, (tuple, list)) and len(dim) == 1):
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if dim is None:
        if x.ndim != 2:
            raise RuntimeError(f"linalg.norm: ord={ord} without dim needs a 1-D or 2-D input, "
                               f"got {x.ndim}-D; give dim")
        dim = (-2, -1)
    return matrix_norm(x, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):  # noqa: A002
    """`torch.norm` / `x.norm(p, dim, keepdim)`: 'fro' (or 2) over dim (all if None), a
    p-norm of each vector along dim, or a matrix norm with p 'fro' and two dims."""
    x = as_tensor(input)
    _require_floating(x, "linalg.vector_norm")
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, out=out)
    return vector_norm(x, p, dim, keepdim, dtype=dtype, out=out)


def dist(input, other, p=2):  # noqa: A002
    """The p-norm of input - other (broadcast), as one value."""
    return norm(as_tensor(input) - other, p)


# ---- NaN-ignoring ---------------------------------------------------------------------

@ops.in_float32   # float16 / bfloat16: summed in float32, as PyTorch
def nansum(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    x = as_tensor(input)
    if x.dtype.is_floating:   # before dtype='s cast: NaN cast to an integer is garbage
        x = ops.where(ops.not_equal(x, x), ops.zeros_like(x), x)
    return write_out(summed(_widened(x, dtype), _all_if_empty(dim), keepdim), out)


@ops.in_float32   # float16 / bfloat16: summed in float32, as PyTorch
def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """The mean of the elements that are not NaN (NaN where all are)."""
    x = as_tensor(input) if dtype is None else ops.cast(as_tensor(input),
                                                        dtypes.torch_dtype(dtype))
    if not x.dtype.is_floating:
        raise RuntimeError(f"nanmean(): the input is {x.dtype.name}; only floating point "
                           f"tensors hold NaN: convert with .float()")
    present = ops.equal(x, x)
    total = ops.reduce_sum(ops.where(present, x, ops.zeros_like(x)), _all_if_empty(dim),
                           keepdim)
    count = ops.reduce_sum(ops.cast(present, x.dtype), _all_if_empty(dim), keepdim)
    return write_out(total / count, out)


def _all_if_empty(dim):
    return None if isinstance(dim, (tuple, list)) and not dim else dim


# ---- order statistics -----------------------------------------------------------------

def _sorted_along(x, dim):
    """(x sorted ascending along dim, the sorting indices); NaN last, as PyTorch's sort."""
    order = ops.argsort(x, dim)
    return ops.gather(x, dim, order), order


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):  # noqa: A002
    """The k-th smallest element along dim (k from 1), and its index."""
    x = as_tensor(input)
    n = x.shape[dim] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): k={k} for dim {dim} of size {n}; k must be in "
                           f"1..{n}")
    return write_out(_pick_sorted(x, dim, k - 1, keepdim), out)


def _pick_sorted(x, dim, position, keepdim):
    order = ops.argsort(x, dim)
    index = narrow(order, dim, position, 1)
    values = ops.gather(x, dim, index)
    if not keepdim:
        values, index = ops.squeeze(values, dim), ops.squeeze(index, dim)
    return ValuesIndices(values, index)


def median(input, dim=None, keepdim=False, *, out=None):  # noqa: A002
    """The lower median (the smaller middle element of an even count); along dim, with
    its index. NaN if any element is NaN, as PyTorch."""
    x = as_tensor(input)
    if dim is None:
        flat = ops.reshape(x, (-1,))
        if flat.shape[0] == 0:
            return write_out(ops.reshape(ops.cast(as_tensor(np.nan), x.dtype), ()), out)
        return write_out(_median_of(flat, 0, False).values, out)
    return write_out(_median_of(x, dim, keepdim), out)


def _median_of(x, dim, keepdim):
    n = x.shape[dim]
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {dim} to have non-zero size.")
    result = _pick_sorted(x, dim, (n - 1) // 2, keepdim)
    if not x.dtype.is_floating:
        return result
    nan_index = ops.argmax(ops.cast(ops.not_equal(x, x), dtypes.int32), dim)
    has_nan = ops.reduce_max(ops.cast(ops.not_equal(x, x), dtypes.int32), dim, keepdim)
    if keepdim:
        nan_index = ops.expand_dims(nan_index, dim)
    has_nan = ops.not_equal(has_nan, 0)
    values = ops.where(has_nan, ops.cast(as_tensor(np.nan), x.dtype), result.values)
    return ValuesIndices(values, ops.where(has_nan, nan_index, result.indices))


def _quantile_arguments(input, q, interpolation):  # noqa: A002
    """quantile's and nanquantile's checks, as PyTorch words them: the input tensor and the
    q values as a float64 array."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        raise RuntimeError(f"quantile(): the input is {x.dtype.name}; it must be float32 "
                           f"or float64")
    qs = np.asarray(q.numpy() if isinstance(q, Tensor) else q, np.float64)
    if qs.ndim > 1 or np.any((qs < 0) | (qs > 1)):
        raise RuntimeError("quantile(): q must be one number or a 1-D tensor of numbers, "
                           "each between 0 and 1")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"quantile(): interpolation={interpolation!r} is unknown; use "
                           f"'linear', 'lower', 'higher', 'midpoint' or 'nearest'")
    return x, qs


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear",  # noqa: A002
             out=None):
    """The q-quantile(s) along dim (of all elements if None), interpolated between the two
    nearest sorted elements; a 1-D q puts its dim first."""
    x, qs = _quantile_arguments(input, q, interpolation)
    if dim is None:
        source, axis = ops.reshape(x, (-1,)), 0
    else:
        source, axis = x, dim % x.ndim
    sorted_x, _ = _sorted_along(source, axis)
    n = source.shape[axis]
    results = [_interpolate(sorted_x, axis, float(p) * (n - 1), interpolation)
               for p in qs.reshape(-1)]
    if n:   # NaN sorts last: a slice with a NaN has every quantile NaN, as PyTorch's
        last = ops.squeeze(narrow(sorted_x, axis, n - 1, 1), axis)
        results = [ops.where(ops.not_equal(last, last), last, r) for r in results]
    if keepdim:
        if dim is None:
            results = [ops.reshape(r, (1,) * x.ndim) for r in results]
        else:
            results = [ops.expand_dims(r, axis) for r in results]
    result = ops.stack(results, 0) if qs.ndim == 1 else results[0]
    return write_out(result, out)


def _valid_count(x, dim):
    """How many elements along dim are not NaN (kept as a size-1 dim, int64)."""
    return ops.reduce_sum(ops.cast(ops.equal(x, x), dtypes.int64), dim, True)


def nanmedian(input, dim=None, keepdim=False, *, out=None):  # noqa: A002
    """The lower median of the elements that are not NaN (NaN where all are), with its
    index along dim: the sorted values (NaN last) picked at (count - 1) // 2 per slice."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        return median(x, dim, keepdim, out=out)
    source, axis = (ops.reshape(x, (-1,)), 0) if dim is None else (x, dim % x.ndim)
    if source.shape[axis] == 0:
        return median(x, dim, keepdim, out=out)
    sorted_x, order = _sorted_along(source, axis)
    position = ops.maximum(ops.floor_divide(_valid_count(source, axis) - 1, 2), 0)
    values, index = ops.gather(sorted_x, axis, position), ops.gather(order, axis, position)
    if dim is None:
        return write_out(ops.reshape(values, ()), out)
    if not keepdim:
        values, index = ops.squeeze(values, axis), ops.squeeze(index, axis)
    return ValuesIndices(values, index)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear",  # noqa: A002
                out=None):
    """quantile over the elements that are not NaN (NaN where all are): per slice, the
    position q * (count - 1) among its sorted values (NaN last)."""
    x, qs = _quantile_arguments(input, q, interpolation)
    source, axis = (ops.reshape(x, (-1,)), 0) if dim is None else (x, dim % x.ndim)
    sorted_x, _ = _sorted_along(source, axis)
    last = ops.cast(ops.maximum(_valid_count(source, axis) - 1, 0), x.dtype)
    results = []
    for p in qs.reshape(-1):
        position = last * float(p)
        low, high = ops.floor(position), ops.ceil(position)
        if interpolation == "nearest":
            low = high = ops.round(position)
        elif interpolation == "lower":
            high = low
        elif interpolation == "higher":
            low = high
        below = ops.gather(sorted_x, axis, ops.cast(low, dtypes.int64))
        above = ops.gather(sorted_x, axis, ops.cast(high, dtypes.int64))
        weight = 0.5 if interpolation == "midpoint" else position - low
        result = ops.where(ops.equal(low, high), below, below + (above - below) * weight)
        results.append(result if keepdim and dim is not None else ops.squeeze(result, axis))
    if keepdim and dim is None:
        results = [ops.reshape(r, (1,) * x.ndim) for r in results]
    result = ops.stack(results, 0) if qs.ndim == 1 else results[0]
    return write_out(result, out)


def _interpolate(sorted_x, axis, position, interpolation):
    low, high = math.floor(position), math.ceil(position)
    if interpolation == "nearest":
        low = high = int(np.round(position))
    elif interpolation == "lower":
        high = low
    elif interpolation == "higher":
        low = high
    below = ops.squeeze(narrow(sorted_x, axis, low, 1), axis)
    if high == low:
        return below
    above = ops.squeeze(narrow(sorted_x, axis, high, 1), axis)
    weight = 0.5 if interpolation == "midpoint" else position - low
    return below + (above - below) * weight


def mode(input, dim=-1, keepdim=False, *, out=None):  # noqa: A002
    """The most frequent value along dim (the smallest among equally frequent ones) and the
    index of its last occurrence; found from the data, the values gathered with it."""
    x = as_tensor(input)
    data = np.moveaxis(x._require_data("mode()"), dim, -1)
    rows = data.reshape(-1, data.shape[-1])
    picks = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        values, counts = np.unique(row, return_counts=True)
        best = values[np.argmax(counts)]
        picks[r] = np.flatnonzero(row == best)[-1]
    index = Tensor._eager(np.expand_dims(picks.reshape(data.shape[:-1]), dim % x.ndim))
    values = ops.gather(x, dim, index)
    if not keepdim:
        values, index = ops.squeeze(values, dim), ops.squeeze(index, dim)
    return write_out(ValuesIndices(values, index), out)


def _running_extreme(x, dim, accumulate, what):
    """Running max/min along dim and the index where each was last reached."""
    x = as_tensor(x)
    axis = dim % x.ndim
    data = x._require_data(what)
    best = accumulate.accumulate(data, axis) if data.size else data
    shape = [1] * data.ndim
    shape[axis] = data.shape[axis]
    positions = np.arange(data.shape[axis], dtype=np.int64).reshape(shape)
    reached = (data == best) | (data != data)
    index = np.maximum.accumulate(np.where(reached, positions, 0), axis) if data.size else (
        np.zeros(data.shape, np.int64))
    index_t = Tensor._eager(np.ascontiguousarray(index))
    return ValuesIndices(ops.gather(x, axis, index_t), index_t)


def cummax(input, dim, *, out=None):  # noqa: A002
    return write_out(_running_extreme(input, dim, np.maximum, "cummax()"), out)


def cummin(input, dim, *, out=None):  # noqa: A002
    return write_out(_running_extreme(input, dim, np.minimum, "cummin()"), out)


def logcumsumexp(input, dim, *, out=None):  # noqa: A002
    """log(cumsum(exp(x))) along dim, shifted by the largest element (no overflow); NaN
    from a NaN on, not before it (the shift ignores NaN)."""
    x = as_tensor(input)
    top = ops.stop_gradient(ops.reduce_max(
        ops.where(ops.not_equal(x, x), ops.zeros_like(x) - math.inf, x), dim, True))
    top = ops.where(ops.equal(ops.abs(top), math.inf), ops.zeros_like(top), top)
    return write_out(top + ops.log(ops.cumsum(ops.exp(x - top), dim)), out)


# ---- differences, trace, counts -------------------------------------------------------

@with_out
def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """x[i + 1] - x[i] along dim, n times (bools: whether neighbours differ)."""
    x = as_tensor(input)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = ops.concat([as_tensor(p) for p in parts], dim)
    for _ in range(n):
        length = x.shape[dim]
        if length == 0:
            break
        after, before = narrow(x, dim, 1, length - 1), narrow(x, dim, 0, length - 1)
        x = ops.logical_xor(after, before) if x.dtype.is_bool else after - before
    return x


def trace(input):  # noqa: A002
    """The sum of a matrix's main diagonal."""
    x = as_tensor(input)
    if x.ndim != 2:
        raise RuntimeError(f"trace: the input has {x.ndim} dims; trace takes a 2-D matrix")
    n = min(x.shape)
    diagonal = ops.take(flatten(x), Tensor._eager(np.arange(n, dtype=np.int64)
                                                   * (x.shape[1] + 1)))
    return ops.reduce_sum(_widened(diagonal))


def histc(input, bins=100, min=0, max=0, *, out=None):  # noqa: A002
    """Counts in `bins` equal bins between min and max (the data's own if both are 0);
    elements outside are ignored. The input's dtype; no gradient (as PyTorch)."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        raise RuntimeError(f"histc: \"histogram_cpu\" not implemented for "
                           f"'{x.dtype.name}'")
    data = x._require_data("histc()").astype(np.float64)
    low, high = float(min), float(max)
    if low == high and data.size:
        low, high = float(data.min()), float(data.max())
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError(f"histc: the range is empty (min {min}, max {max}); give max > "
                           f"min")
    counts, _ = np.histogram(data, bins, (low, high))
    return write_out(Tensor._eager(counts.astype(x.dtype.np)), out)


def bincount(input, weights=None, minlength=0):  # noqa: A002
    """How often each non-negative integer occurs in a 1-D tensor (summed weights if given)."""
    x = as_tensor(input)
    if x.ndim != 1 or x.dtype.is_floating or x.dtype.is_bool:
        raise RuntimeError(f"bincount: the input is {x.ndim}-D {x.dtype.name}; it counts a "
                           f"1-D tensor of integers >= 0")
    data = x._require_data("bincount()")
    if data.size and data.min() < 0:
        raise RuntimeError("bincount: the input holds a negative value; it counts integers "
                           ">= 0")
    if weights is None:
        return Tensor._eager(np.bincount(data, minlength=minlength).astype(np.int64))
    w = as_tensor(weights)
    counts = np.bincount(data, w._require_data("bincount()"), minlength)
    return Tensor._eager(counts.astype(w.dtype.np if w.dtype.is_floating else np.float64))


AminmaxResult = namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    """(amin, amax) in one call; tied extremes share the gradient, as amin's and amax's."""
    x = as_tensor(input)
    if x.numel() == 0 and (dim is None or x.shape[dim] == 0):
        raise RuntimeError("aminmax(): the reduced dim is empty, and an empty dim has no "
                           "min or max")
    return AminmaxResult(ops.reduce_min(x, dim, keepdim), ops.reduce_max(x, dim, keepdim))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """(var, mean) over dim; PyTorch's overloads: (input, unbiased) and (input, dim,
    unbiased, keepdim), or correction=."""
    return _moments("var_mean", input, dim, unbiased, keepdim, correction, root=False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """(std, mean) over dim, with var_mean's overloads."""
    return _moments("std_mean", input, dim, unbiased, keepdim, correction, root=True)


def _moments(name, input, dim, unbiased, keepdim, correction, root):  # noqa: A002
    x = as_tensor(input)
    if not x.dtype.is_floating:
        raise RuntimeError(f"{name}: the input is {x.dtype.name}; it is defined for "
                           f"floating point tensors: convert with .float()")
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    if isinstance(dim, (tuple, list)):
        dim = tuple(dim) or None
    wide = ops.cast(x, dtypes.float32) if x.dtype.is_reduced else x   # as PyTorch sums
    spread = ops.var(wide, dim, correction_of(unbiased, correction), keepdim)
    if root:
        spread = ops.reduce.root(spread)
    mean = ops.reduce_mean(wide, dim, keepdim)
    if wide is x:
        return spread, mean
    return ops.cast(spread, x.dtype), ops.cast(mean, x.dtype)


METHODS = {
    "aminmax": aminmax,
    "prod": prod, "cumprod": torch_cumprod, "norm": norm, "nansum": nansum,
    "nanmean": nanmean, "median": median, "quantile": quantile, "kthvalue": kthvalue,
    "mode": mode, "cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp,
    "diff": diff, "trace": trace, "histc": histc, "bincount": bincount,
    "nanmedian": nanmedian, "nanquantile": nanquantile,
}
