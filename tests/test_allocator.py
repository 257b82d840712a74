"""backend/numpy/allocator: freed array memory is reused, not page-faulted in again."""
import platform
import resource

import numpy as np
import pytest

from tinyflow.backend.numpy import allocator


def _step():
    """A training step's pattern: 40 MiB of 2 MiB arrays alive at once, then all freed.
    With glibc's default thresholds each repeat faults its 10,000 pages in again."""
    live = [np.ones(1 << 19, np.float32) for _ in range(20)]
    del live


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="the thresholds are glibc's")
def test_freed_arrays_are_reused_without_page_faults():
    assert allocator.keep_freed_memory()
    _step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        _step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 5000, f"{faults} page faults in 5 steps that reuse 40 MiB"
