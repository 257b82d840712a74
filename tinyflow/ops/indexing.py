"""Indexing with index tensors: take (embedding lookup, index_select), gather
(take_along_axis), and setitem (`x[i] = v`); their gradients scatter-add."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes, normalize_axes
from ..core.tensor import EAGER, Tensor
from .creation import tf_range
from .math import cast, less, maximum, minimum, operands, where
from .shape import _normalize_index as normalize_index
from .shape import getitem, index_shape, reshape, shape_of, sum_to


def _check_indices(indices: Tensor) -> None:
    if not indices.dtype.is_integer:
        raise TypeError(f"indices must be integers, got {indices.dtype.name}")


class Take(Op):
    """`x` indexed along `axis` by an integer tensor: out.shape = x[:axis] + idx + x[axis+1:]."""
    name = "take"
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    axis: int
    what: str = "take"     # what an index out of range is reported as (getitem, a TensorArray
    wraps: bool = True     # read); whether a negative index counts from the end

    def infer(self, x, indices):
        _check_indices(indices)
        if x.shape is None or indices.shape is None:
            return None, x.dtype
        a = self.axis
        return x.shape[:a] + indices.shape + x.shape[a + 1:], x.dtype

    def vjp(self, g, out, x, indices):
        return apply(TakeGrad(axis=self.axis), g, indices, x), None


class TakeGrad(Op):
    """Zeros shaped like `ref`, with each slice of `g` added at its index (scatter-add)."""
    name = "take_grad"
    saves_inputs = False
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    axis: int

    def infer(self, g, indices, ref):
        return ref.shape, g.dtype

    def vjp(self, gg, out, g, indices, ref):
        return take(gg, indices, self.axis), None, None


class Gather(Op):
    """PyTorch's `gather`: out[i][j] = x[i][index[i][j]] along `axis` (index has x's rank)."""
    name = "gather"
    saves_output = False
    linearity = "linear"
    linear_inputs = 1
    axis: int

    def infer(self, x, index):
        _check_indices(index)
        if x.shape is not None and index.shape is not None and len(x.shape) != len(index.shape):
            raise ValueError(f"index has {len(index.shape)} dims and the input {len(x.shape)}; "
                             f"they must match")
        return index.shape, x.dtype

    def vjp(self, g, out, x, index):
        return apply(GatherGrad(axis=self.axis), g, index, x), None


class GatherGrad(TakeGrad):
    name = "gather_grad"

    def vjp(self, gg, out, g, index, ref):
        return gather(gg, self.axis, index), None, None


class SetItem(Op):
    """A copy of `x` with `value` written at `index` (what `x[index] = value` computes)."""
    name = "setitem"
    saves_inputs = False
    saves_output = False
    linearity = "linear"      # in x and value together
    index: tuple

    def infer(self, x, value):
        target = index_shape(x.shape, self.index)
        if target is not None and value.shape is not None:
            if broadcast_shapes(target, value.shape) != target:
                raise ValueError(f"cannot write a value of shape {value.shape} into a "
                                 f"selection of shape {target}")
        return x.shape, x.dtype

    def vjp(self, g, out, x, value):
        return setitem(g, self.index, 0), sum_to(getitem(g, self.index), value)


def index_by_tensors(x: Tensor, index) -> Tensor:
    """x[index] where index holds graph tensors (TF1's strided_slice with tensor bounds:
    `x[t]`, `x[:, t]`, `x[t:t + 2]`): the rest of the index as a view, then a take along the
    dim of each tensor, an int scalar selecting (the dim goes) or an int vector gathering.
    A tensor slice bound gives a take of the range it spans, clamped as Python's."""
    items = index if isinstance(index, tuple) else (index,)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    if x.ndim is None and Ellipsis in items or x.ndim is not None and consumed > x.ndim:
        raise IndexError(f"getitem: an index of {consumed} dims for a tensor of shape "
                         f"{x.shape}")
    static, picks, dim, out = [], [], 0, 0   # picks: (output dim, index tensor)
    for item in items:
        if item is None:
            static.append(None)
            out += 1
            continue
        if item is Ellipsis:
            static.append(Ellipsis)
            dim, out = dim + x.ndim - consumed, out + x.ndim - consumed
            continue
        if isinstance(item, slice) and _symbolic(item.start, item.stop, item.step):
            item = _slice_range(x, dim, item)
        if _symbolic(item):
            if not item.dtype.is_integer or item.ndim is None:
                raise IndexError(f"getitem: a graph tensor index must be an int tensor of "
                                 f"known rank, got {item.dtype.name} of shape {item.shape} "
                                 f"(use tf.boolean_mask for a mask)")
            static.append(slice(None))
            picks.append((out, item))
        else:
            item = np.asarray(item.numpy()) if isinstance(item, Tensor) else item
            if isinstance(item, (list, np.ndarray)) and np.ndim(item):
                raise IndexError("getitem: an index mixing graph tensors with index arrays "
                                 "is not supported; use tf.gather")
            item = int(item) if isinstance(item, np.ndarray) else item
            static.append(item)
        out += 0 if isinstance(item, (int, np.integer)) else 1
        dim += 1
    if sum(t.ndim > 0 for _, t in picks) > 1:
        raise IndexError("getitem: at most one graph tensor index of rank 1 or more (they "
                         "would index jointly); use tf.gather_nd")
    y = getitem(x, tuple(static))
    for axis, t in reversed(picks):
        y = apply(Take(axis=axis, what="getitem"), y, t)
    return y


def _symbolic(*items) -> bool:
    return any(isinstance(i, Tensor) and i.kind != EAGER for i in items)


def _slice_range(x: Tensor, dim: int, s: slice) -> Tensor:
    """The indices slice `s` of dim `dim` spans, bounds clamped to [0, size] as Python's
    (a positive step given as a number)."""
    step = 1 if s.step is None else s.step
    if isinstance(step, Tensor) or int(step) <= 0:
        raise IndexError(f"getitem: a slice with graph tensor bounds needs a positive int "
                         f"step, got {step}")
    bounds = [b for b in (s.start, s.stop) if isinstance(b, Tensor)]
    dtype = bounds[0].dtype
    size = cast(shape_of(x)[dim], dtype)

    def clamp(bound, default):
        if bound is None:
            return default
        bound = cast(as_tensor(bound), dtype)
        return where(less(bound, 0), maximum(bound + size, 0), minimum(bound, size))
    return tf_range(clamp(s.start, cast(as_tensor(0), dtype)), clamp(s.stop, size), int(step))


def take(x, indices, axis=0, name=None) -> Tensor:
    """Rows (or slices along `axis`) of `x` picked by integer `indices` (tf.gather)."""
    x = as_tensor(x)
    axis = normalize_axes(axis, x.ndim)[0] if x.ndim is not None else axis
    return apply(Take(axis=axis), x, as_tensor(indices), name=name)


def gather(x, dim, index) -> Tensor:
    x = as_tensor(x)
    return apply(Gather(axis=normalize_axes(dim, x.ndim)[0]), x, as_tensor(index))


def setitem(x, index, value, out: Optional[Tensor] = None) -> Tensor:
    """Leading size-1 dims of `value` beyond the selection's rank are dropped, as NumPy and
    PyTorch drop them (`attn[i] = weights` with weights [1, n] into a row of n). `out=x`
    (eager, outside autograd): written into x's own buffer, unless x's dtype must change
    (then out is ignored: the caller writes the result, and gets PyTorch's error)."""
    x, value = operands(x, value)
    if out is not None and x is not out:
        out = None
    index = normalize_index(index)
    try:
        target = index_shape(x.shape, index)
    except (IndexError, ValueError):   # SetItem's shape rule names the op and shapes
        target = None
    if target is not None and value.shape is not None:
        extra = len(value.shape) - len(target)
        if extra > 0 and all(d == 1 for d in value.shape[:extra]):
            value = reshape(value, value.shape[extra:])
    return apply(SetItem(index=index), x, value, out=out)


class ArgSort(Op):
    """The indices that sort `x` along `axis` (stable). Sort and top-k gather the values with
    them, so their gradients scatter back through `gather`."""
    name = "argsort"
    differentiable = False
    axis: int
    descending: bool

    def infer(self, x):
        normalize_axes(self.axis, None if x.shape is None else len(x.shape))
        return x.shape, dtypes.int64


def argsort(x, axis: int = -1, descending: bool = False) -> Tensor:
    return apply(ArgSort(axis=int(axis), descending=bool(descending)), as_tensor(x))
