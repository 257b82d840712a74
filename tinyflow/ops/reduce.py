"""Reductions: sum, max, min (mean is sum / count), and argmax/argmin."""
from __future__ import annotations

import math
from typing import Optional

from ..core import dtypes
from ..core.errors import ShapeError, user_site
from ..core.modes import trace_state
from ..core.op import Op, apply, as_tensor, shared
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from .math import abs as abs_value
from .math import cast, divide, equal, exp, in_float32, less, log, maximum, sqrt, where
from .shape import broadcast_to, squeeze, stop_gradient


class Reduce(Op):
    reduction = True
    axis: Optional[tuple[int, ...]]   # None: every axis
    keepdims: bool

    def infer(self, x):
        return reduced_shape(x.shape, self.axis, self.keepdims), x.dtype

    def _dropped(self):
        """The axes BroadcastTo must re-insert into the gradient (none if all were reduced:
        a scalar broadcasts as it is, even where the rank is unknown and axis is None)."""
        return () if self.keepdims or self.axis is None else self.axis


def reduced_shape(shape, axes, keepdims):
    if shape is None:
        return None
    if type(shape) is tuple and axes is not None:   # eager: one axis, or all (normalized)
        if len(axes) == 1:
            a = axes[0]
            return shape[:a] + (1,) + shape[a + 1:] if keepdims else shape[:a] + shape[a + 1:]
        if len(axes) == len(shape) and not keepdims:   # a loss's sum or mean
            return ()
    if axes is None:
        axes = tuple(range(len(shape)))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


class Sum(Reduce):
    name = "sum"
    linearity = "linear"

    def infer(self, x):
        dt = dtypes.int64 if x.dtype.is_bool else x.dtype
        return reduced_shape(x.shape, self.axis, self.keepdims), dt

    def vjp(self, g, out, x):
        return (broadcast_to(g, x, self._dropped()),)


class Mean(Reduce):
    """The sum over `axis` divided by the number of elements summed, as one op: an eager
    mean (a loss's average, `x.mean()`) is one step and one backward node rather than a sum
    and a division. Graphs keep sum and divide, which the passes rewrite."""
    name = "mean"
    linearity = "linear"

    def infer(self, x):
        if not x.dtype.is_floating:
            raise TypeError(f"needs a floating-point input, got {x.dtype.name}")
        return reduced_shape(x.shape, self.axis, self.keepdims), x.dtype

    def vjp(self, g, out, x):
        if x.kind == "eager":   # the count is known now
            # a float: the literal `g / count` lifts is kept (an int goes through operands)
            count = float(math.prod(x.shape if self.axis is None
                                    else [x.shape[a] for a in self.axis]))
        else:
            count = apply(Count(axis=self.axis, keepdims=False, dtype=x.dtype), x)
        return (broadcast_to(g / count, x, self._dropped()),)


def refuse_empty(op, x) -> None:
    """max/min/argmax have no value over no elements (no identity): refused naming the dim,
    as PyTorch's IndexError, not NumPy's "zero-size array to reduction operation"."""
    if x.shape is None:
        return
    axes = range(len(x.shape)) if op.axis is None else op.axis
    for a in axes:
        if x.shape[a] == 0:
            raise IndexError(f"Expected reduction dim {a} to have non-zero size.")


class Max(Reduce):
    name = "max"

    def infer(self, x):
        refuse_empty(self, x)
        return super().infer(x)

    def _share(self, out, x):
        """Where x attains the extreme, split evenly among ties."""
        mask = cast(equal(x, broadcast_to(out, x, self._dropped())), x.dtype)
        return mask / broadcast_to(reduce_sum(mask, self.axis, self.keepdims), x,
                                   self._dropped())

    def vjp(self, g, out, x):
        return (broadcast_to(g, x, self._dropped()) * self._share(out, x),)

    def jvp(self, t, out, x):
        return reduce_sum(t[0] * self._share(out, x), self.axis, self.keepdims)


class Min(Max):
    name = "min"


class Count(Reduce):
    """Number of elements reduced over `axis` (a scalar), for means of unknown-size dims."""
    name = "count"
    differentiable = False
    dtype: dtypes.DType

    def infer(self, x):
        return (), self.dtype


class ArgMax(Reduce):
    name = "argmax"
    differentiable = False

    def infer(self, x):
        refuse_empty(self, x)
        return reduced_shape(x.shape, self.axis, False), dtypes.int64


class ArgMin(ArgMax):
    name = "argmin"


# ---- the functions users call ----------------------------------------------------------

def _axes(x: Tensor, axis, reduction_indices):
    if axis is None:
        axis = reduction_indices
    return normalize_axes(axis, x.ndim)


def _reduce(op_cls, x, axis, keepdims, reduction_indices, keep_dims, name):
    x = as_tensor(x)
    keepdims = bool(keepdims or keep_dims)
    if reduction_indices is None and (axis is None or type(axis) is int):   # the common case
        rank = None if x.shape is None else len(x.shape)
        op = CACHED_REDUCTIONS.get((op_cls, axis, rank, keepdims))
        if op is not None:
            return apply(op, x, name=name)
    try:
        axes = _axes(x, axis, reduction_indices)
    except ValueError as e:
        raise ShapeError(f"{op_cls.name}: {e} (input shape {x.shape}) at {user_site()}") from None
    op = shared(op_cls, axes, keepdims)
    if reduction_indices is None and (axis is None or type(axis) is int):
        CACHED_REDUCTIONS[(op_cls, axis, x.ndim, keepdims)] = op
    return apply(op, x, name=name)


# (class, axis as given, rank, keepdims) -> the op: a reduction over an int axis (or all)
# skips normalizing the axis and building the op (PyTorch's sum/mean look here first)
CACHED_REDUCTIONS: dict = {}


def reduce_sum(x, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=False) -> Tensor:
    return _reduce(Sum, x, axis, keepdims, reduction_indices, keep_dims, name)


def reduce_max(x, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=False) -> Tensor:
    return _reduce(Max, x, axis, keepdims, reduction_indices, keep_dims, name)


def reduce_min(x, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=False) -> Tensor:
    return _reduce(Min, x, axis, keepdims, reduction_indices, keep_dims, name)


@in_float32
def reduce_mean(x, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=False) -> Tensor:
    """Sum divided by the number of elements reduced (known at run time if dims are None)."""
    x = as_tensor(x)
    if not x.dtype.is_floating:
        x = cast(x, dtypes.DEFAULT_FLOAT)
    if x.kind == "eager" and trace_state.active is None:   # one op (see Mean)
        return _reduce(Mean, x, axis, keepdims, reduction_indices, keep_dims, name)
    total = _reduce(Sum, x, axis, keepdims, reduction_indices, keep_dims, None)
    axes = _axes(x, axis, reduction_indices)
    if x.kind == "eager":   # the count is known now: one op fewer on every eager mean
        count = math.prod(x.shape if axes is None else [x.shape[a] for a in axes])
    else:
        count = apply(Count(axis=axes, keepdims=False, dtype=x.dtype), x)
    return divide(total, count, name=name)


def argmax(x, axis=None, name=None, dimension=None) -> Tensor:
    x = as_tensor(x)
    axis = dimension if axis is None else axis
    axes = None if axis is None else normalize_axes(axis, x.ndim)
    if axes is not None and len(axes) != 1:
        raise ValueError("argmax: axis must be a single axis")
    return apply(ArgMax(axis=axes, keepdims=False), x, name=name)


def argmin(x, axis=None, name=None, dimension=None) -> Tensor:
    x = as_tensor(x)
    axis = dimension if axis is None else axis
    axes = None if axis is None else normalize_axes(axis, x.ndim)
    if axes is not None and len(axes) != 1:
        raise ValueError("argmin: axis must be a single axis")
    return apply(ArgMin(axis=axes, keepdims=False), x, name=name)


def arg_max(input, dimension=None, output_type=dtypes.int64, name=None) -> Tensor:
    """TF1's older spelling of `argmax(input, axis=dimension)`."""
    return _index_as(argmax(input, dimension, name), output_type)


def arg_min(input, dimension=None, output_type=dtypes.int64, name=None) -> Tensor:
    """TF1's older spelling of `argmin(input, axis=dimension)`."""
    return _index_as(argmin(input, dimension, name), output_type)


def _index_as(index: Tensor, output_type) -> Tensor:
    output_type = dtypes.as_dtype(output_type)
    if output_type not in (dtypes.int32, dtypes.int64):
        raise TypeError(f"arg_max/arg_min: output_type must be int32 or int64, got "
                        f"{output_type}")
    return index if output_type == index.dtype else cast(index, output_type)


@in_float32
def var(x, axis=None, correction=1, keepdims=False) -> Tensor:
    """Variance with `correction` (1: unbiased, as PyTorch's default)."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    centered = x - reduce_mean(x, axes, keepdims=True)
    total = reduce_sum(centered * centered, axes, keepdims)
    count = apply(Count(axis=axes, keepdims=False, dtype=x.dtype), x)
    return total / maximum(count - correction, 0)


def root(x) -> Tensor:
    """sqrt(x) whose gradient at 0 is 0 (sqrt's is inf, and inf * 0 is NaN): PyTorch's
    backward of std and of norms gives a constant row or a zero vector a zero gradient."""
    zero = equal(x, 0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, x)))


@in_float32
def logsumexp(x, axis, keepdims=False) -> Tensor:
    """log(sum(exp(x))) without overflow: the max is subtracted and added back. An infinite
    max is not (-inf - -inf is NaN): all -inf gives -inf, a +inf gives +inf, as PyTorch.
    The shift is a constant to the gradient (it cancels), so none flows through it."""
    x = as_tensor(x)
    if not x.dtype.is_floating:    # ints and bools: in the default float, as PyTorch
        x = cast(x, dtypes.float_result(x.dtype))
    axes = normalize_axes(axis, x.ndim)
    if axes and x.shape is not None and any(x.shape[a] == 0 for a in axes):
        out = log(reduce_sum(exp(x), axes, keepdims=True))   # no max to subtract: log 0
        return out if keepdims else squeeze(out, axes)
    m = reduce_max(x, axes, keepdims=True)
    m = stop_gradient(where(less(abs_value(m), math.inf), m, 0.0))
    out = m + log(reduce_sum(exp(x - m), axes, keepdims=True))
    return out if keepdims else squeeze(out, axes)


class Cumsum(Op):
    """Running sums along `axis` (from the end when `reverse`). Its gradient is the running
    sum of `g` in the other direction."""
    name = "cumsum"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    axis: int
    reverse: bool

    def infer(self, x):
        normalize_axes(self.axis, None if x.shape is None else len(x.shape))
        return x.shape, (dtypes.int64 if x.dtype.is_bool else x.dtype)

    def vjp(self, g, out, x):
        return (cumsum(g, self.axis, reverse=not self.reverse),)


def cumsum(x, axis: int = 0, reverse: bool = False) -> Tensor:
    return apply(Cumsum(axis=int(axis), reverse=bool(reverse)), as_tensor(x))
