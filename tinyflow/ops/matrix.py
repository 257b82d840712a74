"""Matrix functions over the last two dims (batched over the rest): inverse and determinant,
with their derivatives written with matmul and inverse itself (so every order works), and
the factorizations (Cholesky, QR, SVD, eigh), forward only.
"""
from __future__ import annotations

from ..core.op import Op, apply, as_tensor
from ..core.tensor import Tensor
from .linalg import matmul
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
        raise ValueError(f"A must be batches of square matrices, but they are "
                         f"{n} by {m} matrices")
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
    """det(A); d det = det * trace(inv(A) dA)."""
    name = "determinant"

    def infer(self, x):
        _floating(self, x)
        shape = _square(self, x)
        return (None if shape is None else shape[:-2]), x.dtype

    def vjp(self, g, out, x):
        scale = expand_dims(expand_dims(g * out, -1), -1)
        return (scale * _swap_last(matrix_inverse(x)),)

    def jvp(self, tangents, out, x):
        inner = reduce_sum(_swap_last(matrix_inverse(x)) * tangents[0], (-2, -1))
        return out * inner


class Factorization(Op):
    """One factor of a matrix factorization: `kind` cholesky (L), qr (Q, R), svd (U, S, Vh)
    or eigh (eigenvalues ascending, eigenvectors), factor number `part`. No derivative."""
    name = "factorization"
    differentiable = False
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


def matrix_inverse(x, name=None) -> Tensor:
    return apply(MatrixInverse(), as_tensor(x), name=name)


def determinant(x, name=None) -> Tensor:
    return apply(Determinant(), as_tensor(x), name=name)


def factorization(x, kind: str, part: int, full: bool = False, name=None) -> Tensor:
    return apply(Factorization(kind=kind, part=int(part), full=bool(full)), as_tensor(x),
                 name=name)
