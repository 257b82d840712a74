"""The Numba loops over short rows of `rows.py` and the cross-entropy kernel of `nn.py`
(imported on first use: it imports Numba), at module level so that Numba's disk cache serves
them to the next process (see `_fast_math_loops`). Each makes one pass per row over a
C-contiguous [n, k] array; they share `row_max`."""
import math

from ._numba import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def row_max(x, i):
    """The largest value of row i; NaN wins, as np.max."""
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        if not x[i, j] <= m:
            m = x[i, j]
    return m


@numba.njit(cache=True, nogil=True, inline="always")
def scaled_softmax_row(x, i, scale, out):
    """out[i] <- scale * softmax(x[i]), the exponentials summed in float64."""
    m = row_max(x, i)
    total = 0.0
    for j in range(x.shape[1]):
        e = math.exp(x[i, j] - m)
        out[i, j] = e
        total += e
    scale = scale / total
    for j in range(x.shape[1]):
        out[i, j] = out[i, j] * scale


@numba.njit(cache=True, nogil=True, error_model="numpy")   # 1 / 0: inf, as NumPy
def softmax(x, out):
    for i in range(x.shape[0]):
        scaled_softmax_row(x, i, 1.0, out)


@numba.njit(cache=True, nogil=True)
def row_sum(x, out):
    n, k = x.shape
    for i in range(n):
        total = 0.0
        for j in range(k):
            total += x[i, j]
        out[i] = total


@numba.njit(cache=True, nogil=True, error_model="numpy")
def softmax_xent(x, labels, y, loss):
    """softmax into y and the cross-entropy of each row into loss, in one pass per row."""
    n, k = x.shape
    for i in range(n):
        m = row_max(x, i)
        total = 0.0
        dot = 0.0
        mass = 0.0
        for j in range(k):
            e = math.exp(x[i, j] - m)
            y[i, j] = e
            total += e
            dot += labels[i, j] * x[i, j]
            mass += labels[i, j]
        scale = 1.0 / total
        for j in range(k):
            y[i, j] = y[i, j] * scale
        loss[i] = (m + math.log(total)) * mass - dot


@numba.njit(cache=True, nogil=True, error_model="numpy")
def softmax_grad(y, g, out):
    n, k = y.shape
    rounded = np.empty(1, y.dtype)    # the sum rounded as the separate row sum stores it
    for i in range(n):
        total = 0.0
        for j in range(k):
            total += g[i, j]
        rounded[0] = total
        s = rounded[0]
        for j in range(k):
            out[i, j] = g[i, j] - y[i, j] * s


@numba.njit(cache=True, nogil=True)
def cross_entropy(labels, logits, out):
    """(max + log sum exp(x - max)) * sum(labels) - labels . x per row, summed in float64.
    NumPy's version makes six passes of short-axis reductions and temporaries (21 us for a
    100 x 10 batch, against 2 us here), which made the stable loss the seed program's
    rewrite produces slower than the unstable one it replaces."""
    n, k = logits.shape
    for i in range(n):
        m = row_max(logits, i)
        total = 0.0
        dot = 0.0
        mass = 0.0
        for j in range(k):
            total += math.exp(logits[i, j] - m)
            dot += labels[i, j] * logits[i, j]
            mass += labels[i, j]
        out[i] = (m + math.log(total)) * mass - dot


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sparse_cross_entropy(x, ids, ignores, ignore, loss):
    """loss[i] <- log(sum(exp(x[i] - max))) - (x[i, ids[i]] - max), summed in float64, 0
    where `ignores` and ids[i] == ignore. Returns the first row whose id is out of [0, k),
    or -1 when every id is in range."""
    n, k = x.shape
    for i in range(n):
        c = ids[i]
        if ignores and c == ignore:
            loss[i] = 0.0
            continue
        if c < 0 or c >= k:
            return i
        m = row_max(x, i)
        total = 0.0
        for j in range(k):
            total += math.exp(x[i, j] - m)
        loss[i] = math.log(total) - (x[i, c] - m)
    return -1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sparse_cross_entropy_grad(g, x, ids, ignores, ignore, out):
    """out[i] <- g[i] (softmax(x[i]) - one_hot(ids[i])), with g[i] = 0 where `ignores` and
    ids[i] == ignore (zeros, or NaN from a row of NaN, as the NumPy kernel). Returns as
    `sparse_cross_entropy`."""
    n, k = x.shape
    for i in range(n):
        c = ids[i]
        skip = ignores and c == ignore
        gi = 0.0 if skip else g[i]
        if not skip and (c < 0 or c >= k):
            return i
        scaled_softmax_row(x, i, gi, out)
        if not skip:
            out[i, c] -= gi
    return -1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_softmax(x, out):
    """out[i] <- x[i] - max - log(sum(exp(x[i] - max))), the sum in float64; out may be x.
    Two reads of each row and one write, where NumPy's ufuncs make six passes and two
    temporaries (a language model's [700, 33278] logits: 0.17 s against 0.06 s)."""
    n, k = x.shape
    for i in range(n):
        m = row_max(x, i)
        total = 0.0
        for j in range(k):
            total += math.exp(x[i, j] - m)
        shift = m + math.log(total)
        for j in range(k):
            out[i, j] = x[i, j] - shift


@numba.njit(cache=True, nogil=True, error_model="numpy")
def log_softmax_grad(g, y, out):
    """out[i] <- g[i] - exp(y[i]) * sum(g[i]): log_softmax's backward, one pass per row."""
    n, k = y.shape
    for i in range(n):
        total = 0.0
        for j in range(k):
            total += g[i, j]
        for j in range(k):
            out[i, j] = g[i, j] - math.exp(y[i, j]) * total
