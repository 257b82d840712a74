"""The Numba loops of `_conv_depthwise` (imported on first use: it imports Numba), at module
level so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).

Each loop takes one (image, channel) plane at a time (or one channel over the batch) and
pads it into a flat zero-bordered buffer of its own, split into stride phases: phase
(pr, pc) holds the padded plane's rows pr, pr + sh, ... and columns pc, pc + sw, ..., Wq
values a row. Tap (i, j) then reads one phase from a fixed offset, so each tap's weight
times a single contiguous run of ho * Wq values gives its part of the whole output plane
(computed Wq wide: the columns past Wo are dropped when the plane is copied out, and read
zeros of g in the gradients). At stride 1 there is one phase, the padded plane itself. The
runs of one output row read every sw-th value instead (8 to 16 values in a MobileNet's
stride-2 layers), and cost more in loop and slice set-up than in arithmetic, with a strided
read LLVM kept scalar.

The loops index slices by the loop counter alone: an index such as `row[off + k]` may be
negative to Numba, whose wrap-around test then kept LLVM from vectorizing (2.5-3.9 ns a
value against 0.4 on 32-value rows, one core)."""
from ._numba import numba
import numpy as np

jit = numba.njit(cache=True, nogil=True, fastmath=True)


@jit
def _layout(h, w, ho, wo, top, left, sh, sw, dh, dw, kh, kw):
    """(Wq: a phase's row width, values a phase takes in the buffer, run length ho * Wq).
    A phase is as many rows as a tap's run reads, plus the last run's overhang."""
    wp = max(left + w, (wo - 1) * sw + (kw - 1) * dw + 1)
    hp = max(top + h, (ho - 1) * sh + (kh - 1) * dh + 1)
    wq, hq = (wp + sw - 1) // sw, (hp + sh - 1) // sh
    return wq, hq * wq + (kw - 1) * dw // sw, ho * wq


@jit
def _taps(kh, kw, sh, sw, dh, dw, wq, size):
    """Where each tap (i, j)'s run starts in the buffer (i * kw + j): its phase's offset
    plus its shift. Found once per call: a plane's loops do no integer division (a 64-bit
    division takes ~40 cycles; per tap and row they made an 8x8 plane's loops 2x slower)."""
    taps = np.empty(kh * kw, np.int64)
    for i in range(kh):
        for j in range(kw):
            r, c = i * dh, j * dw
            taps[i * kw + j] = ((r % sh) * sw + c % sw) * size + (r // sh) * wq + c // sw
    return taps


@jit
def _placement(h, w, top, left, sh, sw, wq, size):
    """Where x's rows and columns go in the buffer: each row's start (column phase 0), and
    for each column phase q, x's first column there, how many, and where they start in the
    phase's row (column phase q holds padded columns q, q + sw, ...)."""
    rows = np.empty(h, np.int64)
    for r in range(h):
        pr = top + r
        rows[r] = (pr % sh) * sw * size + (pr // sh) * wq
    cols = np.zeros((sw, 3), np.int64)
    for q in range(sw):
        k0 = (q - left % sw + sw) % sw
        if k0 < w:
            cols[q, 0], cols[q, 1] = k0, (w - k0 + sw - 1) // sw
            cols[q, 2] = q * size + (left + k0) // sw
    return rows, cols


@jit
def _fill_rows(xp, rows, left, x, n, c):
    """Plane (n, c) of x into the buffer's interior at stride width 1: whole rows. (A loop
    of its own, not a branch of `_fill`: called per plane, the larger function made an 8x8
    plane's loops 12-15 % slower.)"""
    w = x.shape[3]
    for r in range(x.shape[2]):
        row, src = xp[rows[r] + left:rows[r] + left + w], x[n, c, r]
        for k in range(w):
            row[k] = src[k]


@jit
def _fill(xp, rows, cols, x, n, c, sw):
    """Plane (n, c) of x into the buffer's interior, phase by phase (the border stays zero)."""
    if sw == 1:
        _fill_rows(xp, rows, cols[0, 2], x, n, c)
        return
    for r in range(x.shape[2]):
        src = x[n, c, r]
        for q in range(sw):
            k0, count, start = cols[q, 0], cols[q, 1], rows[r] + cols[q, 2]
            row, part = xp[start:start + count], src[k0:k0 + (count - 1) * sw + 1:sw]
            for k in range(count):
                row[k] = part[k]


@jit
def _gather_rows(dx, n, c, dxp, rows, left):
    """`_fill_rows` reversed."""
    w = dx.shape[3]
    for r in range(dx.shape[2]):
        row, dst = dxp[rows[r] + left:rows[r] + left + w], dx[n, c, r]
        for k in range(w):
            dst[k] = row[k]


@jit
def _gather(dx, n, c, dxp, rows, cols, sw):
    """The buffer's interior, phase by phase, into plane (n, c) of dx (`_fill` reversed)."""
    if sw == 1:
        _gather_rows(dx, n, c, dxp, rows, cols[0, 2])
        return
    for r in range(dx.shape[2]):
        dst = dx[n, c, r]
        for q in range(sw):
            k0, count, start = cols[q, 0], cols[q, 1], rows[r] + cols[q, 2]
            row, part = dxp[start:start + count], dst[k0:k0 + (count - 1) * sw + 1:sw]
            for k in range(count):
                part[k] = row[k]


@jit
def forward(x, w, b, out, top, left, sh, sw, dh, dw, p0, p1):
    """out[n, c] = b[c] + the sum over taps (i, j) of w[c, i, j] times the padded plane
    from row i * dh, column j * dw, every (sh, sw)-th value; planes n * C + c in p0:p1."""
    chans, kh, kw = w.shape
    ho, wo = out.shape[2], out.shape[3]
    wq, size, length = _layout(x.shape[2], x.shape[3], ho, wo, top, left, sh, sw, dh, dw,
                               kh, kw)
    taps = _taps(kh, kw, sh, sw, dh, dw, wq, size)
    rows, cols = _placement(x.shape[2], x.shape[3], top, left, sh, sw, wq, size)
    xp = np.zeros(sh * sw * size, x.dtype)
    acc = np.empty(length, x.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        if sw == 1:
            _fill_rows(xp, rows, cols[0, 2], x, n, c)
        else:
            _fill(xp, rows, cols, x, n, c, sw)
        acc[:] = b[c]
        for i in range(kh):
            for j in range(kw):
                wv = w[c, i, j]
                start = taps[i * kw + j]
                src = xp[start:start + length]
                for k in range(length):
                    acc[k] += wv * src[k]
        for a in range(ho):
            row, dst = acc[a * wq:a * wq + wo], out[n, c, a]
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
    """The forward's products scattered back: g's plane times each tap's weight added into
    the phase buffer where the tap read, whose interior is then plane (n, c) of dx."""
    chans, kh, kw = w.shape
    ho, wo = g.shape[2], g.shape[3]
    wq, size, length = _layout(dx.shape[2], dx.shape[3], ho, wo, top, left, sh, sw, dh, dw,
                               kh, kw)
    taps = _taps(kh, kw, sh, sw, dh, dw, wq, size)
    rows, cols = _placement(dx.shape[2], dx.shape[3], top, left, sh, sw, wq, size)
    dxp = np.empty(sh * sw * size, dx.dtype)
    staged = np.zeros(length, dx.dtype)
    for p in range(p0, p1):
        n, c = p // chans, p % chans
        dxp[:] = 0
        _stage(staged, wq, g, n, c)
        for i in range(kh):
            for j in range(kw):
                wv = w[c, i, j]
                start = taps[i * kw + j]
                dst = dxp[start:start + length]
                for k in range(length):
                    dst[k] += wv * staged[k]
        if sw == 1:
            _gather_rows(dx, n, c, dxp, rows, cols[0, 2])
        else:
            _gather(dx, n, c, dxp, rows, cols, sw)


@jit
def grad_weight(x, g, gw, gb, top, left, sh, sw, dh, dw, c0, c1):
    """gw[c, i, j] = the sum over images of g's plane . the values the tap read, and gb[c]
    the sum of g's planes, for channels c0:c1: each image's dot product in the data's dtype,
    their sum over the batch (in its order) in float64."""
    kh, kw = gw.shape[1], gw.shape[2]
    ho, wo = g.shape[2], g.shape[3]
    wq, size, length = _layout(x.shape[2], x.shape[3], ho, wo, top, left, sh, sw, dh, dw,
                               kh, kw)
    taps = _taps(kh, kw, sh, sw, dh, dw, wq, size)
    rows, cols = _placement(x.shape[2], x.shape[3], top, left, sh, sw, wq, size)
    xp = np.zeros(sh * sw * size, x.dtype)
    staged = np.zeros(length, x.dtype)
    sums = np.zeros((kh, kw))
    zero = staged[0] - staged[0]   # 0 in the data's dtype
    for c in range(c0, c1):
        sums[:] = 0.0
        bias = 0.0
        for n in range(x.shape[0]):
            if sw == 1:
                _fill_rows(xp, rows, cols[0, 2], x, n, c)
            else:
                _fill(xp, rows, cols, x, n, c, sw)
            _stage(staged, wq, g, n, c)
            s = zero
            for k in range(length):
                s += staged[k]
            bias += s
            for i in range(kh):
                for j in range(kw):
                    start = taps[i * kw + j]
                    src = xp[start:start + length]
                    s = zero
                    for k in range(length):
                        s += staged[k] * src[k]
                    sums[i, j] += s
        for i in range(kh):
            for j in range(kw):
                gw[c, i, j] = sums[i, j]
        gb[c] = bias
