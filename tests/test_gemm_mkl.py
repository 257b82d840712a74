"""Large products through MKL (backend/numpy/gemm.py): equal to float64 NumPy for every
layout CBLAS reads in place, cut across the pool or not, and declined (None: NumPy runs them)
where MKL cannot take them."""
import os
import platform
import sys
import threading

import numpy as np
import pytest

from tinyflow.backend.numpy import blas, gemm, parallel

from pool_helpers import force_pool

needs_mkl = pytest.mark.skipif(blas.mkl() is None, reason="no MKL wheel on this platform")


@pytest.mark.skipif(not (sys.platform == "linux" and platform.machine() == "x86_64")
                    or os.environ.get("TINYFLOW_BLAS", "").lower() == "openblas",
                    reason="the mkl wheel is a dependency on x86-64 Linux only")
def test_mkl_is_loaded_where_it_is_a_dependency():
    assert blas.mkl() is not None


def _operands(rng, m, k, n, dtype, transpose_a, transpose_b):
    a = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
    return (a.T if transpose_a else a), (b.T if transpose_b else b)


@needs_mkl
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("shape", [(300, 130, 257), (33, 1100, 120)])   # cut by rows, columns
def test_products_equal_numpy(monkeypatch, dtype, tol, transpose_a, transpose_b, pool, shape):
    if pool:
        calls = force_pool(monkeypatch, 1, [])
    else:     # whole in MKL, as with OpenBLAS on one thread
        monkeypatch.setattr(parallel, "threads", lambda: 1)
        monkeypatch.setattr(parallel, "openblas_threads", lambda: 1)
    monkeypatch.setattr(gemm, "MIN_MACS", 1)
    monkeypatch.setattr(gemm, "SPLIT_MACS", 1)
    a, b = _operands(np.random.default_rng(0), *shape, dtype, transpose_a, transpose_b)
    got = gemm.matmul(a, b)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert got is not None and got.dtype == dtype
    assert np.abs(got - want).max() <= tol * np.abs(want).max() * shape[1] ** 0.5
    if pool:
        assert calls == ["gemm.py"]


@needs_mkl
def test_strided_operands_batched_rows_and_out(monkeypatch):
    monkeypatch.setattr(gemm, "MIN_MACS", 1)
    monkeypatch.setattr(gemm, "SPLIT_MACS", 1)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 300)).astype(np.float32)[:, 40:240]   # leading dim 300
    b = rng.standard_normal((200, 90)).astype(np.float32)
    out = np.full((64, 200), np.nan, np.float32)[:, 50:140]            # into a wider buffer
    assert gemm.matmul(a, b, out) is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-4)
    x = rng.standard_normal((4, 16, 200)).astype(np.float32)           # [..., k] @ [k, n]
    got = gemm.matmul(x, b)
    assert got.shape == (4, 16, 90)
    np.testing.assert_allclose(got, x @ b, rtol=1e-5, atol=1e-4)
    into = np.empty((4, 16, 90), np.float32)
    assert gemm.matmul(x, b, into) is into
    np.testing.assert_allclose(into, got, rtol=0, atol=0)


@needs_mkl
def test_declined_products_are_left_to_numpy(monkeypatch):
    monkeypatch.setattr(gemm, "MIN_MACS", 1)
    monkeypatch.setattr(gemm, "SPLIT_MACS", 1)
    a = np.ones((8, 8), np.float32)
    assert gemm.matmul(a.astype(np.int64), a.astype(np.int64)) is None     # integers
    assert gemm.matmul(a, a.astype(np.float64)) is None                    # mixed dtypes
    assert gemm.matmul(a, np.ones((2, 8, 8), np.float32)) is None          # batched b
    assert gemm.matmul(a[::2, ::2], a[:4, :4]) is None                     # no unit stride
    assert gemm.matmul(a, a, a) is None                                    # out is an input
    readonly = np.zeros((8, 8), np.float32)
    readonly.flags.writeable = False
    assert gemm.matmul(a, a, readonly) is None                             # NumPy raises
    assert gemm.matmul(np.ones((2, 3, 0), np.float32), np.ones((0, 5), np.float32)) is None
    monkeypatch.setattr(gemm, "MIN_MACS", 1 << 22)
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    monkeypatch.setattr(parallel, "openblas_threads", lambda: 1)
    assert gemm.matmul(a, a) is None                                       # too small


@needs_mkl
def test_pool_off_leaves_products_to_threaded_openblas(monkeypatch):
    """With the pool off, one MKL thread would lose to OpenBLAS's several."""
    monkeypatch.setattr(gemm, "MIN_MACS", 1)
    monkeypatch.setattr(parallel, "threads", lambda: 1)
    a = np.ones((64, 64), np.float32)
    monkeypatch.setattr(parallel, "openblas_threads", lambda: 2)
    assert gemm.matmul(a, a) is None
    monkeypatch.setattr(parallel, "openblas_threads", lambda: 1)
    np.testing.assert_array_equal(gemm.matmul(a, a), a @ a)


def test_zero_size_products_through_the_front_end():
    import tinyflow as torch
    x = torch.zeros(2, 3, 0, requires_grad=True)
    assert (x @ torch.zeros(0, 5)).shape == (2, 3, 5)
    x = torch.zeros(2, 3, 4, requires_grad=True)
    (x @ torch.zeros(4, 0)).sum().backward()
    assert x.grad.shape == (2, 3, 4) and not x.grad.numpy().any()


def test_overlapping_runs_give_openblas_its_threads_back(monkeypatch):
    """runs from several threads overlap: OpenBLAS's count comes back once the last ends."""
    counts = [2]

    def setter(n):
        previous, counts[0] = counts[0], n
        return previous
    monkeypatch.setattr(parallel, "_openblas_local", lambda: setter)
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    inside = threading.Barrier(3)

    def piece(i, j):
        if i == 0:
            inside.wait(timeout=30)    # both runs are active at once

    workers = [threading.Thread(target=parallel.run, args=(piece, 2)) for _ in range(2)]
    for w in workers:
        w.start()
    inside.wait(timeout=30)
    assert counts[0] == 1
    for w in workers:
        w.join(timeout=30)
    assert counts[0] == 2


def test_openblas_when_asked(monkeypatch):
    monkeypatch.setenv("TINYFLOW_BLAS", "openblas")
    blas.mkl.cache_clear()
    try:
        assert blas.mkl() is None
        assert gemm.matmul(np.ones((512, 512)), np.ones((512, 512))) is None
    finally:
        monkeypatch.delenv("TINYFLOW_BLAS")
        blas.mkl.cache_clear()


@needs_mkl
def test_linear_layer_against_torch():
    torch = pytest.importorskip("torch")
    import tinyflow as tf_torch
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 64, 256)).astype(np.float32)
    w = rng.standard_normal((384, 256)).astype(np.float32) / 16
    bias = rng.standard_normal(384).astype(np.float32)
    xt = tf_torch.tensor(x, requires_grad=True)
    wt = tf_torch.tensor(w, requires_grad=True)
    y = tf_torch.nn.functional.linear(xt, wt, tf_torch.tensor(bias))
    (y * y).sum().backward()
    xr, wr = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yr = torch.nn.functional.linear(xr, wr, torch.tensor(bias))
    (yr * yr).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(wt.grad.numpy(), wr.grad.numpy(), rtol=1e-4, atol=1e-2)
