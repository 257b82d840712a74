"""Matrix multiplication through NumPy's BLAS."""
import numpy as np

from ...ops import linalg
from .registry import kernel


@kernel(linalg.MatMul, out=True)
def matmul(op, a, b, out=None):
    if op.transpose_a:
        a = np.swapaxes(a, -1, -2)
    if op.transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b, out=out)


@kernel(linalg.Affine, out=True)
def affine(op, x, w, b, out=None):
    out = np.matmul(x, w.T, out=out)
    out += b
    return out


@kernel(linalg.Tril)
def tril(op, x):
    return np.tril(x, op.diagonal)


@kernel(linalg.Triu)
def triu(op, x):
    return np.triu(x, op.diagonal)


@kernel(linalg.Einsum)
def einsum(op, *xs):
    return np.einsum(op.equation, *xs, optimize=True)   # pairs go through BLAS
