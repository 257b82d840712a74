"""Products that call NumPy's OpenBLAS directly (backend/numpy/blas.py): a linear layer's
product added onto its bias by BLAS (beta = 1, torch's addmm), in every layout BLAS reads in
place, and the cases it must leave to NumPy's matmul (overlapping memory, strides BLAS cannot
read, other dtypes)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tinyflow.backend.numpy import blas, linalg
from tinyflow.ops import linalg as ops

needs_bundled = pytest.mark.skipif(blas.gemm_address(np.float32) is None,
                                   reason="NumPy without its bundled 64-bit OpenBLAS")


def _layout(x, how):
    if how == "T":          # a transposed view: column-major, BLAS's transpose flag
        return np.ascontiguousarray(x.T).T
    if how == "ld":         # rows further apart than their length: BLAS's leading dimension
        wide = np.zeros((x.shape[0], x.shape[1] + 3), x.dtype)
        wide[:, :x.shape[1]] = x
        return wide[:, :x.shape[1]]
    return x


@needs_bundled
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_layout,w_layout", [("N", "N"), ("T", "N"), ("ld", "T"), ("N", "ld")])
def test_affine_adds_the_product_onto_the_bias_as_torch_addmm(monkeypatch, dtype, x_layout,
                                                               w_layout):
    monkeypatch.setattr(linalg, "BIAS_IN_PRODUCT", 1)
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((37, 20), (11, 20), (11,)))
    x, w = _layout(x, x_layout), _layout(w, w_layout)
    want = torch.addmm(torch.from_numpy(b), torch.from_numpy(x), torch.from_numpy(w).T).numpy()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = linalg.affine(ops.Affine(), x, w, b)
    assert got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    out = np.full((37, 11), np.nan, dtype)
    assert linalg.affine(ops.Affine(), x, w, b, out=out) is out
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


@needs_bundled
def test_affine_leaves_to_numpy_what_blas_cannot_read_in_place(monkeypatch):
    """An out that is an input's memory, a strided one, a bias inside out, a vector input:
    each gives matmul-then-add's values."""
    monkeypatch.setattr(linalg, "BIAS_IN_PRODUCT", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 6)).astype(np.float32)
    w = rng.standard_normal((6, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    want = x @ w.T + b
    same = x.copy()
    np.testing.assert_allclose(linalg.affine(ops.Affine(), same, w, b, out=same), want,
                               rtol=1e-5, atol=1e-5)
    strided = np.zeros((6, 12), np.float32)[:, ::2]
    np.testing.assert_allclose(linalg.affine(ops.Affine(), x, w, b, out=strided), want,
                               rtol=1e-5, atol=1e-5)
    block = np.zeros((7, 6), np.float32)
    block[6] = b
    np.testing.assert_allclose(linalg.affine(ops.Affine(), x, w, block[6], out=block[:6]),
                               want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(linalg.affine(ops.Affine(), x[:1], w, b), want[:1],
                               rtol=1e-5, atol=1e-5)
    every_other = rng.standard_normal((6, 12)).astype(np.float32)[:, ::2]
    np.testing.assert_allclose(linalg.affine(ops.Affine(), every_other, w, b),
                               every_other @ w.T + b, rtol=1e-5, atol=1e-5)


@needs_bundled
def test_gemm_call_sets_or_accumulates_and_refuses_what_it_cannot_run():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))
    c = np.ones((5, 3))
    blas.gemm_call(a, b.T.copy().T, c)(1.0)
    np.testing.assert_allclose(c, a @ b + 1, rtol=1e-12)
    blas.gemm_call(a, b, c)(0.0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12)
    assert blas.gemm_call(a.astype(np.int64), b.astype(np.int64), c.astype(np.int64)) is None
    assert blas.gemm_call(a.astype(np.float32), b, c) is None        # mixed dtypes
    assert blas.gemm_call(a, b, np.ones((3, 5)).T) is None             # c column-major
    assert blas.gemm_call(a[:, ::2], b[::2], c) is None                 # strides BLAS can't read
    assert blas.gemm_call(a, b, a[:, :3]) is None                       # c overlaps a
