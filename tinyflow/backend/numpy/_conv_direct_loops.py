"""The Numba loops of `_conv_direct` (imported on first use: it imports Numba), at module
level so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).
x is zero-padded NCHW [N, C, Hp, Wp]; every innermost loop runs along an output row, so it
vectorizes."""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


@jit
def forward(xp, w, b, out, h0, h1):
    """out[n, o, h] = b[o] + sum over (c, i, j) of w[o, c, i, j] xp[n, c, h + i, j:j + Wo],
    rows h0:h1 of every image and output channel."""
    o_n, c_n, kh, kw = w.shape
    wo = out.shape[3]
    for n in range(xp.shape[0]):
        for h in range(h0, h1):
            for o in range(o_n):
                acc = out[n, o, h]
                for k in range(wo):
                    acc[k] = b[o]
                for c in range(c_n):
                    for i in range(kh):
                        xr = xp[n, c, h + i]
                        for j in range(kw):
                            wv = w[o, c, i, j]
                            for k in range(wo):
                                acc[k] += wv * xr[j + k]


@jit
def grad_weight(xp, g, gw, c0, c1):
    """gw[o, c, i, j] = sum over (n, h) of g[n, o, h] . xp[n, c, h + i, j:j + Wo] for input
    channels c0:c1: each row's dot product in the data's dtype, their sum in float64."""
    o_n, kh, kw = gw.shape[0], gw.shape[2], gw.shape[3]
    ho, wo = g.shape[2], g.shape[3]
    sums = np.zeros(kw)
    for c in range(c0, c1):
        for o in range(o_n):
            for i in range(kh):
                sums[:] = 0.0
                for n in range(g.shape[0]):
                    for h in range(ho):
                        gr, xr = g[n, o, h], xp[n, c, h + i]
                        for j in range(kw):
                            s = gr[0] - gr[0]
                            for k in range(wo):
                                s += gr[k] * xr[j + k]
                            sums[j] += s
                for j in range(kw):
                    gw[o, c, i, j] = sums[j]
