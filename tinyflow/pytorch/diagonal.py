"""`torch.diag` and `diag_embed`: vectors onto a matrix's diagonal, or a matrix's diagonal as
a vector; a scatter or a gather at the diagonal's flat positions, so gradients follow the same
entries. `tril_indices` / `triu_indices`: the positions of a triangle."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .inplace import with_out
from .sparse import scatter_flat


def _positions(rows: int, cols: int, diagonal: int, length: int) -> np.ndarray:
    """Flat row-major positions of the first `length` entries of a diagonal."""
    start = diagonal if diagonal >= 0 else -diagonal * cols
    return start + np.arange(length, dtype=np.int64) * (cols + 1)


@with_out
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


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:  # noqa: A002
    """Each last-dim vector of input on diagonal `offset` of a new square matrix, whose two
    dims are `dim1` and `dim2` of the result."""
    x, d = as_tensor(input), int(offset)
    length = x.shape[-1]
    n = length + abs(d)
    batch = tuple(x.shape[:-1])
    count = int(np.prod(batch, dtype=np.int64))
    positions = (np.arange(count, dtype=np.int64)[:, None] * (n * n)
                 + _positions(n, n, d, length)[None, :]).reshape(-1)
    flat = scatter_flat(ops.reshape(x, (-1,)), positions, (count * n * n,))
    out = ops.reshape(flat, batch + (n, n))
    ndim = len(batch) + 2
    first, second = dim1 % ndim, dim2 % ndim
    if first == second:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = iter(range(len(batch)))
    perm = [ndim - 2 if k == first else ndim - 1 if k == second else next(rest)
            for k in range(ndim)]
    return out if perm == list(range(ndim)) else ops.transpose(out, perm)


def _triangle(numpy_indices, row: int, col: int, offset: int, dtype) -> Tensor:
    rows, cols = numpy_indices(row, offset, col)
    np_dtype = np.int64 if dtype is None else dtypes.torch_dtype(dtype).np
    return Tensor._eager(np.stack([rows, cols]).astype(np_dtype))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a row x col matrix."""
    return _triangle(np.tril_indices, row, col, offset, dtype)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) row and column indices of the upper triangle of a row x col matrix."""
    return _triangle(np.triu_indices, row, col, offset, dtype)


def diagflat(input, offset: int = 0) -> Tensor:
    """The flattened input on diagonal `offset` of a square 2-D tensor."""
    return diag(ops.reshape(as_tensor(input), (-1,)), offset)
