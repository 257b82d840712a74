"""The NumPy kernel table: op class -> function(op, *arrays) -> array.

NumPy is the complete reference backend; every registered op must have an entry here. The
table itself is defined in core (`core.kernels.numpy_kernels`), where `apply` looks; the
modules of this package fill it with `@kernel(OpClass, ...)`.
"""
from __future__ import annotations

from ...core.kernels import numpy_kernels

KERNELS = numpy_kernels
OUT_KERNELS = numpy_kernels.out_kernels
SHAPE_ONLY = numpy_kernels.shape_only
kernel = numpy_kernels.register
