"""Sparse x dense products over COO coordinates: `sparse_matmul` (a sparse matrix given as
its [2, nnz] indices and [nnz] values, times a dense matrix) and its partner `sampled_dot`
(the dot products of chosen row pairs of two dense matrices). Each is the other's gradient:
d(values) of a sparse product samples g·denseᵀ at the nonzeros, d(dense) is the transposed
sparse product; so both orders of differentiation stay sparse."""
from __future__ import annotations

from ..core.modes import needs_input_grad
from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .shape import getitem


def _check_indices(indices, nnz) -> None:
    if not indices.dtype.is_integer:
        raise TypeError(f"indices must be integers, got {indices.dtype.name}")
    if indices.shape is not None:
        if len(indices.shape) != 2 or indices.shape[0] not in (2, None):
            raise ValueError(f"indices must have shape [2, nnz], got {indices.shape}")
        if None not in (indices.shape[1], nnz) and indices.shape[1] != nnz:
            raise ValueError(f"indices have {indices.shape[1]} entries but there are {nnz} "
                             f"values")


def _check_matrix(x, what: str) -> None:
    if x.shape is not None and len(x.shape) != 2:
        raise ValueError(f"{what} must be a matrix, got shape {x.shape}")


def _transposed(indices: Tensor) -> Tensor:
    """The coordinates of the transposed matrix: (row, col) -> (col, row)."""
    return getitem(indices, ([1, 0],))


class SparseMatmul(Op):
    """out[rows, N] = A @ dense with A[indices[0, k], indices[1, k]] = values[k] (duplicate
    coordinates add up)."""
    name = "sparse_matmul"
    linearity = "multilinear"
    rows: int
    cols: int

    def infer(self, indices, values, dense):
        nnz = None if values.shape is None else values.shape[0]
        _check_indices(indices, nnz)
        if values.shape is not None and len(values.shape) != 1:
            raise ValueError(f"values must be a vector, got shape {values.shape}")
        _check_matrix(dense, "the dense operand")
        if values.dtype is not dense.dtype:
            raise TypeError(f"expected values and the dense operand to have the same dtype, "
                            f"got {values.dtype.name} and {dense.dtype.name}")
        if not values.dtype.is_floating:
            raise TypeError(f"sparse products need floating values, got {values.dtype.name}")
        k = None if dense.shape is None else dense.shape[0]
        if k is not None and k != self.cols:
            raise ValueError(f"inner dimensions differ: {self.cols} (sparse [{self.rows}, "
                             f"{self.cols}]) vs {k} (dense)")
        n = None if dense.shape is None else dense.shape[1]
        return (self.rows, n), values.dtype

    def vjp(self, g, out, indices, values, dense):
        gv = gd = None
        if needs_input_grad(1):
            gv = sampled_dot(indices, g, dense, self.rows, self.cols)
        if needs_input_grad(2):
            gd = sparse_matmul(_transposed(indices), values, g, self.cols, self.rows)
        return None, gv, gd


class SampledDot(Op):
    """out[k] = a[indices[0, k]] · b[indices[1, k]]: (a bᵀ) read only at the coordinates;
    a has `rows` rows and b `cols` (the sparse matrix's shape)."""
    name = "sampled_dot"
    linearity = "multilinear"
    rows: int
    cols: int

    def infer(self, indices, a, b):
        _check_indices(indices, None)
        _check_matrix(a, "a")
        _check_matrix(b, "b")
        if a.dtype is not b.dtype:
            raise TypeError(f"a is {a.dtype.name} and b {b.dtype.name}; give both one "
                            f"dtype")
        for x, what, size in ((a, "a", self.rows), (b, "b", self.cols)):
            if x.shape is not None and x.shape[0] not in (None, size):
                raise ValueError(f"{what} must have {size} rows, got shape {x.shape}")
        if None not in (a.shape, b.shape) and None not in (a.shape[1], b.shape[1]) \
                and a.shape[1] != b.shape[1]:
            raise ValueError(f"the rows of a ({a.shape[1]}) and b ({b.shape[1]}) differ in "
                             f"length")
        nnz = None if indices.shape is None else indices.shape[1]
        return (nnz,), a.dtype

    def vjp(self, g, out, indices, a, b):
        ga = gb = None
        if needs_input_grad(1):
            ga = sparse_matmul(indices, g, b, self.rows, self.cols)
        if needs_input_grad(2):
            gb = sparse_matmul(_transposed(indices), g, a, self.cols, self.rows)
        return None, ga, gb


def sparse_matmul(indices, values, dense, rows: int, cols: int) -> Tensor:
    """The [rows, cols] sparse matrix (indices [2, nnz], values [nnz]) times `dense`."""
    return apply(SparseMatmul(rows=int(rows), cols=int(cols)), as_tensor(indices),
                 as_tensor(values), as_tensor(dense))


def sampled_dot(indices, a, b, rows: int, cols: int) -> Tensor:
    """(a bᵀ)[indices[0, k], indices[1, k]] for each k; a is [rows, n], b is [cols, n]."""
    return apply(SampledDot(rows=int(rows), cols=int(cols)), as_tensor(indices), as_tensor(a),
                 as_tensor(b))
