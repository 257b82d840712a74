"""NumPy's bundled OpenBLAS, loaded by ctypes: its thread setting (`parallel.py`) and the
addresses of its CBLAS ?gemm, which Numba loops call directly (`_fast_math_loops.gemm`) so a
loop of small products runs with no Python between them and without the GIL.

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
from typing import Optional

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
    gemm = None if prefix is None else function(name.format(prefix) for name in GEMM_NAMES)
    return None if gemm is None else ctypes.cast(gemm, ctypes.c_void_p).value


def function(names):
    """The first of `names` that NumPy's OpenBLAS exports (builds name their symbols
    differently), or None."""
    lib = library()
    for name in names if lib is not None else ():
        found = getattr(lib, name, None)
        if found is not None:
            return found
    return None


@functools.cache
def core_name() -> str:
    """The name of the kernels NumPy's OpenBLAS picked for this CPU, lower case ("skylakex",
    "haswell", ...), or "" when unknown."""
    lib = library()
    for name in ("scipy_openblas_get_corename64_", "openblas_get_corename"):
        fn = getattr(lib, name, None) if lib is not None else None
        if fn is not None:
            fn.restype = ctypes.c_char_p
            return (fn() or b"").decode(errors="replace").lower()
    return ""


# OpenBLAS's kernels that multiply small products (m n k up to 1M) without packing
SMALL_PRODUCT_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def small_products_unpacked() -> bool:
    """Whether NumPy's OpenBLAS runs small products on its unpacked small-matrix kernels
    (SkylakeX and its successors): other kernels (haswell, zen) pack every product."""
    return core_name() in SMALL_PRODUCT_CORES


def describe() -> str:
    """Which BLAS runs the products, for benchmark headers."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return f"NumPy's {blas.get('name', 'BLAS')} {blas.get('version', '')}".strip()
