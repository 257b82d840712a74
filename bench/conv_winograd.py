"""The CNN rows' training step with the 5x5 convolutions on Winograd F(2x2, 5x5) and on the
im2col path it replaced, in one process, steps interleaved (tinyflow only: the same
PyTorch source of bench/models/cnn.py, aliased as the harness does). Prints the median and
minimum over steps of the main thread's CPU time (time.thread_time: at one thread, the
work; a loaded machine inflates it less than wall time).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        .venv/bin/python bench/conv_winograd.py [workload ...]
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import harness

STEPS = 12


def main(names):
    harness.alias_torch_to_tinyflow()
    from models.cnn import WORKLOADS
    from tinyflow.backend.numpy import _conv_winograd
    winograd = _conv_winograd.applies
    modes = {"im2col": lambda *args: False, "winograd": winograd}
    print(f"main-thread CPU ms per step, {STEPS} interleaved steps each; load average "
          f"{os.getloadavg()[0]:.2f} (2 cores shared with other work)")
    for name in names:
        step = WORKLOADS[name].build()
        times = {mode: [] for mode in modes}
        try:
            for _ in range(STEPS + 1):
                for mode, applies in modes.items():
                    _conv_winograd.applies = applies
                    step()      # the first after a switch warms that path's buffers
                    start = time.thread_time()
                    step()
                    times[mode].append(time.thread_time() - start)
        finally:
            _conv_winograd.applies = winograd
        for mode, values in times.items():
            values = values[1:]
            print(f"{name:15} {mode:9} median {statistics.median(values) * 1e3:7.1f}  "
                  f"min {min(values) * 1e3:7.1f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["cnn5_sgdm", "cnn5_bn_adamw"])
