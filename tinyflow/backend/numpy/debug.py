"""Kernels of the run-time checks and prints: they read values and pass the first on."""
from __future__ import annotations

import sys

import numpy as np

from ...ops import debug as d
from .registry import kernel


@kernel(d.Check)
def assert_(op, *inputs):
    value, condition, *data = inputs if op.passes else (None, *inputs)
    if not np.all(condition):
        raise op.error(op.describe(condition, *data))
    return value


@kernel(d.PrintValues)
def print_(op, *inputs):
    value = inputs[0] if op.passes else None
    data = inputs[1:] if op.passes else inputs
    printer = op.printer
    if not printer.muted and (op.first_n is None or printer.runs < op.first_n):
        printer.runs += 1
        print(op.text(None, *data), file=op.stream or sys.stderr, flush=True)
    return value
