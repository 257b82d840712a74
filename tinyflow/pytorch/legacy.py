"""PyTorch's legacy typed constructors: `torch.FloatTensor(data)` copies data into that dtype,
`torch.FloatTensor(2, 3)` makes a tensor of that size (zeros; PyTorch's is uninitialized)."""
from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..core.tensor import Tensor
from .creation import tensor


def _typed(dtype, args: tuple) -> Tensor:
    if args and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                    for a in args):
        return Tensor._eager(np.zeros(tuple(int(a) for a in args), dtype.np))
    if len(args) == 1 and isinstance(args[0], (tuple, list)) and not args[0]:
        return Tensor._eager(np.zeros((0,), dtype.np))
    if len(args) != 1:
        raise TypeError(f"{dtype.name} tensor constructor: expected sizes or one sequence of "
                        f"data, got {len(args)} arguments")
    return tensor(args[0], dtype=dtype)


def FloatTensor(*args) -> Tensor: return _typed(dtypes.float32, args)  # noqa: N802
def DoubleTensor(*args) -> Tensor: return _typed(dtypes.float64, args)  # noqa: N802
def HalfTensor(*args) -> Tensor: return _typed(dtypes.float16, args)  # noqa: N802
def LongTensor(*args) -> Tensor: return _typed(dtypes.int64, args)  # noqa: N802
def IntTensor(*args) -> Tensor: return _typed(dtypes.int32, args)  # noqa: N802
def BoolTensor(*args) -> Tensor: return _typed(dtypes.bool_, args)  # noqa: N802
def ByteTensor(*args) -> Tensor: return _typed(dtypes.uint8, args)  # noqa: N802
