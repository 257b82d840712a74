"""Matrix functions over the last two dims (batched over the rest): inverse and determinant,
with their derivatives written with matmul and inverse itself (so every order works), and
the factorizations (Cholesky, QR, SVD, eigh): Cholesky's and eigh's with PyTorch's
derivatives (for symmetric input), QR's and SVD's forward only.
"""
from __future__ import annotations

import numpy as np

from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .linalg import matmul, tril
from .math import divide, equal, where
from .reduce import reduce_sum
from .shape import expand_dims, transpose


def _square(op, x) -> tuple:
    if x.shape is None:
        return None
    if len(x.shape) < 2:
        raise ValueError(f"expected a tensor of matrices (>= 2 dims), got shape "
                         f"{x.shape}")
    n, m = x.shape[-2:]
    if n is not None and m is not None and n != m:
        raise ValueError(f"A is {n} by {m}; the last two dims must be square")
    return x.shape


def _floating(op, x) -> None:
    if not x.dtype.is_floating:
        raise TypeError(f"expected a floating-point tensor, got {x.dtype.name}")


def _swap_last(x):
    n = x.ndim
    return transpose(x, tuple(range(n - 2)) + (n - 1, n - 2))


class MatrixInverse(Op):
    """inv(A); d inv = -inv dA inv."""
    name = "matrix_inverse"
    saves_inputs = False

    def infer(self, x):
        _floating(self, x)
        return _square(self, x), x.dtype

    def vjp(self, g, out, x):
        t = _swap_last(out)
        return (-matmul(matmul(t, g), t),)

    def jvp(self, tangents, out, x):
        return -matmul(matmul(out, tangents[0]), out)


class Determinant(Op):
    """det(A); d det = trace(cofactor(A)^T dA) (= det * trace(inv(A) dA) where A is
    invertible; the cofactors keep it defined at singular A, as PyTorch's)."""
    name = "determinant"

    def infer(self, x):
        _floating(self, x)
        shape = _square(self, x)
        return (None if shape is None else shape[:-2]), x.dtype

    def vjp(self, g, out, x):
        return (expand_dims(expand_dims(g, -1), -1) * cofactor(x),)

    def jvp(self, tangents, out, x):
        return reduce_sum(cofactor(x) * tangents[0], (-2, -1))


class Cofactor(Op):
    """cofactor(A) = adj(A)^T, the derivative of det(A): from the SVD A = U S V^T as
    det(U) det(V) U diag(prod_{j != i} s_j) V^T, defined for singular A too. Its own
    derivatives differentiate det(A) inv(A)^T (invertible A)."""
    name = "cofactor"
    composed = True

    def infer(self, x):
        _floating(self, x)
        return _square(self, x), x.dtype

    def compose(self, x):
        scale = expand_dims(expand_dims(determinant(x), -1), -1)
        return scale * _swap_last(matrix_inverse(x))


def _identity(x):
    return Tensor._eager(np.eye(x.shape[-1], dtype=x.dtype.np))


def _spectral_gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal (and at repeated eigenvalues), else 0."""
    gaps = expand_dims(w, -2) - expand_dims(w, -1)
    same = equal(gaps, 0)
    return where(same, 0.0, divide(1.0, where(same, 1.0, gaps)))


def _lower_half_diagonal(p, eye):
    """Phi(P): P's lower triangle with its diagonal halved."""
    return tril(p) - 0.5 * (p * eye)


class Factorization(Op):
    """One factor of a matrix factorization: `kind` cholesky (L), qr (Q, R), svd (U, S, Vh)
    or eigh (eigenvalues ascending, eigenvectors), factor number `part`. Cholesky and eigh
    differentiate as PyTorch's (the gradient of a symmetric input: symmetric); QR and SVD
    have no derivative here (backward raises)."""
    name = "factorization"
    kind: str
    part: int
    full: bool     # qr: mode 'complete'; svd: full_matrices

    def infer(self, x):
        _floating(self, x)
        if self.kind in ("cholesky", "eigh"):
            _square(self, x)
        if x.shape is None or len(x.shape) < 2:
            if x.shape is not None:
                raise ValueError(f"{self.kind}: expected a tensor of matrices (>= 2 dims), "
                                 f"got shape {x.shape}")
            return None, x.dtype
        *batch, m, n = x.shape
        k = None if m is None or n is None else min(m, n)
        batch = tuple(batch)
        shapes = {
            "cholesky": (batch + (m, n),),
            "eigh": (batch + (n,), batch + (n, n)),
            "qr": ((batch + (m, m), batch + (m, n)) if self.full else
                   (batch + (m, k), batch + (k, n))),
            "svd": ((batch + (m, m), batch + (k,), batch + (n, n)) if self.full else
                    (batch + (m, k), batch + (k,), batch + (k, n))),
        }
        if self.kind not in shapes or not 0 <= self.part < len(shapes[self.kind]):
            raise ValueError(f"factorization: no factor {self.part} of {self.kind!r}")
        return shapes[self.kind][self.part], x.dtype

    def vjp(self, g, out, x):
        if self.kind == "cholesky":   # sym(L^-T Phi(L^T g) L^-1)
            inverse = matrix_inverse(out)
            grad = matmul(matmul(_swap_last(inverse), _lower_half_diagonal(
                matmul(_swap_last(out), g), _identity(x))), inverse)
            return (0.5 * (grad + _swap_last(grad)),)
        if self.kind == "eigh":
            vectors = out if self.part == 1 else factorization(x, "eigh", 1)
            if self.part == 0:   # V diag(g) V^T
                return (matmul(vectors * expand_dims(g, -2), _swap_last(vectors)),)
            values = factorization(x, "eigh", 0)
            projected = matmul(_swap_last(vectors), g)
            skew = 0.5 * (projected - _swap_last(projected))
            inner = _spectral_gaps(values) * skew
            return (matmul(matmul(vectors, inner), _swap_last(vectors)),)
        raise NotImplementedError(f"factorization: the {self.kind} factors have no gradient "
                                  f"here (cholesky's and eigh's do)")

    def jvp(self, tangents, out, x):
        t = tangents[0]
        if self.kind == "cholesky":   # L Phi(L^-1 dA L^-T)
            inverse = matrix_inverse(out)
            inner = matmul(matmul(inverse, t), _swap_last(inverse))
            return matmul(out, _lower_half_diagonal(inner, _identity(x)))
        if self.kind == "eigh":
            vectors = out if self.part == 1 else factorization(x, "eigh", 1)
            rotated = matmul(matmul(_swap_last(vectors), t), vectors)
            if self.part == 0:
                return reduce_sum(rotated * _identity(x), -1)
            gaps = _spectral_gaps(factorization(x, "eigh", 0))
            return matmul(vectors, gaps * rotated)
        raise NotImplementedError(f"factorization: the {self.kind} factors have no "
                                  f"derivative here (cholesky's and eigh's do)")


def matrix_inverse(x, name=None) -> Tensor:
    return apply(MatrixInverse(), as_tensor(x), name=name)


def determinant(x, name=None) -> Tensor:
    return apply(Determinant(), as_tensor(x), name=name)


def cofactor(x, name=None) -> Tensor:
    return apply(Cofactor(), as_tensor(x), name=name)


def factorization(x, kind: str, part: int, full: bool = False, name=None) -> Tensor:
    return apply(Factorization(kind=kind, part=int(part), full=bool(full)), as_tensor(x),
                 name=name)
