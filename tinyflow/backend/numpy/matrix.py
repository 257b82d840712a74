"""Kernels of the matrix functions (ops/matrix.py): NumPy's LAPACK calls, batched."""
import numpy as np

from ...ops import matrix as mx
from .registry import kernel


def _lapack(what: str, call, *args, **kwargs):
    """The call, with NumPy's LinAlgError said as PyTorch says it."""
    try:
        return call(*args, **kwargs)
    except np.linalg.LinAlgError as error:
        problem = "not positive-definite" if what == "cholesky" else "singular"
        raise RuntimeError(f"linalg.{what}: the input is {problem} ({error})") from None


@kernel(mx.MatrixInverse, widen=0)
def matrix_inverse(op, x):
    return _lapack("inv", np.linalg.inv, x).astype(x.dtype, copy=False)


@kernel(mx.Determinant, widen=0)
def determinant(op, x):
    return np.asarray(np.linalg.det(x), x.dtype)


@kernel(mx.Cofactor, widen=0)
def cofactor(op, x):
    n = x.shape[-1]
    if x.size == 0 or n == 1:
        return np.ones_like(x)
    u, s, vh = np.linalg.svd(x)
    others = np.broadcast_to(np.expand_dims(s, -2), s.shape[:-1] + (n, n)).copy()
    others[..., np.arange(n), np.arange(n)] = 1.0     # row i: every s_j but s_i
    scale = np.prod(others, -1) * (np.linalg.det(u) * np.linalg.det(vh))[..., None]
    return np.matmul(u * np.expand_dims(scale, -2), vh).astype(x.dtype, copy=False)


@kernel(mx.Factorization, widen=0)
def factorization(op, x):
    if op.kind == "cholesky":
        factors = (_lapack("cholesky", np.linalg.cholesky, x),)
    elif op.kind == "eigh":
        factors = _lapack("eigh", np.linalg.eigh, x)
    elif op.kind == "qr":
        factors = _lapack("qr", np.linalg.qr, x, "complete" if op.full else "reduced")
    else:
        factors = _lapack("svd", np.linalg.svd, x, full_matrices=op.full)
    return np.ascontiguousarray(factors[op.part], x.dtype)
