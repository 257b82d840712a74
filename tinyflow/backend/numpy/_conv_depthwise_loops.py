"""The Numba loops of `_conv_depthwise` (imported on first use: it imports Numba), at module
level so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).

Each loop takes one (image, channel) plane at a time (or one channel over the batch), pads
it into a flat zero-bordered buffer of its own, Wp values a row, and runs every tap along
"runs" of outputs, each tap's weight times a run of the buffer, so the innermost loops
vectorize. At stride 1 a plane's whole output is one run, computed Wp wide (the columns
past Wo are dropped when the plane is copied out, and read zeros of g in the gradients):
runs of one output row (8 to 32 values in a MobileNet) cost more in loop and slice set-up
than in arithmetic. At other strides a run is an output row, every sw-th value.

The loops index slices by the loop counter alone: an index such as `row[off + k]` may be
negative to Numba, whose wrap-around test then kept LLVM from vectorizing (2.5-3.9 ns a
value against 0.4 on 32-value rows, one core)."""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


@jit
def _layout(h, w, ho, wo, top, left, sh, sw, dh, dw, kh, kw):
    """(Wp, buffer length, runs, run length, run step in the buffer, staged row width)."""
    wp = max(left + w, (wo - 1) * sw + (kw - 1) * dw + 1)
    hp = max(top + h, (ho - 1) * sh + (kh - 1) * dh + 1)
    if sh == 1 and sw == 1:
        return wp, hp * wp + (kw - 1) * dw, 1, ho * wp, 0, wp
    return wp, hp * wp, ho, wo, sh * wp, wo


@jit
def _fill(xp, wp, x, n, c, top, left):
    """Plane (n, c) of x into the flat buffer's interior (its border stays zero)."""
    w = x.shape[3]
    for r in range(x.shape[2]):
        row = xp[(top + r) * wp + left:(top + r) * wp + left + w]
        src = x[n, c, r]
        for k in range(w):
            row[k] = src[k]


@jit
def forward(x, w, b, out, top, left, sh, sw, dh, dw, p0, p1):
    """out[n, c] = b[c] + the sum over taps (i, j) of w[c, i, j] times the padded plane
    from row i * dh, column j * dw, every (sh, sw)-th value; planes n * C + c in p0:p1."""
    chans, kh, kw = w.shape
    ho, wo = out.shape[2], out.shape[3]
    wp, size, runs, length, step, width = _layout(x.shape[2], x.shape[3], ho, wo, top,
                                                  left, sh, sw, dh, dw, kh, kw)
    xp = np.zeros(size, x.dtype)
    staged = np.empty(runs * length, x.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        _fill(xp, wp, x, n, c, top, left)
        staged[:] = b[c]
        for r in range(runs):
            acc = staged[r * length:(r + 1) * length]
            for i in range(kh):
                for j in range(kw):
                    wv = w[c, i, j]
                    start = r * step + i * dh * wp + j * dw
                    if sw == 1:     # (a contiguous slice: a strided one's unknown step
                        src = xp[start:start + length]   # kept the loop scalar)
                        for k in range(length):
                            acc[k] += wv * src[k]
                    else:
                        src = xp[start:start + (length - 1) * sw + 1:sw]
                        for k in range(length):
                            acc[k] += wv * src[k]
        for a in range(ho):
            row, dst = staged[a * width:a * width + wo], out[n, c, a]
            for k in range(wo):
                dst[k] = row[k]


@jit
def _stage(staged, width, g, n, c):
    """Plane (n, c) of g into rows `width` apart of `staged` (zeros past each row)."""
    wo = g.shape[3]
    for a in range(g.shape[2]):
        row, src = staged[a * width:(a + 1) * width], g[n, c, a]
        for k in range(wo):
            row[k] = src[k]


@jit
def grad_input(g, w, dx, top, left, sh, sw, dh, dw, p0, p1):
    """The forward's products scattered back: each run of g times a tap's weight added into
    the padded plane where it read, whose interior is then plane (n, c) of dx."""
    chans, kh, kw = w.shape
    h, wd = dx.shape[2], dx.shape[3]
    ho, wo = g.shape[2], g.shape[3]
    wp, size, runs, length, step, width = _layout(h, wd, ho, wo, top, left, sh, sw, dh, dw,
                                                  kh, kw)
    dxp = np.empty(size, dx.dtype)
    staged = np.zeros(runs * length, dx.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        dxp[:] = 0
        _stage(staged, width, g, n, c)
        for r in range(runs):
            gr = staged[r * length:(r + 1) * length]
            for i in range(kh):
                for j in range(kw):
                    wv = w[c, i, j]
                    start = r * step + i * dh * wp + j * dw
                    if sw == 1:
                        dst = dxp[start:start + length]
                        for k in range(length):
                            dst[k] += wv * gr[k]
                    else:
                        dst = dxp[start:start + (length - 1) * sw + 1:sw]
                        for k in range(length):
                            dst[k] += wv * gr[k]
        for a in range(h):
            row, dst = dxp[(top + a) * wp + left:(top + a) * wp + left + wd], dx[n, c, a]
            for k in range(wd):
                dst[k] = row[k]


@jit
def grad_weight(x, g, gw, gb, top, left, sh, sw, dh, dw, c0, c1):
    """gw[c, i, j] = the sum over images and runs of g's run . the values the tap read, and
    gb[c] the sum of g's planes, for channels c0:c1: each run's dot product in the data's
    dtype, their sum over the batch (in its order) in float64."""
    kh, kw = gw.shape[1], gw.shape[2]
    ho, wo = g.shape[2], g.shape[3]
    wp, size, runs, length, step, width = _layout(x.shape[2], x.shape[3], ho, wo, top,
                                                  left, sh, sw, dh, dw, kh, kw)
    xp = np.zeros(size, x.dtype)
    staged = np.zeros(runs * length, x.dtype)
    sums = np.zeros((kh, kw))
    zero = staged[0] - staged[0]   # 0 in the data's dtype
    for c in range(c0, c1):
        sums[:] = 0.0
        bias = 0.0
        for n in range(x.shape[0]):
            _fill(xp, wp, x, n, c, top, left)
            _stage(staged, width, g, n, c)
            s = zero
            for k in range(staged.shape[0]):
                s += staged[k]
            bias += s
            for r in range(runs):
                gr = staged[r * length:(r + 1) * length]
                for i in range(kh):
                    for j in range(kw):
                        start = r * step + i * dh * wp + j * dw
                        s = zero
                        if sw == 1:
                            src = xp[start:start + length]
                            for k in range(length):
                                s += gr[k] * src[k]
                        else:
                            src = xp[start:start + (length - 1) * sw + 1:sw]
                            for k in range(length):
                                s += gr[k] * src[k]
                        sums[i, j] += s
        for i in range(kh):
            for j in range(kw):
                gw[c, i, j] = sums[i, j]
        gb[c] = bias
