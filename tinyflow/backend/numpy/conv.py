"""Convolution kernels: im2col in an NHWC layout, then one 2-D GEMM per group and block.

The input is copied once into a zero-padded [N, H, W, C] buffer. A window of it is then kH
runs of kW * C contiguous values, so the columns of a block of output pixels, one row per
(n, h, w) laid out [pixels, G, kH * kW * Cg], are a single fast strided copy. A block is a
few images (BLOCK_BYTES of columns, so they stay in cache and the buffer is reused), and
each group's product [pixels, Kg] @ [Kg, Og] is one BLAS call with a long K.

- The weight gradient reuses that layout: [Kg, pixels] @ [pixels, Og], summed over blocks.
- The input gradient is the same layout backwards: per block, the columns g @ w
  [pixels, Og] @ [Og, Kg] are added back into a padded NHWC buffer (col2im) by a Numba loop.
  (At stride 1 it could also be a convolution of g with the flipped weight, but that copies
  O / C times more columns and measured slower on the W3 layers.)
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...ops import conv
from . import _conv_numba
from ._conv_numba import scratch as _buffer
from .registry import kernel

BLOCK_BYTES = 4 << 20  # of columns per block: cache-sized, and the GEMMs stay efficient


def _geometry(op, hw, khw) -> tuple:
    """((top, bottom), (left, right)) padding and (Ho, Wo) for run-time sizes."""
    pads, out = [], []
    for axis in (0, 1):
        args = (hw[axis], khw[axis], op.stride[axis], op.dilation[axis])
        pads.append(conv.axis_pads(op.padding, axis, *args))
        out.append(conv.axis_out(*args, pads[-1]))
    return tuple(pads), tuple(out)


def _nhwc_padded(x, pads):
    """x [N, C, H, W] as a zero-padded [N, top + H + bottom, left + W + right, C] copy (in
    a scratch buffer)."""
    n, c, h, w = x.shape
    (top, bottom), (left, right) = pads
    xp = _buffer("padded", (n, top + h + bottom, left + w + right, c), x.dtype)
    for border in (np.s_[:, :top], np.s_[:, top + h:], np.s_[:, top:top + h, :left],
                   np.s_[:, top:top + h, left + w:]):
        xp[border] = 0
    xp[:, top:top + h, left:left + w] = x.transpose(0, 2, 3, 1)
    return xp


def _blocks(n: int, ho: int, row_bytes: int):
    """(n0, n1, a0, a1): images n0:n1 while whole images fit in BLOCK_BYTES of columns, else
    output rows a0:a1 of one image at a time."""
    if ho * row_bytes <= BLOCK_BYTES:
        step = BLOCK_BYTES // (ho * row_bytes)
        for n0 in range(0, n, step):
            yield n0, min(n, n0 + step), 0, ho
        return
    step = max(1, BLOCK_BYTES // row_bytes)
    for n0 in range(n):
        for a0 in range(0, ho, step):
            yield n0, n0 + 1, a0, min(ho, a0 + step)


def _column_blocks(xp, khw, out, stride, dilation, groups):
    """(block, columns [G, kH * kW * Cg, pixels]) of padded NHWC xp, block by block, in one
    reused scratch buffer. Stored pixel-major (a transposed view) so that a window's kW * C
    values are one contiguous run; with a single channel that run is only kW long, and
    tap-major storage, runs of Wo pixels, copies faster."""
    (kh, kw), (ho, wo), (sh, sw), (dh, dw) = khw, out, stride, dilation
    n, c = xp.shape[0], xp.shape[3]
    cg = c // groups
    s0, s1, s2, s3 = xp.strides
    for n0, n1, a0, a1 in _blocks(n, ho, wo * kh * kw * c * xp.itemsize):
        pixels = (n1 - n0, a1 - a0, wo)
        pixel_strides = (s0, sh * s1, sw * s2)
        taps = (groups, kh, kw, cg)
        tap_strides = (cg * s3, dh * s1, dw * s2, s3)
        src = xp[n0:, a0 * sh:]
        if c == 1:
            cols = _buffer("columns", taps + pixels, xp.dtype)
            cols[...] = as_strided(src, cols.shape, tap_strides + pixel_strides, writeable=False)
            yield (n0, n1, a0, a1), cols.reshape(groups, kh * kw * cg, -1)
        else:
            cols = _buffer("columns", pixels + taps, xp.dtype)
            cols[...] = as_strided(src, cols.shape, pixel_strides + tap_strides, writeable=False)
            yield (n0, n1, a0, a1), cols.reshape(-1, groups, kh * kw * cg).transpose(1, 2, 0)


def _grad_nhwc(g):
    """g [N, O, Ho, Wo] as [N, Ho, Wo, O] (in a scratch buffer): each block's rows are then
    one contiguous slice, as the columns'."""
    gt = _buffer("grad", (g.shape[0],) + g.shape[2:] + (g.shape[1],), g.dtype)
    gt[...] = g.transpose(0, 2, 3, 1)
    return gt


def _grad_rows(gt, block, groups):
    """The block's rows of NHWC gt as [G, pixels, Og] (a view)."""
    n0, n1, a0, a1 = block
    return gt[n0:n1, a0:a1].reshape(-1, groups, gt.shape[3] // groups).transpose(1, 0, 2)


def _common(*arrays):
    dtype = np.result_type(*arrays)
    return [a.astype(dtype, copy=False) for a in arrays]


@kernel(conv.Conv2d, widen=0)
def conv2d(op, x, w):
    x, w = _common(x, w)
    n = x.shape[0]
    o, cg, kh, kw = w.shape
    groups, og = op.groups, o // op.groups
    pads, (ho, wo) = _geometry(op, x.shape[2:], (kh, kw))
    wt = w.reshape(groups, og, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, og, -1)
    out = np.empty((n, groups, og, ho, wo), x.dtype)
    xp = _nhwc_padded(x, pads)
    for (n0, n1, a0, a1), cols in _column_blocks(xp, (kh, kw), (ho, wo), op.stride,
                                                 op.dilation, groups):
        res = _buffer("product", (groups, og, cols.shape[2]), x.dtype)
        np.matmul(wt, cols, out=res)  # [G, Og, pixels]: runs of pixels
        res = res.reshape(groups, og, n1 - n0, a1 - a0, wo)
        out[n0:n1, :, :, a0:a1] = res.transpose(2, 0, 1, 3, 4)
    return out.reshape(n, o, ho, wo)


@kernel(conv.Conv2dGradWeight, widen=0)
def conv2d_grad_weight(op, x, g, ref):
    x, g = _common(x, g)
    o, cg, kh, kw = ref.shape
    groups = op.groups
    pads, out_hw = _geometry(op, x.shape[2:], (kh, kw))
    gw = np.zeros((groups, kh * kw * cg, o // groups), x.dtype)
    xp = _nhwc_padded(x, pads)
    if x.shape[1] == 1:  # tap-major columns: one product per image with g as it is
        for (n0, n1, a0, a1), cols in _column_blocks(xp, (kh, kw), out_hw, op.stride,
                                                     op.dilation, 1):
            per_image = cols.reshape(kh * kw, n1 - n0, -1).transpose(1, 2, 0)
            part = g[n0:n1, :, a0:a1].reshape(n1 - n0, o, -1)
            gw[0] += np.matmul(part, per_image).sum(axis=0).T
    else:
        gt = _grad_nhwc(g)
        for block, cols in _column_blocks(xp, (kh, kw), out_hw, op.stride, op.dilation,
                                          groups):
            gw += np.matmul(cols, _grad_rows(gt, block, groups))
    gw = gw.reshape(groups, kh, kw, cg, o // groups).transpose(0, 4, 3, 1, 2)
    return np.ascontiguousarray(gw).reshape(ref.shape)


@kernel(conv.Conv2dGradInput, widen=0)
def conv2d_grad_input(op, g, w, ref):
    g, w = _common(g, w)
    n, c, h, wd = ref.shape
    o, cg, kh, kw = w.shape
    groups, og = op.groups, o // op.groups
    pads, out_hw = _geometry(op, (h, wd), (kh, kw))
    (top, bottom), (left, right) = pads
    dxp = _buffer("padded", (n, top + h + bottom, left + wd + right, c), g.dtype)
    dxp[...] = 0
    if c == 1:
        _one_channel_col2im(op, g, w, dxp)
        return dxp[:, top:top + h, left:left + wd, 0].copy()[:, None]  # not scratch
    wk = w.reshape(groups, og, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, og, -1)
    row_bytes = out_hw[1] * groups * wk.shape[2] * g.itemsize
    gt = _grad_nhwc(g)
    for block in _blocks(n, out_hw[0], row_bytes):
        rows = _grad_rows(gt, block, groups)
        dcols = _buffer("product", (groups, rows.shape[1], wk.shape[2]), g.dtype)
        np.matmul(rows, wk, out=dcols)  # [G, pixels, Kg]
        _conv_numba.col2im(dcols, dxp, block, out_hw[1], op.stride, op.dilation, (kh, kw))
    return dxp[:, top:top + h, left:left + wd].transpose(0, 3, 1, 2).copy()  # not scratch


def _one_channel_col2im(op, g, w, dxp) -> None:
    """The input gradient of a one-channel input, added into padded dxp [N, Hp, Wp, 1]:
    tap-major columns w^T @ g per image (no transpose of g), added back one tap at a time
    in runs of Wo, as the forward's columns are copied."""
    n, o, ho, wo = g.shape
    kh, kw = w.shape[2:]
    (sh, sw), (dh, dw) = op.stride, op.dilation
    wk = w.reshape(o, kh * kw).T  # [taps, O]
    for n0, n1, a0, a1 in _blocks(n, ho, wo * kh * kw * g.itemsize):
        part = g[n0:n1, :, a0:a1].reshape(n1 - n0, o, -1)
        dcols = _buffer("product", (n1 - n0, kh * kw, part.shape[2]), g.dtype)
        np.matmul(wk, part, out=dcols)  # [images, taps, pixels]
        taps = dcols.reshape(n1 - n0, kh, kw, a1 - a0, wo)
        for i in range(kh):
            rows = slice(a0 * sh + i * dh, (a1 - 1) * sh + i * dh + 1, sh)
            for j in range(kw):
                dxp[n0:n1, rows, j * dw:j * dw + (wo - 1) * sw + 1:sw, 0] += taps[:, i, j]
