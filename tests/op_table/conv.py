"""Convolution (tinyflow/ops/conv.py): conv2d (also with its bias) and its gradient ops.

References loop over output pixels in float64 — slow, obvious, and unlike the kernels'
strided taps. Samples: stride, padding (also asymmetric and TF's "same"), dilation, groups
(also depthwise), non-square kernels, non-contiguous inputs, batch 1 and 3.
"""
from __future__ import annotations

import math

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import conv as conv_ops

from .common import A, ErrorInput, OpCase, Ref, S

CASES: list[OpCase] = []


def np_pads(padding, hw, khw, stride, dilation):
    """((top, bottom), (left, right)): ints, pairs, pairs of pairs, 'valid' or TF's 'same'."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        pads = []
        for size, k, s, d in zip(hw, khw, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    padding = (padding, padding) if isinstance(padding, int) else padding
    return tuple((p, p) if isinstance(p, int) else tuple(p) for p in padding)


def np_pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _np_conv_geometry(x_shape, khw, stride, padding, dilation):
    stride, dilation = np_pair(stride), np_pair(dilation)
    pads = np_pads(padding, x_shape[2:], khw, stride, dilation)
    out = tuple((size + a + b - d * (k - 1) - 1) // s + 1
                for size, (a, b), k, s, d in zip(x_shape[2:], pads, khw, stride, dilation))
    return stride, dilation, pads, out


def _np_windows(khw, stride, dilation, out):
    """(oh, ow, index of the padded input's window) for every output pixel."""
    for oh in range(out[0]):
        for ow in range(out[1]):
            rows = slice(oh * stride[0], oh * stride[0] + dilation[0] * (khw[0] - 1) + 1,
                         dilation[0])
            cols = slice(ow * stride[1], ow * stride[1] + dilation[1] * (khw[1] - 1) + 1,
                         dilation[1])
            yield oh, ow, (slice(None), slice(None), rows, cols)


def np_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(x.shape, w.shape[2:], stride, padding,
                                                    dilation)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0)) + pads)
    o, cg = w.shape[:2]
    og = o // groups
    y = np.zeros((x.shape[0], o) + out)
    for oh, ow, index in _np_windows(w.shape[2:], stride, dilation, out):
        patch = xp[index]
        for g in range(groups):
            y[:, g * og:(g + 1) * og, oh, ow] = np.einsum(
                "nchw,ochw->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    return y.astype(np.result_type(x, w))


def conv_error(x_shape, w_shape, error, match, **kwargs) -> ErrorInput:
    """A bad (input, weight) pair for conv2d; the message starts with the op's name."""
    return ErrorInput(S(A(*x_shape), A(*w_shape), **kwargs), error, "^conv2d: " + match)


CASES += [
    OpCase("conv2d", tf.ops.conv2d, np_conv2d,
           (S(A(2, 4, 6, 5), A(6, 4, 3, 3)),
            S(A(1, 4, 6, 5), A(4, 4, 3, 2), stride=2, padding=1),
            S(A(3, 2, 6, 5), A(3, 2, 2, 3), dilation=2, padding=(2, 1)),
            S(A(2, 4, 6, 5), A(6, 2, 3, 3), groups=2, padding=1),
            S(A(2, 4, 5, 5, layout="T"), A(8, 1, 3, 3), groups=4, padding="same"),
            S(A(2, 3, 5, 6, layout="step"), A(4, 3, 2, 2), stride=(1, 2),
              padding=((1, 0), (0, 2))),
            S(A(2, 4, 6, 5), A(4, 4, 3, 2, layout="T"), padding="same", dilation=2),
            S(A(2, 4, 1, 1), A(6, 4, 3, 3), padding=1),     # taps in padding: the centre's
            S(A(2, 4, 2, 3), A(4, 2, 3, 3), stride=2, padding=1, groups=2),
            S(A(2, 3, 7, 6, layout="step"), A(3, 1, 3, 2), groups=3, stride=2,
              dilation=(2, 1), padding=2)),   # depthwise: backend/numpy/_conv_depthwise
           atol=1e-5,  # float32 sums of up to 36 products of values in [-2, 2]
           errors=(conv_error((2, 4, 6, 6), (6, 3, 3, 3), tf.ShapeError,
                              r"input \(2, 4, 6, 6\) has 4 channels but weight "
                              r"\(6, 3, 3, 3\) with groups=1 expects 3"),
                   conv_error((2, 4, 6, 6), (6, 2, 3, 3), tf.ShapeError,
                              r"input \(2, 4, 6, 6\) has 4 channels, not divisible by "
                              r"groups=3", groups=3),
                   conv_error((2, 6, 6, 6), (4, 2, 3, 3), tf.ShapeError,
                              r"weight \(4, 2, 3, 3\) has 4 output channels, not divisible "
                              r"by groups=3", groups=3),
                   conv_error((2, 4, 4, 4), (6, 4, 5, 3), tf.ShapeError,
                              r"kernel 5x3 \(dilation \(1, 1\)\) is larger than the padded "
                              r"input: 4x4"),
                   conv_error((2, 4, 4, 4), (6, 4, 3, 3), tf.ShapeError,
                              r"kernel 3x3 \(dilation \(2, 2\)\) is larger than the padded "
                              r"input: 4x4", dilation=2),
                   conv_error((2, 4, 4), (6, 4, 3, 3), tf.ShapeError,
                              r"the input must be 4-D \(N, C, H, W\), got shape \(2, 4, 4\)"),
                   conv_error((1, 2, 5, 5), (2, 2, 3, 3), ValueError,
                              r"padding='same' needs stride 1",
                              stride=2, padding="same"),
                   conv_error((1, 1, 4, 4), (1, 1, 2, 2), ValueError,
                              r"stride \(0, 0\), dilation \(1, 1\) and groups 1 must be "
                              r"positive", stride=0),
                   conv_error((1, 1, 4, 4), (1, 1, 2, 2), ValueError,
                              r"stride \(1, 1\), dilation \(1, 1\) and groups 0 must be "
                              r"positive", groups=0),
                   ErrorInput(S(A(1, 2, 5, 5, dtype=tf.int32), A(2, 2, 3, 3, dtype=tf.int32)),
                              tf.DTypeError, r"^conv2d: needs floating-point tensors, got "
                                             r"int32"))),
]


def np_conv2d_bias(x, w, b, **attrs):
    return (np_conv2d(x, w, **attrs) + b.astype(np.float64)[:, None, None]).astype(
        np.result_type(x, w, b))


def conv2d_bias(x, w, b, **attrs):
    return tf.ops.conv2d(x, w, bias=b, **attrs)


CASES += [
    OpCase("conv2d_bias", conv2d_bias, np_conv2d_bias,
           (S(A(2, 4, 6, 5), A(6, 4, 3, 3), A(6)),
            S(A(1, 1, 6, 5), A(4, 1, 3, 2), A(4), stride=2, padding=1),
            S(A(3, 2, 6, 5), A(3, 2, 2, 3), A(3, layout="step"), dilation=2, padding=(2, 1)),
            S(A(2, 4, 6, 5, layout="T"), A(6, 2, 3, 3), A(6), groups=2, padding="same"),
            S(A(2, 4, 5, 5), A(8, 1, 3, 3), A(8), groups=4, stride=(1, 2)),
            S(A(2, 4, 6, 5), A(4, 1, 3, 3), A(4), groups=4, padding=1)),   # depthwise
           atol=1e-5,
           errors=(ErrorInput(S(A(2, 4, 6, 6), A(6, 4, 3, 3), A(4)), tf.ShapeError,
                              r"^conv2d_bias: bias of shape \(4,\) does not match the 6 "
                              r"output channels"),
                   ErrorInput(S(A(2, 4, 6, 6), A(6, 4, 3, 3), A(6, dtype=tf.float64)),
                              tf.DTypeError, r"^conv2d_bias: the bias \(float64\) must have "
                                             r"the input's dtype \(float32\)"))),
]


def np_conv2d_grad_input(g, w, ref, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(ref.shape, w.shape[2:], stride, padding,
                                                    dilation)
    (top, bottom), (left, right) = pads
    n, c, h, wd = ref.shape
    gx = np.zeros((n, c, h + top + bottom, wd + left + right))
    o, cg = w.shape[:2]
    og = o // groups
    for oh, ow, (_, _, rows, cols) in _np_windows(w.shape[2:], stride, dilation, out):
        for k in range(groups):
            gx[:, k * cg:(k + 1) * cg, rows, cols] += np.einsum(
                "no,ochw->nchw", g[:, k * og:(k + 1) * og, oh, ow], w[k * og:(k + 1) * og])
    return gx[:, :, top:top + h, left:left + wd].astype(np.result_type(g, w))


def conv2d_grad_input(g, w, ref, **attrs):
    return apply(conv_ops.Conv2dGradInput(**conv_ops.conv_attrs(**attrs)), g, w, ref)


CASES += [
    OpCase("conv2d_grad_input", conv2d_grad_input, np_conv2d_grad_input,
           (S(A(1, 4, 3, 3), A(4, 4, 3, 2), Ref(1, 4, 6, 5), stride=2, padding=1),
            S(A(2, 6, 4, 3, layout="T"), A(6, 2, 3, 3), Ref(2, 4, 6, 5), groups=2),
            S(A(3, 4, 3, 3, layout="step"), A(4, 1, 3, 3), Ref(3, 4, 5, 5), groups=4,
              stride=2, padding=1),
            S(A(2, 2, 6, 3), A(2, 3, 2, 2), Ref(2, 3, 6, 5), dilation=2, padding=(1, 0)),
            S(A(2, 3, 2, 2), A(3, 2, 3, 2), Ref(2, 2, 6, 5), stride=2),
            S(A(2, 4, 1, 1), A(4, 3, 3, 3), Ref(2, 3, 1, 1), padding=1)),
           atol=1e-5),
]


def np_conv2d_grad_weight(x, g, ref, stride=1, padding=0, dilation=1, groups=1):
    stride, dilation, pads, out = _np_conv_geometry(x.shape, ref.shape[2:], stride, padding,
                                                    dilation)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0)) + pads)
    o, cg = ref.shape[:2]
    og = o // groups
    gw = np.zeros(ref.shape)
    for oh, ow, index in _np_windows(ref.shape[2:], stride, dilation, out):
        patch = xp[index]
        for k in range(groups):
            gw[k * og:(k + 1) * og] += np.einsum(
                "no,nchw->ochw", g[:, k * og:(k + 1) * og, oh, ow],
                patch[:, k * cg:(k + 1) * cg])
    return gw.astype(np.result_type(x, g))


def conv2d_grad_weight(x, g, ref, **attrs):
    return apply(conv_ops.Conv2dGradWeight(**conv_ops.conv_attrs(**attrs)), x, g, ref)


CASES += [
    OpCase("conv2d_grad_weight", conv2d_grad_weight, np_conv2d_grad_weight,
           (S(A(1, 4, 6, 5), A(1, 4, 3, 3), Ref(4, 4, 3, 2), stride=2, padding=1),
            S(A(2, 4, 6, 5, layout="T"), A(2, 6, 4, 3), Ref(6, 2, 3, 3), groups=2),
            S(A(3, 4, 5, 5), A(3, 4, 3, 3, layout="step"), Ref(4, 1, 3, 3), groups=4,
              stride=2, padding=1),
            S(A(2, 3, 6, 5), A(2, 2, 6, 3), Ref(2, 3, 2, 2), dilation=2, padding=(1, 0)),
            S(A(2, 2, 6, 5), A(2, 3, 2, 2), Ref(3, 2, 3, 2), stride=2),
            S(A(2, 3, 2, 2), A(2, 4, 1, 1), Ref(4, 3, 3, 3), stride=2, padding=1)),
           atol=1e-5),
]


def np_conv2d_grad_weight_bias(x, g, ref, **attrs):
    gw = np_conv2d_grad_weight(x, g, ref, **attrs)
    gb = g.astype(np.float64).sum(axis=(0, 2, 3))
    return np.concatenate([gw.ravel(), gb]).astype(np.result_type(x, g))


def conv2d_grad_weight_bias(x, g, ref, **attrs):
    return apply(conv_ops.Conv2dGradWeightBias(**conv_ops.conv_attrs(**attrs)), x, g, ref)


CASES += [
    OpCase("conv2d_grad_weight_bias", conv2d_grad_weight_bias, np_conv2d_grad_weight_bias,
           (S(A(1, 4, 6, 5), A(1, 4, 3, 3), Ref(4, 4, 3, 2), stride=2, padding=1),
            S(A(2, 1, 6, 5), A(2, 3, 6, 5), Ref(3, 1, 3, 3), padding=1),
            S(A(2, 4, 6, 5, layout="T"), A(2, 6, 4, 3), Ref(6, 2, 3, 3), groups=2),
            S(A(3, 4, 5, 5), A(3, 4, 3, 3, layout="step"), Ref(4, 1, 3, 3), groups=4,
              stride=2, padding=1),
            S(A(2, 3, 6, 5), A(2, 2, 6, 3), Ref(2, 3, 2, 2), dilation=2, padding=(1, 0))),
           atol=1e-5,
           errors=(ErrorInput(S(A(2, 4, 6, 5), A(2, 6, 5, 3), Ref(6, 4, 3, 3)),
                              tf.ShapeError, r"^conv2d_grad_weight_bias: output gradient of "
                                             r"shape \(2, 6, 5, 3\) does not match"),)),
]


# 5x5 kernels at stride 1 with several input channels take Winograd F(2x2, 5x5) (backend
# _conv_winograd): odd sizes, a partial last tile, asymmetric and "same" padding. In float32
# its transforms scale terms up to 16x before the sums: errors ~1e-5 of values near 10.
WINOGRAD_ATOL = 1e-4
CASES += [
    OpCase("conv2d_5x5", tf.ops.conv2d, np_conv2d,
           (S(A(2, 3, 7, 6), A(4, 3, 5, 5), padding=2),
            S(A(1, 2, 6, 7, layout="T"), A(3, 2, 5, 5), padding=((1, 0), (2, 1)))),
           op="conv2d", atol=WINOGRAD_ATOL),
    OpCase("conv2d_bias_5x5", conv2d_bias, np_conv2d_bias,
           (S(A(2, 3, 5, 7), A(2, 3, 5, 5), A(2), padding="same"),),
           op="conv2d_bias", atol=WINOGRAD_ATOL),
    OpCase("conv2d_grad_input_5x5", conv2d_grad_input, np_conv2d_grad_input,
           (S(A(2, 4, 5, 4), A(4, 3, 5, 5), Ref(2, 3, 5, 4), padding=2),
            S(A(1, 3, 3, 6, layout="T"), A(3, 2, 5, 5), Ref(1, 2, 6, 7),
              padding=((1, 0), (2, 1)))),
           op="conv2d_grad_input", atol=WINOGRAD_ATOL),
    OpCase("conv2d_grad_weight_5x5", conv2d_grad_weight, np_conv2d_grad_weight,
           (S(A(2, 3, 7, 6), A(2, 4, 7, 6, layout="step"), Ref(4, 3, 5, 5), padding=2),),
           op="conv2d_grad_weight", atol=WINOGRAD_ATOL),
    OpCase("conv2d_grad_weight_bias_5x5", conv2d_grad_weight_bias, np_conv2d_grad_weight_bias,
           (S(A(1, 2, 6, 7), A(1, 3, 3, 6), Ref(3, 2, 5, 5), padding=((1, 0), (2, 1))),),
           op="conv2d_grad_weight_bias", atol=WINOGRAD_ATOL),
]
