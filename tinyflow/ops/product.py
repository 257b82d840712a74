"""Products: the product along an axis and the running product (PyTorch's prod, cumprod).

exp(sum(log x)) is wrong at zeros and negative numbers, and out / x (the textbook gradient)
divides by zero; so each op's kernel is one NumPy call, and its derivatives come from a
composition of multiplies in log2(n) steps (`composed`), exact with zeros, at every order.
"""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.op import Op, apply, as_tensor
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from .math import multiply
from .shape import getitem, pad, squeeze


def _product_dtype(dtype):
    return dtypes.int64 if dtype.is_bool else dtype


def _known_length(op, x) -> int:
    n = x.shape[op.axis]
    if n is None:
        raise ValueError(f"{op.name}: the length of axis {op.axis} must be known")
    return n


class Prod(Op):
    """The product of the elements along `axis`."""
    name = "prod"
    reduction = True
    composed = True       # derivatives: autodiff differentiates compose()
    axis: int
    keepdims: bool

    def infer(self, x):
        axis = normalize_axes(self.axis, None if x.shape is None else len(x.shape))[0]
        shape = None if x.shape is None else tuple(
            1 if i == axis else d for i, d in enumerate(x.shape)
            if i != axis or self.keepdims)
        return shape, _product_dtype(x.dtype)

    def compose(self, x):
        """Pairwise products, halving the axis each step (padded with ones to a power of 2)."""
        axis = self.axis % x.ndim
        n = _known_length(self, x)
        width = 1
        while width < n:
            width *= 2
        pads = [[0, 0]] * x.ndim
        pads[axis] = [0, width - n]
        y = pad(x, pads, constant_values=1) if width > n else x
        while width > 1:
            width //= 2
            y = multiply(_every_other(y, axis, 0), _every_other(y, axis, 1))
        return y if self.keepdims else squeeze(y, axis)


class Cumprod(Op):
    """Running products along `axis`: out[j] = x[0] * ... * x[j]."""
    name = "cumprod"
    composed = True       # derivatives: autodiff differentiates compose()
    axis: int

    def infer(self, x):
        normalize_axes(self.axis, None if x.shape is None else len(x.shape))
        return x.shape, _product_dtype(x.dtype)

    def compose(self, x):
        """A scan in log2(n) steps: each multiplies in the partial product `step` back."""
        axis = self.axis % x.ndim
        n = _known_length(self, x)
        y, step = x, 1
        while step < n:
            pads = [[0, 0]] * x.ndim
            pads[axis] = [step, 0]
            shifted = pad(_leading(y, axis, n - step), pads, constant_values=1)
            y, step = y * shifted, step * 2
        return y


def _every_other(x, axis, start):
    return getitem(x, (slice(None),) * axis + (slice(start, None, 2),))


def _leading(x, axis, n):
    return getitem(x, (slice(None),) * axis + (slice(0, n),))


def reduce_prod(x, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=False) -> Tensor:
    """The product along an axis, or (TF1's `tf.reduce_prod`) over a list of axes or all
    of them, one axis at a time."""
    x = as_tensor(x)
    axis = reduction_indices if axis is None else axis
    keepdims = bool(keepdims or keep_dims)
    if isinstance(axis, (int, np.integer)):
        return apply(Prod(axis=int(axis), keepdims=keepdims), x, name=name)
    if x.ndim is None:
        raise ValueError("reduce_prod: the rank of the input must be known when the graph "
                         "is built")
    axes = range(x.ndim) if axis is None else np.asarray(axis).reshape(-1).tolist()
    for a in sorted(normalize_axes(tuple(axes), x.ndim), reverse=True):
        x = apply(Prod(axis=a, keepdims=keepdims), x)
    return x


def cumulative_product(x, axis: int = 0, name=None) -> Tensor:
    return apply(Cumprod(axis=int(axis)), as_tensor(x), name=name)

