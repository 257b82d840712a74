"""Where `apply` and the runtime find how to run an op: one kernel table per backend.

Core only defines the tables; a backend fills its own at import (`backend/numpy` registers
every op's reference kernel with `KernelTable.register`). So core never imports a backend,
and a new backend (generated fused kernels, a GPU array module) is one more table.
"""
from __future__ import annotations

from typing import Callable


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
                 shape_only: tuple = ()) -> Callable:
        """Decorator: the function is this backend's kernel of `op_classes`."""
        def register(fn):
            for cls in op_classes:
                if cls in self:
                    raise TypeError(f"two {self.name} kernels for {cls.__name__}")
                self[cls] = fn
                if out or inplace:
                    self.out_kernels[cls] = inplace
                if shape_only:
                    self.shape_only[cls] = shape_only
            return fn
        return register

    def __missing__(self, cls: type):
        raise NotImplementedError(f"op {getattr(cls, 'name', cls.__name__)!r} has no "
                                  f"{self.name} kernel")


# The reference backend, which eager `apply` runs: NumPy (filled by tinyflow.backend.numpy).
numpy_kernels = KernelTable("NumPy")
