"""`torch.linalg` (norms, inv, det, slogdet, solve, cholesky, qr, svd, eigh) and the linear
algebra among the `torch.*` functions (det, inverse, logdet, mv, inner, tensordot, cdist,
baddbmm, addmv, ger).

inv and det are ops with derivatives (ops/matrix.py); slogdet, logdet and solve compose
them (solve is inv(A) @ B: fine for well-conditioned systems, less accurate than LAPACK's
solver for ill-conditioned ones). cholesky and eigh have PyTorch's gradients; qr and svd
are forward only (backward through them raises).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.matrix import determinant, factorization, matrix_inverse
from .inplace import write_out
from .math import outer
from .shaping import cross  # noqa: F401  (torch.linalg.cross)
from .shared_names import matmul
from ..ops.linalg import matrix_band_part as band_part  # noqa: F401  (tf.linalg)
from .statistics import linalg_norm, matrix_norm, vector_norm  # noqa: F401  (linalg.*)

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])

norm = linalg_norm


def inv(A, *, out=None):  # noqa: N803
    """The inverse of each square matrix (RuntimeError if one is singular)."""
    return write_out(matrix_inverse(A), out)


def det(A, *, out=None):  # noqa: N803
    return write_out(determinant(A), out)


def slogdet(A, *, out=None):  # noqa: N803
    """(sign, log |det|) of each matrix (computed from det: overflows where det does)."""
    d = determinant(A)
    return write_out(SlogdetResult(ops.sign(d), ops.log(ops.abs(d))), out)


def logdet(input):  # noqa: A002
    """log det: NaN where det < 0, -inf where det == 0 (as PyTorch)."""
    return ops.log(determinant(input))


def solve(A, B, *, left=True, out=None):  # noqa: N803
    """X with A X = B (left) or X A = B; B may be a vector, or a batch of them (shape
    A.shape[:-1], as PyTorch reads it)."""
    A, B = as_tensor(A), as_tensor(B)
    a_inv = matrix_inverse(A)
    if 1 < B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]):
        axis = -1 if left else -2      # each vector a column (a row) of its own
        b = ops.expand_dims(B, axis)
        return write_out(ops.squeeze(matmul(a_inv, b) if left else matmul(b, a_inv), axis),
                         out)
    return write_out(matmul(a_inv, B) if left else matmul(B, a_inv), out)


def cholesky(A, *, upper=False, out=None):  # noqa: N803
    """L (lower triangular) with A = L L^T; upper=True: L^T."""
    lower = factorization(A, "cholesky", 0)
    return write_out(ops.transpose(lower, _swap_last(lower.ndim)) if upper else lower, out)


def _swap_last(n):
    return tuple(range(n - 2)) + (n - 1, n - 2)


def qr(A, mode="reduced", *, full_matrices=None, name=None, out=None):  # noqa: N803
    """(Q, R): Q with orthonormal columns, R upper triangular, A = Q R. Also TF's
    `tf.linalg.qr(A, full_matrices=False)`: a bool in mode's place, or by keyword."""
    if isinstance(mode, bool) or full_matrices is not None:
        full = mode if isinstance(mode, bool) else full_matrices
        mode = "complete" if full else "reduced"
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got "
                           f"{mode!r}")
    full = mode == "complete"
    r = factorization(A, "qr", 1, full)
    q = factorization(A, "qr", 0, full) if mode != "r" else Tensor._eager(
        np.zeros(0, r.dtype.np))
    return _write_outs(QRResult(q, r), out, "qr")


def svd(A, full_matrices=True, *, driver=None, out=None):  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh, S descending."""
    return _write_outs(SVDResult(*(factorization(A, "svd", k, full_matrices)
                                   for k in range(3))), out, "svd")


def _write_outs(results: tuple, out, name: str) -> tuple:
    """`out=(...)` of a function with several results: each written into its tensor."""
    if out is None:
        return results
    if not isinstance(out, (tuple, list)) or len(out) != len(results):
        raise TypeError(f"{name}: out must be a tuple of {len(results)} tensors")
    return type(results)(*(write_out(r, o) for r, o in zip(results, out)))


def svdvals(A, *, driver=None, out=None):  # noqa: N803
    return write_out(factorization(A, "svd", 1), out)


def eigh(A, UPLO="L", *, out=None):  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors of each symmetric matrix (its lower
    triangle is read)."""
    if UPLO != "L":
        A = ops.transpose(A, _swap_last(A.ndim))   # noqa: N806  (the upper triangle as lower)
    return write_out(EighResult(factorization(A, "eigh", 0), factorization(A, "eigh", 1)), out)


def eigvalsh(A, UPLO="L", *, out=None):  # noqa: N803
    return write_out(eigh(A, UPLO).eigenvalues, out)


# ---- torch.* linear algebra ---------------------------------------------------------

def mv(input, vec, *, out=None):  # noqa: A002
    """A matrix times a vector."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {vec.ndim}")
    return matmul(input, vec, out=out)


def tensordot(a, b, dims=2, out=None):
    """Sum over the last `dims` dims of a and the first of b, or over the dim lists given."""
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(dims, int):
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    dims_a, dims_b = [d % a.ndim for d in dims_a], [d % b.ndim for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"tensordot: dim {da} of a (size {a.shape[da]}) is summed with "
                               f"dim {db} of b (size {b.shape[db]}); the sizes must match")
    free_a = [d for d in range(a.ndim) if d not in dims_a]
    free_b = [d for d in range(b.ndim) if d not in dims_b]
    size = 1
    for d in dims_a:
        size *= a.shape[d]
    left = ops.reshape(ops.transpose(a, free_a + dims_a), (-1, size))
    right = ops.reshape(ops.transpose(b, dims_b + free_b), (size, -1))
    shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    return write_out(ops.reshape(ops.matmul(left, right), shape), out)


def inner(input, other, *, out=None):  # noqa: A002
    """Sum over the last dims of both (a product if either is 0-d)."""
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim == 0 or b.ndim == 0:
        return write_out(a * b, out)
    return tensordot(a, b, ([-1], [-1]), out=out)


def cdist(x1, x2, p=2.0, compute_mode=None):
    """The p-norm distance between each row of x1 and each row of x2 (batched)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist only supports at least 2D tensors with the same number "
                           f"of columns, got {tuple(x1.shape)} and {tuple(x2.shape)}")
    diff = ops.expand_dims(x1, -2) - ops.expand_dims(x2, -3)
    return vector_norm(diff, p, -1)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):  # noqa: A002
    """beta * input + alpha * (batch1 @ batch2)."""
    return write_out(_times(input, beta) + _times(ops.matmul(batch1, batch2), alpha), out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):  # noqa: A002
    """beta * input + alpha * (mat @ vec)."""
    return write_out(_times(input, beta) + _times(mv(mat, vec), alpha), out)


def _times(x, factor):
    if factor == 0:
        return ops.zeros_like(x)   # beta=0 ignores input, NaN included (as PyTorch)
    return x if factor == 1 else x * factor


ger = outer
inverse = inv

METHODS = {
    "det": det, "inverse": inv, "logdet": logdet, "slogdet": slogdet, "mv": mv,
    "inner": inner, "ger": ger, "baddbmm": baddbmm, "addmv": addmv, "cholesky": cholesky,
}


# ---- pseudo-inverse, rank, powers, least squares ----------------------------------------

LstsqResult = namedtuple("LstsqResult", ["solution", "residuals", "rank", "singular_values"])


def _gram(x):
    """(x^T x if x is tall else x x^T, tall): the smaller Gram matrix, whose eigenvalues
    are the squared singular values."""
    tall = x.shape[-2] >= x.shape[-1]
    xt = ops.transpose(x, _swap_last(x.ndim))
    return (matmul(xt, x) if tall else matmul(x, xt)), tall


def _cutoff(largest, atol, rtol, shape, dtype):
    """PyTorch's tolerance: max(atol, rtol * largest singular value), rtol defaulting to
    eps * max(m, n) when atol is not given."""
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else np.finfo(dtype.np).eps * max(shape)
    return ops.maximum(largest * rtol, 0.0 if atol is None else float(atol))


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):  # noqa: N803
    """The Moore-Penrose pseudo-inverse, V diag(1/s) U^T, from the eigendecomposition of the
    smaller Gram matrix (so it differentiates through eigh; singular values below the
    tolerance are dropped). Squaring the matrix halves the digits of an ill-conditioned one:
    fine for the well-conditioned least-squares problems it usually serves."""
    x = as_tensor(A)
    gram, tall = _gram(x)
    values, vectors = eigh(gram)
    values = ops.maximum(values, 0.0)
    keep = ops.greater(ops.sqrt(values), _cutoff(ops.sqrt(ops.reduce_max(values, -1, True)),
                                                 atol, rtol, tuple(x.shape[-2:]), x.dtype))
    scale = ops.where(keep, 1.0 / ops.where(keep, values, 1.0), 0.0)
    inverse_gram = matmul(vectors * ops.expand_dims(scale, -2),
                          ops.transpose(vectors, _swap_last(vectors.ndim)))
    xt = ops.transpose(x, _swap_last(x.ndim))
    return write_out(matmul(inverse_gram, xt) if tall else matmul(xt, inverse_gram), out)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):  # noqa: N803
    """The number of singular values above PyTorch's tolerance (int64)."""
    s = svdvals(A)
    largest = ops.reduce_max(s, -1, True)
    kept = ops.greater(s, _cutoff(largest, atol, rtol, tuple(A.shape[-2:]), s.dtype))
    return write_out(ops.reduce_sum(ops.cast(kept, dtypes.int64), -1), out)


def linalg_cond(A, p=None, *, out=None):  # noqa: N803
    """The condition number: largest over smallest singular value for p None, 2 or -2 (its
    inverse for -2); otherwise norm(A, p) * norm(inv(A), p) of square matrices."""
    x = as_tensor(A)
    if p is None or p in (2, -2):
        s = svdvals(x)
        ratio = ops.reduce_max(s, -1) / ops.reduce_min(s, -1)
        return write_out(1.0 / ratio if p == -2 else ratio, out)
    return write_out(matrix_norm(x, p) * matrix_norm(inv(x), p), out)


cond = linalg_cond   # torch.linalg.cond; tinyflow.cond is TF1's


def matrix_power(A, n, *, out=None):  # noqa: N803
    """A^n by repeated squaring (n < 0: of the inverse; n == 0: the identity)."""
    x = as_tensor(A)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A {tuple(x.shape)} is not square in its "
                           f"last two dims")
    n = int(n)
    if n == 0:
        eye = Tensor._eager(np.eye(x.shape[-1], dtype=x.dtype.np))
        return write_out(eye + x * 0, out)   # batched, and a (zero) gradient as PyTorch's
    base, result = (inv(x) if n < 0 else x), None
    n = abs(n)
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return write_out(result, out)


def lstsq(A, B, rcond=None, *, driver=None):  # noqa: N803
    """The least-squares solution pinv(A) B, with PyTorch's CPU default driver's other
    fields: no residuals, the rank, no singular values."""
    a, b = as_tensor(A), as_tensor(B)
    vector = _lstsq_check(a, b)
    empty = Tensor._eager(np.zeros(0, a.dtype.np))
    rhs = ops.expand_dims(b, -1) if vector else b
    solution = matmul(pinv(a, rtol=rcond), rhs)
    return LstsqResult(ops.squeeze(solution, -1) if vector else solution, empty,
                       matrix_rank(a, rtol=rcond), empty)


def _lstsq_check(a, b) -> bool:
    """PyTorch's rules for lstsq's operands; True if B is a (batch of) vector(s): 1-D, or A's
    shape without its last dim. Batch dims broadcast only between operands of one rank."""
    name = "torch.linalg.lstsq"
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input must have at least 2 dimensions.")
    if b.ndim < 1:
        raise RuntimeError(f"{name}: other must have at least 1 dimension.")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name}: input is {a.dtype.name} and other {b.dtype.name}; give "
                           f"both one dtype")
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    if not (0 <= a.ndim - b.ndim <= 1):
        raise RuntimeError(f"{name}: input {tuple(a.shape)} must have as many dims as other "
                           f"{tuple(b.shape)}, or one more")
    if a.ndim - b.ndim == 1 and not vector:
        raise RuntimeError(f"{name}: other of shape {tuple(b.shape)} is neither a batch of "
                           f"vectors of input's shape without its last dim "
                           f"{tuple(a.shape[:-1])} nor a batch of matrices of input's rank")
    rows = b.shape[-1] if vector else b.shape[-2]
    if a.shape[-2] != rows:
        raise RuntimeError(f"{name}: input {tuple(a.shape)} and other {tuple(b.shape)} "
                           f"differ in dim -2 (the rows)")
    return vector


def multi_dot(tensors, *, out=None):
    """A chain of matrix products (1-D ends as a row and a column vector, as PyTorch)."""
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return write_out(result, out)


# ---- the torch.* spellings older programs use (TF1's tf.qr and tf.cholesky agree with them;
# torch.svd's (U, S, V) would shadow tf.svd's (s, u, v), so it is left out) -------------------

def torch_qr(input, some=True, *, full_matrices=None, name=None, out=None):  # noqa: A002
    """`torch.qr(A, some=True)` or TF1's `tf.qr(A, full_matrices=False)`: linalg.qr's
    reduced (some) or complete factors. TF1's full_matrices is taken by keyword only: the
    second place is torch's `some`, its opposite."""
    complete = not some if full_matrices is None else full_matrices
    return qr(input, "complete" if complete else "reduced", out=out)


def torch_cholesky(input, upper=False, *, out=None):  # noqa: A002
    """`torch.cholesky(A, upper=False)`, `upper` also by place (linalg.cholesky's is a
    keyword)."""
    return cholesky(input, upper=upper, out=out)


def pinverse(input, rcond=1e-15):  # noqa: A002
    """`torch.pinverse`: singular values below rcond times the largest count as zero."""
    return pinv(input, rtol=rcond)


def chain_matmul(*matrices, out=None):
    """`torch.chain_matmul`: a product of one or more matrices (2-D only, unlike multi_dot);
    a new tensor even for one."""
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for k, m in enumerate(matrices):
        if getattr(m, "ndim", None) != 2:
            raise RuntimeError(f"chain_matmul: matrix {k} has {getattr(m, 'ndim', '?')} "
                               f"dimensions, expected 2")
    if len(matrices) == 1:
        return write_out(matrices[0].clone(), out)
    return multi_dot(list(matrices), out=out)
