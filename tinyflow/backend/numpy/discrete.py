"""Kernels of gcd, lcm and nextafter (ops/discrete.py): NumPy's ufuncs in the promoted
dtype; lcm takes |.| after the product wraps (in int32 at least), as PyTorch's, and
where an operand is the dtype's minimum gcd runs PyTorch's loop, whose |.| wraps there."""
import numpy as np

from ...ops import discrete as d
from .registry import kernel


def _promoted(x, y):
    dtype = np.result_type(x, y)
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


def _gcd(x, y):
    """np.gcd, except where x or y is the signed minimum: |min| wraps to min, so PyTorch's
    Euclid loop (C's truncated remainder) gives a negative or min result there."""
    g = np.array(np.gcd(x, y))
    low = np.iinfo(x.dtype).min if x.dtype.kind == "i" else 0
    at = (x == low) | (y == low)
    if x.dtype.kind == "i" and at.any():
        with np.errstate(over="ignore"):
            a, b = np.abs(x[at]), np.abs(y[at])
        while np.any(a != 0):
            a, b = np.where(a != 0, np.fmod(b, np.where(a != 0, a, 1)), 0), np.where(a != 0, a, b)
        g[at] = b
    return g


@kernel(d.Gcd)
def gcd(op, x, y):
    x, y = _promoted(x, y)
    return _gcd(*np.broadcast_arrays(x, y))


@kernel(d.Lcm)
def lcm(op, x, y):
    x, y = np.broadcast_arrays(*_promoted(x, y))
    g = _gcd(x, y)
    zero = g == 0
    dtype = x.dtype
    wide = np.promote_types(dtype, np.int32)   # C promotes narrower ints, as in PyTorch's
    x, y, g = x.astype(wide), y.astype(wide), np.where(zero, 1, g).astype(wide)
    with np.errstate(over="ignore"):
        return np.where(zero, 0, np.abs((x // g) * y)).astype(dtype)


@kernel(d.NextAfter)
def nextafter(op, x, y):
    return np.nextafter(*_promoted(x, y))
