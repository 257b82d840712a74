"""Depthwise convolutions computed directly (backend/numpy/_conv_depthwise.py: groups ==
input channels == output channels) against PyTorch: forward with and without bias, weight,
bias and input gradients over odd sizes, strides, paddings, dilations and kernel sizes, a
non-contiguous input, float64 and float32, one thread and the kernel pool (same bits); a
float64 finite-difference gradient; and the layers that must keep the other paths."""
from __future__ import annotations

import numpy as np
import pytest

from tinyflow.backend.numpy import _conv_depthwise
from tinyflow.ops import conv as conv_ops

from conv_kernel_check import (check_finite_difference_gradients, check_kernels_against_torch,
                               counted_calls, pooled_kernel_calls)

torch = pytest.importorskip("torch")

CASES = [  # x shape, kernel (kh, kw), padding, other attrs
    ((2, 5, 9, 7), (3, 3), 1, {}),
    ((1, 4, 11, 10), (3, 3), 1, dict(stride=2)),
    ((2, 3, 8, 9), (5, 5), 2, {}),
    ((1, 6, 13, 12), (7, 7), 3, dict(stride=2)),
    ((3, 2, 10, 11), (3, 3), 2, dict(dilation=2)),
    ((1, 3, 9, 8), (3, 5), 0, dict(stride=(2, 1))),
    ((2, 4, 7, 7), (5, 3), ((2, 0), (1, 3)), dict(dilation=(1, 2))),
    ((1, 3, 2, 2), (3, 3), 1, {}),        # 2x2 output, taps cut at the edges
    ((2, 3, 13, 14), (3, 3), 1, dict(stride=3)),
    ((1, 4, 9, 12), (5, 3), ((1, 2), (2, 0)), dict(stride=(1, 2), dilation=(2, 1))),
    ((2, 3, 11, 9), (3, 3), ((0, 1), (3, 1)), dict(stride=(3, 2), dilation=2)),
]


def _run(shape, kernel, padding, attrs, dtype, bias, contiguous=True):
    rng = np.random.default_rng(sum(shape) + kernel[0])
    x = rng.standard_normal(shape).astype(dtype)
    if not contiguous:   # same values, every other column of a wider array
        wide = np.zeros(shape[:3] + (2 * shape[3],), dtype)
        wide[..., ::2] = x
        x = wide[..., ::2]
    c = shape[1]
    w = (rng.standard_normal((c, 1) + kernel) / kernel[0]).astype(dtype)
    b = rng.standard_normal(c).astype(dtype) if bias else None
    check_kernels_against_torch(x, w, b, padding, rng, groups=c, **attrs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[1][0]}")
def test_depthwise_matches_torch(case, bias, dtype, monkeypatch):
    calls = counted_calls(_conv_depthwise, monkeypatch)
    _run(*case, dtype, bias)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


def test_a_plane_is_filled_into_its_stride_phases():
    """At stride (sh, sw) the loops' buffer holds the padded plane as sh * sw phases, phase
    (pr, pc) the rows pr, pr + sh, ... and columns pc, pc + sw, ..., so that each tap reads
    one contiguous run (a run of every sw-th value kept LLVM scalar)."""
    from tinyflow.backend.numpy import _conv_depthwise_loops as loops
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 9))
    top, left, (sh, sw), (kh, kw) = 1, 2, (2, 3), (3, 3)
    ho, wo = (top + 7 + 1 - kh) // sh + 1, (left + 9 + 1 - kw) // sw + 1
    wq, size, length = loops._layout(7, 9, ho, wo, top, left, sh, sw, 1, 1, kh, kw)
    assert length == ho * wq
    xp = np.zeros(sh * sw * size)
    rows, cols = loops._placement(7, 9, top, left, sh, sw, wq, size)
    loops._fill(xp, rows, cols, x, 1, 2, sw)
    hq = (size - (kw - 1) // sw) // wq
    padded = np.zeros((hq * sh, wq * sw))
    padded[top:top + 7, left:left + 9] = x[1, 2]
    for pr in range(sh):
        for pc in range(sw):
            phase = xp[(pr * sw + pc) * size:][:hq * wq].reshape(hq, wq)
            np.testing.assert_array_equal(phase, padded[pr::sh, pc::sw])
    back = np.zeros_like(x)
    loops._gather(back, 1, 2, xp, rows, cols, sw)
    np.testing.assert_array_equal(back[1, 2], x[1, 2])


def test_non_contiguous_input(monkeypatch):
    calls = counted_calls(_conv_depthwise, monkeypatch)
    _run((2, 5, 9, 7), (3, 3), 1, dict(stride=2), np.float32, True, contiguous=False)
    assert calls == ["conv2d", "grad_weight", "grad_input"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_kernel_pool_gives_the_same_bits(dtype, monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 12, 11)).astype(dtype)
    w = rng.standard_normal((7, 1, 3, 3)).astype(dtype)
    attrs = conv_ops.conv_attrs(padding=1, stride=2, groups=7)
    g = rng.standard_normal((3, 7, 6, 6)).astype(dtype)

    threaded = pooled_kernel_calls(x, w, g, attrs, monkeypatch)
    assert threaded.count("_conv_depthwise.py") == 3


def test_finite_difference_gradients():
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((3, 1, 3, 3))
    check_finite_difference_gradients(x, w, stride=2, padding=1, groups=3)


@pytest.mark.parametrize("channels, out_channels, groups, dtype", [
    (4, 8, 4, np.float32),      # a channel multiplier of 2
    (8, 8, 4, np.float32),      # grouped, not depthwise
    (1, 1, 1, np.float32),      # one channel: an ordinary convolution
    (4, 4, 4, np.float16),      # other dtypes keep im2col
])
def test_other_convolutions_keep_their_paths(channels, out_channels, groups, dtype):
    op = conv_ops.Conv2d(**conv_ops.conv_attrs(padding=1, groups=groups))
    assert not _conv_depthwise.applies(op, channels, out_channels, dtype)
