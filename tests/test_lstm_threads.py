"""The fused LSTM's recurrence as one Numba loop calling OpenBLAS's ?gemm by address
(backend/numpy/blas.py, `_fast_math_loops.lstm_forward_steps` / `lstm_backward_steps`), its
batch columns cut among the kernel pool's threads (backend/numpy/rnn.py `_by_columns`):
nn.LSTM against torch.nn.LSTM (output, h_n, c_n and every gradient) with the pool forced on,
for batches that are cut (33: 16 + 17 columns, 48, 64; the pieces' column floor lowered to
16) and batches too small to cut (1, 3),
with the BLAS binding and without it (NumPy's matmul per step, never cut); and the same
model with the pool on and off: the same to rounding (a column may fall in LLVM's vector
body cut and in its scalar remainder uncut, which round the fast-math sigmoid and tanh
differently in the last bit). The recurrence cut by hidden rows (`_by_rows`) against torch,
and a piece whose partner never starts running every step itself; each step's product in
small blocks.
tests/test_lstm_fused.py covers more shapes on the plain path."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow as tf
from pool_helpers import force_pool
from test_lstm_fused import inputs, models, run
from tinyflow.backend.numpy import blas, parallel
from tinyflow.backend.numpy import rnn as rnn_kernels


@pytest.fixture(params=["blas", "numpy"])
def binding(request, monkeypatch):
    """Runs each test with the BLAS binding found, then as if it were not (None)."""
    if request.param == "numpy":
        monkeypatch.setattr(blas, "gemm_address", lambda dtype: None)
    else:
        assert blas.gemm_address(np.float32) and blas.gemm_address(np.float64)
    return request.param


def _run(lib, module, x, state, weights, uses):
    """run()'s values, then its gradients, in one list."""
    values, grads = run(lib, module, x, state, weights, uses)
    return values + grads


def _inputs(dtype, *case):
    return inputs(np.random.default_rng(case[1]), dtype, *case)


CASES = [  # (steps, batch, features, hidden, layers, bidirectional, batch_first, state, uses)
    (5, 33, 4, 6, 1, False, False, False, "h_n"),
    (4, 48, 3, 5, 1, False, True, True, "output"),
    (3, 33, 3, 4, 2, True, False, True, "all"),
    (4, 64, 5, 7, 2, False, True, False, "all"),
    (4, 3, 3, 5, 1, False, False, True, "all"),
    (3, 1, 2, 3, 2, True, True, False, "all"),
]
TOL = {np.float32: 3e-5, np.float64: 1e-10}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_cut_batch_matches_torch(monkeypatch, binding, case, dtype):
    calls = force_pool(monkeypatch, 1, [])
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_COLUMNS", rnn_kernels.COLUMN_BLOCK)
    steps, batch, features, hidden, layers, bidirectional, batch_first, state, uses = case
    reference, ours = models(dtype, features, hidden, layers, bidirectional, batch_first)
    x, init, weights = _inputs(dtype, *case[:-1])
    want = _run(torch, reference, x, init, weights, uses)
    got = _run(tf, ours, x, init, weights, uses)
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        if w is None or not np.any(w):
            assert g is None or not np.any(g), f"result {k} should be zero"
            continue
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"result {k}")
    # with the binding: one forward and one backward per layer and direction, cut when
    # there are two blocks; without it the per-step Python loop is never cut
    cut = binding == "blas" and batch // rnn_kernels.COLUMN_BLOCK >= 2
    runs = layers * (2 if bidirectional else 1) * 2
    assert calls.count("rnn.py") == (runs if cut else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [33, 40])
@pytest.mark.parametrize("uses", ["all", "h_n"])
def test_pool_on_and_off_agree(monkeypatch, binding, dtype, batch, uses):
    """Each column gets the same arithmetic whichever thread runs it (h_n alone: the
    backward given the last slot's adjoint only)."""
    case = (6, batch, 5, 9, 2, True, False, True)
    _, ours = models(dtype, *case[2:7])
    x, init, weights = _inputs(dtype, *case)
    results = []
    for threads in (1, 2):
        monkeypatch.setattr(parallel, "threads", lambda: threads)
        monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
        monkeypatch.setattr(rnn_kernels, "MIN_PIECE_COLUMNS", rnn_kernels.COLUMN_BLOCK)
        for p in ours.parameters():
            p.grad = None
        results.append(_run(tf, ours, x, init, weights, uses))
    off, on = results
    close = {np.float32: 1e-5, np.float64: 1e-13}[dtype]
    for k in range(len(on)):
        np.testing.assert_allclose(on[k], off[k], rtol=close, atol=close, err_msg=f"result {k}")


ROW_CASES = [  # batches under the column cut: the hidden rows are cut (floor lowered to 2)
    (5, 3, 4, 6, 1, False, False, False, "h_n"),
    (4, 1, 3, 7, 2, True, True, True, "all"),
    (6, 32, 5, 9, 1, False, False, True, "output"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ROW_CASES, ids=lambda c: "-".join(map(str, c)))
def test_cut_rows_match_torch(monkeypatch, case, dtype):
    """The recurrence cut by hidden rows (`_by_rows`: each step's pieces first come, first served),
    forward and backward, against torch; every fused run goes to the pool."""
    calls = force_pool(monkeypatch, 1, [])
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 2)
    steps, batch, features, hidden, layers, bidirectional, batch_first, state, uses = case
    reference, ours = models(dtype, features, hidden, layers, bidirectional, batch_first)
    x, init, weights = _inputs(dtype, *case[:-1])
    want = _run(torch, reference, x, init, weights, uses)
    got = _run(tf, ours, x, init, weights, uses)
    for k, (g, w) in enumerate(zip(got, want)):
        if w is None or not np.any(w):
            assert g is None or not np.any(g), f"result {k} should be zero"
            continue
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"result {k}")
    assert calls.count("rnn.py") == layers * (2 if bidirectional else 1) * 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cut_rows", [False, True])
def test_products_in_small_blocks_match_torch(monkeypatch, dtype, cut_rows):
    """Each step's product cut into blocks of 3 rows x 2 inner terms (`_blocks`; remainders
    in both), the depth blocks accumulating, forward and backward, whole or cut by rows."""
    if cut_rows:
        force_pool(monkeypatch, 1, [])
        monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 2)
    monkeypatch.setattr(rnn_kernels, "_blocks", lambda m, n, k: (min(m, 3), min(k, 2)))
    case = (4, 5, 3, 7, 2, False, True, True, "all")
    reference, ours = models(dtype, *case[2:7])
    x, init, weights = _inputs(dtype, *case[:-1])
    want = _run(torch, reference, x, init, weights, case[-1])
    got = _run(tf, ours, x, init, weights, case[-1])
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype], err_msg=f"result {k}")


def test_small_blocks_only_where_they_pay(monkeypatch):
    """Blocks under OpenBLAS's small-matrix bound at 32 columns or fewer on its AVX-512
    kernels; one product otherwise."""
    monkeypatch.setattr(blas, "core_name", lambda: "skylakex")
    rows, depth = rnn_kernels._blocks(1024, 32, 256)
    assert depth == 128 and rows * 32 * depth <= rnn_kernels.SMALL_PRODUCT and rows >= 200
    assert rnn_kernels._blocks(1024, 64, 256) == (1024, 256)
    assert rnn_kernels._blocks(24, 8, 6) == (24, 6)
    monkeypatch.setattr(blas, "core_name", lambda: "haswell")
    assert rnn_kernels._blocks(1024, 32, 256) == (1024, 256)


@pytest.mark.parametrize("order", [(0,), (1,), (1, 0), (0, 1)])
def test_row_pieces_that_never_start_are_run_by_the_others(monkeypatch, order):
    """A row piece whose partner never starts (a thread the OS does not run), or starts
    only after it has finished, runs every step itself: the same results as the recurrence
    uncut, and nothing waits forever or raises (the barrier it replaced gave up after
    ~2^24 yields and raised). The pool here runs the pieces of `order` one after another
    in this thread."""
    monkeypatch.setattr(parallel, "threads", lambda: 2)
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 1)
    case = (6, 5, 3, 8, 1, False, False, True, "all")
    reference, ours = models(np.float64, *case[2:7])
    x, init, weights = _inputs(np.float64, *case[:-1])
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 100)      # uncut
    want = _run(tf, ours, x, init, weights, case[-1])
    pieces = []

    def some(piece, length, count=0, **_):
        if not piece.__code__.co_filename.endswith("rnn.py"):
            piece(0, length)      # other kernels: whole, here
            return True
        pieces.append(length)
        for p in order:
            piece(p, p + 1)
        return True
    monkeypatch.setattr(parallel, "run", some)
    monkeypatch.setattr(rnn_kernels, "MIN_PIECE_ROWS", 2)
    got = _run(tf, ours, x, init, weights, case[-1])
    assert pieces == [2, 2]      # forward and backward cut in two row pieces
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=f"result {k}")
