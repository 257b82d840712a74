"""Keep freed array memory in the process, so the next step's arrays reuse warm pages.

Eager training allocates and frees the same few-MB arrays every step. glibc's malloc serves
blocks above its mmap threshold (128 KiB at start, raised only as big blocks are freed) with
fresh mmap calls, and returns free memory at the heap's top to the system beyond its trim
threshold: every step then page-faults its arrays in anew. Measured on the GPT harness
workload (bench/models/gpt.py): 9,000 page faults and 16 ms of system time per ~110 ms step,
against 27 faults and 0.4 ms with the thresholds below (PyTorch: 400 faults, 0.3 ms).
"""
import ctypes
import ctypes.util

MMAP_THRESHOLD = 32 << 20     # blocks up to 32 MiB come from the heap (reused when freed)
TRIM_THRESHOLD = 128 << 20    # up to 128 MiB of free heap kept for the next allocations
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3    # glibc's mallopt parameter numbers


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds (above); False where there is no glibc mallopt (macOS,
    musl), which then keep their own policy."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


keep_freed_memory()
