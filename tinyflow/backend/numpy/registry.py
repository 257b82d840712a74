"""The NumPy kernel table: op class -> function(op, *arrays) -> array.

NumPy is the complete reference backend; every registered op must have an entry here.
"""
from __future__ import annotations

KERNELS: dict[type, object] = {}
# Kernels that take `out=`, a preallocated array of the output's shape and dtype, and return
# it filled (the runtime's memory plan). True: `out` may also be one of the inputs (in place).
OUT_KERNELS: dict[type, bool] = {}
# Input positions a kernel reads only the shape and dtype of: the runtime need not keep them.
SHAPE_ONLY: dict[type, tuple] = {}


def kernel(*op_classes, out: bool = False, inplace: bool = False, shape_only: tuple = ()):
    """Register the decorated function as the NumPy kernel of `op_classes`.

    Args:
        out: the kernel accepts `out=` (an array to write the result into) and returns it.
        inplace: moreover `out` may be an input buffer (elementwise ufunc-style kernels).
        shape_only: positions of inputs whose values the kernel never reads.
    """
    def register(fn):
        for cls in op_classes:
            if cls in KERNELS:
                raise TypeError(f"two NumPy kernels for {cls.__name__}")
            KERNELS[cls] = fn
            if out or inplace:
                OUT_KERNELS[cls] = inplace
            if shape_only:
                SHAPE_ONLY[cls] = shape_only
        return fn
    return register
