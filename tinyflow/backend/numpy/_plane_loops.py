"""The Numba loops of `gather_planes` and its gradient (imported on first use: it imports
Numba), at module level so that Numba's disk cache serves them to the next process (see
`_fast_math_loops`). Planes: x [planes, height, width], C-contiguous."""
from ._numba import numba

jit = numba.njit(cache=True, nogil=True)


@jit
def gather(x, rows, cols, out):
    """out[p, i, j] = x[p, rows[i], cols[j]]."""
    for p in range(x.shape[0]):
        for i in range(rows.shape[0]):
            xr, outr = x[p, rows[i]], out[p, i]
            for j in range(cols.shape[0]):
                outr[j] = xr[cols[j]]


@jit
def scatter_add(g, rows, cols, out):
    """out[p] = 0, then out[p, rows[i], cols[j]] += g[p, i, j], in (i, j) order."""
    for p in range(g.shape[0]):
        op = out[p]
        for r in range(op.shape[0]):
            for c in range(op.shape[1]):
                op[r, c] = 0
        for i in range(rows.shape[0]):
            gr, outr = g[p, i], op[rows[i]]
            for j in range(cols.shape[0]):
                outr[cols[j]] += gr[j]
