"""The Numba loops of `_conv_numba` (imported on first use: it imports Numba), at module
level with the helpers they call in this same file, so that Numba's disk cache serves them
to the next process (see `_fast_math_loops` for why closures and other files' helpers do
not). Single-threaded, see `_conv_numba`.
"""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True)


# ---- convolution: col2im ----------------------------------------------------------------

@jit
def col2im_general(dcols, dxp, n0, a0, rows, wo, sh, sw, dh, dw, kh, kw):
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

@jit
def col2im_runs(dcols, dxp, n0, a0, rows, wo, sh, step, dh, kh):
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


# ---- max pooling -----------------------------------------------------------------------

@jit
def window_max(x, rows, a, cols, b, dh, dw, best, at):
    """Per channel, the first maximum (best) of window (a, b) of an image x [H, W, C] and
    its position h * W + w (at): taps in row-major order over the input only (padding is
    never chosen), a NaN beats numbers and the last NaN wins (PyTorch's CPU rule). rows, cols: [3, out] window starts and the range of
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
                wins = (v[c] > best[c]) | (v[c] != v[c])  # greater, or any NaN: the last
                best[c] = v[c] if wins else best[c]
                at[c] = k if wins else at[c]


@jit
def to_hwc(x, n, xt):
    """xt[h, w, c] = x[n, c, h, w]."""
    for h in range(xt.shape[0]):
        for w in range(xt.shape[1]):
            for c in range(xt.shape[2]):
                xt[h, w, c] = x[n, c, h, w]


@jit
def from_hwc(xt, out, n):
    """out[n, c, h, w] = xt[h, w, c]."""
    for h in range(xt.shape[0]):
        for w in range(xt.shape[1]):
            for c in range(xt.shape[2]):
                out[n, c, h, w] = xt[h, w, c]


@jit
def pool_forward(x, rows, cols, dh, dw, out, n0, n1):
    """The maxima of images n0:n1, window_max's rule without the positions: channels
    innermost, indexed per element (the ResNet stem's 3x3 / 2 pool on [64, 64, 14, 14]:
    1.5 ms through window_max's views and positions, ~0.45 without)."""
    xt = np.empty(x.shape[2:] + x.shape[1:2], x.dtype)
    res = np.empty(out.shape[2:] + out.shape[1:2], out.dtype)
    for n in range(n0, n1):
        to_hwc(x, n, xt)
        for a in range(res.shape[0]):
            for b in range(res.shape[1]):
                first = True
                for i in range(rows[1, a], rows[2, a]):
                    h = rows[0, a] + i * dh
                    for j in range(cols[1, b], cols[2, b]):
                        w = cols[0, b] + j * dw
                        if first:
                            for c in range(xt.shape[2]):
                                res[a, b, c] = xt[h, w, c]
                            first = False
                            continue
                        for c in range(xt.shape[2]):
                            v = xt[h, w, c]
                            best = res[a, b, c]
                            res[a, b, c] = v if (v > best) | (v != v) else best
        from_hwc(res, out, n)

@jit
def pool_argmax(x, rows, cols, dh, dw, out):
    xt = np.empty(x.shape[2:] + x.shape[1:2], x.dtype)
    res = np.empty(out.shape[2:] + out.shape[1:2], out.dtype)
    best = np.empty(x.shape[1], x.dtype)
    for n in range(x.shape[0]):
        to_hwc(x, n, xt)
        for a in range(res.shape[0]):
            for b in range(res.shape[1]):
                window_max(xt, rows, a, cols, b, dh, dw, best, res[a, b])
        from_hwc(res, out, n)

@jit
def pool_backward(x, g, rows, cols, dh, dw, dx):
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


@jit
def tile_max_grad(x, g, kh, kw, dx, p0, p1):
    """dx = g at the first maximum (the last NaN) of each kh x kw tile of planes p0:p1 of x [P, H, W], 0
    elsewhere (dx's planes are zeroed here, borders past the tiles too)."""
    for p in range(p0, p1):
        xs, ds, gs = x[p], dx[p], g[p]
        ds[...] = 0
        for a in range(gs.shape[0]):
            for b in range(gs.shape[1]):
                bi, bj = a * kh, b * kw
                best = xs[bi, bj]
                for i in range(a * kh, a * kh + kh):
                    for j in range(b * kw, b * kw + kw):
                        v = xs[i, j]
                        if v > best or v != v:   # greater, or any NaN: the last NaN wins
                            best, bi, bj = v, i, j
                ds[bi, bj] = gs[a, b]


@jit
def pair_max_grad(x, g, dx, r0, r1, width, zero):
    """tile_max_grad of 2 x 2 tiles that cover x exactly, on flat arrays: x and dx hold rows
    of 2 * width (a tile row's two input rows), g rows of width // 2; rows r0:r1. The choice
    among a tile's four values is bitwise tests and selects, which compile without branches
    (`and`/`or` would branch), and a flat index with one loop level inside the rows ran 1.5x
    faster than per-plane views (2.7 -> 1.8 ms on [64, 32, 28, 28]). A tile without NaN
    (one well-predicted test) takes plain comparisons: 20 % less time than the NaN-aware
    ones for every tile. `zero` is passed typed like dx (read from an uninitialized dx it
    could be NaN)."""
    half = width // 2
    for r in range(r0, r1):
        top, q = r * 2 * width, r * half
        for b in range(half):
            i = top + 2 * b
            v0, v1, v2, v3 = x[i], x[i + 1], x[i + width], x[i + width + 1]
            if (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3):
                w1 = (v1 > v0) | (v1 != v1)   # greater, or a NaN: the last NaN wins
                best = v1 if w1 else v0
                w2 = (v2 > best) | (v2 != v2)
                best = v2 if w2 else best
                w3 = (v3 > best) | (v3 != v3)
            else:
                w1 = v1 > v0
                best = max(v0, v1)
                w2 = v2 > best
                w3 = v3 > max(best, v2)
            gv = g[q + b]
            dx[i] = zero if w1 | w2 | w3 else gv
            dx[i + 1] = gv if w1 & ~w2 & ~w3 else zero
            dx[i + width] = gv if w2 & ~w3 else zero
            dx[i + width + 1] = gv if w3 else zero


# ---- convolution: Winograd tile transforms (see _conv_winograd) --------------------------
# F(2x2, 5x5) and F(4x4, 3x3): windows of S = 6, tiles of m = 2 or 4. Each transformed
# value is one expression of all six terms (zero coefficients included), written once:
# accumulating term by term into the output read and wrote it per nonzero coefficient,
# 1.5-2x slower. Channels innermost;
# the input transform takes a whole row of tiles at a time (B^T down the columns of the row
# once, shared by overlapping windows). The points 0 and infinity give B^T and A^T zeros the
# loops leave out (tests/test_conv_winograd.py checks them): the first row has no last term,
# the last row no first, and the rows between neither, so the first and last columns have
# one term each (in the 64 -> 64 3x3 layer's forward transforms, a third of its time, 28 %
# and 25 % of the multiplications). Plain indexing (a view per window row cost more than
# the arithmetic) and fastmath (else the sums do not vectorize).

fast_jit = numba.njit(cache=True, nogil=True, fastmath=True)


@fast_jit
def winograd_input(xp, bt, n0, n1, th, tw, m, v):
    """v[a * 6 + b, t] = (B^T d B)[a, b] for each tile t of images n0:n1 (image, tile row,
    tile column order): d is the 6 x 6 window of padded NHWC xp at (m * ti, m * tj), a vector
    of channels per entry. B^T's zeros are left out (see above; 26 of 36 terms)."""
    wp, c = xp.shape[2], xp.shape[3]
    rows = np.empty((6, wp, c), xp.dtype)     # B^T applied down the columns of a tile row
    t = 0
    for n in range(n0, n1):
        for ti in range(th):
            h = ti * m
            for a in range(6):
                b0, b1, b2, b3, b4, b5 = bt[a, 0], bt[a, 1], bt[a, 2], bt[a, 3], bt[a, 4], bt[a, 5]
                if a == 0:
                    for w in range(wp):
                        for k in range(c):
                            rows[a, w, k] = (b0 * xp[n, h, w, k] + b1 * xp[n, h + 1, w, k]
                                             + b2 * xp[n, h + 2, w, k] + b3 * xp[n, h + 3, w, k]
                                             + b4 * xp[n, h + 4, w, k])
                elif a == 5:
                    for w in range(wp):
                        for k in range(c):
                            rows[a, w, k] = (b1 * xp[n, h + 1, w, k] + b2 * xp[n, h + 2, w, k]
                                             + b3 * xp[n, h + 3, w, k] + b4 * xp[n, h + 4, w, k]
                                             + b5 * xp[n, h + 5, w, k])
                else:
                    for w in range(wp):
                        for k in range(c):
                            rows[a, w, k] = (b1 * xp[n, h + 1, w, k] + b2 * xp[n, h + 2, w, k]
                                             + b3 * xp[n, h + 3, w, k] + b4 * xp[n, h + 4, w, k])
            for a in range(6):
                for b in range(6):
                    p = a * 6 + b
                    b0, b1, b2, b3, b4, b5 = (bt[b, 0], bt[b, 1], bt[b, 2], bt[b, 3], bt[b, 4],
                                              bt[b, 5])
                    for tj in range(tw):
                        w = tj * m
                        if b == 0:
                            for k in range(c):
                                v[p, t + tj, k] = (b0 * rows[a, w, k] + b1 * rows[a, w + 1, k]
                                                   + b2 * rows[a, w + 2, k]
                                                   + b3 * rows[a, w + 3, k]
                                                   + b4 * rows[a, w + 4, k])
                        elif b == 5:
                            for k in range(c):
                                v[p, t + tj, k] = (b1 * rows[a, w + 1, k] + b2 * rows[a, w + 2, k]
                                                   + b3 * rows[a, w + 3, k]
                                                   + b4 * rows[a, w + 4, k]
                                                   + b5 * rows[a, w + 5, k])
                        else:
                            for k in range(c):
                                v[p, t + tj, k] = (b1 * rows[a, w + 1, k] + b2 * rows[a, w + 2, k]
                                                   + b3 * rows[a, w + 3, k]
                                                   + b4 * rows[a, w + 4, k])
            t += tw


@fast_jit
def winograd_output(mm, at, bias, n0, th, tw, m, out):
    """out[n, :, m * ti + a, m * tj + b] = bias + (A^T M A)[a, b] of each tile's products
    mm[:, t] (36 rows of O channels), outputs past out's edge dropped. A row of tiles is
    gathered channels-innermost in `rows`, then written to NCHW out in runs of Wo (writing
    each tile's values straight to out was a strided store per channel, 1.5x slower).
    A^T's zeros are left out (see above; F(4x4, 3x3): 18 of 24 terms)."""
    o, ho, wo = out.shape[1], out.shape[2], out.shape[3]
    tmp = np.empty((m, 6, o), mm.dtype)
    rows = np.empty((m, tw * m, o), mm.dtype)
    t = 0
    for n in range(n0, n0 + mm.shape[1] // (th * tw)):
        for ti in range(th):
            for tj in range(tw):
                for a in range(m):
                    a0, a1, a2, a3, a4, a5 = (at[a, 0], at[a, 1], at[a, 2], at[a, 3], at[a, 4],
                                              at[a, 5])
                    for j in range(6):
                        if a == 0:
                            for k in range(o):
                                tmp[a, j, k] = (a0 * mm[j, t, k] + a1 * mm[6 + j, t, k]
                                                + a2 * mm[12 + j, t, k] + a3 * mm[18 + j, t, k]
                                                + a4 * mm[24 + j, t, k])
                        elif a == m - 1:
                            for k in range(o):
                                tmp[a, j, k] = (a1 * mm[6 + j, t, k] + a2 * mm[12 + j, t, k]
                                                + a3 * mm[18 + j, t, k] + a4 * mm[24 + j, t, k]
                                                + a5 * mm[30 + j, t, k])
                        else:
                            for k in range(o):
                                tmp[a, j, k] = (a1 * mm[6 + j, t, k] + a2 * mm[12 + j, t, k]
                                                + a3 * mm[18 + j, t, k] + a4 * mm[24 + j, t, k])
                for b in range(m):
                    a0, a1, a2, a3, a4, a5 = (at[b, 0], at[b, 1], at[b, 2], at[b, 3], at[b, 4],
                                              at[b, 5])
                    w = tj * m + b
                    for a in range(m):
                        if b == 0:
                            for k in range(o):
                                rows[a, w, k] = bias[k] + (a0 * tmp[a, 0, k] + a1 * tmp[a, 1, k]
                                                           + a2 * tmp[a, 2, k]
                                                           + a3 * tmp[a, 3, k]
                                                           + a4 * tmp[a, 4, k])
                        elif b == m - 1:
                            for k in range(o):
                                rows[a, w, k] = bias[k] + (a1 * tmp[a, 1, k] + a2 * tmp[a, 2, k]
                                                           + a3 * tmp[a, 3, k]
                                                           + a4 * tmp[a, 4, k]
                                                           + a5 * tmp[a, 5, k])
                        else:
                            for k in range(o):
                                rows[a, w, k] = bias[k] + (a1 * tmp[a, 1, k] + a2 * tmp[a, 2, k]
                                                           + a3 * tmp[a, 3, k]
                                                           + a4 * tmp[a, 4, k])
                t += 1
            for a in range(min(m, ho - ti * m)):
                for k in range(o):
                    for w in range(wo):
                        out[n, k, ti * m + a, w] = rows[a, w, k]


@fast_jit
def winograd_grad_tiles(g, at, n0, n1, th, tw, m, dm):
    """dm[u * 6 + v, t] = (A dY A^T)[u, v] for each tile t of images n0:n1, dY the tile's
    m x m block of g [N, O, Ho, Wo] (zeros past its edge): the adjoint of winograd_output.
    A row of tiles of g is first gathered channels-innermost in `rows` (reading g in runs
    of Wo); the sums over the block are written out for m = 2 and m = 4, so each stays one
    expression over the channels. A^T's zeros are left out (see above): its first and last
    columns have one term each."""
    o, ho, wo = g.shape[1], g.shape[2], g.shape[3]
    rows = np.zeros((m, tw * m, o), g.dtype)     # past Wo: stays zero
    tmp = np.empty((6, m, o), g.dtype)
    t = 0
    for n in range(n0, n1):
        for ti in range(th):
            for a in range(m):
                h = ti * m + a
                if h < ho:
                    for k in range(o):
                        for w in range(wo):
                            rows[a, w, k] = g[n, k, h, w]
                else:
                    rows[a] = 0
            for tj in range(tw):
                w0 = tj * m
                for u in range(6):
                    if u == 0 or u == 5:    # A^T's first and last columns: one term each
                        a, c0 = (0, at[0, 0]) if u == 0 else (m - 1, at[m - 1, 5])
                        for b in range(m):
                            for k in range(o):
                                tmp[u, b, k] = c0 * rows[a, w0 + b, k]
                    elif m == 2:
                        c0, c1 = at[0, u], at[1, u]
                        for b in range(2):
                            for k in range(o):
                                tmp[u, b, k] = c0 * rows[0, w0 + b, k] + c1 * rows[1, w0 + b, k]
                    else:
                        c0, c1, c2, c3 = at[0, u], at[1, u], at[2, u], at[3, u]
                        for b in range(4):
                            for k in range(o):
                                tmp[u, b, k] = (c0 * rows[0, w0 + b, k] + c1 * rows[1, w0 + b, k]
                                                + c2 * rows[2, w0 + b, k]
                                                + c3 * rows[3, w0 + b, k])
                for u in range(6):
                    for j in range(6):
                        p = u * 6 + j
                        if j == 0 or j == 5:
                            b, c0 = (0, at[0, 0]) if j == 0 else (m - 1, at[m - 1, 5])
                            for k in range(o):
                                dm[p, t, k] = c0 * tmp[u, b, k]
                        elif m == 2:
                            c0, c1 = at[0, j], at[1, j]
                            for k in range(o):
                                dm[p, t, k] = c0 * tmp[u, 0, k] + c1 * tmp[u, 1, k]
                        else:
                            c0, c1, c2, c3 = at[0, j], at[1, j], at[2, j], at[3, j]
                            for k in range(o):
                                dm[p, t, k] = (c0 * tmp[u, 0, k] + c1 * tmp[u, 1, k]
                                               + c2 * tmp[u, 2, k] + c3 * tmp[u, 3, k])
                t += 1


@fast_jit
def winograd_input_adjoint(dv, bt, n0, n1, th, tw, m, dxp):
    """The adjoint of winograd_input: dxp[n, m * ti + u, m * tj + j] += (B dV B^T)[u, j] of
    each tile's dv[:, t] (36 rows of C channels), into padded NHWC dxp (windows overlap, so
    it adds); a whole row of tiles at a time. B^T's first and last columns have one term
    each (see above)."""
    wp, c = dxp.shape[2], dxp.shape[3]
    rows = np.empty((6, wp, c), dxp.dtype)     # B applied across the tiles of the row
    t = 0
    for n in range(n0, n1):
        for ti in range(th):
            rows[...] = 0
            for a in range(6):
                p = a * 6
                for tj in range(tw):
                    for j in range(6):
                        b0, b1, b2, b3, b4, b5 = (bt[0, j], bt[1, j], bt[2, j], bt[3, j],
                                                  bt[4, j], bt[5, j])
                        w = tj * m + j
                        if j == 0:      # B^T's first and last columns: one term each
                            for k in range(c):
                                rows[a, w, k] += b0 * dv[p, t + tj, k]
                        elif j == 5:
                            for k in range(c):
                                rows[a, w, k] += b5 * dv[p + 5, t + tj, k]
                        else:
                            for k in range(c):
                                rows[a, w, k] += (b0 * dv[p, t + tj, k]
                                                  + b1 * dv[p + 1, t + tj, k]
                                                  + b2 * dv[p + 2, t + tj, k]
                                                  + b3 * dv[p + 3, t + tj, k]
                                                  + b4 * dv[p + 4, t + tj, k]
                                                  + b5 * dv[p + 5, t + tj, k])
            h = ti * m
            for u in range(6):
                b0, b1, b2, b3, b4, b5 = bt[0, u], bt[1, u], bt[2, u], bt[3, u], bt[4, u], bt[5, u]
                if u == 0:
                    for w in range(wp):
                        for k in range(c):
                            dxp[n, h, w, k] += b0 * rows[0, w, k]
                elif u == 5:
                    for w in range(wp):
                        for k in range(c):
                            dxp[n, h + 5, w, k] += b5 * rows[5, w, k]
                else:
                    for w in range(wp):
                        for k in range(c):
                            dxp[n, h + u, w, k] += (b0 * rows[0, w, k] + b1 * rows[1, w, k]
                                                    + b2 * rows[2, w, k] + b3 * rows[3, w, k]
                                                    + b4 * rows[4, w, k] + b5 * rows[5, w, k])
            t += tw


@fast_jit
def winograd_weight(w, gm, out, swap):
    """out[a * 6 + b, c, o] = (G w[o, c] G^T)[a, b] of w [O, C, r, r] and G [6, r] (out may
    be a transposed view); with swap, of w's transpose [C, O, r, r] (the input gradient's),
    read from w itself: w is always C-contiguous, one compilation per dtype (a transposed
    view would be another). Per input channel, its taps are gathered [r, r, O] and both
    products run over O innermost, so they vectorize (as one GEMM [36, r * r] @ [r * r,
    O * C] with K = 9, plus the copy transposing w, 128 -> 128 3x3 took 0.49 ms, one
    thread)."""
    o_n, c_n, r = w.shape[0], w.shape[1], w.shape[2]
    if swap:
        o_n, c_n = c_n, o_n
    taps = np.empty((r, r, o_n), w.dtype)
    half = np.empty((6, r, o_n), w.dtype)   # G w
    for c in range(c_n):
        for i in range(r):
            for j in range(r):
                if swap:
                    for o in range(o_n):
                        taps[i, j, o] = w[c, o, i, j]
                else:
                    for o in range(o_n):
                        taps[i, j, o] = w[o, c, i, j]
        for a in range(6):
            for j in range(r):
                g0 = gm[a, 0]
                for o in range(o_n):
                    half[a, j, o] = g0 * taps[0, j, o]
                for i in range(1, r):
                    gi = gm[a, i]
                    for o in range(o_n):
                        half[a, j, o] += gi * taps[i, j, o]
        for a in range(6):
            for b in range(6):
                dst = out[a * 6 + b, c]
                g0 = gm[b, 0]
                for o in range(o_n):
                    dst[o] = g0 * half[a, 0, o]
                for j in range(1, r):
                    gj = gm[b, j]
                    for o in range(o_n):
                        dst[o] += gj * half[a, j, o]


@jit
def same_bits(a, b):
    """Whether 1-D a and b of one unsigned-int dtype hold the same values: blocks of XORs
    ORed together (a loop that vectorizes), stopping after the first block that differs (a
    weight changed by an optimizer step differs at once). Each block is a pair of slices
    looped over from 0: indexing a and b from the block's start kept the loop scalar, 3x
    slower (0.47 against 0.15 ms on a 2.4 MB weight, the memo's check on every eval call)."""
    n = a.shape[0]
    for start in range(0, n, 4096):
        x, y = a[start:min(start + 4096, n)], b[start:min(start + 4096, n)]
        differ = a.dtype.type(0)
        for i in range(x.shape[0]):
            differ |= x[i] ^ y[i]
        if differ:
            return False
    return True
