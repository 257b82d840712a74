"""Keep freed array memory in the process (glibc malloc), so the next step's arrays of the same
sizes reuse pages instead of faulting fresh ones in.

Eager kernels allocate their results anew every step. glibc serves a request above its mmap
threshold (128 KB at start, raised to the size of the largest block freed so far, at most
32 MB) with a fresh mapping, and gives memory freed at the top of the heap back to the system
past its trim threshold: either way the next step's arrays come back as new pages, a page
fault and a zero-fill per 4 KB. Measured on the CNN training step (bench/models/cnn.py,
batch 64, one thread): 4,450 faults per step, 10-15 % of its CPU time; with the thresholds
below, none. The cost is that up to TRIM_BYTES of freed memory stay mapped (RSS), as any
caching allocator's do.

Done once at import, only on glibc and only when the user set none of glibc's own
MALLOC_*_ variables or glibc.malloc.* tunables (theirs win); TINYFLOW_MALLOC_TUNING=0 turns
it off.

NumPy's hint that arrays of 4 MB and more want transparent huge pages (madvise) is turned
off with it, as PyTorch's allocator gives none: arrays above the mmap threshold are fresh
mappings every time, and faulting them in as huge pages made the kernel compact memory on a
loaded machine (the GAT example's [8, 2708, 2708] attention: 26.5 s of CPU per epoch, 94 s of
them system time over three, against 6.5 s without the hint; PyTorch 5.0 s).
"""
import ctypes
import ctypes.util
import os

MMAP_BYTES = 32 << 20    # glibc's largest mmap threshold: smaller blocks come from the heap
TRIM_BYTES = 256 << 20   # freed memory kept at the top of the heap
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3   # mallopt parameters (malloc.h)


def tune() -> bool:
    """Set the thresholds; True when they were set."""
    if os.environ.get("TINYFLOW_MALLOC_TUNING", "1") == "0" or "glibc.malloc." in \
            os.environ.get("GLIBC_TUNABLES", "") or any(
            name.startswith("MALLOC_") and name.endswith("_") for name in os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl's mallopt does nothing)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _no_huge_page_hint()
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES) and
                mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))


def _no_huge_page_hint() -> None:
    """Unless the user set NumPy's own variable for it (theirs wins)."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    import numpy as np
    hint = getattr(getattr(np, "_core", None), "multiarray", None)
    if hint is not None and hasattr(hint, "_set_madvise_hugepage"):
        hint._set_madvise_hugepage(False)


TUNED = tune()
