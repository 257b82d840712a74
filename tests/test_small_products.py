"""2-D products just above OpenBLAS's small-matrix limit run as two halves on its SkylakeX-family
kernels, whole on others
(backend/numpy/linalg.py, `_product`): each layout, both float dtypes, odd lengths, the
affine op, and an `out` that overlaps an operand (left whole to NumPy) give NumPy's values.
Products of one inner term run in the outer-product loop, with NumPy's values exactly."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import blas, linalg
from tinyflow.ops import linalg as ops


def _halves_seen(monkeypatch, core: str = "skylakex") -> list:
    """Records the operand shapes of every np.matmul the kernel module calls, OpenBLAS's
    kernels taken to be `core`'s (the halves are cut for SkylakeX's small-matrix kernels)."""
    seen, matmul = [], np.matmul
    monkeypatch.setattr(blas, "core_name", lambda: core)

    class Counting:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b, out=None):
            seen.append((a.shape, b.shape))
            return matmul(a, b, out=out)
    monkeypatch.setattr(linalg, "np", Counting())
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m,k,n,ta,tb", [(129, 1024, 10, False, True),     # MLP's last layer
                                         (129, 10, 1023, False, False),    # its input gradient
                                         (10, 129, 1023, True, False),     # its weight gradient
                                         (1023, 10, 129, False, False)])
def test_products_just_over_the_small_limit_run_in_halves(monkeypatch, dtype, m, k, n, ta, tb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    want = (a.T if ta else a) @ (b.T if tb else b)
    seen = _halves_seen(monkeypatch)
    got = linalg.matmul(ops.MatMul(transpose_a=ta, transpose_b=tb), a, b)
    assert len(seen) == 2 and got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("core", ["haswell", "zen", ""])
def test_products_stay_whole_where_openblas_packs_small_ones(monkeypatch, core):
    """On kernels that pack every product the halves cost more than the whole (and OpenBLAS
    threads the whole, not the halves): the LSTMCell example's float64 products."""
    rng = np.random.default_rng(0)
    g, w, x = (rng.standard_normal(s) for s in ((97, 204), (204, 51), (97, 51)))
    seen = _halves_seen(monkeypatch, core)
    for ta, a, b in ((False, g, w), (True, g, x)):
        got = linalg.matmul(ops.MatMul(transpose_a=ta, transpose_b=False), a, b)
        np.testing.assert_allclose(got, (a.T if ta else a) @ b, rtol=1e-12)
    assert seen == [((97, 204), (204, 51)), ((204, 97), (97, 51))]


def test_affine_overlapping_out_and_a_single_row(monkeypatch):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((129, 1024), (10, 1024), (10,)))
    seen = _halves_seen(monkeypatch)
    np.testing.assert_allclose(linalg.affine(ops.Affine(), x, w, b), x @ w.T + b,
                               rtol=1e-5, atol=1e-4)
    assert len(seen) == 2
    plain = ops.MatMul(transpose_a=False, transpose_b=False)
    big = rng.standard_normal((1024, 1124)).astype(np.float32)
    left, right = big[:128, 100:], big[:, :10]
    want = left @ right
    # out is right's first rows: a second half would read what the first half wrote
    linalg.matmul(plain, left, right, out=big[:128, :10])
    np.testing.assert_allclose(big[:128, :10], want, rtol=1e-4, atol=1e-3)
    assert len(seen) == 3                # one whole call: NumPy copies what it must
    row, wide = big[:1, :1024], rng.standard_normal((1024, 1500)).astype(np.float32)
    np.testing.assert_allclose(linalg.matmul(plain, row, wide), row @ wide, rtol=1e-4, atol=1e-3)
    assert len(seen) == 4                # one row: a matrix-vector product, not cut


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_inner_term_runs_in_the_outer_loop(monkeypatch, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((97, 3)).astype(dtype)[:, 1:2]     # a strided column (LSTMCell)
    w, b = rng.standard_normal((204, 1)).astype(dtype), rng.standard_normal(204).astype(dtype)
    want = np.matmul(x, w.T)
    seen = _halves_seen(monkeypatch)
    plain, wt = ops.MatMul(transpose_a=False, transpose_b=False), w.T
    got = linalg.matmul(plain, x, wt)
    assert seen == [] and got.dtype == dtype and np.array_equal(got, want)
    assert np.array_equal(linalg.affine(ops.Affine(), x, w, b), want + b) and seen == []
    out = np.empty((97, 204), dtype)
    assert linalg.matmul(plain, x, wt, out=out) is out and np.array_equal(out, want)
    big = rng.standard_normal((204, 204)).astype(dtype)
    left, right = big[:97, :1], big[:1, :]
    want = left @ right
    linalg.matmul(plain, left, right, out=big[:97])   # out overlaps both: NumPy's
    assert len(seen) == 1 and np.array_equal(big[:97], want)
    linalg.matmul(plain, x[:8], wt[:, :8])                # 64 outputs: NumPy's call
    assert len(seen) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_adds_the_product_onto_the_bias_in_one_gemm(monkeypatch, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 60)).astype(dtype)[:, 4:55]   # rows 60 apart; not cut
    b = rng.standard_normal(204).astype(dtype)
    seen = _halves_seen(monkeypatch)
    for w in (rng.standard_normal((204, 51)).astype(dtype),               # w's rows: b^T
              np.asfortranarray(rng.standard_normal((204, 51)).astype(dtype))):  # w^T's rows
        want = x.astype(np.float64) @ w.T.astype(np.float64) + b
        np.testing.assert_allclose(linalg.affine(ops.Affine(), x, w, b), want, rtol=1e-5,
                                   atol=1e-4)
        out = np.empty((64, 204), dtype)
        assert linalg.affine(ops.Affine(), x, w, b, out=out) is out
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)
    assert seen == []                    # no NumPy matmul: ?gemm onto the bias
    w = rng.standard_normal((204, 102)).astype(dtype)[:, ::2]             # BLAS cannot read it
    np.testing.assert_allclose(linalg.affine(ops.Affine(), x, w, b),
                               x.astype(np.float64) @ w.T.astype(np.float64) + b,
                               rtol=1e-5, atol=1e-4)
    assert len(seen) == 1
