"""Kernels of gcd, lcm and nextafter (ops/discrete.py): NumPy's ufuncs in the promoted
dtype; lcm takes |.| after the product wraps, as PyTorch's (NumPy's wraps after it)."""
import numpy as np

from ...ops import discrete as d
from .registry import kernel


def _promoted(x, y):
    dtype = np.result_type(x, y)
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


@kernel(d.Gcd)
def gcd(op, x, y):
    return np.gcd(*_promoted(x, y))


@kernel(d.Lcm)
def lcm(op, x, y):
    x, y = _promoted(x, y)
    g = np.gcd(x, y)
    zero = g == 0
    with np.errstate(over="ignore"):
        return np.where(zero, 0, np.abs((x // np.where(zero, 1, g)) * y)).astype(x.dtype)


@kernel(d.NextAfter)
def nextafter(op, x, y):
    return np.nextafter(*_promoted(x, y))
