"""Matrix functions (tinyflow/ops/matrix.py): inverse and determinant (with gradients), and
the factorizations (forward only), against NumPy's LAPACK calls."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.ops.matrix import cofactor, determinant, factorization, matrix_inverse

from .common import FLOATS, A, ErrorInput, OpCase, S


def well_conditioned(rng, shape):
    """Square matrices near 3 I: far from singular, so inverse and det are smooth."""
    return rng.uniform(-1, 1, shape) + 3 * np.eye(shape[-1])


def symmetric_positive(rng, shape):
    a = rng.uniform(-1, 1, shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def np_factor(x, kind, part, full=False):
    if kind == "cholesky":
        return np.linalg.cholesky(x)
    if kind == "eigh":
        return np.linalg.eigh(x)[part]
    if kind == "qr":
        return np.linalg.qr(x, "complete" if full else "reduced")[part]
    return np.linalg.svd(x, full_matrices=full)[part]


def symmetric_factor(x, kind, part):
    """The factor of (x + x^T) / 2; eigenvectors signed so that their sums are positive."""
    factor = factorization(0.5 * (x + x.mT), kind, part)
    if kind == "eigh" and part == 1:
        factor = factor * tf.sign(factor.sum(-2, keepdim=True))
    return factor


def np_symmetric_factor(x, kind, part):
    factor = np_factor(0.5 * (x + np.swapaxes(x, -1, -2)), kind, part)
    if kind == "eigh" and part == 1:
        factor = factor * np.sign(factor.sum(-2, keepdims=True))
    return factor


def np_cofactor(x):
    """(-1)^(i+j) times the minor without row i and column j, matrix by matrix."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    n = x.shape[-1]
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(x, i, -2), j, -1)
            out[..., i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


def square_samples(domain=well_conditioned) -> tuple:
    return (S(A(3, 3, domain=domain)), S(A(2, 4, 4, domain=domain)),
            S(A(1, 1, domain=domain)), S(A(0, 2, 2, domain=domain)))


CASES: list[OpCase] = [
    # dynamic=False: the derivatives transpose the last two dims, of a known rank
    OpCase("matrix_inverse", matrix_inverse, np.linalg.inv, square_samples(), FLOATS,
           atol=1e-5, dynamic=False,
           errors=(ErrorInput(S(A(3, 4)), tf.ShapeError,
                              r"^matrix_inverse: A is 3 by 4; the last two dims must be square"),
                   ErrorInput(S(A(3)), tf.ShapeError, r"\(>= 2 dims\)"))),
    OpCase("determinant", determinant, np.linalg.det, square_samples(), FLOATS, atol=1e-4,
           dynamic=False,
           errors=(ErrorInput(S(A(2, 3)), tf.ShapeError, r"^determinant: A is 2 by 3"),)),
    OpCase("cofactor", cofactor, np_cofactor,
           square_samples(), FLOATS,
           atol=1e-4, dynamic=False,
           errors=(ErrorInput(S(A(2, 3)), tf.ShapeError, r"^cofactor: A is 2 by 3"),)),
    OpCase("factorization", factorization, np_factor,
           (S(A(4, 3), kind="qr", part=1),
            S(A(3, 5), kind="qr", part=0, full=True),
            S(A(2, 4, 3), kind="svd", part=1),
            S(A(3, 5), kind="svd", part=2, full=True)), FLOATS, grad=False, atol=1e-4,
           errors=(ErrorInput(S(A(3, 4), kind="cholesky", part=0), tf.ShapeError,
                              r"A is 3 by 4; the last two dims must be square"),)),
    # differentiated through a symmetrization, as PyTorch's gradcheck of these does: the
    # derivatives are those of a symmetric input, and finite differences of the factor of
    # sym(A) agree with them whatever the derivative's convention
    OpCase("factorization_of_symmetric", symmetric_factor, np_symmetric_factor,
           (S(A(3, 3, domain=symmetric_positive), kind="cholesky", part=0),
            S(A(2, 4, 4, domain=symmetric_positive), kind="cholesky", part=0),
            S(A(3, 3, domain=symmetric_positive), kind="eigh", part=0),
            S(A(2, 4, 4, domain=symmetric_positive), kind="eigh", part=0),
            S(A(3, 3, domain=symmetric_positive), kind="eigh", part=1)), FLOATS,
           op="factorization", atol=1e-4, dynamic=False,
           second_order=False),   # eigenvector signs make second differences noisy
]
