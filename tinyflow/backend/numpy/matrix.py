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
