"""Normalization over some axes and its gradient, each one kernel.

When the axes are the trailing ones (layer norm, group norm) the data is a stack of rows and
a Numba loop does each row in cache: two passes forward, three backward, instead of a dozen
NumPy passes over the whole array. When they are all axes but one (batch norm's N, H, W
around C), the data is [outer, C, inner] and a Numba loop does one channel at a time, with
float64 sums (a channel holds N*H*W values). Other axes take the NumPy path.
"""
import functools
import math

import numpy as np

from ...ops import normalization as n
from .registry import kernel


@functools.cache
def _row_loops():
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=True)

    # c = [1 / width, eps, 1] in the data's dtype, so float32 rows stay float32 (and SIMD).
    @jit
    def moments(x, r, c):
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
    def forward(x, c, y):
        for r in range(x.shape[0]):
            mean, inv_std = moments(x, r, c)
            for j in range(x.shape[1]):
                y[r, j] = (x[r, j] - mean) * inv_std

    @jit
    def backward(g, x, c, dx):
        for r in range(x.shape[0]):
            mean, inv_std = moments(x, r, c)
            g_sum = c[2] * 0
            gy_sum = g_sum
            for j in range(x.shape[1]):
                g_sum += g[r, j]
                gy_sum += g[r, j] * (x[r, j] - mean)
            g_mean, gy_mean = g_sum * c[0], gy_sum * c[0] * inv_std
            for j in range(x.shape[1]):
                y = (x[r, j] - mean) * inv_std
                dx[r, j] = (g[r, j] - g_mean - y * gy_mean) * inv_std

    return forward, backward


@functools.cache
def _channel_loops():
    import numba

    jit = numba.njit(cache=True, nogil=True, fastmath=True)

    @jit
    def moments(x, k, eps):
        """Mean and 1 / std of channel k of x [outer, C, inner], summed in float64."""
        count = x.shape[0] * x.shape[2]
        total = 0.0
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                total += x[a, k, b]
        mean = total / count
        sq = 0.0
        for a in range(x.shape[0]):
            for b in range(x.shape[2]):
                d = x[a, k, b] - mean
                sq += d * d
        return mean, 1.0 / np.sqrt(sq / count + eps)

    @jit
    def forward(x, eps, one, y):
        """`one` is 1 in the data's dtype: the per-element work stays float32 (SIMD)."""
        for k in range(x.shape[1]):
            mean, inv_std = moments(x, k, eps)
            m, s = one * mean, one * inv_std
            for a in range(x.shape[0]):
                for b in range(x.shape[2]):
                    y[a, k, b] = (x[a, k, b] - m) * s

    @jit
    def backward(g, x, eps, one, dx):
        count = x.shape[0] * x.shape[2]
        for k in range(x.shape[1]):
            mean, inv_std = moments(x, k, eps)
            g_sum = 0.0
            gx_sum = 0.0
            for a in range(x.shape[0]):
                for b in range(x.shape[2]):
                    g_sum += g[a, k, b]
                    gx_sum += g[a, k, b] * (x[a, k, b] - mean)
            m, s = one * mean, one * inv_std
            g_mean = one * (g_sum / count)
            gy_mean = one * (gx_sum / count * inv_std)
            for a in range(x.shape[0]):
                for b in range(x.shape[2]):
                    y = (x[a, k, b] - m) * s
                    dx[a, k, b] = (g[a, k, b] - g_mean - y * gy_mean) * s

    return forward, backward


def _as_channels(op, x):
    """x as a C-contiguous [outer, C, inner] array if the axes are all but one, else None."""
    axes = sorted(a % x.ndim for a in op.axes)
    kept = [a for a in range(x.ndim) if a not in axes]
    if len(kept) != 1 or x.size == 0 or x.dtype not in (np.float32, np.float64):
        return None
    c = kept[0]
    return np.ascontiguousarray(x).reshape(math.prod(x.shape[:c]), x.shape[c], -1)


def _constants(rows, eps):
    return np.array([1 / rows.shape[1], eps, 1], rows.dtype)


def _as_rows(op, x):
    """x as a C-contiguous [rows, width] array if the axes are the trailing ones, else None."""
    axes = sorted(a % x.ndim for a in op.axes)
    if not axes or axes != list(range(x.ndim - len(axes), x.ndim)) or x.size == 0:
        return None
    width = math.prod(x.shape[x.ndim - len(axes):])
    return np.ascontiguousarray(x).reshape(-1, width)


def _normalized(x, axes, eps):
    """(y, 1 / std) with y = (x - mean) / std, in x's float dtype."""
    y = x - x.mean(axis=axes, keepdims=True)
    var = np.mean(np.square(y), axis=axes, keepdims=True)
    var += eps
    inv_std = np.sqrt(var, out=var)
    np.reciprocal(inv_std, out=inv_std)
    y *= inv_std
    return y, inv_std


@kernel(n.Normalize, widen=0)
def normalize(op, x):
    rows = _as_rows(op, x)
    if rows is None:
        channels = _as_channels(op, x)
        if channels is None:
            return _normalized(x, op.axes, op.eps)[0]
        y = np.empty_like(channels)
        _channel_loops()[0](channels, op.eps, channels.dtype.type(1), y)
        return y.reshape(x.shape)
    y = np.empty_like(rows)
    _row_loops()[0](rows, _constants(rows, op.eps), y)
    return y.reshape(x.shape)


@kernel(n.NormalizeGrad, widen=0)
def normalize_grad(op, g, x):
    rows = _as_rows(op, x)
    channels = _as_channels(op, x) if rows is None and g.shape == x.shape else None
    if channels is not None:
        dx = np.empty_like(channels)
        g_channels = np.ascontiguousarray(g, dtype=channels.dtype).reshape(channels.shape)
        _channel_loops()[1](g_channels, channels, op.eps, channels.dtype.type(1), dx)
        return dx.reshape(x.shape)
    if rows is None or g.shape != x.shape:
        y, inv_std = _normalized(x, op.axes, op.eps)
        g_y = np.mean(g * y, axis=op.axes, keepdims=True)
        y *= g_y
        dx = np.subtract(g, g.mean(axis=op.axes, keepdims=True))
        dx -= y
        dx *= inv_std
        return dx
    g_rows = np.ascontiguousarray(g, dtype=rows.dtype).reshape(rows.shape)
    dx = np.empty_like(rows)
    _row_loops()[1](g_rows, rows, _constants(rows, op.eps), dx)
    return dx.reshape(x.shape)
