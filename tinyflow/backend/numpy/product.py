"""Kernels of the products (ops/product.py): one NumPy call each."""
import numpy as np

from ...ops import product as p
from .registry import kernel


def _accumulator(x):
    return np.int64 if x.dtype == np.bool_ else None


@kernel(p.Prod, widen=0)
def prod(op, x):
    return np.prod(x, op.axis, dtype=_accumulator(x), keepdims=op.keepdims)


@kernel(p.Cumprod, widen=0)
def cumprod(op, x):
    return np.cumprod(x, op.axis, dtype=_accumulator(x))
