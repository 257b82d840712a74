"""The Numba loop of `linalg.py`'s products with one inner term (imported on first use: it
imports Numba), at module level so that Numba's disk cache serves it to the next process."""
from ._numba import numba


@numba.njit(cache=True, nogil=True)
def outer(a, b, bias, out):
    """out[i, j] = a[i] * b[j] (+ bias[j] when bias is not None): the product of a [m, 1]
    column and a [1, n] row, rounded as BLAS's single multiply and NumPy's add round it."""
    for i in range(out.shape[0]):
        ai = a[i]
        if bias is None:
            for j in range(out.shape[1]):
                out[i, j] = ai * b[j]
        else:
            for j in range(out.shape[1]):
                out[i, j] = ai * b[j] + bias[j]
