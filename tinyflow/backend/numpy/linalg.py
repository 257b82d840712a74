"""Matrix multiplication through NumPy's BLAS (its matmul; the affine by its ?gemm directly)."""
import functools
import math

import numpy as np

from ...core.dtypes import REDUCED_NUMPY
from ...core.kernels import widened
from ...ops import linalg, state
from . import blas, parallel
from .registry import kernel

BLOCK_BYTES = 1 << 18    # rows of a fused update's product computed at once (its scratch)


# Every eager product runs these: the reduced-float test inline rather than in a `widened`
# frame; the widened versions (below) call them back with float32 operands
@kernel(linalg.MatMul, out=True)
def matmul(op, a, b, out=None):
    if a.dtype in REDUCED_NUMPY:
        return _WIDE_MATMUL(op, a, b, out=out)
    if op.transpose_a:     # the method: np.swapaxes is a Python wrapper around it
        a = a.swapaxes(-1, -2)
    if op.transpose_b:
        b = b.swapaxes(-1, -2)
    if a.ndim > 2 or b.ndim > 2:
        return _batched(a, b, out) if parallel.threads() > 1 else np.matmul(a, b, out=out)
    return _product(a, b, out)


# OpenBLAS's SkylakeX kernels multiply products of up to 1M multiply-adds with small-matrix
# code that packs nothing; just above that, its packed path ran the MLP's last layer
# ([128, 1024] x [1024, 10] and its input gradient) 1.6-2x slower than two halves under the
# limit, on one thread and against its own two (bench/gemm.py's products; over 16 other
# shapes and both dtypes, halves of row-major b took 0.41-1.10 of the time, of transposed b
# 0.27-1.42 unless its columns were few). Tried and not kept (session 19): float64 products
# with no side of 10 or fewer left whole for OpenBLAS's two threads, 41 -> 27 us on the
# LSTMCell example's [97, 204] x [204, 51] in a loop of that product alone, made the example's
# step slower (harness, quiet, alternating with the halves: 250 -> 264 and 254 -> 301 ms, CPU
# per step 0.81 -> 1.2-1.4x torch's); torch runs that example as fast on one thread as on two
# (206 against 212 ms), so its lead there is per core (MKL's small products), not threads
SMALL_MACS = 1_000_000


def _product(a, b, out=None):
    """np.matmul(a, b, out=out) for 2-D a and b: as two halves (of the longer of a's rows and
    b's columns) when each half then stays under OpenBLAS's small-matrix limit (not a single
    row or column: NumPy runs those as matrix-vector products)."""
    if a.ndim != 2 or b.ndim != 2:
        return np.matmul(a, b, out=out)
    (m, k), n = a.shape, b.shape[1]
    if k == 1 and _takes_outer(a, b, out):
        return _outer(a, b, None, out)
    if m * k * n <= SMALL_MACS or not _cut(a, b, out):   # the common eager case first
        return np.matmul(a, b, out=out)
    half = (max(m, n) + 1) // 2
    if out is None:
        out = np.empty((m, n), a.dtype)
    if m >= n:
        np.matmul(a[:half], b, out=out[:half])
        np.matmul(a[half:], b, out=out[half:])
    else:
        np.matmul(a, b[:, :half], out=out[:, :half])
        np.matmul(a, b[:, half:], out=out[:, half:])
    return out


def _cut(a, b, out) -> bool:
    """Whether `_product` multiplies 2-D a and b as two halves: the product is over
    `SMALL_MACS` and each half (of the longer of a's rows and b's columns) under it, on
    OpenBLAS's unpacked small-matrix kernels. Other kernels pack the halves as they pack the
    whole: on haswell's (AMD EPYC, 2026-12-07) the halves of the LSTMCell example's products
    ([97, 204] x [204, 51], [204, 97] x [97, 51] float64) took 1.1x the whole's time on one
    thread and 2x on two, where OpenBLAS threads the whole but not the halves."""
    (m, k), n = a.shape, b.shape[1]
    half = (max(m, n) + 1) // 2
    return (m * k * n > SMALL_MACS and half * min(m, n) * k <= SMALL_MACS and min(m, n) > 1
            and blas.small_products_unpacked()
            and a.dtype == b.dtype and a.dtype in parallel.FLOATS
            and (b.strides[1] == b.itemsize or n <= 10)
            and (out is None or not (np.may_share_memory(out, a)
                                     or np.may_share_memory(out, b))))


# OpenBLAS multiplies a [m, 1] column by a [1, n] row as a general product: float64 [97, 1] x
# [1, 204] (an LSTMCell of one input feature, or a Linear(1, n) / Linear(n, 1)'s input
# gradient) took 25 us, NumPy's broadcast multiply 17.5, the Numba loop 4.0 (float32: 24.8,
# 7.6, 2.2), one thread; at 16 x 16 the two calls cost the same (1.0 us)
OUTER_MIN = 256


@functools.cache
def _loops():
    from . import _product_loops     # imports Numba: on first use
    return _product_loops


def _takes_outer(a, b, out) -> bool:
    """Whether the 2-D product of a [m, 1] and b [1, n] goes to the outer-product loop: floats
    of one dtype, enough outputs, a C-contiguous `out` of the product's shape and dtype that
    overlaps neither operand (else NumPy's matmul, which copies or says what is wrong)."""
    m, n = a.shape[0], b.shape[1]
    return (m * n >= OUTER_MIN and a.dtype == b.dtype and a.dtype in parallel.FLOATS
            and (out is None or (out.shape == (m, n) and out.dtype == a.dtype
                                 and out.flags.c_contiguous
                                 and not np.may_share_memory(out, a)
                                 and not np.may_share_memory(out, b))))


def _outer(a, b, bias, out):
    """a [m, 1] x b [1, n] (+ bias [n]) by the Numba loop, into `out` if given. The column
    and the row go in C-contiguous (a copy of m or n values when they are slices of wider
    arrays): the loop then compiles once per dtype and bias, not once more per layout."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), a.dtype)
    _loops().outer(np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(b[0]),
                   None if bias is None else np.ascontiguousarray(bias), out)
    return out


# A multiply-add of a small product costs about this fraction of an elementwise pass's
# element, as `parallel.MIN_ELEMENTS` counts work: batches from some 4M of them are cut
MACS_PER_ELEMENT = 8


def _batched(a, b, out):
    """np.matmul(a, b, out=out) with batch dims, their entries cut along the longest batch
    axis across the kernel pool when the work is worth it: each thread multiplies whole
    [m, k] x [k, n] matrices on one BLAS thread, where OpenBLAS threads each small product
    (attention's 128 x 128 x 64, written out by hand) poorly."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    work = math.prod(batch) * m * k * n // MACS_PER_ELEMENT
    if not batch or not parallel.worth_it(work, max(batch)) or a.dtype != b.dtype or (
            out is not None and out.shape != batch + (m, n)):
        return np.matmul(a, b, out=out)
    axis = max(range(len(batch)), key=lambda i: batch[i])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    if out is None:
        out = np.empty(batch + (m, n), np.result_type(a, b))

    def piece(i, j):
        at = (slice(None),) * axis + (slice(i, j),)
        np.matmul(a[at], b[at], out=out[at])
    parallel.run(piece, batch[axis])
    return out


def block_rows(shape: tuple, itemsize: int) -> int:
    """Rows of a fused update's product computed at once: about `BLOCK_BYTES` of scratch."""
    return max(1, min(shape[0], BLOCK_BYTES // max(1, shape[1] * itemsize)))


@kernel(state.FusedUpdate, out=True)
def fused_update(op, w, a, b, lr, out=None):
    """w -= lr * op(a) op(b), `len(out)` rows of the product at a time (into the scratch
    `out`), so the full weight gradient never exists. The same elementwise operations, in
    the same order, as the unfused steps. Returns w."""
    if out is None:
        out = np.empty((block_rows(w.shape, w.itemsize), w.shape[1]), w.dtype)
    low = a.dtype if a.dtype != w.dtype else None   # autocast: bfloat16 / float16 operands
    if low is not None:
        b = b.astype(w.dtype)
    rows = len(out)
    for start in range(0, w.shape[0], rows):
        stop = min(start + rows, w.shape[0])
        part = a[:, start:stop] if op.transpose_a else a[start:stop]   # a's rows of the product
        if low is None:
            g = matmul(op, part, b, out=out[:stop - start])
        else:     # in float32, rounded to the low dtype as the unfused product is
            g = matmul(op, part.astype(w.dtype), b, out=out[:stop - start])
            g[...] = g.astype(low)
        if op.lr_first:
            np.multiply(lr, g, out=g)
        else:
            np.multiply(g, lr, out=g)
        np.subtract(w[start:stop], g, out=w[start:stop])
    return w


# x W^T + b as PyTorch's addmm computes it: the bias written into the result, then ?gemm
# adding the product to it (beta 1), instead of a product and then an add: one pass over the
# result fewer, and OpenBLAS's packed kernels then skip zeroing it first. One thread, CPU
# time: float64 [97, 51] x [51, 204] (LSTMCell(51, 51)) 48.5 -> 38.8 us; float32 38-60 % less
# at [16..100, 8..32] x [.., 8..32], 4-9 % at GPT's [2048, 256] x [256, 768 or 1024] and the
# MLP's [128, 784] x [784, 128], none at [2048, 1024] x [1024, 256]. The bias then meets
# partial sums, so float rounding moves (as PyTorch's does against an add after the product)
def _affine_gemm(x, w, b, out):
    """x w^T + b by one ?gemm into the bias (`_fast_math_loops.affine_gemm`), into `out` if
    given; None when BLAS cannot read the operands where they are (or none is loaded)."""
    (m, k), n, size = x.shape, w.shape[0], x.itemsize
    address = blas.gemm_address(x.dtype) if w.dtype == x.dtype else None
    if address is None or not m or not n or not k or x.strides[1] != size \
            or x.strides[0] < k * size or x.strides[0] % size:
        return None
    if w.strides[1] == size and w.strides[0] >= k * size and not w.strides[0] % size:
        trans_b, ldb = _fused().TRANS, w.strides[0] // size      # w's rows: b^T
    elif w.strides[0] == size and w.strides[1] >= n * size and not w.strides[1] % size:
        trans_b, ldb = _fused().NO_TRANS, w.strides[1] // size   # w^T is row-major already
    else:
        return None
    if out is None:
        out = np.empty((m, n), x.dtype)
    elif not (out.flags.c_contiguous and out.shape == (m, n) and out.dtype == x.dtype) or any(
            np.may_share_memory(out, y) for y in (x, w, b)):
        return None
    _fused().affine_gemm(address, trans_b, x, x.strides[0] // size, w, ldb, b, out)
    return out


@functools.cache
def _fused():
    from . import _fast_math_loops     # imports Numba: on first use
    return _fast_math_loops


@kernel(linalg.Affine, out=True)
def affine(op, x, w, b, out=None):
    if x.dtype in REDUCED_NUMPY:
        return _WIDE_AFFINE(op, x, w, b, out=out)
    # one sample, [in] or [1, in] (inference at batch 1), is a matrix-vector product, which
    # `_product` would not cut in halves: no `_product` frame
    if x.ndim != 1 and len(x) != 1:   # (2-D: Affine takes no other ranks)
        if b.shape == w.shape[:1] and b.dtype == x.dtype:
            if x.shape[1] == 1 and _takes_outer(x, w.T, out):
                return _outer(x, w.T, b, out)     # one input feature: the bias in the same pass
            if not _cut(x, w.T, out):
                fused = _affine_gemm(x, w, b, out)
                if fused is not None:
                    return fused
        out = _product(x, w.T, out)
    else:   # (without out=: NumPy parses a keyword argument slower)
        out = np.matmul(x, w.T) if out is None else np.matmul(x, w.T, out=out)
    out += b
    return out


_WIDE_MATMUL, _WIDE_AFFINE = widened(matmul, 0), widened(affine, 0)


@kernel(linalg.ProductSum, widen=0)
def product_sum(op, *xs):
    """Each product by BLAS (`_product`) into one scratch buffer, added into the first; rows:
    each b_t's row sums as b_t^T 1 (a matrix-vector product). In the LSTMCell example's
    backward (float64 b_t [97, 204]) a row sum so took 5.5 us, a sum by NumPy 9, adding the
    b_t into one buffer and summing its rows once 12 a term. Concatenating the pairs into one
    product cost more than it saved (200 pairs [97, 204] x [97, 51]: 8.3 ms one at a time,
    12.3 as one [19400, ...] product, 5.7 of it the copy); so did summing such a product as
    its transpose, x^T g (55 against 51 us a pair there, though 55 against 78 on pairs out
    of cache)."""
    pairs = [(None, b) for b in xs] if op.rows else zip(xs[::2], xs[1::2])
    out = scratch = ones = None
    for a, b in pairs:
        if a is None:
            if ones is None or len(ones) != len(b):
                ones = np.ones(len(b), b.dtype)
            part = np.matmul(b.T, ones, out=scratch) if scratch is not None else b.T @ ones
        else:
            part = _product(a.T, b, scratch)
        if out is None:
            out = part if part.flags.writeable and part.flags.owndata else np.array(part)
        else:
            np.add(out, part, out=out)
            scratch = part
    return out


@kernel(linalg.Tril)
def tril(op, x):
    return np.tril(x, op.diagonal)


@kernel(linalg.Triu)
def triu(op, x):
    return np.triu(x, op.diagonal)


@kernel(linalg.Einsum, widen=0)
def einsum(op, *xs):
    return np.einsum(op.equation, *xs, optimize=True)   # pairs go through BLAS
