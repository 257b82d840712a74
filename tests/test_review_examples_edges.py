"""Review of s20-examples (nll_loss's gather, LogSoftmaxGrad, pow 2/1, getitem's slice adds):
edge cases against PyTorch that the branch's own tests leave out. All pass on the branch;
they guard the new paths."""
import numpy as np
import pytest
import torch

import tinyflow

F, TF = tinyflow.nn.functional, torch.nn.functional
rng = np.random.default_rng(7)


def _both(fn_tf, fn_torch, x, *rest):
    a, b = tinyflow.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = fn_tf(a, *rest), fn_torch(b, *rest)
    ya.sum().backward()
    yb.sum().backward()
    return (ya.detach().numpy(), a.grad.numpy()), (yb.detach().numpy(), b.grad.numpy())


def _close(got, want, tol=1e-5):
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_weighted_k_dim_nll_with_ignored_targets(reduction, ignore_index):
    x = rng.standard_normal((2, 7, 3, 4)).astype(np.float32)
    t, w = rng.integers(0, 7, (2, 3, 4)), rng.random(7).astype(np.float32)
    t[0, 0, :2] = ignore_index
    got, want = _both(
        lambda a: F.nll_loss(F.log_softmax(a, 1), tinyflow.tensor(t), tinyflow.tensor(w),
                             ignore_index=ignore_index, reduction=reduction),
        lambda b: TF.nll_loss(TF.log_softmax(b, 1), torch.tensor(t), torch.tensor(w),
                              ignore_index=ignore_index, reduction=reduction), x)
    _close(got, want)


def test_every_target_ignored_with_weights_is_nan_with_zero_gradients():
    x, t, w = rng.standard_normal((5, 40)).astype(np.float32), np.full(5, -100), np.ones(40)
    got, want = _both(
        lambda a: F.nll_loss(F.log_softmax(a, -1), tinyflow.tensor(t),
                             tinyflow.tensor(w.astype(np.float32))),
        lambda b: TF.nll_loss(TF.log_softmax(b, -1), torch.tensor(t),
                              torch.tensor(w.astype(np.float32))), x)
    assert np.isnan(got[0]) and np.isnan(want[0])
    _close(got[1:], want[1:])


def test_compiled_nll_refuses_a_negative_target_rather_than_wrapping():
    # eager checks ids before the gather; a compiled step's ids are symbolic, so the gather's
    # own range check must refuse -1 (take_along_axis alone would read the last class)
    w = tinyflow.tensor(np.ones(40, np.float32))
    step = tinyflow.compile(lambda x, t: F.nll_loss(F.log_softmax(x, -1), t, w))
    t = np.arange(5)
    t[2] = -1
    with pytest.raises(IndexError):
        step(tinyflow.tensor(rng.standard_normal((5, 40)).astype(np.float32)),
             tinyflow.tensor(t))


def test_log_softmax_gradient_of_strided_and_broadcast_upstream_on_long_rows():
    x = rng.standard_normal((64, 512)).astype(np.float64)   # long rows: the row loops
    scale = np.arange(512.0)
    got, want = _both(lambda a: (F.log_softmax(a, -1) * tinyflow.tensor(scale))[:, ::3],
                      lambda b: (TF.log_softmax(b, -1) * torch.tensor(scale))[:, ::3], x)
    _close(got, want, 1e-9)


@pytest.mark.parametrize("exponent", [2, 1])
def test_tensor_exponent_and_signed_zero_nan_inf(exponent):
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, -3.5, 1e30], np.float32)
    got, want = _both(lambda a: a ** tinyflow.tensor(np.float32(exponent)),
                      lambda b: b ** torch.tensor(np.float32(exponent)), x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))
        np.testing.assert_allclose(g, w, equal_nan=True)


@pytest.mark.parametrize("index", [[3, -1, 0, 3, 3], [-4], np.arange(1025) % 4])
def test_getitem_gradient_on_a_middle_axis(index):
    x, index = rng.standard_normal((3, 4, 6)), np.asarray(index)
    got, want = _both(lambda a: a[:, tinyflow.tensor(index)] * 1.5,
                      lambda b: b[:, torch.tensor(index)] * 1.5, x)
    _close(got, want, 1e-12)


def test_getitem_out_of_range_index_array_is_refused():
    a = tinyflow.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(IndexError):
        a[:, tinyflow.tensor(np.array([0, -5]))]
