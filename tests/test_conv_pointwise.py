"""1x1 convolutions without padding computed as products in NCHW
(backend/numpy/_conv_pointwise.py) against PyTorch: forward with and without bias, weight,
bias and input gradients, with groups, strides (the pixels no output reads get zero
gradient), a non-contiguous input, float64 and float32; a float64 finite-difference gradient; the layers that keep other paths."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import _conv_pointwise, conv
from tinyflow.ops import conv as conv_ops

from conv_kernel_check import (check_finite_difference_gradients, check_kernels_against_torch,
                               counted_calls, pooled_kernel_calls)

torch = pytest.importorskip("torch")

CASES = [  # x shape, out channels, other attrs
    ((2, 5, 7, 6), 3, {}),
    ((3, 8, 4, 4), 12, dict(groups=4)),
    ((2, 6, 9, 8), 4, dict(stride=2)),             # odd size: the last row is read
    ((1, 4, 8, 7), 6, dict(stride=(3, 2), groups=2)),
    ((2, 4, 1, 1), 6, dict(groups=2)),      # (one pixel, one group: `_conv2d_one_pixel`)
]


def _run(shape, out_channels, attrs, dtype, bias, contiguous=True):
    rng = np.random.default_rng(sum(shape) + out_channels)
    x = rng.standard_normal(shape).astype(dtype)
    if not contiguous:
        x = np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    cg = shape[1] // attrs.get("groups", 1)
    w = rng.standard_normal((out_channels, cg, 1, 1)).astype(dtype)
    b = rng.standard_normal(out_channels).astype(dtype) if bias else None
    check_kernels_against_torch(x, w, b, 0, rng, **attrs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-o{c[1]}")
def test_pointwise_matches_torch(case, bias, dtype, monkeypatch):
    calls = counted_calls(_conv_pointwise, monkeypatch)
    _run(*case, dtype, bias)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


def test_non_contiguous_input(monkeypatch):
    calls = counted_calls(_conv_pointwise, monkeypatch)
    _run((2, 6, 5, 7), 4, dict(stride=2), np.float32, True, contiguous=False)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_kernel_pool_gives_the_same_bits(dtype, monkeypatch):
    """The weight gradient is summed in parts fixed by the shapes, in batch order: the same
    bits on two kernel threads as on one."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6, 12, 11)).astype(dtype)
    w = rng.standard_normal((8, 3, 1, 1)).astype(dtype)
    attrs = conv_ops.conv_attrs(padding=0, groups=2)
    g = rng.standard_normal((5, 8, 12, 11)).astype(dtype)

    threaded = pooled_kernel_calls(x, w, g, attrs, monkeypatch)
    assert threaded == ["_conv_pointwise.py", "_conv_numba.py", "_conv_pointwise.py"]


def test_finite_difference_gradients():
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((6, 2, 1, 1))
    check_finite_difference_gradients(x, w, stride=2, groups=2)


@pytest.mark.parametrize("khw, pads, dtype", [
    ((3, 3), ((0, 0), (0, 0)), np.float32),
    ((1, 1), ((1, 1), (1, 1)), np.float32),     # padded: the border is the bias alone
    ((1, 1), ((0, 0), (0, 0)), np.float16),
])
def test_other_convolutions_keep_their_paths(khw, pads, dtype):
    assert not _conv_pointwise.applies(khw, pads, dtype)


def test_weight_gradient_keeps_no_product_per_image():
    """The weight gradient of a wide 1x1 layer on small images (MobileNetV2's 320 -> 1280 at
    4x4, here 64 -> 256 at batch 64) takes one product per part of the batch: a product per
    image kept 64 weight-sized results (4 MB here, 105 MB on MobileNetV2's layer)."""
    import tracemalloc
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 64, 4, 4)).astype(np.float32)
    g = rng.standard_normal((64, 256, 4, 4)).astype(np.float32)
    w = np.zeros((256, 64, 1, 1), np.float32)
    op = conv_ops.Conv2dGradWeight(**conv_ops.conv_attrs(padding=0))
    conv.conv2d_grad_weight(op, x, g, w)      # (scratch buffers made once)
    tracemalloc.start()
    try:
        gw = conv.conv2d_grad_weight(op, x, g, w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * w.nbytes + x.nbytes + g.nbytes
    want = torch.nn.grad.conv2d_weight(torch.tensor(x), w.shape, torch.tensor(g))
    np.testing.assert_allclose(gw, want.numpy(), rtol=1e-4, atol=1e-3)
