"""The Numba loops of `normalization` (imported on first use: it imports Numba), at module
level with their helpers in the same file so that Numba's disk cache serves them to the
next process (see `_fast_math_loops` for why closures and other files' helpers do not).

Rows: x [rows, width], normalized over the width (layer norm). Per-channel normalization
(batch norm's shape) is `_batch_norm_loops`.
"""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


# c = [1 / width, eps, 1] in the data's dtype, so float32 rows stay float32 (and SIMD): a
# float32 value times the int 0 is a float64 in Numba, so zeros are made as c[2] - c[2]
# (float64 sums made the loops 2.5x slower). Inlined by Numba into each loop: called as a
# function, the layer norm's forward over [1024, 256] float32 took 101 us against 64.5
# inlined (one thread, warm); the backward loops did not move.
@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def row_moments(xr, c):
    """Mean and 1 / std of row `xr` (one row's view: Numba vectorizes its loops)."""
    total = c[2] - c[2]
    for j in range(xr.shape[0]):
        total += xr[j]
    mean = total * c[0]
    sq = c[2] - c[2]
    for j in range(xr.shape[0]):
        d = xr[j] - mean
        sq += d * d
    return mean, c[2] / np.sqrt(sq * c[0] + c[1])


@jit
def rows_forward(x, c, w, b, y):
    """y = (x - mean) / std * w + b per row (w, b [width]: layer norm's scale and shift;
    ones and zeros for a plain normalization)."""
    for r in range(x.shape[0]):
        xr, yr = x[r], y[r]
        mean, inv_std = row_moments(xr, c)
        for j in range(xr.shape[0]):
            yr[j] = (xr[j] - mean) * inv_std * w[j] + b[j]


@jit
def rows_add_forward(a, b, c, w, bias, s, y):
    """s = a + b and y = `rows_forward` of s, each row normalized while its sum is in cache
    (a residual add and the next block's layer norm)."""
    for r in range(a.shape[0]):
        ar, br, sr, yr = a[r], b[r], s[r], y[r]
        for j in range(ar.shape[0]):
            sr[j] = ar[j] + br[j]
        mean, inv_std = row_moments(sr, c)
        for j in range(sr.shape[0]):
            yr[j] = (sr[j] - mean) * inv_std * w[j] + bias[j]


@jit
def rows_backward(g, x, c, w, dx, sums, out, span):
    """dx of `rows_forward` (the normalization's gradient of g * w), and with `sums` the
    scale's and shift's gradients too, in the same pass over g and x (each row's moments
    once): out[p, 0] += the sums over rows of g * (x - mean) / std, out[p, 1] += those of g
    (float64 [parts, 2, width], p = row // span; not read without `sums`), summed as in
    `rows_param_grad`. The
    running sums are two arrays, one loop each: written in dx's loop, or as the rows of one
    array, they made the loop 1.2-1.3x slower in all (fewer loops vectorized)."""
    _rows_backward(g, x, c, w, dx, sums, out, span, dx[:0])


@jit
def rows_backward_add(g, x, c, w, dx, out, span, res):
    """`rows_backward` with its sums, and `res` [rows, width] added to each row of dx while
    the row is in cache: a residual stream's gradient joined with its layer norm's."""
    _rows_backward(g, x, c, w, dx, True, out, span, res)


@jit
def _rows_backward(g, x, c, w, dx, sums, out, span, res):
    """The loop of `rows_backward`; `res` is added to dx unless it has no rows."""
    add = res.shape[0] > 0
    w_part = np.zeros(x.shape[1], x.dtype)
    b_part = np.zeros(x.shape[1], x.dtype)
    for r in range(x.shape[0]):
        xr, gr, dr = x[r], g[r], dx[r]
        mean, inv_std = row_moments(xr, c)
        g_sum = c[2] - c[2]
        gy_sum = c[2] - c[2]
        for j in range(xr.shape[0]):
            gw = gr[j] * w[j]
            g_sum += gw
            gy_sum += gw * (xr[j] - mean)
        g_mean, gy_mean = g_sum * c[0], gy_sum * c[0] * inv_std
        # res added in dx's loop: in a loop of its own after it, the add cost twice as
        # much (0.034 against 0.019 ms over the loop's 0.17 at [1024, 256], 1 thread)
        if add:
            rr = res[r]
            for j in range(xr.shape[0]):
                dr[j] = (gr[j] * w[j] - g_mean - (xr[j] - mean) * inv_std * gy_mean
                         ) * inv_std + rr[j]
        else:
            for j in range(xr.shape[0]):
                dr[j] = (gr[j] * w[j] - g_mean - (xr[j] - mean) * inv_std * gy_mean) * inv_std
        if sums:
            for j in range(xr.shape[0]):
                w_part[j] += gr[j] * ((xr[j] - mean) * inv_std)
            for j in range(xr.shape[0]):
                b_part[j] += gr[j]
            if r % PARAM_BLOCK == PARAM_BLOCK - 1 or r == x.shape[0] - 1:
                _flush(w_part, b_part, out[r // span, 0], out[r // span, 1])


PARAM_BLOCK = 32   # rows summed in the data's dtype before a float64 add


@jit
def rows_param_grad(g, x, c, out, span):
    """out[p, 0] += sum over rows of g * (x - mean) / std, out[p, 1] += sum of g (w's and
    b's gradients), p = row // span (a multiple of `PARAM_BLOCK`). Each block of
    `PARAM_BLOCK` rows is summed in the data's dtype (SIMD) and added into `out`, float64,
    so long columns sum without float32 rounding."""
    part = np.zeros((2, x.shape[1]), x.dtype)
    w_part, b_part = part[0], part[1]
    for r in range(x.shape[0]):
        xr, gr = x[r], g[r]
        mean, inv_std = row_moments(xr, c)
        for j in range(xr.shape[0]):
            w_part[j] += gr[j] * ((xr[j] - mean) * inv_std)
            b_part[j] += gr[j]
        if r % PARAM_BLOCK == PARAM_BLOCK - 1 or r == x.shape[0] - 1:
            _flush(w_part, b_part, out[r // span, 0], out[r // span, 1])


@jit
def _flush(w_part, b_part, w_grad, b_grad):
    """A block's running sums into the float64 gradients, and the running sums to 0."""
    for j in range(w_part.shape[0]):
        w_grad[j] += w_part[j]
        b_grad[j] += b_part[j]
        w_part[j] = 0
        b_part[j] = 0
