"""The Numba loops of `normalization` (imported on first use: it imports Numba), at module
level with their helpers in the same file so that Numba's disk cache serves them to the
next process (see `_fast_math_loops` for why closures and other files' helpers do not).

Rows: x [rows, width], normalized over the width (layer norm). Per-channel normalization
(batch norm's shape) is `_batch_norm_loops`.
"""
import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


# c = [1 / width, eps, 1] in the data's dtype, so float32 rows stay float32 (and SIMD).
@jit
def row_moments(x, r, c):
    """Mean and 1 / std of row r (indexed loops: Numba vectorizes those)."""
    total = c[2] * 0
    for j in range(x.shape[1]):
        total += x[r, j]
    mean = total * c[0]
    sq = total * 0
    for j in range(x.shape[1]):
        sq += (x[r, j] - mean) * (x[r, j] - mean)
    return mean, c[2] / np.sqrt(sq * c[0] + c[1])


@jit
def rows_forward(x, c, w, b, y):
    """y = (x - mean) / std * w + b per row (w, b [width]: layer norm's scale and shift;
    ones and zeros for a plain normalization)."""
    for r in range(x.shape[0]):
        mean, inv_std = row_moments(x, r, c)
        for j in range(x.shape[1]):
            y[r, j] = (x[r, j] - mean) * inv_std * w[j] + b[j]


@jit
def rows_backward(g, x, c, w, dx):
    """dx of `rows_forward`: the normalization's gradient of g * w."""
    for r in range(x.shape[0]):
        mean, inv_std = row_moments(x, r, c)
        g_sum = c[2] * 0
        gy_sum = g_sum
        for j in range(x.shape[1]):
            gw = g[r, j] * w[j]
            g_sum += gw
            gy_sum += gw * (x[r, j] - mean)
        g_mean, gy_mean = g_sum * c[0], gy_sum * c[0] * inv_std
        for j in range(x.shape[1]):
            y = (x[r, j] - mean) * inv_std
            dx[r, j] = (g[r, j] * w[j] - g_mean - y * gy_mean) * inv_std


@jit
def rows_param_grad(g, x, c, out):
    """out[0] += sum over rows of g * (x - mean) / std, out[1] += sum of g (w's and b's
    gradients; out is float64, so long columns sum without float32 rounding)."""
    for r in range(x.shape[0]):
        mean, inv_std = row_moments(x, r, c)
        for j in range(x.shape[1]):
            out[0, j] += g[r, j] * ((x[r, j] - mean) * inv_std)
            out[1, j] += g[r, j]
