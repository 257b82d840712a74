"""What the convolution and pooling kernels share beyond NumPy: reused scratch buffers, and
Numba loops for what NumPy cannot do in one pass — col2im (adding columns back into the
input) and max pooling (maximum, argmax and gradient routing in one sweep).

The pooling loops stage one image at a time in NHWC (it stays in cache), channels
innermost, so a window's taps are contiguous vectors and the data-dependent choice of the
argmax is a vector select rather than a mispredicted branch (4x faster than per-plane loops).
Loops are compiled on first use (and cached on disk) and single-threaded: BLAS keeps both
cores busy around them, and its idle threads spin for a while after each call, which made a
parallel (prange) region tens of times slower.
"""
import functools
import threading

import numpy as np

SCRATCH_BYTES = 64 << 20  # largest scratch buffer kept between calls

_scratch = threading.local()


def scratch(name: str, shape, dtype) -> np.ndarray:
    """An uninitialized array reused by later calls in this thread (so never return it). A
    fresh buffer of a few MB may come back from the allocator as new pages, a page fault
    each: that cost up to 10 ms of a 20 ms convolution in a loop."""
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
def _col2im_loops():
    """(general, runs): runs is for one group with dilation 1 along W, where a window row
    of the columns, kW * C values, adds to kW * C contiguous values of the input row."""
    @_jit()
    def general(dcols, dxp, n0, a0, rows, wo, sh, sw, dh, dw, kh, kw):
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

    @_jit()
    def runs(dcols, dxp, n0, a0, rows, wo, sh, step, dh, kh):
        run = dcols.shape[1] // kh  # kW * C values per window row
        for p in range(dcols.shape[0]):
            n = n0 + p // (rows * wo)
            h0 = (a0 + (p // wo) % rows) * sh
            start = (p % wo) * step
            for i in range(kh):
                h = h0 + i * dh
                if run >= 16:  # an add into a view vectorizes; short runs: a plain loop
                    dst = dxp[n, h, start:start + run]
                    dst += dcols[p, i * run:(i + 1) * run]
                else:
                    for m in range(run):
                        dxp[n, h, start + m] += dcols[p, i * run + m]
    return general, runs


def col2im(dcols, dxp, block, wo, stride, dilation, khw) -> None:
    """Add columns dcols [G, pixels, kH * kW * Cg] of the output block (n0, n1, a0, a1) back
    into the padded NHWC gradient dxp, where their windows read the input."""
    n0, _, a0, a1 = block
    general, runs = _col2im_loops()
    if dcols.shape[0] == 1 and dilation[1] == 1:
        n, hp, wp, c = dxp.shape
        runs(dcols[0], dxp.reshape(n, hp, wp * c), n0, a0, a1 - a0, wo, stride[0],
             stride[1] * c, dilation[0], khw[0])
    else:
        general(dcols, dxp, n0, a0, a1 - a0, wo, *stride, *dilation, *khw)


# ---- max pooling -----------------------------------------------------------------------

def _window_max(x, rows, a, cols, b, dh, dw, best, at):
    """Per channel, the first maximum (best) of window (a, b) of an image x [H, W, C] and
    its position h * W + w (at): taps in row-major order over the input only (padding is
    never chosen), a NaN beats numbers. rows, cols: [3, out] window starts and the range of
    taps inside the input, per output row and column."""
    width = x.shape[1]
    first = True
    for i in range(rows[1, a], rows[2, a]):
        h = rows[0, a] + i * dh
        for j in range(cols[1, b], cols[2, b]):
            w = cols[0, b] + j * dw
            v, k = x[h, w], h * width + w
            if first:
                best[:] = v
                at[:] = k
                first = False
                continue
            for c in range(v.size):
                wins = (not best[c] >= v[c]) & (best[c] == best[c])  # greater, or first NaN
                best[c] = v[c] if wins else best[c]
                at[c] = k if wins else at[c]


def _to_hwc(x, n, xt):
    """xt[h, w, c] = x[n, c, h, w]."""
    for h in range(xt.shape[0]):
        for w in range(xt.shape[1]):
            for c in range(xt.shape[2]):
                xt[h, w, c] = x[n, c, h, w]


def _from_hwc(xt, out, n):
    """out[n, c, h, w] = xt[h, w, c]."""
    for h in range(xt.shape[0]):
        for w in range(xt.shape[1]):
            for c in range(xt.shape[2]):
                out[n, c, h, w] = xt[h, w, c]


@functools.cache
def _pool_loops():
    """(forward, argmax, backward): NCHW in and out, each image staged in NHWC (in cache)."""
    window_max, to_hwc, from_hwc = (_jit()(f) for f in (_window_max, _to_hwc, _from_hwc))

    @_jit()
    def forward(x, rows, cols, dh, dw, out):
        xt = np.empty(x.shape[2:] + x.shape[1:2], x.dtype)
        res = np.empty(out.shape[2:] + out.shape[1:2], out.dtype)
        at = np.empty(x.shape[1], np.intp)
        for n in range(x.shape[0]):
            to_hwc(x, n, xt)
            for a in range(res.shape[0]):
                for b in range(res.shape[1]):
                    window_max(xt, rows, a, cols, b, dh, dw, res[a, b], at)
            from_hwc(res, out, n)

    @_jit()
    def argmax(x, rows, cols, dh, dw, out):
        xt = np.empty(x.shape[2:] + x.shape[1:2], x.dtype)
        res = np.empty(out.shape[2:] + out.shape[1:2], out.dtype)
        best = np.empty(x.shape[1], x.dtype)
        for n in range(x.shape[0]):
            to_hwc(x, n, xt)
            for a in range(res.shape[0]):
                for b in range(res.shape[1]):
                    window_max(xt, rows, a, cols, b, dh, dw, best, res[a, b])
            from_hwc(res, out, n)

    @_jit()
    def backward(x, g, rows, cols, dh, dw, dx):
        xt = np.empty(x.shape[2:] + x.shape[1:2], x.dtype)
        gt = np.empty(g.shape[2:] + g.shape[1:2], g.dtype)
        res = np.empty(xt.shape, dx.dtype)
        best, at = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], np.intp)
        width = x.shape[3]
        for n in range(x.shape[0]):
            to_hwc(x, n, xt)
            to_hwc(g, n, gt)
            res[...] = 0
            zero = res[0, 0, 0]  # typed like dx
            for a in range(g.shape[2]):
                for b in range(g.shape[3]):
                    window_max(xt, rows, a, cols, b, dh, dw, best, at)
                    gv = gt[a, b]
                    for i in range(rows[1, a], rows[2, a]):
                        h = rows[0, a] + i * dh
                        for j in range(cols[1, b], cols[2, b]):
                            w = cols[0, b] + j * dw
                            d, k = res[h, w], h * width + w
                            for c in range(d.size):
                                d[c] += gv[c] if at[c] == k else zero
            from_hwc(res, dx, n)
    return forward, argmax, backward


def _tile_max_grad(x, g, kh, kw, dx):
    """dx = g at the first maximum of each kh x kw tile of x [N, C, H, W], 0 elsewhere
    (tiles: kernel == stride, no padding; dx is zeroed here, borders past the tiles too)."""
    dx[...] = 0
    for n in range(g.shape[0]):
        for c in range(g.shape[1]):
            xs, ds, gs = x[n, c], dx[n, c], g[n, c]
            for a in range(g.shape[2]):
                for b in range(g.shape[3]):
                    bi, bj = a * kh, b * kw
                    best = xs[bi, bj]
                    for i in range(a * kh, a * kh + kh):
                        for j in range(b * kw, b * kw + kw):
                            v = xs[i, j]
                            if (not best >= v) and best == best:   # greater, or first NaN
                                best, bi, bj = v, i, j
                    ds[bi, bj] = gs[a, b]


@functools.cache
def _tile_loops():
    return _jit()(_tile_max_grad)


def tile_max_pool_grad(x, g, kernel):
    """The max-pool gradient over tiles (see `_tile_max_grad`), in g's dtype."""
    dx = np.empty(x.shape, g.dtype)
    _tile_loops()(x, g, kernel[0], kernel[1], dx)
    return dx


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
    like = x.dtype if g is None else g.dtype
    dtype = _loop_float(x.dtype if g is None else np.result_type(x, g))
    x = x.astype(dtype, copy=False)
    geometry = (_windows(out[0], stride[0], kernel[0], dilation[0], pads[0][0], h),
                _windows(out[1], stride[1], kernel[1], dilation[1], pads[1][0], w),
                *dilation)
    forward, argmax, backward = _pool_loops()
    if which == "forward":
        result = np.empty((n, c) + tuple(out), dtype)
        forward(x, *geometry, result)
        return result.astype(like, copy=False)
    if which == "argmax":
        result = np.empty((n, c) + tuple(out), np.intp)
        argmax(x, *geometry, result)
        return result
    result = np.empty(x.shape, dtype)
    backward(x, g.astype(dtype, copy=False), *geometry, result)
    return result.astype(like, copy=False)


def _loop_float(dtype):
    """float32 or float64 (the loops' types); narrower floats convert exactly to float32."""
    return np.dtype(dtype) if dtype in (np.float32, np.float64) else np.dtype(np.float32)
