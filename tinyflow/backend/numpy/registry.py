"""The NumPy kernel table: op class -> function(op, *arrays) -> array.

NumPy is the complete reference backend; every registered op must have an entry here.
"""
from __future__ import annotations

KERNELS: dict[type, object] = {}


def kernel(*op_classes):
    """Register the decorated function as the NumPy kernel of `op_classes`."""
    def register(fn):
        for cls in op_classes:
            if cls in KERNELS:
                raise TypeError(f"two NumPy kernels for {cls.__name__}")
            KERNELS[cls] = fn
        return fn
    return register
