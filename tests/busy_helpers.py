"""Busy-loop processes for tests of a machine with more runnable threads than cores
(tests/test_busy_machine.py). Each ends when the process that started it is gone or after
its time limit, so none outlives a test run killed without cleaning up (a `while True`
child did, spinning on the shared machine until killed by hand). No tinyflow import: a
test starts them from a fresh process."""
from __future__ import annotations

import os
import subprocess
import sys

LIMIT = 60     # seconds a busy process runs at most
CODE = ("import os, sys, time\n"
        "parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])\n"
        "while os.getppid() == parent and time.monotonic() < end:\n"
        "    for _ in range(20000): pass\n")


def start(count: int, limit: float = LIMIT) -> list:
    """`count` busy processes (all or, if one fails to start, none)."""
    procs = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen(
                [sys.executable, "-c", CODE, str(os.getpid()), str(limit)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs: list) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()
