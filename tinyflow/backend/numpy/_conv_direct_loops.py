"""The Numba loops of `_conv_direct` (imported on first use: it imports Numba), at module
level so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).

Planes are flat: x zero-padded [N, C, Hp * Wp], and an output row h of width Wo starts at
h * Wp in the same width (`wide`), so a tap (i, j) reads one contiguous run of the padded
plane for a whole block of output rows, i * Wp + j on: every innermost loop is that run,
(rows - 1) * Wp + Wo long, not Wo (LeNet's 28- and 10-wide rows had left the vectorized
loops mostly remainder and overhead). The Wp - Wo positions between rows are computed and
dropped (forward) or read as zeros of g (weight gradient)."""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)
inline = numba.njit(cache=True, nogil=True, fastmath=True, inline="always")


@inline
def _add_row_taps(acc, bcc, plane, wrow, vrow, base, length):
    """acc[:length] += sum over j of wrow[j] plane[base + j:base + j + length], and bcc the
    same with vrow: two output channels at once, each input run loaded once for both, taps
    four at a time (a pass over acc per four taps: 0.78x the time of two on LeNet's 5x5
    rows, one thread, one output; two outputs a pass then took 0.6-0.75x)."""
    kw = len(wrow)
    j = 0
    while j + 4 <= kw:
        w0, w1, w2, w3 = wrow[j], wrow[j + 1], wrow[j + 2], wrow[j + 3]
        v0, v1, v2, v3 = vrow[j], vrow[j + 1], vrow[j + 2], vrow[j + 3]
        x0, x1 = plane[base + j:base + j + length], plane[base + j + 1:base + j + 1 + length]
        x2 = plane[base + j + 2:base + j + 2 + length]
        x3 = plane[base + j + 3:base + j + 3 + length]
        for q in range(length):
            a0, a1, a2, a3 = x0[q], x1[q], x2[q], x3[q]
            acc[q] += (w0 * a0 + w1 * a1) + (w2 * a2 + w3 * a3)
            bcc[q] += (v0 * a0 + v1 * a1) + (v2 * a2 + v3 * a3)
        j += 4
    while j < kw:
        wv, vv, x0 = wrow[j], vrow[j], plane[base + j:base + j + length]
        for q in range(length):
            a0 = x0[q]
            acc[q] += wv * a0
            bcc[q] += vv * a0
        j += 1


@jit
def forward(xp, w, b, out, wp, h0, h1):
    """out[n, o, h] = b[o] + sum over (c, i, j) of w[o, c, i, j] xp[n, c, h + i, j:j + Wo]
    for rows h0:h1 of every image and output channel; xp flat [N, C, Hp * Wp], out
    [N, O, Ho, Wo]. Output channels two at a time (each input run loaded once for both)."""
    o_n, c_n, kh = w.shape[0], w.shape[1], w.shape[2]
    wo = out.shape[3]
    rows = h1 - h0
    length = (rows - 1) * wp + wo
    accs = np.empty((2, rows * wp), xp.dtype)
    for n in range(xp.shape[0]):
        for o0 in range(0, o_n, 2):
            pair = min(2, o_n - o0)
            for k in range(pair):
                acc, bias = accs[k], b[o0 + k]
                for q in range(length):
                    acc[q] = bias
            for c in range(c_n):
                for i in range(kh):
                    base = (h0 + i) * wp
                    # (an odd last output: its weights twice, the second sum unused)
                    _add_row_taps(accs[0], accs[1], xp[n, c], w[o0, c, i],
                                   w[o0 + pair - 1, c, i], base, length)
            for k in range(pair):
                acc = accs[k]
                for h in range(rows):
                    row = out[n, o0 + k, h0 + h]
                    for q in range(wo):
                        row[q] = acc[h * wp + q]


@jit
def grad_weight(xp, g, gw, wp, wo, c0, c1):
    """gw[o, c, i, j] = sum over n of g[n, o] . xp[n, c] from i * Wp + j, for input channels
    c0:c1; g flat [N, O, Ho * Wp] with zeros past each row's Wo values. Each image's dot
    products in the data's dtype, four taps at a time (each value of g loaded once for the
    four), their sum over images in float64. (Slices first: indexing xr[start + q] left the
    loop scalar, 5x slower.)"""
    o_n, kh, kw = gw.shape[0], gw.shape[2], gw.shape[3]
    length = g.shape[2] - (wp - wo)
    sums = np.zeros(kw)
    for c in range(c0, c1):
        for o in range(o_n):
            for i in range(kh):
                sums[:] = 0.0
                for n in range(g.shape[0]):
                    gr, plane, base = g[n, o, :length], xp[n, c], i * wp
                    j = 0
                    while j + 4 <= kw:
                        x0 = plane[base + j:base + j + length]
                        x1 = plane[base + j + 1:base + j + 1 + length]
                        x2 = plane[base + j + 2:base + j + 2 + length]
                        x3 = plane[base + j + 3:base + j + 3 + length]
                        s0 = s1 = s2 = s3 = gr[0] - gr[0]
                        for q in range(length):
                            gq = gr[q]
                            s0 += gq * x0[q]
                            s1 += gq * x1[q]
                            s2 += gq * x2[q]
                            s3 += gq * x3[q]
                        sums[j] += s0
                        sums[j + 1] += s1
                        sums[j + 2] += s2
                        sums[j + 3] += s3
                        j += 4
                    while j < kw:
                        x0 = plane[base + j:base + j + length]
                        s0 = gr[0] - gr[0]
                        for q in range(length):
                            s0 += gr[q] * x0[q]
                        sums[j] += s0
                        j += 1
                for j in range(kw):
                    gw[o, c, i, j] = sums[j]
