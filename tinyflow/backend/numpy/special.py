"""Special functions NumPy lacks, as Numba ufuncs compiled (and cached) on first use."""
import functools
import math

from ...ops import math as m
from .registry import kernel


@functools.cache
def _erf_ufunc():
    import numba

    @numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
    def erf(x):
        return math.erf(x)
    return erf


@kernel(m.Erf)
def erf(op, x):
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        x = x.astype("float32")
    return _erf_ufunc()(x)
