"""NumPy's bundled OpenBLAS, loaded by ctypes: its thread setting (`parallel.py`) and the
addresses of its CBLAS ?gemm, which Numba loops call directly (`_fast_math_loops.gemm`) so a
loop of small products runs with no Python between them and without the GIL, and `gemm`
calls from Python for what NumPy's matmul cannot ask: c = a @ b + beta * c (a linear layer's
product added onto its bias, as torch's addmm).

NumPy 2.x wheels bundle scipy-openblas in numpy.libs/ (libscipy_openblas64_*.so), with
CBLAS's functions named scipy_cblas_?gemm64_ and 64-bit integers. Another NumPy build (a
system BLAS, MKL, a 32-bit-integer OpenBLAS) has none of these: then `gemm_address` is None
and callers keep NumPy's matmul.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
from typing import Callable, Optional

import numpy as np

GEMM_NAMES = ("scipy_cblas_{}gemm64_", "cblas_{}gemm64_")   # 64-bit integer CBLAS only


@functools.cache
def library() -> Optional[ctypes.CDLL]:
    """NumPy's bundled OpenBLAS (the library NumPy itself runs: the same process-wide
    thread settings), or None."""
    for path in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs",
                                       "libscipy_openblas*")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


@functools.cache
def gemm_address(dtype: np.dtype) -> Optional[int]:
    """The address of CBLAS sgemm (float32) or dgemm (float64) with 64-bit integers in
    NumPy's OpenBLAS, or None (another BLAS, another dtype, or no such symbol)."""
    prefix = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}.get(np.dtype(dtype))
    lib = library()
    if prefix is None or lib is None:
        return None
    for name in GEMM_NAMES:
        try:
            return ctypes.cast(getattr(lib, name.format(prefix)), ctypes.c_void_p).value
        except AttributeError:
            continue
    return None


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112    # CBLAS's enums


@functools.cache
def _cblas_gemm(dtype: np.dtype) -> Optional[Callable]:
    """CBLAS ?gemm of NumPy's OpenBLAS as a ctypes function (it releases the GIL), or None."""
    address = gemm_address(dtype)
    if address is None:
        return None
    real = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    size, enum, pointer = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
    return ctypes.CFUNCTYPE(None, enum, enum, enum, size, size, size, real, pointer, size,
                            pointer, size, real, pointer, size)(address)


def _matrix(x: np.ndarray) -> Optional[tuple]:
    """(transpose flag, leading dimension) under which BLAS reads the 2-D x in place."""
    item, (rows, cols), (s0, s1) = x.itemsize, x.shape, x.strides
    if s1 == item and s0 % item == 0 and s0 >= cols * item:
        return _NO_TRANS, s0 // item
    if s0 == item and s1 % item == 0 and s1 >= rows * item:
        return _TRANS, s1 // item
    return None


def gemm_call(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Optional[Callable[[float], None]]:
    """A function of beta that sets c = a @ b + beta * c in place, by OpenBLAS, for 2-D
    float32/float64 operands of one dtype that BLAS reads where they are (row- or
    column-major: transposes are flags), c row-major and apart from a and b; else None."""
    if not (a.ndim == b.ndim == c.ndim == 2 and a.dtype == b.dtype == c.dtype
            and min(a.shape + b.shape) > 1 and c.strides[1] == c.itemsize
            and c.strides[0] >= c.shape[1] * c.itemsize
            and c.shape == (a.shape[0], b.shape[1]) and a.shape[1] == b.shape[0]):
        return None
    call, ta, tb = _cblas_gemm(a.dtype), _matrix(a), _matrix(b)
    if (call is None or ta is None or tb is None or np.may_share_memory(c, a)
            or np.may_share_memory(c, b)):
        return None
    (m, k), n = a.shape, b.shape[1]
    ldc = c.strides[0] // c.itemsize

    def product(beta: float) -> None:
        call(_ROW_MAJOR, ta[0], tb[0], m, n, k, 1.0, a.ctypes.data, ta[1], b.ctypes.data,
             tb[1], beta, c.ctypes.data, ldc)
    return product


def describe() -> str:
    """Which BLAS runs the products, for benchmark headers."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return f"NumPy's {blas.get('name', 'BLAS')} {blas.get('version', '')}".strip()
