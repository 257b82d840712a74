"""Reductions, normalizations and losses of float16 and bfloat16 tensors give PyTorch's
answers: they add up in float32 and return the input's dtype (the issue's examples first)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow
import tinyflow as tf
import tinyflow.nn.functional as F

HALVES = ("float16", "bfloat16")


def test_the_issues_examples():
    x = tf.full((2000,), 100.0, dtype=tf.float16)
    assert x.mean().dtype is tf.float16 and x.mean().item() == 100.0
    assert tf.reduce_mean(x).item() == 100.0
    assert F.mse_loss(x, tf.zeros(2000, dtype=tf.float16)).item() == 10000.0
    assert tf.full((70000,), 100.0, dtype=tf.float16).mean().item() == 100.0
    assert tinyflow.tensor([300.0, 400.0]).half().norm().item() == 500.0
    assert np.isinf(x.sum().item())   # as PyTorch: the float16 sum itself overflows


def _pair(shape, name, seed=0, scale=1.0, offset=0.0):
    rng = np.random.default_rng(seed)
    values = (rng.standard_normal(shape) * scale + offset).astype(np.float32)
    return (tinyflow.tensor(values).to(getattr(tinyflow, name)),
            torch.tensor(values).to(getattr(torch, name)))


def _same(ours, theirs, ulps=1):
    """Equal dtypes, and values within `ulps` units in the last place of the dtype."""
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    got, want = ours.float().detach().numpy(), theirs.detach().float().numpy()
    eps = float(torch.finfo(theirs.dtype).eps)
    np.testing.assert_allclose(got, want, rtol=ulps * eps, atol=ulps * eps * np.abs(
        want).max(initial=1e-30))


CASES = {
    "sum": lambda L, x: x.sum(),
    "sum_rows": lambda L, x: x.sum(1),
    "mean": lambda L, x: x.mean(),
    "mean_dim": lambda L, x: x.mean(0, keepdim=True),
    "var": lambda L, x: x.var(),
    "var_dim": lambda L, x: x.var(1),
    "std": lambda L, x: x.std(),
    "norm": lambda L, x: x.norm(),
    "cumsum": lambda L, x: x.cumsum(1),
    "logsumexp": lambda L, x: L.logsumexp(x, 1),
    "softmax": lambda L, x: L.nn.functional.softmax(x, -1),
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, -1),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x, (x.shape[-1],)),
    "batch_norm": lambda L, x: L.nn.functional.batch_norm(x, None, None, training=True),
    "group_norm": lambda L, x: L.nn.functional.group_norm(x, 4),
    "rms_norm": lambda L, x: L.nn.functional.rms_norm(x, (x.shape[-1],)),
    "cross_entropy": lambda L, x: L.nn.functional.cross_entropy(
        x, L.tensor(np.arange(x.shape[0]) % x.shape[1])),
    "mse_loss": lambda L, x: L.nn.functional.mse_loss(x, x * 0.5),
    "l1_loss": lambda L, x: L.nn.functional.l1_loss(x, x * 0.5),
    "smooth_l1_loss": lambda L, x: L.nn.functional.smooth_l1_loss(x, x * 0.25),
    "bce_with_logits_loss": lambda L, x: L.nn.functional.binary_cross_entropy_with_logits(
        x, L.sigmoid(x * 0.5)),
    "matmul": lambda L, x: x @ x.T,
}


@pytest.mark.parametrize("name", HALVES)
@pytest.mark.parametrize("case", list(CASES))
def test_large_reductions_match_pytorch(case, name):
    """7,000 x 16 values, some large (offset 30): a float16 accumulator would lose or
    overflow them; float32's keeps PyTorch's answer to the last place."""
    shape = (512, 16) if case == "matmul" else (7000, 16)
    ours, theirs = _pair(shape, name, scale=4.0, offset=30.0 if "loss" not in case else 0)
    _same(CASES[case](tinyflow, ours), CASES[case](torch, theirs), ulps=2)


@pytest.mark.parametrize("name", HALVES)
def test_gradients_come_back_in_the_inputs_dtype(name):
    ours, theirs = _pair((64, 10), name, seed=3)
    ours.requires_grad_()
    theirs.requires_grad_()
    for lib, x in ((tinyflow, ours), (torch, theirs)):
        lib.nn.functional.cross_entropy(
            lib.nn.functional.layer_norm(x, (10,)), lib.tensor(np.arange(64) % 10)).backward()
    _same(ours.grad, theirs.grad, ulps=8)


def test_batch_norm_keeps_running_statistics_in_their_dtype():
    model = tinyflow.nn.BatchNorm1d(4).bfloat16()
    ref = torch.nn.BatchNorm1d(4).bfloat16()
    x, xt = _pair((256, 4), "bfloat16", scale=2.0, offset=5.0)
    _same(model(x), ref(xt), ulps=2)
    assert model.running_mean.dtype is tf.bfloat16
    _same(model.running_mean, ref.running_mean, ulps=1)
    _same(model.running_var, ref.running_var, ulps=1)
