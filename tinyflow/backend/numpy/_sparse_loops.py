"""Numba loops of the sparse kernels (module level, so Numba's disk cache finds them)."""
from ._numba import numba


@numba.njit(cache=True, nogil=True)
def scatter_rows(rows, cols, values, dense, out):
    """out[rows[k]] += values[k] * dense[cols[k]] for every nonzero k."""
    for k in range(rows.shape[0]):
        r, c, v = rows[k], cols[k], values[k]
        for j in range(dense.shape[1]):
            out[r, j] += v * dense[c, j]


@numba.njit(cache=True, nogil=True)
def row_dots(rows, cols, a, b, out):
    """out[k] = a[rows[k]] · b[cols[k]]."""
    for k in range(rows.shape[0]):
        r, c = rows[k], cols[k]
        acc = a[r, 0] * 0
        for j in range(a.shape[1]):
            acc += a[r, j] * b[c, j]
        out[k] = acc
