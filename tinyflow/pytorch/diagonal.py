"""`torch.diag`: a vector onto a matrix's diagonal, or a matrix's diagonal as a vector; a
scatter or a gather at the diagonal's flat positions, so gradients follow the same entries."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .sparse import scatter_flat


def _positions(rows: int, cols: int, diagonal: int, length: int) -> np.ndarray:
    """Flat row-major positions of the first `length` entries of a diagonal."""
    start = diagonal if diagonal >= 0 else -diagonal * cols
    return start + np.arange(length, dtype=np.int64) * (cols + 1)


def diag(input, diagonal: int = 0) -> Tensor:
    """1-D [n] -> 2-D [n + |d|, n + |d|] with input on diagonal d; 2-D -> its diagonal d."""
    x, d = as_tensor(input), int(diagonal)
    if x.ndim == 1:
        n = x.shape[0] + abs(d)
        return scatter_flat(x, _positions(n, n, d, x.shape[0]), (n, n))
    if x.ndim == 2:
        rows, cols = x.shape
        length = max(0, min(rows + min(d, 0), cols - max(d, 0)))
        return ops.take(ops.reshape(x, (-1,)), Tensor._eager(_positions(rows, cols, d, length)))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D")
