"""Sparse COO tensors (`torch.sparse_coo_tensor`, `x.to_sparse()`, `torch.sparse.mm`,
`torch.spmm`): coordinates as a constant int64 array, values as a Tensor, so gradients flow
to the values (and, through the sparse product, to the dense operand).

What works: sparse @ dense and torch.mm / torch.spmm / torch.sparse.mm (the `sparse_matmul`
op, no dense copy), to_dense, coalesce, t(), sums of all entries, sparse + sparse,
scalar * sparse, and dense <op> sparse, where the sparse operand is used as its dense
value (as PyTorch does for dense + sparse). Everything else raises an AttributeError that
says so instead of computing something else.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import apply, as_tensor
from ..core.tensor import Tensor
from ..ops.indexing import TakeGrad
from .dtype import to as _to

def scatter_flat(values: Tensor, positions: np.ndarray, shape: tuple) -> Tensor:
    """A dense tensor of `shape`, zero but for values[k] added at flat position
    positions[k] (repeats add up); its gradient gathers at those positions."""
    size = math.prod(shape)
    ref = Tensor._eager(np.broadcast_to(np.zeros((), values.dtype.np), (size,)))
    flat = apply(TakeGrad(axis=0), values, Tensor._eager(positions), ref)
    return ops.reshape(flat, shape)


class SparseCooTensor:
    """A sparse tensor in coordinate format: entry (indices[0, k], ..., indices[d-1, k]) of
    a tensor of `size` holds values[k]; repeated coordinates add up until coalesce()."""

    is_sparse = True
    layout = "torch.sparse_coo"

    def __init__(self, indices: np.ndarray, values: Tensor, size: tuple,
                 coalesced: bool = False) -> None:
        self._coords, self._vals, self._size = indices, values, tuple(size)
        self._coalesced = coalesced

    # ---- what it is ----------------------------------------------------------------------
    @property
    def shape(self):
        return self._size

    def size(self, dim=None):
        return self._size if dim is None else self._size[dim]

    def dim(self) -> int:
        return len(self._size)

    ndim = property(dim)

    @property
    def dtype(self):
        return self._vals.dtype

    @property
    def device(self):
        return self._vals.device

    @property
    def requires_grad(self) -> bool:
        return self._vals.requires_grad

    def requires_grad_(self, requires_grad: bool = True) -> "SparseCooTensor":
        self._vals.requires_grad_(requires_grad)
        return self

    def sparse_dim(self) -> int:
        return len(self._size)

    def dense_dim(self) -> int:
        return 0

    def _nnz(self) -> int:
        return self._coords.shape[1]

    def is_coalesced(self) -> bool:
        return self._coalesced

    def _indices(self) -> Tensor:
        return Tensor._eager(self._coords.copy())

    def _values(self) -> Tensor:
        return self._vals

    def indices(self) -> Tensor:
        self._require_coalesced("indices")
        return self._indices()

    def values(self) -> Tensor:
        self._require_coalesced("values")
        return self._vals

    def _require_coalesced(self, what: str) -> None:
        if not self._coalesced:
            raise RuntimeError(f"{what}: the sparse tensor may hold repeated indices; call "
                               f".coalesce() first")

    # ---- conversions -----------------------------------------------------------------------
    def _flat_positions(self) -> np.ndarray:
        if not self._coords.size:
            return np.zeros(0, np.int64)
        return np.ravel_multi_index(tuple(self._coords), self._size)

    def to_dense(self, dtype=None) -> Tensor:
        dense = scatter_flat(self._vals, self._flat_positions(), self._size)
        return dense if dtype is None else ops.cast(dense, dtypes.torch_dtype(dtype))

    __tinyflow_dense__ = to_dense   # how ops see a sparse operand (core/op.py: as_tensor)

    def coalesce(self) -> "SparseCooTensor":
        """Coordinates sorted (row-major) and unique; repeated ones' values added."""
        if self._coalesced:
            return self
        unique, inverse = np.unique(self._flat_positions(), return_inverse=True)
        values = scatter_flat(self._vals, inverse.reshape(-1), (unique.size,))
        coords = np.stack(np.unravel_index(unique, self._size)) if unique.size else \
            np.zeros((len(self._size), 0), np.int64)
        return SparseCooTensor(coords.astype(np.int64), values, self._size, coalesced=True)

    def to_sparse(self) -> "SparseCooTensor":
        return self

    def to(self, *args, **kwargs) -> "SparseCooTensor":
        return SparseCooTensor(self._coords, _to(self._vals, *args, **kwargs), self._size,
                               self._coalesced)

    def cpu(self) -> "SparseCooTensor":
        return self

    def detach(self) -> "SparseCooTensor":
        return SparseCooTensor(self._coords, self._vals.detach(), self._size, self._coalesced)

    def float(self) -> "SparseCooTensor":
        return self.to(dtypes.float32)

    def double(self) -> "SparseCooTensor":
        return self.to(dtypes.float64)

    def t(self) -> "SparseCooTensor":
        if self.dim() != 2:
            raise RuntimeError(f"t(): the tensor is {self.dim()}-D; t() transposes 0-D to "
                               f"2-D tensors")
        return SparseCooTensor(self._coords[::-1].copy(), self._vals, self._size[::-1])

    # ---- arithmetic ------------------------------------------------------------------------
    def mm(self, other) -> Tensor:
        """sparse [m, k] @ dense [k, n] -> dense [m, n] (one pass over the nonzeros)."""
        if isinstance(other, SparseCooTensor):
            raise NotImplementedError("sparse @ sparse is not supported: call .to_dense() on "
                                      "one operand")
        other = as_tensor(other)
        if self.dim() != 2 or other.ndim not in (1, 2):
            raise RuntimeError(f"sparse mm: expected a 2-D sparse matrix and a 1-D or 2-D "
                               f"dense operand, got sizes {list(self._size)} and "
                               f"{list(other.shape)}")
        vector = other.ndim == 1
        dense = ops.reshape(other, (-1, 1)) if vector else other
        values = self._vals if self._vals.dtype is dense.dtype else ops.cast(self._vals,
                                                                             dense.dtype)
        out = ops.sparse_matmul(Tensor._eager(self._coords), values, dense, *self._size)
        return ops.reshape(out, (-1,)) if vector else out

    matmul = __matmul__ = mm

    def __rmatmul__(self, other) -> Tensor:   # dense @ sparse = (sparseᵀ @ denseᵀ)ᵀ
        other = as_tensor(other)
        if other.ndim != 2:
            raise RuntimeError(f"dense @ sparse: expected a 2-D dense operand, got size "
                               f"{list(other.shape)}")
        return ops.transpose(self.t().mm(ops.transpose(other)))

    def __mul__(self, other) -> "SparseCooTensor":
        if isinstance(other, (int, float)) or (isinstance(other, Tensor) and other.ndim == 0):
            return SparseCooTensor(self._coords, self._vals * other, self._size,
                                   self._coalesced)
        raise NotImplementedError("sparse * tensor is supported for a scalar only: call "
                                  ".to_dense() first")

    __rmul__ = __mul__

    def __truediv__(self, other) -> "SparseCooTensor":
        return self * (1.0 / other if isinstance(other, (int, float)) else 1.0 / other)

    def __neg__(self) -> "SparseCooTensor":
        return self * -1

    def __add__(self, other):
        if isinstance(other, SparseCooTensor):
            if other._size != self._size:
                raise RuntimeError(f"add: expected sizes to match, got {list(self._size)} and "
                                   f"{list(other._size)}")
            values = ops.concat([self._vals, other._vals], 0)
            return SparseCooTensor(np.concatenate([self._coords, other._coords], 1), values,
                                   self._size)
        return self.to_dense() + other      # sparse + dense is dense, as in PyTorch

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def sum(self, dim=None, keepdim: bool = False, dtype=None) -> Tensor:
        if dim is not None:
            raise NotImplementedError("sum over dims of a sparse tensor is not supported: "
                                      "call .to_dense() first")
        total = ops.reduce_sum(self._vals)
        return total if dtype is None else ops.cast(total, dtypes.torch_dtype(dtype))

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"'{name}' is not supported on sparse COO tensors in tinyflow "
                             f"(they support @ / mm, to_dense, coalesce, t, +, scalar *, sum); "
                             f"call .to_dense() first")

    def __len__(self) -> int:
        return self._size[0]

    def __repr__(self) -> str:
        return (f"tensor(indices={self._indices()!r},\n       values={self._vals!r},\n"
                f"       size={self._size}, nnz={self._nnz()}, layout=torch.sparse_coo)")


def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None,
                      requires_grad: bool = False, check_invariants=None,
                      is_coalesced=None) -> SparseCooTensor:
    """PyTorch's `torch.sparse_coo_tensor`: indices [ndim, nnz], values [nnz] (a Tensor keeps
    its autograd history), size inferred from the largest index when not given."""
    coords = np.asarray(indices.numpy() if isinstance(indices, Tensor) else indices)
    if coords.dtype.kind not in "iu":
        raise RuntimeError(f"indices must be an int64 tensor, got {coords.dtype}")
    coords = coords.astype(np.int64).reshape(coords.shape if coords.ndim == 2 else (-1, 0))
    vals = values if isinstance(values, Tensor) else as_tensor(values)
    if vals.ndim != 1:
        raise NotImplementedError(f"sparse_coo_tensor: values must be a vector (hybrid "
                                  f"sparse tensors are not supported), got size "
                                  f"{list(vals.shape)}")
    if coords.shape[1] != vals.shape[0]:
        raise ValueError(f"sparse_coo_tensor: indices hold {coords.shape[1]} entries and "
                         f"values {vals.shape[0]}; give one value per index column")
    if size is None:
        size = tuple(int(m) + 1 for m in coords.max(1)) if coords.size else (0,) * len(coords)
    size = tuple(int(s) for s in size)
    if len(size) != coords.shape[0]:
        raise ValueError(f"number of dimensions must be sparse_dim ({coords.shape[0]}) + "
                         f"dense_dim (0), but got {len(size)}")
    for d, n in enumerate(size):
        if coords.size and (coords[d].min() < 0 or coords[d].max() >= n):
            bad = coords[d].max() if coords[d].max() >= n else coords[d].min()
            raise ValueError(f"sparse_coo_tensor: index {bad} in dim {d} is out of range "
                             f"for size {n}")
    if dtype is not None:
        vals = ops.cast(vals, dtypes.torch_dtype(dtype))
    if device is not None:
        vals = _to(vals, device)
    if requires_grad:
        vals = vals.detach().requires_grad_(True)
    return SparseCooTensor(coords, vals, size, bool(is_coalesced))


def dense_to_sparse(x, sparse_dims=None) -> SparseCooTensor:
    """`x.to_sparse()`: the nonzero entries (row-major order, so coalesced); their values
    are gathered from x, so x gets their gradients."""
    if sparse_dims not in (None, x.ndim):
        raise NotImplementedError("to_sparse(sparse_dims) with dense dims is not supported")
    if x.kind != "eager":
        raise TypeError("to_sparse needs an eager tensor (the nonzeros decide the coordinates)")
    coords = np.stack(np.nonzero(x.numpy(force=True))).astype(np.int64).reshape(x.ndim, -1)
    values = ops.getitem(x, tuple(coords))
    return SparseCooTensor(coords, values, tuple(x.shape), coalesced=True)


def spmm(input, mat2) -> Tensor:
    """`torch.spmm` / `torch.sparse.mm`: sparse (or dense) [m, k] @ dense [k, n]."""
    if isinstance(input, SparseCooTensor):
        return input.mm(mat2)
    if isinstance(mat2, SparseCooTensor):
        return mat2.__rmatmul__(input)
    return ops.matmul(as_tensor(input), as_tensor(mat2))


mm = spmm


def sparse_sum(input, dim=None, dtype=None) -> Tensor:
    """`torch.sparse.sum`: all entries of a sparse tensor (dims: not supported)."""
    if isinstance(input, SparseCooTensor):
        return input.sum(dim, dtype=dtype)
    total = ops.reduce_sum(as_tensor(input), dim)
    return total if dtype is None else ops.cast(total, dtypes.torch_dtype(dtype))


sum = sparse_sum  # noqa: A001  (torch.sparse.sum)


def _dense_is_sparse(x) -> bool:
    return False


METHODS = {"is_sparse": property(_dense_is_sparse), "to_sparse": dense_to_sparse,
           "to_dense": lambda x, dtype=None: x if dtype is None else _to(x, dtype)}
