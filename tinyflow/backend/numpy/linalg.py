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


def subtract_product_blocks(op: linalg.MatMul, w, a, b, lr, scratch, lr_first: bool) -> None:
    """w -= lr * op(a) op(b), `len(scratch)` rows of the product at a time (into `scratch`):
    the planned runtime's fused SGD update, so the full weight gradient never exists. The
    same elementwise operations, in the same order, as the unfused steps."""
    rows = len(scratch)
    for start in range(0, w.shape[0], rows):
        stop = min(start + rows, w.shape[0])
        part = a[:, start:stop] if op.transpose_a else a[start:stop]   # a's rows of the product
        g = matmul(op, part, b, out=scratch[:stop - start])
        if lr_first:
            np.multiply(lr, g, out=g)
        else:
            np.multiply(g, lr, out=g)
        np.subtract(w[start:stop], g, out=w[start:stop])


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
