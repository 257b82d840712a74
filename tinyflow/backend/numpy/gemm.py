"""Large 2-D products through MKL (`blas.mkl`), cut across the kernel pool; everything else,
and every product when MKL is missing, through NumPy's matmul (OpenBLAS).

A product goes to MKL when both operands are float32 or float64 matrices that CBLAS can read
in place (one unit stride: a row-major matrix, or the transpose of one) and it has at least
enough multiply-adds. With the kernel pool on, a product from `SPLIT_MACS` (16M) is cut into
row (else column) blocks, one per pool thread, each a sequential MKL call — the cores are
the pool's alone, as with NumPy work and our Numba loops — and a smaller one stays with
OpenBLAS, whose own threads hand it over more cheaply than the pool. Inside a pool piece, or
when OpenBLAS runs one thread, a product from `MIN_MACS` (4M, ~30 us: below that the call
through ctypes, ~5 us with its checks, costs more than MKL saves) runs whole in MKL. With the
pool off and OpenBLAS threaded, OpenBLAS keeps every product: one MKL thread would lose to
its several.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from . import blas, parallel

MIN_MACS = 1 << 22
SPLIT_MACS = 1 << 24
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _operand(x: np.ndarray):
    """(transposed, leading dimension) under which CBLAS row-major reads x, or None."""
    item = x.itemsize
    rows, cols = x.shape
    s0, s1 = x.strides
    if (s1 == item or cols == 1) and s0 % item == 0 and s0 >= item * cols:
        return blas.CBLAS_NO_TRANS, max(1, s0 // item)
    if (s0 == item or rows == 1) and s1 % item == 0 and s1 >= item * rows:
        return blas.CBLAS_TRANS, max(1, s1 // item)
    return None


def _flat_rows(x: np.ndarray) -> Optional[np.ndarray]:
    """x [..., k] as a [rows, k] view, or None when that needs a copy."""
    flat = x.view()
    try:
        flat.shape = (-1, x.shape[-1])
    except (AttributeError, ValueError):
        return None
    return flat


def _cut() -> Optional[bool]:
    """How a product may go to MKL here: True cut across the pool, False whole on this thread
    (inside a pool piece, or when OpenBLAS itself runs one thread), None not at all (the pool
    is off and OpenBLAS threads the product over every core)."""
    if parallel.in_worker():
        return False
    if parallel.threads() > 1:
        return True
    return False if parallel.openblas_threads() == 1 else None


def matmul(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None
           ) -> Optional[np.ndarray]:
    """a @ b into out (allocated when None) through MKL, and the result; None when MKL is
    missing or the product is not one it takes (small, batched, integer, mixed dtypes, an
    operand it cannot read in place, a read-only out): then the caller runs NumPy's matmul."""
    lib = blas.mkl()
    if (lib is None or b.ndim != 2 or a.ndim < 2 or a.dtype != b.dtype
            or a.dtype not in _FLOATS or a.shape[-1] != b.shape[0]):
        return None
    k, n = b.shape
    cut = _cut()
    macs = math.prod(a.shape[:-1]) * k * n
    if cut is None or macs < (SPLIT_MACS if cut else MIN_MACS) or max(a.size, b.size) >= 1 << 31:
        return None     # (NumPy's OpenBLAS threads a mid-sized product better than a cut)
    if a.ndim > 2:     # [..., k] @ [k, n]: one product over all the rows when they are a view
        flat = _flat_rows(a)
        flat_out = None if out is None else _flat_rows(out)
        if flat is None or (out is not None and (flat_out is None
                                                 or out.shape[:-1] != a.shape[:-1])):
            return None
        result = matmul(flat, b, flat_out)
        if result is None or out is not None:
            return None if result is None else out
        return result.reshape(a.shape[:-1] + (n,))
    m = a.shape[0]
    layout_a, layout_b = _operand(a), _operand(b)
    if layout_a is None or layout_b is None:
        return None
    if out is None:
        out = np.empty((m, n), a.dtype)
    item = out.itemsize
    if (out.shape != (m, n) or out.dtype != a.dtype or out.strides[1] != item
            or out.strides[0] % item or out.strides[0] < n * item
            or not out.flags.writeable
            or np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        return None
    call = lib.cblas_sgemm if item == 4 else lib.cblas_dgemm
    (trans_a, lda), (trans_b, ldb) = layout_a, layout_b
    ldc = out.strides[0] // item
    pa, pb, pc = a.ctypes.data, b.ctypes.data, out.ctypes.data
    (sa, _), (_, sb), (sc, _) = a.strides, b.strides, out.strides

    def block(i: int, j: int, rows: bool) -> None:
        # out's rows (or columns) i:j: a's rows i:j @ b, or a @ b's columns i:j
        if rows:
            call(blas.CBLAS_ROW_MAJOR, trans_a, trans_b, j - i, n, k, 1.0, pa + i * sa, lda,
                 pb, ldb, 0.0, pc + i * sc, ldc)
        else:
            call(blas.CBLAS_ROW_MAJOR, trans_a, trans_b, m, j - i, k, 1.0, pa, lda,
                 pb + i * sb, ldb, 0.0, pc + i * item, ldc)

    rows = m >= n
    if cut:
        parallel.run(lambda i, j: block(i, j, rows), m if rows else n)
    else:
        block(0, m if rows else n, rows)
    return out


def stacked(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """np.matmul(a, b, out=out) for equal stacks [G, m, k] @ [G, k, n] (a convolution's
    groups; no broadcasting along G), each matrix through MKL when it takes it."""
    for i in range(len(out)):
        if matmul(a[i], b[i], out[i]) is None:
            np.matmul(a[i:], b[i:], out=out[i:])
            break
    return out
