"""Depthwise convolutions (groups == input channels == output channels: MobileNet's,
ShuffleNet's, EfficientNet's, ConvNeXt's 3x3 to 7x7 layers), computed directly.

im2col makes one GEMM per group, and here a group is one channel: C products of
[pixels, kH * kW] @ [kH * kW, 1], each a BLAS call with N = 1 after a copy of kH * kW
values per input value (C=32 32x32 3x3, batch 4, fwd + bwd: 21 ms against torch's 1.7).
Each output row is instead a sum of kH * kW shifted input rows times one weight each
(`_conv_depthwise_loops`), any stride, padding and dilation. The threads split the
(image, channel) planes (forward, input gradient) or the channels (weight and bias
gradients, each summed over the batch in its order): no sums across threads, so the bits
do not depend on the thread count. float32 and float64 only (other dtypes keep im2col).
"""
from __future__ import annotations

import numpy as np

from . import parallel


def applies(op, channels: int, out_channels: int, dtype) -> bool:
    """Whether a convolution is depthwise with one output channel per input channel."""
    return (1 < op.groups == channels == out_channels
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)))


def _loops():
    from . import _conv_depthwise_loops
    return _conv_depthwise_loops


def _geometry(op, pads) -> tuple:
    """The loops' trailing geometry arguments: top and left padding, stride, dilation."""
    return (pads[0][0], pads[1][0]) + tuple(op.stride) + tuple(op.dilation)


def conv2d(op, x, w, b, pads, out_hw):
    """x [N, C, H, W], w [C, 1, kH, kW], b [C] or None, pads as `conv._live_taps`'."""
    n, c = x.shape[:2]
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w[:, 0])
    bias = np.zeros(c, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    out = np.empty((n, c) + tuple(out_hw), x.dtype)
    loop, geometry = _loops().forward, _geometry(op, pads)
    parallel.split(lambda p0, p1: loop(x, w, bias, out, *geometry, p0, p1), n * c,
                   out.size * w[0].size, blas=False)
    return out


def grad_input(op, g, w, x_shape, pads):
    g = np.ascontiguousarray(g)
    w = np.ascontiguousarray(w[:, 0])
    dx = np.empty(x_shape, g.dtype)
    loop, geometry = _loops().grad_input, _geometry(op, pads)
    parallel.split(lambda p0, p1: loop(g, w, dx, *geometry, p0, p1), x_shape[0] * x_shape[1],
                   g.size * w[0].size, blas=False)
    return dx


def grad_weight(op, x, g, gw, gb, pads) -> None:
    """The weight gradient into gw [C, 1, kH, kW] and, if gb is given, the bias gradient
    into gb [C]."""
    x, g = np.ascontiguousarray(x), np.ascontiguousarray(g)
    c = x.shape[1]
    out = np.empty((c,) + gw.shape[2:], x.dtype)
    bias = np.empty(c, x.dtype)
    loop, geometry = _loops().grad_weight, _geometry(op, pads)
    parallel.split(lambda c0, c1: loop(x, g, out, bias, *geometry, c0, c1), c,
                   g.size * out[0].size, blas=False)
    gw[:, 0] = out
    if gb is not None:
        gb[...] = bias
