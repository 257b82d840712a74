"""The less common torch.nn / nn.functional APIs (prelu, selu, celu, softmin, threshold, the
upsample aliases, the margin and Gaussian losses, bilinear, alpha dropout) against PyTorch in
float64: values and gradients of every input and parameter, from one table per kind."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow import nn

from torch_oracle import copy_state, randomize

TOL = dict(rtol=1e-10, atol=1e-12)
SIGNS = np.where(np.random.default_rng(7).random((3, 4)) < 0.5, -1.0, 1.0)


def _pair(arr, grad):
    return (torch.tensor(arr, requires_grad=grad), tinyflow.tensor(arr, requires_grad=grad))


def _draw(spec, rng):
    """A spec is a shape (float64 normals needing grad) or a fixed array (no grad)."""
    if isinstance(spec, tuple):
        return _pair(rng.standard_normal(spec), True)
    return _pair(np.asarray(spec), False)


def _check(torch_fn, tf_fn, specs, params=(), seed=0):
    """Same inputs to both; outputs equal, then gradients of a random projection equal."""
    rng = np.random.default_rng(seed)
    pairs = [_draw(s, rng) for s in specs]
    t_out = torch_fn(*[p[0] for p in pairs])
    f_out = tf_fn(*[p[1] for p in pairs])
    assert f_out.dtype.name == "float64"
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), **TOL)
    w = rng.standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(w)).sum().backward()
    (f_out * tinyflow.tensor(w)).sum().backward()
    for k, (t, f) in enumerate([p for p in pairs if p[0].requires_grad] + list(params)):
        assert f.grad is not None, f"input {k}: no gradient"
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), err_msg=f"grad {k}", **TOL)


# (name, call with L = torch or tinyflow, input specs)
FUNCTIONS = [
    ("selu", lambda L, x: L.nn.functional.selu(x), [(3, 4)]),
    # alpha exact in float32: torch's celu backward rounds 1/alpha to float32 (1e-8 off)
    ("celu", lambda L, x: L.nn.functional.celu(x, 0.5), [(3, 4)]),
    ("softmin", lambda L, x: L.nn.functional.softmin(x, dim=1), [(3, 4)]),
    ("softmin_dim0", lambda L, x: L.nn.functional.softmin(x, 0), [(3, 4)]),
    ("tanhshrink", lambda L, x: L.nn.functional.tanhshrink(x), [(3, 4)]),
    ("threshold", lambda L, x: L.nn.functional.threshold(x, 0.1, -2.0), [(3, 4)]),
    ("prelu_shared", lambda L, x, w: L.nn.functional.prelu(x, w), [(2, 3, 4), (1,)]),
    ("prelu_channels", lambda L, x, w: L.nn.functional.prelu(x, w), [(2, 3, 4), (3,)]),
    ("prelu_1d", lambda L, x, w: L.nn.functional.prelu(x, w), [(5,), (1,)]),
    ("upsample", lambda L, x: L.nn.functional.upsample(x, scale_factor=2, mode="bilinear"),
     [(1, 2, 3, 3)]),
    ("upsample_nearest", lambda L, x: L.nn.functional.upsample_nearest(x, size=(5, 4)),
     [(1, 2, 3, 3)]),
    ("upsample_bilinear", lambda L, x: L.nn.functional.upsample_bilinear(x, scale_factor=2),
     [(1, 2, 3, 3)]),
    ("upsample_bilinear_size", lambda L, x: L.nn.functional.upsample_bilinear(x, (4, 5)),
     [(2, 1, 3, 2)]),
    ("soft_margin", lambda L, x, y: L.nn.functional.soft_margin_loss(x, y), [(3, 4), SIGNS]),
    ("soft_margin_none", lambda L, x, y: L.nn.functional.soft_margin_loss(
        30 * x, y, reduction="none"), [(3, 4), SIGNS]),
    ("hinge_embedding", lambda L, x, y: L.nn.functional.hinge_embedding_loss(x, y, 0.5),
     [(3, 4), SIGNS]),
    ("hinge_embedding_sum_other_targets", lambda L, x, y: L.nn.functional.hinge_embedding_loss(
        x, y, reduction="sum"), [(3, 4), SIGNS * np.array([1, 0, 2, 1])]),
    ("multilabel_soft_margin", lambda L, x, y: L.nn.functional.multilabel_soft_margin_loss(
        x, y), [(3, 4), (SIGNS > 0) * 1.0]),
    ("multilabel_soft_margin_weight", lambda L, x, y, w:
     L.nn.functional.multilabel_soft_margin_loss(20 * x, y, w, reduction="none"),
     [(3, 4), (SIGNS > 0) * 1.0, (4,)]),
    ("triplet_margin", lambda L, a, p, n: L.nn.functional.triplet_margin_loss(a, p, n),
     [(5, 3), (5, 3), (5, 3)]),
    ("triplet_margin_swap_p1", lambda L, a, p, n: L.nn.functional.triplet_margin_loss(
        a, p, n, margin=2.0, p=1, swap=True, reduction="none"), [(5, 3), (5, 3), (5, 3)]),
    ("triplet_margin_1d", lambda L, a, p, n: L.nn.functional.triplet_margin_loss(
        a, p, n, margin=3.0), [(3,), (3,), (3,)]),
    ("gaussian_nll", lambda L, x, t, v: L.nn.functional.gaussian_nll_loss(x, t, v * v),
     [(3, 4), (3, 4), (3, 4)]),
    ("gaussian_nll_row_var_full", lambda L, x, t, v: L.nn.functional.gaussian_nll_loss(
        x, t, v * v, full=True, reduction="sum"), [(3, 4), (3, 4), (3,)]),
    ("gaussian_nll_broadcast_var", lambda L, x, t, v: L.nn.functional.gaussian_nll_loss(
        x, t, v * v, reduction="none"), [(2, 3, 4), (2, 3, 4), (2, 1, 4)]),
    ("gaussian_nll_clamped_var", lambda L, x, t, v: L.nn.functional.gaussian_nll_loss(
        x, t, v * v * 1e-4, eps=1e-3), [(3, 4), (3, 4), (3, 4)]),
    ("gaussian_nll_number_var", lambda L, x, t: L.nn.functional.gaussian_nll_loss(x, t, 0.5),
     [(3, 4), (3, 4)]),
    ("bilinear", lambda L, x1, x2, w, b: L.nn.functional.bilinear(x1, x2, w, b),
     [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    ("bilinear_batch_dims_no_bias", lambda L, x1, x2, w: L.nn.functional.bilinear(x1, x2, w),
     [(2, 3, 3), (2, 3, 2), (4, 3, 2)]),
    ("alpha_dropout_eval", lambda L, x: L.nn.functional.alpha_dropout(x, 0.3), [(3, 4)]),
    ("dropout1d_eval", lambda L, x: L.nn.functional.dropout1d(x, 0.3, False), [(2, 3, 4)]),
    ("dropout3d_p0", lambda L, x: L.nn.functional.dropout3d(x, 0.0), [(1, 2, 2, 2, 2)]),
]


@pytest.mark.filterwarnings("ignore:`nn.functional.upsample")
@pytest.mark.parametrize("name,fn,specs", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_function_matches_torch(name, fn, specs):
    _check(lambda *a: fn(torch, *a), lambda *a: fn(tinyflow, *a), specs)


# (name, build with L, input specs): torch's (randomized) parameters are copied into ours
MODULES = [
    ("PReLU", lambda L: L.nn.PReLU(), [(2, 3, 4)]),
    ("PReLU_channels", lambda L: L.nn.PReLU(3, init=0.1), [(2, 3, 4)]),
    ("SELU", lambda L: L.nn.SELU(), [(3, 4)]),
    ("CELU", lambda L: L.nn.CELU(1.5), [(3, 4)]),
    ("Softmin", lambda L: L.nn.Softmin(dim=-1), [(3, 4)]),
    ("Tanhshrink", lambda L: L.nn.Tanhshrink(), [(3, 4)]),
    ("Threshold", lambda L: L.nn.Threshold(0.2, 5.0), [(3, 4)]),
    ("UpsamplingNearest2d", lambda L: L.nn.UpsamplingNearest2d(scale_factor=2), [(1, 2, 3, 3)]),
    ("UpsamplingBilinear2d", lambda L: L.nn.UpsamplingBilinear2d(size=(5, 4)), [(1, 2, 3, 3)]),
    ("SoftMarginLoss", lambda L: L.nn.SoftMarginLoss(reduction="sum"), [(3, 4), SIGNS]),
    ("HingeEmbeddingLoss", lambda L: L.nn.HingeEmbeddingLoss(2.0), [(3, 4), SIGNS]),
    ("MultiLabelSoftMarginLoss", lambda L: L.nn.MultiLabelSoftMarginLoss(
        L.tensor(np.arange(1.0, 5.0))), [(3, 4), (SIGNS > 0) * 1.0]),
    ("TripletMarginLoss", lambda L: L.nn.TripletMarginLoss(0.5, p=3.0, swap=True),
     [(4, 3), (4, 3), (4, 3)]),
    ("GaussianNLLLoss", lambda L: L.nn.GaussianNLLLoss(full=True, reduction="none"),
     [(3, 4), (3, 4), np.full((3, 1), 0.7)]),
    ("Bilinear", lambda L: L.nn.Bilinear(3, 2, 4), [(5, 3), (5, 2)]),
    ("Bilinear_no_bias", lambda L: L.nn.Bilinear(2, 2, 1, bias=False), [(3, 2), (3, 2)]),
    ("AlphaDropout_eval", lambda L: L.nn.AlphaDropout(0.2).eval(), [(3, 4)]),
    ("Dropout1d_eval", lambda L: L.nn.Dropout1d(0.2).eval(), [(2, 3, 4)]),
    ("Dropout3d_eval", lambda L: L.nn.Dropout3d(0.2).eval(), [(1, 2, 2, 2, 2)]),
]


@pytest.mark.parametrize("name,make,specs", MODULES, ids=[c[0] for c in MODULES])
def test_module_matches_torch(name, make, specs):
    torch.manual_seed(0)
    tm, m = make(torch).double(), make(tinyflow).double()
    randomize(tm, np.random.default_rng(1))
    copy_state(tm, m)
    assert repr(m) == repr(tm)
    params = [(t, dict(m.named_parameters())[k]) for k, t in tm.named_parameters()]
    _check(tm, m, specs, params)


def test_prelu_default_weight_is_torchs():
    np.testing.assert_array_equal(nn.PReLU(3, init=0.1).weight.detach().numpy(),
                                  torch.nn.PReLU(3, init=0.1).weight.detach().numpy())


def test_inplace_activations_write_their_input():
    for name, args in (("selu", ()), ("celu", (2.0,)), ("threshold", (0.0, 3.0))):
        x = tinyflow.randn(3, 4, dtype=tinyflow.float64)
        t = torch.tensor(x.numpy())
        out = getattr(tinyflow.nn.functional, name)(x, *args, inplace=True)
        getattr(torch.nn.functional, name)(t, *args, inplace=True)
        assert out is x
        np.testing.assert_allclose(x.numpy(), t.numpy(), **TOL)


BAD = [
    ("prelu_channels", lambda L: L.nn.functional.prelu(L.ones(2, 3), L.ones(4))),
    ("prelu_1d_channels", lambda L: L.nn.functional.prelu(L.ones(3), L.ones(3))),
    ("prelu_2d_weight", lambda L: L.nn.functional.prelu(L.ones(2, 3), L.ones(1, 1))),
    ("celu_alpha_0", lambda L: L.nn.functional.celu(L.ones(2), 0.0)),
    ("soft_margin_shapes", lambda L: L.nn.functional.soft_margin_loss(L.ones(4, 3), L.ones(5))),
    ("triplet_ranks", lambda L: L.nn.functional.triplet_margin_loss(
        L.ones(4, 3), L.ones(4, 3), L.ones(4))),
    ("triplet_margin_0", lambda L: L.nn.functional.triplet_margin_loss(
        L.ones(4, 3), L.ones(4, 3), L.ones(4, 3), margin=0.0)),
    ("multilabel_reduction", lambda L: L.nn.functional.multilabel_soft_margin_loss(
        L.ones(4, 3), L.ones(4, 3), reduction="x")),
    ("gaussian_var_size", lambda L: L.nn.functional.gaussian_nll_loss(
        L.ones(4, 3), L.ones(4, 3), L.ones(2))),
    ("gaussian_var_negative", lambda L: L.nn.functional.gaussian_nll_loss(
        L.ones(4, 3), L.ones(4, 3), -L.ones(4, 3))),
    ("gaussian_reduction", lambda L: L.nn.functional.gaussian_nll_loss(
        L.ones(4, 3), L.ones(4, 3), 1.0, reduction="x")),
    ("bilinear_in2", lambda L: L.nn.functional.bilinear(L.ones(2, 3), L.ones(2, 4),
                                                         L.ones(5, 3, 3))),
    ("bilinear_batch", lambda L: L.nn.functional.bilinear(L.ones(2, 3), L.ones(3, 4),
                                                           L.ones(5, 3, 4))),
    ("dropout1d_rank", lambda L: L.nn.functional.dropout1d(L.ones(2, 3, 4, 5))),
    ("alpha_dropout_p", lambda L: L.nn.functional.alpha_dropout(L.ones(3), 1.5, True)),
    ("AlphaDropout_p", lambda L: L.nn.AlphaDropout(-0.1)),
]


@pytest.mark.parametrize("name,call", BAD, ids=[c[0] for c in BAD])
def test_bad_input_is_refused_as_torch(name, call):
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value)):
        call(tinyflow)


def test_upsample_aliases_warn_as_torch():
    x = tinyflow.randn(1, 1, 2, 2)
    for name in ("upsample", "upsample_nearest", "upsample_bilinear"):
        with pytest.warns(UserWarning, match=f"nn.functional.{name} is deprecated; call "):
            getattr(tinyflow.nn.functional, name)(x, scale_factor=2)


def test_bilinear_default_init_is_torchs_range():
    w = nn.Bilinear(4, 3, 200).weight.detach().numpy()
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.45 and abs(w.mean()) < 0.02


def test_alpha_dropout_keeps_selu_statistics():
    """Training: a fraction p of the outputs sit at a (-alpha)(1 - p), the kept ones are
    a x + alpha a p; mean 0 and variance 1 stay; the gradient is a where kept, else 0."""
    p = 0.3
    x = tinyflow.randn(100000, dtype=tinyflow.float64, requires_grad=True)
    out = nn.AlphaDropout(p)(x)
    out.sum().backward()
    alpha = 1.7580993408473766
    a = ((alpha * alpha * p + 1) * (1 - p)) ** -0.5
    y, g, xs = out.detach().numpy(), x.grad.numpy(), x.detach().numpy()
    dropped = g == 0
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(y[dropped], -alpha * a * (1 - p), rtol=1e-12)
    np.testing.assert_allclose(y[~dropped], a * xs[~dropped] + alpha * a * p, rtol=1e-12)
    np.testing.assert_allclose(g[~dropped], a, rtol=1e-12)
    assert abs(y.mean()) < 0.02 and abs(y.var() - 1) < 0.02
    ref = torch.nn.functional.alpha_dropout(torch.tensor(xs), p, True).numpy()
    assert abs(y.mean() - ref.mean()) < 0.03 and abs(y.var() - ref.var()) < 0.03


@pytest.mark.parametrize("fn,shape,mask_shape", [
    ("dropout1d", (8, 50, 6), (8, 50, 1)), ("dropout1d", (50, 6), (50, 1)),
    ("dropout3d", (4, 50, 2, 3, 2), (4, 50, 1, 1, 1)), ("dropout3d", (50, 2, 3, 2), (50, 1, 1, 1))])
def test_channel_dropout_drops_whole_channels(fn, shape, mask_shape):
    x = tinyflow.ones(*shape, dtype=tinyflow.float64)
    y = getattr(tinyflow.nn.functional, fn)(x, 0.4).numpy()
    kept = y.reshape(mask_shape + (-1,))
    assert np.all((kept == 0) | (kept == 1 / 0.6))
    assert np.all(kept.min(-1) == kept.max(-1))   # one decision per channel
    assert 0.25 < (kept[..., 0] == 0).mean() < 0.55


def test_dropout3d_other_rank_warns_as_torch():
    with pytest.warns(UserWarning, match="dropout3d: a 3-D input is read as unbatched"):
        tinyflow.nn.functional.dropout3d(tinyflow.ones(2, 3, 4))
