"""The sparse cross-entropy's short-row loops (backend/numpy/rows.py) against the NumPy
kernels they stand in for and against PyTorch: values, gradients, ignored ids, bad ids."""
import numpy as np
import pytest
import torch

import tinyflow
import tinyflow.nn.functional as F
from tinyflow.backend.numpy import nn as nn_kernels
from tinyflow.backend.numpy import rows
from tinyflow.ops.nn import SparseSoftmaxCrossEntropy, SparseSoftmaxCrossEntropyGrad


def _numpy_paths(monkeypatch):
    """Make the kernels skip the loops: the NumPy code they replace for short rows."""
    monkeypatch.setattr(rows, "sparse_xent_rows", lambda *a: None)
    monkeypatch.setattr(rows, "sparse_xent_grad_rows", lambda *a: None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ignore_index", [None, 2, -100])
def test_loops_give_the_numpy_kernels_values(dtype, ignore_index, monkeypatch):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((37, 10)) * 30).astype(dtype)   # large logits: the max matters
    x[5] = -np.inf     # a row of -inf: NaN, as NumPy's
    x[6, 3] = np.nan
    ids = rng.integers(0, 10, 37)
    ids[:4] = 2
    if ignore_index == -100:
        ids[6:8] = -100      # the NaN row ignored too: NaN gradient, as the NumPy kernel's
    g = rng.standard_normal(37).astype(dtype)
    op = SparseSoftmaxCrossEntropy(ignore_index=ignore_index)
    grad_op = SparseSoftmaxCrossEntropyGrad(ignore_index=ignore_index)
    assert rows.sparse_xent_rows(x, ids, ignore_index) is not None    # the loops run
    loss = nn_kernels.sparse_softmax_cross_entropy(op, ids, x)
    grad = nn_kernels.sparse_softmax_cross_entropy_grad(grad_op, g, ids, x)
    _numpy_paths(monkeypatch)
    with np.errstate(invalid="ignore"):    # the rows of -inf and NaN
        want = nn_kernels.sparse_softmax_cross_entropy(op, ids, x)
        want_grad = nn_kernels.sparse_softmax_cross_entropy_grad(grad_op, g, ids, x)
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert loss.dtype == grad.dtype == dtype and grad.shape == x.shape
    np.testing.assert_allclose(loss, want, **tol)
    np.testing.assert_allclose(grad, want_grad, **tol)
    if ignore_index is not None:
        ignored = (ids == ignore_index) & ~np.isnan(x).any(-1)
        assert ignored.any() and (loss[ids == ignore_index] == 0).all()
        assert (grad[ignored] == 0).all()


def test_rows_of_any_leading_shape_and_integer_ids():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 7)).astype(np.float32)
    ids = rng.integers(0, 7, (3, 4)).astype(np.int32)
    loss = rows.sparse_xent_rows(x, ids, None)
    want = torch.nn.functional.cross_entropy(torch.from_numpy(x.reshape(-1, 7)),
                                             torch.from_numpy(ids.reshape(-1)).long(),
                                             reduction="none").numpy().reshape(3, 4)
    np.testing.assert_allclose(loss, want, rtol=1e-6, atol=1e-6)


def test_uncovered_inputs_fall_back():
    x = np.ones((4, 40), np.float32)        # rows longer than the loops take
    assert rows.sparse_xent_rows(x, np.zeros(4, np.int64), None) is None
    x = np.ones((10, 4), np.float32).T      # not C-contiguous
    assert rows.sparse_xent_rows(x, np.zeros(4, np.int64), None) is None
    x = np.ones((4, 10), np.float32)
    assert rows.sparse_xent_grad_rows(np.ones(4), np.zeros(4, np.int64), x, None) is None


@pytest.mark.parametrize("bad", [10, -1, np.iinfo(np.int64).min])
def test_an_id_out_of_range_is_named(bad):
    x = np.zeros((4, 10), np.float32)
    ids = np.array([0, 1, bad, 3])
    assert rows.sparse_xent_rows(x, ids, None) is None     # the kernel then says which
    with pytest.raises(IndexError, match=r"label ids must be in \[0, 10\)"):
        nn_kernels.sparse_softmax_cross_entropy(SparseSoftmaxCrossEntropy(), ids, x)
    with pytest.raises(IndexError, match=r"label ids must be in \[0, 10\)"):
        nn_kernels.sparse_softmax_cross_entropy_grad(SparseSoftmaxCrossEntropyGrad(),
                                                     np.ones(4, np.float32), ids, x)


@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_and_its_gradient_match_torch(ignore):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((128, 10)).astype(np.float64)
    y = rng.integers(0, 10, 128)
    if ignore:
        y[::7] = -100
    mine = tinyflow.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(mine, tinyflow.tensor(y))
    want = torch.nn.functional.cross_entropy(theirs, torch.tensor(y))
    loss.backward()
    want.backward()
    np.testing.assert_allclose(loss.item(), want.item(), rtol=1e-12)
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_finite_difference_gradient_of_the_loop():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5))
    ids = np.array([0, 4, 2, 2, 1, 3])
    g = rng.standard_normal(6)
    grad = rows.sparse_xent_grad_rows(g, ids, x, None)
    eps, numeric = 1e-6, np.empty_like(x)
    for i in range(6):
        for j in range(5):
            up, down = x.copy(), x.copy()
            up[i, j] += eps
            down[i, j] -= eps
            numeric[i, j] = g @ (rows.sparse_xent_rows(up, ids, None)
                                 - rows.sparse_xent_rows(down, ids, None)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
