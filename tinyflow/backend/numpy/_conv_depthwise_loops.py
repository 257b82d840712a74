"""The Numba loops of `_conv_depthwise` (imported on first use: it imports Numba), at module
level so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).
Each loop takes one (image, channel) plane at a time (or one channel over the batch) and
pads it into a small zero-bordered buffer of its own; every innermost loop runs along an
output row, so it vectorizes (at stride 1 the row is a contiguous run)."""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


@jit
def _plane(h, w, ho, wo, top, left, sh, sw, dh, dw, kh, kw, dtype):
    """A zeroed buffer large enough for the padded plane and every window read from it."""
    hp = max(top + h, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(left + w, (wo - 1) * sw + (kw - 1) * dw + 1)
    return np.zeros((hp, wp), dtype)


@jit
def _fill(xp, x, n, c, top, left):
    """Plane (n, c) of x into xp's interior (its border stays zero)."""
    for r in range(x.shape[2]):
        row = xp[top + r]
        src = x[n, c, r]
        for k in range(x.shape[3]):
            row[left + k] = src[k]


@jit
def forward(x, w, b, out, top, left, sh, sw, dh, dw, p0, p1):
    """out[n, c, a] = b[c] + sum over taps (i, j) of w[c, i, j] * the padded plane's row
    a * sh + i * dh from column j * dw in steps of sw, for planes p = n * C + c in p0:p1."""
    chans, kh, kw = w.shape
    ho, wo = out.shape[2], out.shape[3]
    xp = _plane(x.shape[2], x.shape[3], ho, wo, top, left, sh, sw, dh, dw, kh, kw, x.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        _fill(xp, x, n, c, top, left)
        for a in range(ho):
            acc = out[n, c, a]
            for k in range(wo):
                acc[k] = b[c]
            for i in range(kh):
                xr = xp[a * sh + i * dh]
                for j in range(kw):
                    wv = w[c, i, j]
                    off = j * dw
                    if sw == 1:
                        for k in range(wo):
                            acc[k] += wv * xr[off + k]
                    else:
                        for k in range(wo):
                            acc[k] += wv * xr[off + k * sw]


@jit
def grad_input(g, w, dx, top, left, sh, sw, dh, dw, p0, p1):
    """The forward's products scattered back: each output row times a tap's weight added
    into the padded plane's row it read, whose interior is then plane (n, c) of dx."""
    chans, kh, kw = w.shape
    h, wd = dx.shape[2], dx.shape[3]
    ho, wo = g.shape[2], g.shape[3]
    dxp = _plane(h, wd, ho, wo, top, left, sh, sw, dh, dw, kh, kw, dx.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        dxp[:] = 0
        for a in range(ho):
            gr = g[n, c, a]
            for i in range(kh):
                dr = dxp[a * sh + i * dh]
                for j in range(kw):
                    wv = w[c, i, j]
                    off = j * dw
                    if sw == 1:
                        for k in range(wo):
                            dr[off + k] += wv * gr[k]
                    else:
                        for k in range(wo):
                            dr[off + k * sw] += wv * gr[k]
        for r in range(h):
            row, dst = dxp[top + r], dx[n, c, r]
            for k in range(wd):
                dst[k] = row[left + k]


@jit
def grad_weight(x, g, gw, gb, top, left, sh, sw, dh, dw, c0, c1):
    """gw[c, i, j] = sum over (n, a) of g[n, c, a] . the row the tap read, and gb[c] the sum
    of g's plane, for channels c0:c1: each row's dot product in the data's dtype, their sum
    over the batch (in its order) in float64."""
    kh, kw = gw.shape[1], gw.shape[2]
    ho, wo = g.shape[2], g.shape[3]
    xp = _plane(x.shape[2], x.shape[3], ho, wo, top, left, sh, sw, dh, dw, kh, kw, x.dtype)
    sums = np.zeros((kh, kw))
    for c in range(c0, c1):
        sums[:] = 0.0
        bias = 0.0
        for n in range(x.shape[0]):
            _fill(xp, x, n, c, top, left)
            for a in range(ho):
                gr = g[n, c, a]
                s = gr[0] - gr[0]
                for k in range(wo):
                    s += gr[k]
                bias += s
                for i in range(kh):
                    xr = xp[a * sh + i * dh]
                    for j in range(kw):
                        off = j * dw
                        s = gr[0] - gr[0]
                        if sw == 1:
                            for k in range(wo):
                                s += gr[k] * xr[off + k]
                        else:
                            for k in range(wo):
                                s += gr[k] * xr[off + k * sw]
                        sums[i, j] += s
        for i in range(kh):
            for j in range(kw):
                gw[c, i, j] = sums[i, j]
        gb[c] = bias
