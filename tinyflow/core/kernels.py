"""Where `apply` and the runtime find how to run an op: one kernel table per backend.

Core only defines the tables; a backend fills its own at import (`backend/numpy` registers
every op's reference kernel with `KernelTable.register`). So core never imports a backend,
and a new backend (generated fused kernels, a GPU array module) is one more table.
"""
from __future__ import annotations

from types import FunctionType
from typing import Callable, Optional

import numpy as np

from .dtypes import REDUCED_NUMPY


class KernelTable(dict):
    """op class -> kernel(op, *arrays[, out=]) -> array, for one backend.

    Besides the kernels: `out_kernels[cls]` is False when the kernel accepts `out=` (a
    preallocated array of the output's shape and dtype, returned filled) and True when
    `out` may moreover be one of the inputs (in place); `shape_only[cls]` lists the input
    positions whose values the kernel never reads (the runtime need not keep them).

    `binds`: the table eager `apply` runs also sets each kernel as that attribute of its op
    class (kept in step by every write to the table, a test's spy too), so `apply` calls
    `op._eager_kernel(*arrays)`, a bound method, where a look-up by `type(op)` cost two
    calls per op.
    """

    def __init__(self, name: str, binds: Optional[str] = None) -> None:
        super().__init__()
        self.name = name
        self.binds = binds
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

    def __setitem__(self, cls: type, kernel: Callable) -> None:
        super().__setitem__(cls, kernel)
        if self.binds:
            setattr(cls, self.binds, kernel if type(kernel) is FunctionType else
                    _method(kernel))

    def __delitem__(self, cls: type) -> None:
        super().__delitem__(cls)
        if self.binds:
            setattr(cls, self.binds, _table_kernel(self))

    def __missing__(self, cls: type):
        raise NotImplementedError(f"op {getattr(cls, 'name', cls.__name__)!r} has no "
                                  f"{self.name} kernel")


def _method(kernel: Callable) -> FunctionType:
    """A kernel that is not a plain function (a callable object): a function calling it, so
    that it binds to the op as one."""
    def run(op, *arrays, **out):
        return kernel(op, *arrays, **out)
    return run


def _table_kernel(table: KernelTable) -> FunctionType:
    """An op class's bound kernel until `table` has one for it: the look-up, which raises
    the table's "has no kernel" error (or finds one set by a path other than a write)."""
    def run(op, *arrays, **out):
        return table[type(op)](op, *arrays, **out)
    return run


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
numpy_kernels = KernelTable("NumPy", binds="_eager_kernel")
unbound_kernel = _table_kernel(numpy_kernels)   # every op class's, until it has a kernel
