"""conv_transpose2d (ConvTranspose2d: the input gradient of conv2d as a layer, so its forward
is conv2d_grad_input's kernel and its gradients conv2d's and conv2d_grad_weight's) against
PyTorch: DCGAN's generator layers (4x4, stride 2, padding 1) and odd shapes (output_padding,
groups, dilation, bias or not, one image, non-square), in float64 (tight) and float32, with
the kernel pool forced to two threads so the weight relayouts run in parts on threads too."""
from __future__ import annotations

import numpy as np
import pytest

import tinyflow as tf
from tinyflow.nn import functional as F

from pool_helpers import force_pool

torch = pytest.importorskip("torch")
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-4)}

CASES = [  # (x shape, weight shape [C_in, C_out / groups, kH, kW], keywords)
    ((16, 100, 1, 1), (100, 64, 4, 4), dict()),                         # DCGAN's first
    ((6, 64, 4, 4), (64, 32, 4, 4), dict(stride=2, padding=1)),          # and the others
    ((5, 32, 8, 8), (32, 1, 4, 4), dict(stride=2, padding=1)),           # to one channel
    ((1, 48, 5, 7), (48, 40, 4, 4), dict(stride=2, padding=1)),          # one image
    ((3, 12, 6, 5), (12, 8, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((4, 12, 5, 6), (12, 5, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                        groups=3)),
    ((2, 8, 7, 4), (8, 6, 3, 3), dict(stride=2, dilation=2, output_padding=1)),
    ((3, 16, 9, 9), (16, 24, 5, 5), dict(padding=2)),                    # stride 1
]


def _grads(lib, fn, x, w, b, g):
    ts = [lib.tensor(a, requires_grad=True) for a in (x, w) + ((b,) if b is not None else ())]
    y = fn(*ts)
    (y * lib.tensor(g)).sum().backward()
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("xs,ws,kw", CASES, ids=[f"{x}-{w}" for x, w, _ in CASES])
def test_conv_transpose2d_matches_torch(monkeypatch, xs, ws, kw, bias, dtype):
    threaded = force_pool(monkeypatch, 1 << 10, [])
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(ws[0] * ws[2] * ws[3])).astype(dtype)
    b = rng.standard_normal(ws[1] * kw.get("groups", 1)).astype(dtype) if bias else None
    want_y = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w),
                                                  None if b is None else torch.tensor(b), **kw)
    g = rng.standard_normal(want_y.shape).astype(dtype)
    want = _grads(torch, lambda *t: torch.nn.functional.conv_transpose2d(
        t[0], t[1], t[2] if bias else None, **kw), x, w, b, g)
    got = _grads(tf, lambda *t: F.conv_transpose2d(t[0], t[1], t[2] if bias else None, **kw),
                 x, w, b, g)
    for k, (a, e) in enumerate(zip(got, want)):
        assert a.shape == e.shape and a.dtype == e.dtype
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(a / scale, e / scale, **TOL[dtype],
                                   err_msg=["output", "input grad", "weight grad", "bias grad"][k])
    assert threaded      # the pool ran pieces (relayouts, images) on its two threads


def test_dcgan_generator_layer_module_matches_torch():
    """nn.ConvTranspose2d(512 -> 256, 4, 2, 1, bias=False) at DCGAN's 4x4 -> 8x8, float32: the
    8 MB weight whose tap-major relayout and weight gradient run in parts on the threads."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 512, 4, 4)).astype(np.float32)
    w = (rng.standard_normal((512, 256, 4, 4)) / 90).astype(np.float32)
    g = rng.standard_normal((4, 256, 8, 8)).astype(np.float32)
    got = _grads(tf, lambda a, c: F.conv_transpose2d(a, c, None, 2, 1), x, w, None, g)
    want = _grads(torch, lambda a, c: torch.nn.functional.conv_transpose2d(a, c, None, 2, 1),
                  x, w, None, g)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=2e-4, atol=2e-4 * float(np.abs(e).max()))
