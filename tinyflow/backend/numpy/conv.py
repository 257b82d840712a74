"""Convolution kernels: im2col + one GEMM per group, and col2im for the input gradient.

im2col reads the windows of the padded input as a strided view (no Python loop over output
pixels) and copies them once into columns laid out [groups, Cg * kH * kW, N * Ho * Wo], so
each group is a single matrix product with its [Og, Cg * kH * kW] slice of the weight.
col2im, the adjoint, adds columns back with one strided slice per kernel tap.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...ops import conv
from .registry import kernel


def _geometry(op, hw, khw) -> tuple:
    """((top, bottom), (left, right)) padding and (Ho, Wo) for run-time sizes."""
    pads, out = [], []
    for axis in (0, 1):
        args = (hw[axis], khw[axis], op.stride[axis], op.dilation[axis])
        pads.append(conv.axis_pads(op.padding, axis, *args))
        out.append(conv.axis_out(*args, pads[-1]))
    return tuple(pads), tuple(out)


def _pad(x, pads):
    if not any(pads[0] + pads[1]):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + pads)


def _im2col(op, x, khw):
    """Columns [G, Cg * kH * kW, N * Ho * Wo] of x's windows, and (Ho, Wo)."""
    n, c = x.shape[:2]
    (kh, kw), (dh, dw), (sh, sw) = khw, op.dilation, op.stride
    pads, (ho, wo) = _geometry(op, x.shape[2:], khw)
    xp = _pad(x, pads)
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    windows = windows[:, :, :ho, :wo]  # [N, C, Ho, Wo, kH, kW], a view
    k = c // op.groups * kh * kw  # explicit sizes: a -1 is ambiguous when N is 0
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(op.groups, k, n * ho * wo)
    return cols, (ho, wo)


def _grad_columns(op, g):
    """g [N, O, Ho, Wo] as [G, Og, N * Ho * Wo], matching the columns' layout."""
    n, o, ho, wo = g.shape
    return g.transpose(1, 0, 2, 3).reshape(op.groups, o // op.groups, n * ho * wo)


@kernel(conv.Conv2d)
def conv2d(op, x, w):
    n = x.shape[0]
    o = w.shape[0]
    cols, (ho, wo) = _im2col(op, x, w.shape[2:])
    out = np.matmul(w.reshape(op.groups, o // op.groups, cols.shape[1]), cols)  # [G, Og, NP]
    return np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))


@kernel(conv.Conv2dGradWeight)
def conv2d_grad_weight(op, x, g, ref):
    cols, _ = _im2col(op, x, ref.shape[2:])
    gw = np.matmul(_grad_columns(op, g), cols.transpose(0, 2, 1))  # [G, Og, Cg*kH*kW]
    return gw.reshape(ref.shape)


@kernel(conv.Conv2dGradInput)
def conv2d_grad_input(op, g, w, ref):
    """col2im fused with the GEMM: per kernel tap, one (batched over groups) product gives
    that tap's columns, added at once into the strided slice it came from. Cache-sized
    pieces instead of one [C * kH * kW, N * Ho * Wo] buffer: about 25% faster."""
    n, c, h, wd = ref.shape
    o, cg, kh, kw = w.shape
    ho, wo = g.shape[2:]
    (dh, dw), (sh, sw) = op.dilation, op.stride
    (top, bottom), (left, right) = _geometry(op, (h, wd), (kh, kw))[0]
    gm = _grad_columns(op, g)  # [G, Og, N*Ho*Wo]
    taps = w.reshape(op.groups, o // op.groups, cg, kh, kw).transpose(3, 4, 0, 2, 1)
    xp = np.zeros((c, n, h + top + bottom, wd + left + right), np.result_type(g, w))
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            xp[:, :, rows, columns] += np.matmul(taps[i, j], gm).reshape(c, n, ho, wo)
    return np.ascontiguousarray(xp[:, :, top:top + h, left:left + wd].transpose(1, 0, 2, 3))
