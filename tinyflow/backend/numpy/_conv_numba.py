"""What the convolution and pooling kernels share beyond NumPy: reused scratch buffers, and
Numba loops for what NumPy cannot do in one pass — col2im (adding columns back into the
input) and max pooling (maximum, argmax and gradient routing in one sweep).

The pooling loops work in NHWC, channels innermost, so each window's taps are contiguous
vectors and the data-dependent choice of the argmax is a vector select, not a branch.
Loops are compiled on first use (and cached on disk) and single-threaded: BLAS already keeps
both cores busy around them, and its spinning threads would fight a parallel region.
"""
import functools
import threading

import numpy as np

SCRATCH_BYTES = 64 << 20  # largest scratch buffer kept between calls

_scratch = threading.local()


def scratch(name: str, shape, dtype) -> np.ndarray:
    """An uninitialized array reused by later calls in this thread (so never return it):
    fresh pages cost a page fault each, milliseconds per call for buffers of a few MB."""
    size = int(np.prod(shape))
    buffer = getattr(_scratch, name, None)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = np.empty(size, dtype)
        if buffer.nbytes <= SCRATCH_BYTES:
            setattr(_scratch, name, buffer)
    return buffer[:size].reshape(shape)


@functools.cache
def _jit():
    import numba
    return numba.njit(cache=True, nogil=True)


# ---- convolution -----------------------------------------------------------------------

@functools.cache
def _col2im_loop():
    @_jit()
    def loop(dcols, dxp, n0, a0, rows, wo, sh, sw, dh, dw, kh, kw):
        groups, pixels, kg = dcols.shape
        cg = kg // (kh * kw)
        for p in range(pixels):
            n = n0 + p // (rows * wo)
            h0 = (a0 + (p // wo) % rows) * sh
            w0 = (p % wo) * sw
            for g in range(groups):
                for i in range(kh):
                    for j in range(kw):
                        src = (i * kw + j) * cg
                        for c in range(cg):
                            dxp[n, h0 + i * dh, w0 + j * dw, g * cg + c] += dcols[g, p, src + c]
    return loop


def col2im(dcols, dxp, block, wo, stride, dilation, khw) -> None:
    """Add columns dcols [G, pixels, kH * kW * Cg] of the output block (n0, n1, a0, a1) back
    into the padded NHWC gradient dxp, where their windows read the input."""
    n0, _, a0, a1 = block
    _col2im_loop()(dcols, dxp, n0, a0, a1 - a0, wo, *stride, *dilation, *khw)


# ---- max pooling -----------------------------------------------------------------------

def _window_max(x, n, rows, a, cols, b, dh, dw, best, at):
    """Per channel, the first maximum (best) of window (a, b) of image n of x [N, H, W, C]
    and its position h * W + w (at): taps in row-major order over the input only (padding
    is never chosen), a NaN beats numbers. rows, cols: [3, out] window starts and the
    range of taps inside the input, per output row and column."""
    width = x.shape[2]
    first = True
    for i in range(rows[1, a], rows[2, a]):
        h = rows[0, a] + i * dh
        for j in range(cols[1, b], cols[2, b]):
            w = cols[0, b] + j * dw
            v, k = x[n, h, w], h * width + w
            if first:
                best[:] = v
                at[:] = k
                first = False
                continue
            for c in range(v.size):
                wins = (not best[c] >= v[c]) & (best[c] == best[c])  # greater, or first NaN
                best[c] = v[c] if wins else best[c]
                at[c] = k if wins else at[c]


@functools.cache
def _pool_loops():
    """(forward, argmax, backward) over every window, NHWC."""
    window_max = _jit()(_window_max)

    @_jit()
    def forward(x, rows, cols, dh, dw, out, at):
        for n in range(out.shape[0]):
            for a in range(out.shape[1]):
                for b in range(out.shape[2]):
                    window_max(x, n, rows, a, cols, b, dh, dw, out[n, a, b], at)

    @_jit()
    def argmax(x, rows, cols, dh, dw, best, out):
        for n in range(out.shape[0]):
            for a in range(out.shape[1]):
                for b in range(out.shape[2]):
                    window_max(x, n, rows, a, cols, b, dh, dw, best, out[n, a, b])

    @_jit()
    def backward(x, g, rows, cols, dh, dw, best, at, dx):
        width = x.shape[2]
        for n in range(g.shape[0]):
            for a in range(g.shape[1]):
                for b in range(g.shape[2]):
                    window_max(x, n, rows, a, cols, b, dh, dw, best, at)
                    gv = g[n, a, b]
                    for i in range(rows[1, a], rows[2, a]):
                        h = rows[0, a] + i * dh
                        for j in range(cols[1, b], cols[2, b]):
                            w = cols[0, b] + j * dw
                            d, k = dx[n, h, w], h * width + w
                            for c in range(d.size):
                                d[c] += gv[c] if at[c] == k else 0
    return forward, argmax, backward


def _windows(out, stride, k, d, before, size):
    """[3, out]: each window's start along one axis and its range of taps inside the input
    (never empty: padding is at most half the kernel)."""
    start = np.arange(out) * stride - before
    lo = np.where(start >= 0, 0, (d - 1 - start) // d)
    hi = np.minimum(k, (size - 1 - start) // d + 1)
    return np.stack([start, lo, hi])


def max_pool(which: str, x, kernel, stride, dilation, pads, out, g=None):
    """Max pooling of x [N, C, H, W]: "forward" gives the maxima, "argmax" their flat
    indices h * W + w, "backward" g [N, C, Ho, Wo] added at them (shaped like x)."""
    n, c, h, w = x.shape
    dtype = _loop_float(x.dtype if g is None else np.result_type(x, g))
    xt = scratch("pool_x", (n, h, w, c), dtype)
    xt[...] = x.transpose(0, 2, 3, 1)
    geometry = (_windows(out[0], stride[0], kernel[0], dilation[0], pads[0][0], h),
                _windows(out[1], stride[1], kernel[1], dilation[1], pads[1][0], w),
                *dilation)
    forward, argmax, backward = _pool_loops()
    best, at = np.empty(c, dtype), np.empty(c, np.intp)
    if which == "forward":
        result = scratch("pool_out", (n,) + tuple(out) + (c,), dtype)
        forward(xt, *geometry, result, at)
    elif which == "argmax":
        result = scratch("pool_arg", (n,) + tuple(out) + (c,), np.intp)
        argmax(xt, *geometry, best, result)
    else:
        gt = scratch("pool_g", (n,) + tuple(out) + (c,), dtype)
        gt[...] = g.transpose(0, 2, 3, 1)
        result = scratch("pool_dx", (n, h, w, c), dtype)
        result[...] = 0
        backward(xt, gt, *geometry, best, at, result)
    dtype = np.intp if which == "argmax" else x.dtype if g is None else g.dtype
    return result.transpose(0, 3, 1, 2).astype(dtype, order="C")  # a copy: not scratch


def _loop_float(dtype):
    """float32 or float64 (the loops' types); narrower floats convert exactly to float32."""
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float32)
