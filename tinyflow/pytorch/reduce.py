"""Reductions, sorting and top-k as PyTorch spells them (`dim`, `keepdim`, (values, indices)).

The op functions they call take TF1's spelling (`axis`, `keepdims`); `var`, `logsumexp`,
`cumsum` and `argsort`, whose names an op function also has, are in shared_names.py.
"""
from __future__ import annotations

from collections import namedtuple


from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError
from ..core.modes import TRACING_THREADS, grad_mode, trace_state
from ..core.op import apply, apply1, as_tensor
from ..core.tensor import EAGER, Tensor
from ..ops.reduce import CACHED_REDUCTIONS, Mean, Sum
from .inplace import write_out
from .zero_dim import scalar_dims

MaxResult = namedtuple("MaxResult", ["values", "indices"])   # also sort's and topk's


def in_outs_dtype(dtype, out):
    """PyTorch's sums, products, means and their running forms compute in out's dtype when
    no dtype= is given (into int64 the cast comes first; into float64 nothing is lost to
    float32); a bool out keeps the result's dtype, and a float into an integer out of a
    mean is refused by `write_out`."""
    if dtype is not None or out is None or isinstance(out, tuple) or out.dtype.is_bool:
        return dtype
    return out.dtype


def widened(x, dtype=None):
    """PyTorch's sum-like dtype: integers and bools accumulate in int64 unless dtype=."""
    x = as_tensor(x)
    if dtype is not None:
        return ops.cast(x, dtypes.torch_dtype(dtype))
    return x if x.dtype.is_floating or x.dtype is dtypes.int64 else ops.cast(x, dtypes.int64)


def sum(x, dim=None, keepdim=False, dtype=None, axis=None, keepdims=False, *,  # noqa: A001
        out=None):
    if type(x) is Tensor and type(x.shape) is tuple and (dim is None or type(dim) is int) \
            and dtype is None and axis is None and x.dtype.is_floating and out is None:
        # an eager float sum over one dim or all: the op (integers widen first)
        op = CACHED_REDUCTIONS.get((Sum, dim, len(x.shape), bool(keepdim or keepdims)))
        if op is not None:
            return apply1(op, x)
    return write_out(_any_sum(x, dim, keepdim, in_outs_dtype(dtype, out), axis, keepdims), out)


@scalar_dims
def _any_sum(x, dim, keepdim, dtype, axis, keepdims):
    x = as_tensor(x)
    if dtype is not None or not x.dtype.is_floating:
        x = widened(x, dtype)
    axes = dim if type(dim) is int or dim is axis is None else _axis(dim, axis)   # no call
    return summed(x, axes, keepdim or keepdims)


def summed(x, axes, keepdims):
    """reduce_sum of a widened x; a bool x (dtype=bool) sums as PyTorch sums bools, where
    True + True is True: an "any"."""
    if x.dtype is not dtypes.bool_:
        return ops.reduce_sum(x, axes, keepdims)
    return ops.greater(ops.reduce_sum(ops.cast(x, dtypes.int64), axes, keepdims), 0)


def mean(x, dim=None, keepdim=False, dtype=None, axis=None, keepdims=False, *, out=None):
    if type(x) is Tensor and x.kind == EAGER and (dim is None or type(dim) is int) \
            and dtype is None and axis is None and not TRACING_THREADS \
            and x.dtype.is_floating and not x.dtype.is_reduced and out is None:   # eager
        op = CACHED_REDUCTIONS.get((Mean, dim, len(x.shape), bool(keepdim or keepdims)))
        if op is not None:
            return apply1(op, x)
    if out is not None and dtype is None and out.dtype.is_floating:
        dtype = out.dtype   # computed in a float64 out's dtype, as PyTorch's
    return write_out(_any_mean(x, dim, keepdim, dtype, axis, keepdims), out)


@scalar_dims
def _any_mean(x, dim, keepdim, dtype, axis, keepdims):
    x = as_tensor(x) if dtype is None else as_tensor(x).to(dtype)
    if not x.dtype.is_floating:
        raise RuntimeError(f"mean(): the input is {x.dtype.name}; a mean is taken of "
                           f"floating point tensors (pass dtype= or convert with .float())")
    axes = dim if type(dim) is int or dim is axis is None else _axis(dim, axis)   # no call
    return ops.reduce_mean(x, axes, keepdim or keepdims)


# Their cached ops take no dim a 0-d tensor does not have: only the general paths, which
# take PyTorch's dims of a 0-d tensor, need zero_dim's wrapper (a frame each call else)
sum.scalar_dims = mean.scalar_dims = True


def max(x, dim=None, keepdim=False, *, out=None):  # noqa: A001
    found = _extreme(x, dim, keepdim, ops.reduce_max, ops.argmax, ops.maximum)
    return found if out is None else write_out(found, out)


def min(x, dim=None, keepdim=False, *, out=None):  # noqa: A001
    found = _extreme(x, dim, keepdim, ops.reduce_min, ops.argmin, ops.minimum)
    return found if out is None else write_out(found, out)


def amax(x, dim=None, keepdim=False, *, out=None):
    return write_out(ops.reduce_max(x, _axis(dim, None), keepdim), out)


def amin(x, dim=None, keepdim=False, *, out=None):
    return write_out(ops.reduce_min(x, _axis(dim, None), keepdim), out)


def torch_argmax(x, dim=None, keepdim=False):
    """`x.argmax(dim, keepdim)`; the top-level `argmax` is TF1's (`axis`, `name`)."""
    return _arg(ops.argmax, x, dim, keepdim, "argmax")


def torch_argmin(x, dim=None, keepdim=False):
    """`x.argmin(dim, keepdim)`; the top-level `argmin` is TF1's (`axis`, `name`)."""
    return _arg(ops.argmin, x, dim, keepdim, "argmin")


def _arg(arg, x, dim, keepdim, name=None):
    """The indices along `dim` (of everything, flattened, if None), kept as a size-1 dim;
    bools refused by PyTorch's argmax and argmin (`name`), not by its max and min."""
    if name is not None and x.dtype.is_bool:
        raise DTypeError(f"{name}(): does not support bool input")
    out = arg(x, dim)
    return ops.expand_dims(out, dim) if keepdim and dim is not None else out


def std(x, dim=None, unbiased=None, keepdim=False, correction=None, *, out=None):
    return write_out(_std(x, dim, unbiased, keepdim, correction), out)


@ops.in_float32   # out= is written outside: in float16, out itself must not be cast
def _std(x, dim, unbiased, keepdim, correction):
    return ops.reduce.root(ops.var(x, dim, correction_of(unbiased, correction), keepdim))


def correction_of(unbiased, correction) -> int:
    """PyTorch's two spellings of the variance's divisor n - correction."""
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def count_nonzero(x, dim=None):
    return ops.reduce_sum(ops.cast(ops.not_equal(x, 0), dtypes.int64), dim)


def torch_sort(x, dim=-1, descending=False, stable=False):
    """`x.sort(...)`: (values, indices), stable; the top-level `sort` also speaks TF1's."""
    indices = ops.argsort(x, dim, descending)
    return MaxResult(ops.gather(x, dim, indices), indices)


def topk(x, k, dim=-1, largest=True, sorted=True, *, out=None):  # noqa: A002
    if x.dtype.is_bool:
        raise DTypeError("topk: a bool tensor has no order to rank; convert it with .int()")
    if not 0 <= k <= x.shape[dim]:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size "
                           f"{x.shape[dim]}")
    indices = ops.argsort(x, dim, largest).narrow(dim, 0, k)
    return write_out(MaxResult(ops.gather(x, dim, indices), indices), out)


def _axis(dim, axis):
    """The axes of torch's sum/mean: an empty dim list means every dim, as in PyTorch (for
    TF's reduce_sum it means none)."""
    dim = dim if dim is not None else axis
    return None if isinstance(dim, (tuple, list)) and not dim else dim


def _extreme(x, dim, keepdim, reduce, arg, pairwise):
    """PyTorch's max/min: over everything, (values, indices) along a dim, or pairwise."""
    if isinstance(dim, Tensor):
        return pairwise(x, dim)
    if dim is None:
        return reduce(x)
    if x.ndim == 0 or not (x.requires_grad and grad_mode.enabled):
        return MaxResult(reduce(x, dim, keepdim), _arg(arg, x, dim, keepdim))
    indices = ops.expand_dims(arg(x, dim), dim)   # the values gathered at the indices: the
    values = ops.gather(x, dim, indices)          # gradient goes to that one of tied values
    if keepdim:
        return MaxResult(values, indices)
    return MaxResult(ops.squeeze(values, dim), ops.squeeze(indices, dim))


METHODS = {
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": torch_argmax, "argmin": torch_argmin, "std": std,
    "count_nonzero": count_nonzero, "sort": torch_sort, "topk": topk,
}
