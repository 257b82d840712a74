"""Affine instance norm (F.instance_norm with weight and bias, nn.InstanceNorm*d(affine=True),
as fast_neural_style uses) against torch, and its gradients by finite differences: it runs
as training-mode batch norm of the [1, N * C, ...] planes (nn/_image.py), one op each way."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import tinyflow
from tinyflow import nn, ops

from torch_oracle import gradcheck

SHAPES = [(2, 3, 5, 4), (1, 4, 6, 6), (3, 2, 7), (2, 2, 3, 4, 3)]


def _tensors(lib, arrays):
    return [lib.tensor(a, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_affine_instance_norm_matches_torch(shape, dtype):
    rng = np.random.default_rng(len(shape) + shape[0])
    c = shape[1]
    arrays = [rng.standard_normal(shape).astype(dtype) * 3 + 1,
              rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)]
    g = rng.standard_normal(shape).astype(dtype)
    ours, theirs = _tensors(tinyflow, arrays), _tensors(torch, arrays)
    y = nn.functional.instance_norm(ours[0], weight=ours[1], bias=ours[2], eps=1e-3)
    (y * tinyflow.tensor(g)).sum().backward()
    want = torch.nn.functional.instance_norm(theirs[0], weight=theirs[1], bias=theirs[2],
                                             eps=1e-3)
    (want * torch.tensor(g)).sum().backward()
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y.detach().numpy(), want.detach().numpy(), **tol)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("shape", [(2, 3, 3, 2), (1, 2, 4), (3, 1, 2, 3)], ids=str)
def test_affine_instance_norm_gradients(shape):
    rng = np.random.default_rng(1)
    c = shape[1]
    gradcheck(lambda x, w, b: nn.functional.instance_norm(x, weight=w, bias=b),
              rng.standard_normal(shape) * 2, rng.standard_normal(c), rng.standard_normal(c))


def test_the_module_with_running_stats_matches_torch():
    """affine and track_running_stats: the statistics update beside the one-op path."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5, 5)).astype(np.float32)
    ours, theirs = (nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
                    torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True))
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.standard_normal(4).astype(np.float32)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    y, want = ours(tinyflow.tensor(x)), theirs(torch.from_numpy(x))
    np.testing.assert_allclose(y.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-5)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(ours, name).numpy(),
                                   getattr(theirs, name).numpy(), rtol=1e-6, atol=1e-6)


def test_affine_instance_norm_is_one_op(monkeypatch):
    """No separate normalize, scale and shift (three passes forward, five backward)."""
    def refuse(*args, **kwargs):
        raise AssertionError("affine instance norm took normalize")
    monkeypatch.setattr(ops, "normalize", refuse)
    x = tinyflow.tensor(np.ones((2, 3, 4, 4), np.float32), requires_grad=True)
    w = tinyflow.tensor(np.ones(3, np.float32), requires_grad=True)
    nn.functional.instance_norm(x, weight=w, bias=tinyflow.zeros(3)).sum().backward()
    assert x.grad is not None and w.grad is not None


@pytest.mark.parametrize("case", ["float16", "bfloat16", "channels_last", "transposed"])
def test_affine_instance_norm_dtypes_and_layouts_match_torch(case):
    """Half dtypes and non-contiguous inputs through the one-op path (review of s22-conv)."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 3, 5, 4)) * 2 + 1).astype(np.float32)
    w, b = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    name = case if case in ("float16", "bfloat16") else "float32"
    td, od = getattr(torch, name), getattr(tinyflow, name)
    xt = torch.from_numpy(x).to(td)
    xo = tinyflow.tensor(x).to(od)
    if case == "channels_last":
        xt = xt.to(memory_format=torch.channels_last)
        xo = tinyflow.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)
    if case == "transposed":
        xt = xt.transpose(2, 3).contiguous().transpose(2, 3)
        xo = xo.transpose(2, 3).contiguous().transpose(2, 3)
    ours = [xo.requires_grad_(True)] + [tinyflow.tensor(v).to(od).requires_grad_(True)
                                        for v in (w, b)]
    theirs = [xt.requires_grad_(True)] + [torch.from_numpy(v).to(td).requires_grad_(True)
                                          for v in (w, b)]
    y = nn.functional.instance_norm(ours[0], weight=ours[1], bias=ours[2])
    want = torch.nn.functional.instance_norm(theirs[0], weight=theirs[1], bias=theirs[2])
    g = rng.standard_normal(x.shape).astype(np.float32)
    (y * tinyflow.tensor(g).to(od)).sum().backward()
    (want * torch.from_numpy(g).to(td)).sum().backward()
    tol = {"float16": 2e-2, "bfloat16": 1e-1}.get(case, 1e-5)
    for a, t in zip([y] + [v.grad for v in ours], [want] + [v.grad for v in theirs]):
        np.testing.assert_allclose(a.detach().to(tinyflow.float32).numpy(),
                                   t.detach().float().numpy(), rtol=tol, atol=tol * 5)


def test_affine_instance_norm_double_backward_matches_torch():
    """create_graph: the gradients of the input gradient (float64) as torch's."""
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 3, 4, 5)) * 2 + 1, rng.standard_normal(3),
              rng.standard_normal(3)]
    g = rng.standard_normal((2, 3, 4, 5))
    results = []
    for lib, grad in ((tinyflow, tinyflow.autograd.grad), (torch, torch.autograd.grad)):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = lib.nn.functional.instance_norm(xs[0], weight=xs[1], bias=xs[2])
        first = grad((y * lib.tensor(g)).sum(), xs, create_graph=True)
        second = grad(sum((f * f).sum() for f in first), xs[:2])
        results.append([t.detach().numpy() for t in list(first) + list(second)])
    for a, t in zip(*results):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9)
