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
    lib = library()
    if prefix is None or lib is None:
        return None
    for name in GEMM_NAMES:
        try:
            return ctypes.cast(getattr(lib, name.format(prefix)), ctypes.c_void_p).value
        except AttributeError:
            continue
    return None


MKL_THREADING_SEQUENTIAL = 1     # mkl_rt's MKL_Set_Threading_Layer: MKL runs no threads of its own
MKL_INTERFACE_LP64 = 0           # 32-bit integers in the CBLAS interface
CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS = 101, 111, 112


@functools.cache
def mkl() -> Optional[ctypes.CDLL]:
    """Intel MKL's single dynamic library (the `mkl` wheel's libmkl_rt), set to run
    sequentially — the kernel pool (`parallel.py`) gives products their threads, so the
    process has one pool of threads, not three — or None: no such wheel (another platform),
    TINYFLOW_BLAS=openblas, or MKL already started in this process with threads of its own.
    On this machine's shapes MKL's sgemm does 10-25 % more per core than NumPy's OpenBLAS
    (bench/gemm.py), and torch's CPU build runs MKL too."""
    if os.environ.get("TINYFLOW_BLAS", "").lower() == "openblas":
        return None
    lib = None
    for path in _mkl_candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError:
            continue
    if lib is None:
        return None
    layer = lib.MKL_Set_Threading_Layer(ctypes.c_int(MKL_THREADING_SEQUENTIAL))
    interface = lib.MKL_Set_Interface_Layer(ctypes.c_int(MKL_INTERFACE_LP64))
    if layer != MKL_THREADING_SEQUENTIAL or interface != MKL_INTERFACE_LP64:
        return None   # MKL already started in this process with its own threads: keep OpenBLAS
    value, integer, pointer = ctypes.c_double, ctypes.c_int, ctypes.c_void_p
    for name, scalar in (("cblas_sgemm", ctypes.c_float), ("cblas_dgemm", value)):
        function = getattr(lib, name)
        function.restype = None
        function.argtypes = [integer, integer, integer, integer, integer, integer, scalar,
                             pointer, integer, pointer, integer, scalar, pointer, integer]
    return lib


def _mkl_candidates() -> list[str]:
    """Where the `mkl` wheel put libmkl_rt: its recorded files, else the environment's lib/."""
    paths = []
    try:
        from importlib import metadata
        distribution = metadata.distribution("mkl")
        paths = [str(distribution.locate_file(f)) for f in distribution.files or ()
                 if os.path.basename(str(f)).startswith("libmkl_rt.so")]
    except Exception:     # no such distribution, or no RECORD: look in the usual place
        pass
    import sys
    return paths + sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))


def describe() -> str:
    """Which BLAS runs which products, for benchmark headers."""
    openblas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    numpy_blas = f"{openblas.get('name', 'BLAS')} {openblas.get('version', '')}".strip()
    lib = mkl()
    if lib is None:
        return f"NumPy's {numpy_blas} for every product"
    text = ctypes.create_string_buffer(256)
    lib.MKL_Get_Version_String(text, len(text))
    version = text.value.decode().split("-Product")[0].strip()    # "Intel(R) oneAPI ... 2026.2"
    return f"{version}, sequential, for large products; NumPy's {numpy_blas} for the rest"
