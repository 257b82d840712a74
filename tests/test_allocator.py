"""backend/numpy/_allocator: freed arrays' pages are reused (no page faults per step)."""
import os
import platform
import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np
import tinyflow.backend.numpy as backend
def step():    # three 8 MB arrays alive at once, then freed: a step's temporaries
    arrays = [np.ones(2 << 20, np.float32) for _ in range(3)]
    del arrays
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(backend._allocator.TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before,
      np._core.multiarray._set_madvise_hugepage(True))   # the huge-page hint as tinyflow left it
"""


def faults(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE], env=dict(clean, **env),
                         capture_output=True, text=True, timeout=120, check=True).stdout
    tuned, count, hint = out.split()
    return tuned == "True", int(count), hint == "True"


GLIBC = platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="glibc malloc only")
def test_freed_arrays_reuse_their_pages():
    tuned, count, hint = faults()
    assert tuned and count < 500 and not hint   # no huge-page hint either, as PyTorch
    off, count_off, hint_off = faults(TINYFLOW_MALLOC_TUNING="0")
    assert not off and count_off > 5000 and hint_off  # the probe sees the faults it counts


@pytest.mark.skipif(not GLIBC, reason="glibc malloc only")
def test_freed_large_temporaries_go_back_to_the_system():
    """Blocks above the 32 MB threshold stay mmap'd, so freeing them returns their pages even
    with a small array allocated after each (a heap block below a live one can't be trimmed:
    a 1 GB eager computation followed by small work held 2.2 GB, against 0.18 GB; torch 0.28)."""
    probe = """
import numpy as np
import tinyflow.backend.numpy as backend
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
before, kept = rss(), []
for _ in range(4):   # a 48 MB temporary, then a small result allocated after it
    big = np.ones(6 << 20)
    kept.append(big[:1000] * 2)
    del big
print(backend._allocator.TUNED, (rss() - before) >> 10)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True, env={k: v for k, v in os.environ.items()
                                                        if not k.startswith("MALLOC_")}).stdout
    tuned, held_mb = out.split()
    assert tuned == "True" and int(held_mb) < 24


@pytest.mark.skipif(not GLIBC, reason="glibc malloc only")
def test_users_malloc_settings_win():
    tuned, _, _ = faults(MALLOC_TRIM_THRESHOLD_="1000000")
    assert not tuned
    tuned, _, _ = faults(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1000000")
    assert not tuned   # the same setting as a tunable (glibc 2.26+): mallopt would override it


def test_users_huge_page_setting_wins(monkeypatch):
    import numpy as np
    from tinyflow.backend.numpy import _allocator
    hint = np._core.multiarray._set_madvise_hugepage
    before = hint(True)
    try:
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
        _allocator._no_huge_page_hint()
        assert hint(True) is True       # left on
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE")
        _allocator._no_huge_page_hint()
        assert hint(True) is False      # turned off
    finally:
        hint(before)
