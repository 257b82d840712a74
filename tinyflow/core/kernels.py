"""Where `apply` and the runtime find how to run an op: one kernel table per backend.

Core only defines the tables; a backend fills its own at import (`backend/numpy` registers
every op's reference kernel with `KernelTable.register`). So core never imports a backend,
and a new backend (generated fused kernels, a GPU array module) is one more table.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .dtypes import REDUCED_NUMPY


class KernelTable(dict):
    """op class -> kernel(op, *arrays[, out=]) -> array, for one backend.

    Besides the kernels: `out_kernels[cls]` is False when the kernel accepts `out=` (a
    preallocated array of the output's shape and dtype, returned filled) and True when
    `out` may moreover be one of the inputs (in place); `shape_only[cls]` lists the input
    positions whose values the kernel never reads (the runtime need not keep them).
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.out_kernels: dict[type, bool] = {}
        self.shape_only: dict[type, tuple] = {}

    def register(self, *op_classes, out: bool = False, inplace: bool = False,
                 shape_only: tuple = (), widen: Optional[int] = None) -> Callable:
        """Decorator: the function is this backend's kernel of `op_classes`. `widen=k`: an op
        that adds up (sums, products, normalizations) computes in float32 when input k is a
        reduced float (see `widened`)."""
        def register(fn):
            run = fn if widen is None else widened(fn, widen)
            for cls in op_classes:
                if cls in self:
                    raise TypeError(f"two {self.name} kernels for {cls.__name__}")
                self[cls] = run
                if out or inplace:
                    self.out_kernels[cls] = inplace
                if shape_only:
                    self.shape_only[cls] = shape_only
            return fn
        return register

    def __missing__(self, cls: type):
        raise NotImplementedError(f"op {getattr(cls, 'name', cls.__name__)!r} has no "
                                  f"{self.name} kernel")


def widened(kernel: Callable, at: int) -> Callable:
    """`kernel` run in float32 when input `at` is float16, bfloat16 or fp8, as PyTorch's CPU
    kernels accumulate those in float32: the result is rounded once, to that input's dtype
    (the result dtype of every widened op), so the memory planner can give it a buffer of
    that dtype. Other dtypes go straight through, at the cost of one dtype test."""
    def run(op, *arrays, out=None):
        low = arrays[at].dtype
        if low not in REDUCED_NUMPY:
            return kernel(op, *arrays) if out is None else kernel(op, *arrays, out=out)
        wide = [a.astype(np.float32) if a.dtype in REDUCED_NUMPY else a for a in arrays]
        result = kernel(op, *wide)
        with np.errstate(over="ignore"):     # overflow to inf is the answer, as PyTorch's
            if out is None:                  # these ops' results have input `at`'s dtype
                return result.astype(low)
            out[...] = result
        return out
    run.__name__ = kernel.__name__
    run.__doc__ = kernel.__doc__
    run.plain, run.widen_at = kernel, at     # a plan whose dtypes are known skips the test
    return run


# The reference backend, which eager `apply` runs: NumPy (filled by tinyflow.backend.numpy).
numpy_kernels = KernelTable("NumPy")
