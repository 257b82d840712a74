"""Special functions NumPy lacks: erf, as a vectorizing Numba ufunc (see _fast_math)."""
from ...ops import math as m
from . import _fast_math
from .registry import kernel


@kernel(m.Erf)
def erf(op, x):
    if x.dtype.kind != "f":
        x = x.astype("float32")
    return _fast_math.call("erf", x)
