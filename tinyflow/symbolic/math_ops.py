"""TF1's shape queries and reductions tinyflow spelled only PyTorch's way: `tf.size`,
`tf.rank`, `tf.reverse`, `tf.reduce_logsumexp` in TF1's arguments (axis lists,
keepdims), and the elementwise tests and inverses of `tf.math` (`is_nan`, `tf.math.rsqrt`,
...; PyTorch's rsqrt and reciprocal keep the top-level names)."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from ..ops.shape import shape_of


def size(input, name=None, out_type=dtypes.int32) -> Tensor:  # noqa: A002
    """The number of elements: a constant when the shape is known, else read when run."""
    x = as_tensor(input)
    if x.shape is not None and None not in x.shape:
        return as_tensor(np.array(int(np.prod(x.shape)), dtypes.as_dtype(out_type).np))
    shape = shape_of(x, out_type=out_type)
    if x.ndim is None:
        raise ValueError("size: the rank of the input must be known when the graph is built")
    total = as_tensor(np.array(1, dtypes.as_dtype(out_type).np))
    for k in range(x.ndim):
        total = ops.multiply(total, shape[k])
    return total


def rank(input, name=None) -> Tensor:  # noqa: A002
    x = as_tensor(input)
    if x.ndim is None:
        return shape_of(shape_of(x))[0]
    return as_tensor(np.array(x.ndim, np.int32))


def _axes(x: Tensor, axis, fn: str) -> tuple:
    if x.ndim is None:
        raise ValueError(f"{fn}: the rank of the input must be known when the graph is built")
    if isinstance(axis, Tensor):
        axis = axis._require_data(f"{fn} (axis)")
    if axis is None:
        return tuple(range(x.ndim))
    return normalize_axes(tuple(int(a) for a in np.asarray(axis).reshape(-1)), x.ndim)


def reverse(tensor, axis, name=None) -> Tensor:
    """tensor with the order of its entries reversed along each of `axis`."""
    x = as_tensor(tensor)
    axes = _axes(x, axis, "reverse")
    return ops.getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None)
                                for d in range(x.ndim)))


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None,
                     reduction_indices=None, keep_dims=None) -> Tensor:
    x = as_tensor(input_tensor)
    axes = _axes(x, reduction_indices if axis is None else axis, "reduce_logsumexp")
    return ops.logsumexp(x, axes, bool(keepdims or keep_dims))


def is_nan(x, name=None) -> Tensor:
    return ops.not_equal(x, x, name=name)


def is_inf(x, name=None) -> Tensor:
    return ops.equal(ops.abs(x), np.inf, name=name)


def is_finite(x, name=None) -> Tensor:
    return ops.less(ops.abs(x), np.inf, name=name)   # NaN compares False


def tf_reciprocal(x, name=None) -> Tensor:
    return ops.divide(1.0, x, name=name)


def tf_rsqrt(x, name=None) -> Tensor:
    return ops.divide(1.0, ops.sqrt(x), name=name)
