"""Convolution into few output channels, computed directly: 1 to MAX_OUT channels (an image
model's last layer: fast_neural_style's 32 -> 3 at 9x9, an RGB output's 3x3), or up to
FEW_OUT from an image's few channels (LeNet's 3 -> 6 at 5x5, a CIFAR ResNet's 3 -> 16).

im2col copies kH * kW values per input pixel and channel (81x the input at 9x9) for a GEMM
whose N is the 3 output channels: the copy, not the product, is the work (10.8 ms forward
and 21 backward on [2, 32, 72, 72], 2.6x and 3x torch's). Here each output row is a sum of
shifted input rows times single weights: no columns, every inner loop a vectorized run
over a block of rows (`_conv_direct_loops`), two output channels at a time. The threads split output rows (forward) or input
channels (both gradients, each thread owning its channels of the result, so no sums across
threads). Stride 1, no dilation, one group.
"""
from __future__ import annotations

import numpy as np

from . import parallel
from ._conv_numba import scratch

# The most output channels taken here, and the fewest kernel taps (kH * kW). Fwd + bwd ms on
# two threads, batch 2, 64x64 outputs, direct | im2col or Winograd (bench sweep, quiet run):
# 32 -> 3 9x9 10.9 | 21.8, 32 -> 4 9x9 14.5 | 30.2, 32 -> 8 9x9 25.1 | 30.5, 32 -> 16 9x9
# 53.3 | 30.5, 32 -> 3 7x7 8.1 | 13.7, 64 -> 3 3x3 5.2 | 7.9, 16 -> 3 5x5 5.8 | 5.9
# (Winograd's, which keeps 5x5), 3 -> 32 9x9 16.4 | 6.4 (many outputs: im2col's).
MAX_OUT = 4
MIN_TAPS = 9
# Also taken from at most FEW_IN input channels (an image's first layer) into at most FEW_OUT,
# at FEW_MIN_PIXELS output pixels or more: im2col's GEMM there has a short K and a small N.
# Fwd + bwd CPU us at one thread (x needing its gradient), im2col -> direct, 5x5 unpadded:
# 3 -> 6 at 32x32 (LeNet's conv1) batch 4 1716 -> 936, batch 64 21990 -> 9354; 3x3 padding
# 1 at 32x32: 3 -> 16 batch 4 1643 -> 1302, batch 64 20698 -> 18756. With more inputs the
# GEMMs caught up: 6 -> 16 5x5 at 10x10 (LeNet's conv2) 875 -> 934 (batch 64 7382 -> 8990),
# 8 -> 16 3x3 at 32x32 2637 -> 2833, 15 -> 16 at 16x16 1508 -> 1537; 9 -> 12 at 18x18 1620
# -> 1380. A single output pixel keeps `conv._conv2d_one_pixel`, a few their short runs.
FEW_IN, FEW_OUT, FEW_MIN_PIXELS = 4, 16, 16
# A vectorized multiply-add here is worth 1/MACS_PER_ELEMENT of the kernel pool's unit of
# work (an elementwise pass's element): LeNet's layers (1-1.5M multiply-adds, ~0.1 ms) stay
# on one thread, where waking the pool's thread cost more than it saved.
MACS_PER_ELEMENT = 16


def applies(op, kernel_hw, channels: int, out_channels: int, dtype, pads,
            out_hw=(0, 0)) -> bool:
    """Whether to take this path; `pads` as `conv._live_taps`' (the input gradient pads g by
    k - 1 less them, so none may be larger), `out_hw` the forward's output size. One input
    channel keeps its tap-major im2col."""
    return (op.groups == 1 and op.stride == (1, 1) and op.dilation == (1, 1)
            and channels > 1 and kernel_hw[0] * kernel_hw[1] >= MIN_TAPS
            and (out_channels <= MAX_OUT or channels <= FEW_IN and out_channels <= FEW_OUT
                 and out_hw[0] * out_hw[1] >= FEW_MIN_PIXELS)
            and all(p < k for (before, after), k in zip(pads, kernel_hw)
                    for p in (before, after))
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)))


def _loops():
    from . import _conv_direct_loops
    return _conv_direct_loops


def _padded(x, pads, name="direct padded"):
    """x zero-padded, NCHW, C-contiguous, in this thread's scratch (x itself when it is
    that already: the loops only read it)."""
    if pads == ((0, 0), (0, 0)) and x.flags.c_contiguous:
        return x
    (top, bottom), (left, right) = pads
    n, c, h, w = x.shape
    xp = scratch(name, (n, c, top + h + bottom, left + w + right), x.dtype)
    xp[:, :, :top] = 0
    xp[:, :, top + h:] = 0
    xp[:, :, top:top + h, :left] = 0
    xp[:, :, top:top + h, left + w:] = 0
    xp[:, :, top:top + h, left:left + w] = x
    return xp


def _flat(xp):
    """[N, C, Hp, Wp] as [N, C, Hp * Wp] (the loops' flat planes) and Wp (sizes spelled
    out: an empty batch has no -1 to infer)."""
    n, c, hp, wp = xp.shape
    return xp.reshape(n, c, hp * wp), wp


def conv2d(x, w, b, pads, out_hw):
    n = x.shape[0]
    o = w.shape[0]
    xp, wp = _flat(_padded(x, pads))
    w = np.ascontiguousarray(w)
    bias = np.zeros(o, x.dtype) if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    out = np.empty((n, o) + tuple(out_hw), x.dtype)
    loop = _loops().forward
    parallel.split(lambda a, b_: loop(xp, w, bias, out, wp, a, b_), out_hw[0],
                   out.size * w[0].size // MACS_PER_ELEMENT, blas=False)
    return out


def grad_input(g, w, x_shape, pads):
    """The forward's loop again: a convolution of g, padded by k - 1 less the forward's
    padding, with the weight flipped and its channels swapped (as a scatter into the padded
    input's rows the same products took 2.3x as long, one thread)."""
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    (top, _), (left, _) = pads
    g_pads = ((kh - 1 - top, h - g.shape[2] + top), (kw - 1 - left, wd - g.shape[3] + left))
    gp, wp = _flat(_padded(g, g_pads, "direct padded grad"))
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    dx = np.empty(x_shape, g.dtype)
    loop = _loops().forward
    parallel.split(lambda a, b: loop(gp, flipped, np.zeros(c, g.dtype), dx, wp, a, b), h,
                   dx.size * flipped[0].size // MACS_PER_ELEMENT, blas=False)
    return dx


def grad_weight(x, g, gw, gb, pads) -> None:
    """The weight gradient into gw [O, C, kH, kW] and, if gb is given, the bias gradient
    into gb [O]."""
    xp, wp = _flat(_padded(x, pads))
    n, o, ho, wo = g.shape
    wide, _ = _flat(_padded(g, ((0, 0), (0, wp - wo)), "direct wide grad"))  # rows Wp apart
    out = np.empty(gw.shape, x.dtype)
    loop = _loops().grad_weight
    parallel.split(lambda a, b: loop(xp, wide, out, wp, wo, a, b), x.shape[1],
                   g.size * gw[0].size // MACS_PER_ELEMENT, blas=False)
    gw[...] = out
    if gb is not None:
        gb[...] = np.add.reduce(g, (0, 2, 3))
