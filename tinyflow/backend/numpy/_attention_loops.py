"""The Numba loops of `attention` (imported on first use: it imports Numba), at module level
so that Numba's disk cache serves them to the next process (see `_fast_math_loops`).

Scores are [B, T, S] (the batch dims flattened), one row per query; a row (S values) stays
in cache while a loop makes its passes over it, so each loop reads and writes the scores
once. Float32 rows take the exponential in the same loop (`exp32`, which LLVM vectorizes);
float64 rows take NumPy's (SIMD) over the whole array between two loops.
"""
import numpy as np
from llvmlite import ir

from ._numba import numba
from numba.core import types
from numba.extending import intrinsic, overload

# IEEE semantics kept for -inf (masked scores) and NaN (a NaN score makes its row NaN, as
# PyTorch's softmax); the other fast-math flags let LLVM vectorize the sums.
jit = numba.njit(cache=True, nogil=True, error_model="numpy",
                 fastmath={"contract", "arcp", "reassoc", "nsz"})
inline = numba.njit(inline="always", error_model="numpy",
                    fastmath={"contract", "arcp", "reassoc", "nsz"})


@jit
def softmax_scores(s, scale, causal, first, mask, has_mask, minus_inf):
    """s * scale, masked (-inf where a bool mask is False or, causal, key j > query i; a
    float mask added), per row, in place: float32 rows become their softmax (a row whose
    every score is masked, zeros); float64 rows their scores minus the row's max (a fully
    masked row stays -inf), whose exponentials the caller takes and normalizes
    (`normalize_rows`). Row i of s is query first + i (s may be a block of the queries);
    mask [1 or B, T, S] for all T queries (row i of s reads its row first + i, the first
    keys of it), so a block's mask is the whole one, C-contiguous, not an 'A' slice of it
    (another compilation); scale and minus_inf in s's dtype."""
    scaled = np.empty(s.shape[2], s.dtype)    # apart from the row: see `_exp_normalized`
    for b in range(s.shape[0]):
        mb = b if mask.shape[0] > 1 else 0
        for i in range(s.shape[1]):
            row = s[b, i]
            keys = min(first + i + 1, s.shape[2]) if causal else s.shape[2]
            _scaled(row, scaled, keys, scale, mask, mb, first + i, has_mask, minus_inf)
            _finish_row(scaled, row, keys, _largest(scaled, keys, minus_inf), minus_inf)


def _finish_row(scaled, row, keys, top, minus_inf):
    """row <- its softmax from `scaled` (float32), or `scaled` shifted (float64)."""


@overload(_finish_row, inline="always")
def _finish_row_by_type(scaled, row, keys, top, minus_inf):
    if scaled.dtype == types.float32:
        return lambda scaled, row, keys, top, minus_inf: _weights_row(scaled, row, keys, top,
                                                                      minus_inf)
    return lambda scaled, row, keys, top, minus_inf: _shifted_row(scaled, row, keys, top,
                                                                  minus_inf)


@inline
def _shifted_row(scaled, row, keys, top, minus_inf):
    """row[:keys] <- scaled - top (scaled itself when every key is masked), row[keys:] <-
    -inf."""
    masked = top == minus_inf
    for j in range(keys):
        row[j] = scaled[j] if masked else scaled[j] - top
    for j in range(keys, row.shape[0]):
        row[j] = minus_inf


@jit
def _scaled(row, out, keys, scale, mask, mb, i, has_mask, minus_inf):
    """out[:keys] <- row[:keys] * scale, masked by row i of mask[mb] (`softmax_scores`)."""
    for j in range(keys):
        v = row[j] * scale
        if has_mask:
            v = _masked(v, mask[mb, i, j], minus_inf)
        out[j] = v


@jit
def shifted_rows(x, out, minus_inf):
    """out <- x minus its row's max, per row of [n, k] arrays (softmax's first pass, the row
    in cache). Unlike `softmax_scores`, a row of -inf (or with +inf) becomes NaN, as
    PyTorch's softmax gives."""
    for r in range(x.shape[0]):
        row, o = x[r], out[r]
        top = _largest(row, x.shape[1], minus_inf)
        for j in range(x.shape[1]):
            o[j] = row[j] - top


@jit
def _largest(row, n, start):
    """max(start, row[:n]) in eight independent lanes, which LLVM turns into vector maxima
    (one running maximum is a chain of compares, 3.5x slower). A NaN may or may not win:
    either way its row's weights become NaN (the sum of the exponentials is NaN)."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = start
    k = 0
    while k + 8 <= n:
        a0, a1 = max(a0, row[k]), max(a1, row[k + 1])
        a2, a3 = max(a2, row[k + 2]), max(a3, row[k + 3])
        a4, a5 = max(a4, row[k + 4]), max(a5, row[k + 5])
        a6, a7 = max(a6, row[k + 6]), max(a7, row[k + 7])
        k += 8
    top = max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))
    for j in range(k, n):
        top = max(top, row[j])
    return top


def _masked(v, m, minus_inf):
    """A bool mask keeps v where True (-inf elsewhere); a float mask is added."""


@overload(_masked, inline="always")
def _masked_by_type(v, m, minus_inf):
    if m == types.boolean:
        return lambda v, m, minus_inf: v if m else minus_inf
    return lambda v, m, minus_inf: v + m


@jit
def normalize_rows(e, causal, first):
    """e <- e / sum(e) per row (the exponentials of `softmax_scores`, row i query first + i);
    an all-zero row (every key masked) stays zeros. Causal rows sum only their first
    first + i + 1 keys (the rest are 0)."""
    for b in range(e.shape[0]):
        for i in range(e.shape[1]):
            row = e[b, i]
            keys = min(first + i + 1, e.shape[2]) if causal else e.shape[2]
            total = row[0] * 0
            for j in range(keys):
                total += row[j]
            if total != 0:
                inv = 1 / total
                for j in range(keys):
                    row[j] *= inv


@jit
def fill_where(mask, full, value, fill_if, out):
    """out[r] <- value where mask == fill_if, full[r] elsewhere, per row r of [rows, n]
    arrays under one [n] mask: masked_fill of the scores under one mask for every head, and
    its gradient, in one pass (LLVM vectorizes the select)."""
    for r in range(full.shape[0]):
        f, o = full[r], out[r]
        for j in range(mask.shape[0]):
            o[j] = value if mask[j] == fill_if else f[j]


@jit
def weights_grad(g, p, scale, out):
    """out <- p * (g - sum(g * p)) * scale per row ([rows, S] arrays; out may be g: each
    element is read before it is written)."""
    for r in range(g.shape[0]):
        gr, pr, o = g[r], p[r], out[r]
        dot = gr[0] * 0
        for j in range(g.shape[1]):
            dot += gr[j] * pr[j]
        for j in range(g.shape[1]):
            o[j] = pr[j] * (gr[j] - dot) * scale


# ---- float32: the exponential inside the row loops ------------------------------------------

f32 = np.float32
LOG2E, LN2_HI, LN2_LO = f32(1.4426950408889634), f32(0.693359375), f32(-2.12194440e-4)
C2, C3, C4, C5, C6, C7 = (f32(1 / 2), f32(1 / 6), f32(1 / 24), f32(1 / 120), f32(1 / 720),
                          f32(1 / 5040))
SMALLEST = f32(-87.33654)     # log of float32's smallest normal number


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose bits are the low 32 of the integer `bits`."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(low, ir.FloatType())
    return types.float32(bits), codegen


# Its own flags (only `contract`), not inlined into the loops' IR: with `reassoc` LLVM may
# merge the two-part ln 2 below (max relative error 3e-7 with it, 7.4e-8 without); LLVM
# still inlines and vectorizes it.
@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def exp32(x):
    """exp(x) of a float32 x <= 0 (or NaN, which stays NaN) in branch-free arithmetic that
    LLVM vectorizes: x = n ln 2 + r, |r| <= ln 2 / 2, exp(r) by its Taylor polynomial to
    r^7 / 7!, times 2^n made from its bits. Relative error under 1e-7 (NumPy's: 2e-7);
    results under float32's smallest normal number (x < -87.34) are 0, as -inf gives."""
    xc = f32(-87.5) if x < f32(-87.5) else x
    n = np.rint(xc * LOG2E)
    r = xc - n * LN2_HI - n * LN2_LO
    n = n if n == n else f32(0)      # NaN (r is NaN): a defined integer conversion
    p = f32(1) + r * (f32(1) + r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * C7))))))
    e = p * _float32_from_bits((np.int32(n) + 127) << 23)
    return f32(0) if x < SMALLEST else e


@jit
def _exp_normalized(src, row, keys, top, scale=f32(1)):
    """row[:keys] <- exp(src - top) / their sum * scale, row[keys:] <- 0. src and row are
    apart: a loop whose source is the row it writes ran scalar (LLVM's overlap check
    fails), and copying the row first made softmax 1.4x slower."""
    total = f32(0)
    for j in range(keys):
        e = exp32(src[j] - top)
        row[j] = e
        total += e
    inv = scale / total
    for j in range(keys):
        row[j] *= inv
    for j in range(keys, row.shape[0]):
        row[j] = 0


@inline
def _weights_row(scaled, row, keys, top, minus_inf):
    """row <- softmax of scaled[:keys] (max top), zeros when every key is masked."""
    if top == minus_inf:
        row[:] = 0
    else:
        _exp_normalized(scaled, row, keys, top)


@jit
def softmax_rows32(x, out):
    """out <- softmax of each row of float32 x [n, k] (PyTorch's values: a row of -inf, or
    with +inf, becomes NaN): each row's max, then `_exp_normalized`."""
    for r in range(x.shape[0]):
        _exp_normalized(x[r], out[r], x.shape[1], _largest(x[r], x.shape[1], f32(-np.inf)))


@jit
def cross_entropy_rows32(x, ids, loss):
    """loss[r] <- log(sum(exp(x[r] - max))) - (x[r, ids[r]] - max), float32 x [n, k] (a row
    of -inf, or with +inf or NaN, gives NaN, as the softmax)."""
    for r in range(x.shape[0]):
        row = x[r]
        top = _largest(row, x.shape[1], f32(-np.inf))
        total = f32(0)
        for j in range(x.shape[1]):
            total += exp32(row[j] - top)
        loss[r] = _picked_loss(total, row[ids[r]], top)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _picked_loss(total, picked, top):
    """log(total) - (picked - top) in this order: with the loops' `reassoc` LLVM made it
    (log(total) - picked) + top, which cancels in float32 for large logits (an error of
    0.03 at 1e6, against 5e-7)."""
    return np.log(total) - (picked - top)


@jit
def cross_entropy_grad_rows32(g, ids, x, out):
    """out[r] <- g[r] * (softmax(x[r]) - one_hot(ids[r])), float32 x and out [n, k]."""
    for r in range(x.shape[0]):
        _exp_normalized(x[r], out[r], x.shape[1], _largest(x[r], x.shape[1], f32(-np.inf)),
                        g[r])
        out[r, ids[r]] -= g[r]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _log_prob(v, top, log_total):
    """(v - top) - log_total in this order (see `_picked_loss`)."""
    return (v - top) - log_total


@jit
def log_softmax_rows32(x, out):
    """out <- log_softmax of each row of float32 x [n, k] (out may be x): the row's max, the
    sum of exp32(x - max), then (x - max) - log(sum); a row of -inf, or with +inf, is NaN,
    as PyTorch's."""
    for r in range(x.shape[0]):
        row, o = x[r], out[r]
        top = _largest(row, x.shape[1], f32(-np.inf))
        total = f32(0)
        for j in range(x.shape[1]):
            total += exp32(row[j] - top)
        log_total = np.log(total)
        for j in range(x.shape[1]):
            o[j] = _log_prob(row[j], top, log_total)


@jit
def log_softmax_grad_rows32(g, y, out):
    """out <- g - exp(y) * sum(g) per row of float32 [n, k] (y a log_softmax's output, <= 0,
    which exp32 takes)."""
    for r in range(g.shape[0]):
        gr, yr, o = g[r], y[r], out[r]
        total = f32(0)
        for j in range(g.shape[1]):
            total += gr[j]
        for j in range(g.shape[1]):
            o[j] = gr[j] - exp32(yr[j]) * total
