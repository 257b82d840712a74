"""Pointwise convolutions (1x1 kernels without padding: MobileNet's expansions and
projections, ShuffleNet's, DenseNet's bottlenecks, RegNet's and ResNeXt's 1x1 layers) as
products in NCHW, with no copies.

A 1x1 kernel's output is w [O, C] @ x[n] [C, H * W] per image (per group: w [G, Og, Cg]
@ x[n] [G, Cg, H * W]), already in NCHW; im2col made a padded NHWC copy of x, a column
copy of it, a [pixels, C] @ [C, O] product and a transposing copy back. At stride s the
forward reads every s-th pixel and the input gradient writes them (the rest zeros). The
weight gradient is one product per part of the batch, summed in batch order, so its bits do
not depend on the thread count. The kernel pool's threads cut the batch (each on one BLAS
thread), as im2col's did. float32 and float64 only (other dtypes keep im2col).
"""
from __future__ import annotations

import numpy as np

from . import parallel
from ._conv_numba import scratch, sum_parts


def applies(khw, pads, dtype) -> bool:
    """Whether a convolution is 1x1 without padding, in float32 or float64."""
    return (tuple(khw) == (1, 1) and pads == ((0, 0), (0, 0))
            and np.dtype(dtype) in (np.dtype(np.float32), np.dtype(np.float64)))


def _read(stride, out_hw):
    """The index of the pixels the outputs read: every (sh, sw)-th, Ho by Wo of them."""
    (sh, sw), (ho, wo) = stride, out_hw
    return (slice(None), slice(None), slice(0, (ho - 1) * sh + 1, sh),
            slice(0, (wo - 1) * sw + 1, sw))


def _pixels(a, stride, out_hw, groups):
    """a [N, C, H, W] at the pixels the outputs read, as [N, G, C / G, pixels]."""
    a = a[_read(stride, out_hw)]
    n, c = a.shape[:2]
    return np.ascontiguousarray(a).reshape(n, groups, c // groups, out_hw[0] * out_hw[1])


def _grads(g, groups):
    """g [N, O, Ho, Wo] as [N, G, O / G, pixels]."""
    n, o, ho, wo = g.shape
    return np.ascontiguousarray(g).reshape(n, groups, o // groups, ho * wo)


# Below this many pixels an image, a piece's images are one product (their pixels copied
# side by side), not one each: each product packs the whole weight again. One thread, batch
# 64, 512 -> 512 at 2x2, forward: 7.2 ms a product per image, 4.7 one (im2col 4.6).
SMALL_PIXELS = 64


def _products(w, a, out, start, stop):
    """out[start:stop] = w [G, O, C] @ a[start:stop] [images, G, C, P], per image or, for
    small images, as one product over the images."""
    if a.shape[3] >= SMALL_PIXELS or stop - start < 2:
        np.matmul(w, a[start:stop], out=out[start:stop])
        return
    cols = _image_major(a, start, stop, "pointwise columns")
    res = scratch("pointwise product", w.shape[:2] + cols.shape[2:], a.dtype)
    np.matmul(w, cols, out=res)
    out[start:stop] = res.reshape(w.shape[:2] + (stop - start, -1)).transpose(2, 0, 1, 3)


def conv2d(op, x, w, b, out_hw):
    """x [N, C, H, W], w [O, C / G, 1, 1], b [O] or None; the output [N, O, Ho, Wo]."""
    n, groups, o = x.shape[0], op.groups, w.shape[0]
    xs = _pixels(x, op.stride, out_hw, groups)
    wg = w.reshape(groups, o // groups, xs.shape[2])
    out = np.empty((n, groups, o // groups, xs.shape[3]), x.dtype)

    def piece(start, stop):
        _products(wg, xs, out, start, stop)
        if b is not None:   # while the images are in cache
            out[start:stop] += b.reshape(groups, o // groups, 1)
    parallel.split(piece, n, out.size * xs.shape[2])
    return out.reshape((n, o) + tuple(out_hw))


def grad_input(op, g, w, x_shape):
    groups, o = op.groups, w.shape[0]
    n = g.shape[0]
    gs = _grads(g, groups)
    wt = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)   # [G, Cg, Og]
    dxs = np.empty((n, groups, wt.shape[1], gs.shape[3]), g.dtype)
    parallel.split(lambda start, stop: _products(wt, gs, dxs, start, stop), n,
                   dxs.size * wt.shape[2])
    if tuple(g.shape[2:]) == tuple(x_shape[2:]):
        return dxs.reshape(x_shape)
    dx = np.zeros(x_shape, g.dtype)   # pixels no output read
    dx[_read(op.stride, g.shape[2:])] = dxs.reshape((n, x_shape[1]) + g.shape[2:])
    return dx


def _image_major(a, start, stop, name):
    """Images start:stop of a [N, G, C, P] as [G, C, images * P]: a view of one image, else a
    copy in this thread's scratch (runs of P values)."""
    n, groups, c, p = a.shape
    if stop - start == 1:
        return a[start]
    part = scratch(name, (groups, c, stop - start, p), a.dtype)
    part[...] = a[start:stop].transpose(1, 2, 0, 3)
    return part.reshape(groups, c, -1)


def grad_weight(op, x, g, gw, gb) -> None:
    """The weight gradient into gw [O, C / G, 1, 1] and, if gb is given, the bias gradient
    into gb [O]: per part of the batch (`sum_parts`: parts fixed by the shapes, summed in
    batch order) one product g [G, Og, pixels] @ x [G, pixels, Cg] over all its images. A
    product per image had a K of one image's pixels (16 at 4x4) and wrote an [O, Cg] result
    per image (n of them kept: 105 MB for 320 -> 1280 at batch 64)."""
    groups, o = op.groups, gw.shape[0]
    n = x.shape[0]
    xs = _pixels(x, op.stride, g.shape[2:], groups)
    gs = _grads(g, groups)

    def part_sum(start, stop):
        rows = _image_major(gs, start, stop, "pointwise grad")
        cols = _image_major(xs, start, stop, "pointwise columns")
        return np.matmul(rows, cols.transpose(0, 2, 1))
    parts = sum_parts(part_sum, n, gs.shape[3], gs.size * xs.shape[2])
    total = parts[0]
    for part in parts[1:]:                                       # in batch order
        total += part
    gw[...] = total.reshape(gw.shape)
    if gb is not None:
        gb[...] = gs.reshape(n, o, gs.shape[3]).sum(axis=2).sum(axis=0)
