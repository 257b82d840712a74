"""Pooling (tinyflow/ops/pool.py): max pooling with its select and gradient ops, average
pooling with its gradient op, and adaptive average pooling (sugar over avg_pool2d).

References loop over output windows in float64, with PyTorch's output size (ceil_mode) and
divisor (count_include_pad) rules.
"""
from __future__ import annotations

import math

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import pool as pool_ops

from .common import A, Arg, ErrorInput, OpCase, Ref, S, distinct
from .conv import np_pads, np_pair

CASES: list[OpCase] = []


def Dist(*shape, layout="C", diff=True) -> Arg:
    """Distinct values: no ties for max pooling's argmax."""
    return Arg(tuple(shape), distinct, layout, None, diff)


def _np_pool_windows(shape, kernel_size, stride, padding, dilation, ceil_mode):
    """(oh, ow, rows, cols, pads) with rows/cols the window's positions in the unpadded
    input (negative or past the end where it covers padding), PyTorch's output size."""
    khw = np_pair(kernel_size)
    stride = khw if stride is None else np_pair(stride)
    dilation = np_pair(dilation)
    pads = np_pads(padding, shape[2:], khw, stride, dilation)
    out = []
    for size, (a, b), k, s, d in zip(shape[2:], pads, khw, stride, dilation):
        span = size + a + b - d * (k - 1) - 1
        n = (math.ceil(span / s) if ceil_mode else span // s) + 1
        out.append(n - 1 if ceil_mode and (n - 1) * s >= size + a else n)
    for oh in range(out[0]):
        for ow in range(out[1]):
            rows = oh * stride[0] - pads[0][0] + dilation[0] * np.arange(khw[0])
            cols = ow * stride[1] - pads[1][0] + dilation[1] * np.arange(khw[1])
            yield oh, ow, rows, cols, pads, tuple(out)


def _np_argmax(x, rows, cols):
    """Per (n, c): the input position (row, col) of the window's first maximum."""
    r, c = np.meshgrid(rows, cols, indexing="ij")
    inside = (r >= 0) & (r < x.shape[2]) & (c >= 0) & (c < x.shape[3])
    r, c = r[inside], c[inside]
    best = np.argmax(x[:, :, r, c], axis=-1)
    return r[best], c[best]


def _np_max_routes(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(oh, ow, argmax rows, argmax cols, out size) for each output pixel."""
    for oh, ow, rows, cols, _, out in _np_pool_windows(x.shape, kernel_size, stride, padding,
                                                       dilation, ceil_mode):
        yield (oh, ow) + _np_argmax(x, rows, cols) + (out,)


def np_max_pool2d_select(t, x, **kw):
    """t at the positions of x's window maxima."""
    routes = list(_np_max_routes(x, **kw))
    y = np.zeros(x.shape[:2] + routes[0][-1], t.dtype)
    n, c = np.indices(x.shape[:2])
    for oh, ow, r, col, _ in routes:
        y[:, :, oh, ow] = t[n, c, r, col]
    return y


def np_max_pool2d(x, **kw):
    return np_max_pool2d_select(x, x, **kw)


def np_max_pool2d_grad(g, x, **kw):
    gx = np.zeros(x.shape, g.dtype)
    n, c = np.indices(x.shape[:2])
    for oh, ow, r, col, _ in _np_max_routes(x, **kw):
        np.add.at(gx, (n, c, r, col), g[:, :, oh, ow])
    return gx


def _pool_attrs(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    return pool_ops.pool_attrs(kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_grad(g, x, **kw):
    return apply(pool_ops.MaxPool2dGrad(**_pool_attrs(**kw)), g, x)


def max_pool2d_select(t, x, **kw):
    return apply(pool_ops.MaxPool2dSelect(**_pool_attrs(**kw)), t, x)


CASES += [
    OpCase("max_pool2d", tf.ops.max_pool2d, np_max_pool2d,
           (S(Dist(2, 3, 6, 5), kernel_size=2),
            S(Dist(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(Dist(3, 2, 5, 6, layout="T"), kernel_size=(3, 2), stride=(2, 1),
              ceil_mode=True),
            S(Dist(2, 2, 7, 6), kernel_size=2, stride=1, dilation=2),
            S(Dist(2, 2, 6, 6, layout="step"), kernel_size=3, stride=2, padding=1,
              ceil_mode=True),
            S(Dist(2, 2, 5, 5), kernel_size=3, stride=2, padding="same")),
           errors=(ErrorInput(S(A(1, 2, 5, 5), kernel_size=2, padding=2), ValueError,
                              r"^padding \(\(2, 2\), \(2, 2\)\) is more than half of "
                              r"kernel_size \(2, 2\)"),
                   ErrorInput(S(A(1, 1, 4, 4), kernel_size=0), ValueError,   # no op name
                              r"^kernel_size \(0, 0\), stride \(0, 0\) and dilation \(1, 1\) "
                              r"must be positive"),
                   ErrorInput(S(A(2, 5, 5), kernel_size=2), tf.ShapeError,
                              r"^max_pool2d: the input must be 4-D \(N, C, H, W\), got shape "
                              r"\(2, 5, 5\)"),
                   ErrorInput(S(A(1, 2, 5, 5, dtype=tf.int32), kernel_size=2), tf.DTypeError,
                              r"^max_pool2d: needs floating-point tensors, got int32"))),
    OpCase("max_pool2d_grad", max_pool2d_grad, np_max_pool2d_grad,
           (S(A(2, 3, 3, 2), Dist(2, 3, 6, 5, diff=False), kernel_size=2),
            S(A(2, 2, 5, 4), Dist(2, 2, 7, 6, diff=False), kernel_size=2, stride=1,
              dilation=2),
            S(A(1, 2, 4, 4, layout="T"), Dist(1, 2, 6, 6, diff=False), kernel_size=3,
              stride=2, padding=1, ceil_mode=True),
            S(A(2, 2, 3, 3), Dist(2, 2, 5, 5, diff=False), kernel_size=3, stride=2,
              padding="same"))),
    OpCase("max_pool2d_select", max_pool2d_select, np_max_pool2d_select,
           (S(A(2, 3, 6, 5), Dist(2, 3, 6, 5, diff=False), kernel_size=2),
            S(A(1, 2, 7, 6, layout="step"), Dist(1, 2, 7, 6, diff=False), kernel_size=3,
              stride=2, padding=1),
            S(A(2, 2, 5, 5), Dist(2, 2, 5, 5, layout="T", diff=False), kernel_size=3,
              stride=2, padding="same"))),
]


def _np_avg_windows(shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                    count_include_pad=True):
    """(oh, ow, rows, cols inside the input, divisor, out size), PyTorch's divisor rule."""
    for oh, ow, rows, cols, pads, out in _np_pool_windows(shape, kernel_size, stride,
                                                          padding, 1, ceil_mode):
        limits = [shape[2] + pads[0][1], shape[3] + pads[1][1]]
        covered = [np.sum(rows < limits[0]), np.sum(cols < limits[1])]
        rows = rows[(rows >= 0) & (rows < shape[2])]
        cols = cols[(cols >= 0) & (cols < shape[3])]
        divisor = covered[0] * covered[1] if count_include_pad else rows.size * cols.size
        yield oh, ow, rows, cols, divisor, out


def np_avg_pool2d(x, **kw):
    windows = list(_np_avg_windows(x.shape, **kw))
    y = np.zeros(x.shape[:2] + windows[0][-1])
    for oh, ow, rows, cols, divisor, _ in windows:
        y[:, :, oh, ow] = x[:, :, rows][:, :, :, cols].astype(np.float64).sum((2, 3)) / divisor
    return y.astype(x.dtype)


def np_avg_pool2d_grad(g, ref, **kw):
    gx = np.zeros(ref.shape)
    for oh, ow, rows, cols, divisor, _ in _np_avg_windows(ref.shape, **kw):
        gx[:, :, rows[:, None], cols[None, :]] += g[:, :, oh, ow, None, None] / divisor
    return gx.astype(g.dtype)


def avg_pool2d_grad(g, ref, count_include_pad=True, **kw):
    op = pool_ops.AvgPool2dGrad(count_include_pad=count_include_pad, **_pool_attrs(**kw))
    return apply(op, g, ref)


CASES += [
    OpCase("avg_pool2d", tf.ops.avg_pool2d, np_avg_pool2d,
           (S(A(2, 3, 6, 5), kernel_size=2),
            S(A(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(A(3, 2, 5, 6, layout="T"), kernel_size=(3, 2), stride=(2, 1), padding=1,
              ceil_mode=True),
            S(A(2, 2, 6, 6, layout="step"), kernel_size=3, stride=2, padding=1,
              ceil_mode=True, count_include_pad=False),
            S(A(2, 2, 5, 5), kernel_size=3, stride=2, padding="same",
              count_include_pad=False)),
           errors=(ErrorInput(S(A(1, 2, 5, 5), kernel_size=6), tf.ShapeError,
                              r"^avg_pool2d: kernel 6x6 \(dilation \(1, 1\)\) is larger than "
                              r"the padded input: 5x5"),
                   ErrorInput(S(A(1, 2, 5, 5, dtype=tf.int32), kernel_size=2), tf.DTypeError,
                              r"^avg_pool2d: needs floating-point tensors, got int32"))),
    OpCase("avg_pool2d_grad", avg_pool2d_grad, np_avg_pool2d_grad,
           (S(A(2, 3, 3, 2), Ref(2, 3, 6, 5), kernel_size=2),
            S(A(1, 2, 4, 3), Ref(1, 2, 7, 6), kernel_size=3, stride=2, padding=1),
            S(A(2, 2, 4, 4, layout="T"), Ref(2, 2, 6, 6), kernel_size=3, stride=2,
              padding=1, ceil_mode=True, count_include_pad=False),
            S(A(2, 2, 3, 3), Ref(2, 2, 5, 5), kernel_size=3, stride=2, padding="same",
              count_include_pad=False))),
]


def np_adaptive_avg_pool2d(x, output_size):
    size = (output_size,) * 2 if isinstance(output_size, int) else output_size
    size = [d if o is None else o for o, d in zip(size, x.shape[2:])]
    y = np.zeros(x.shape[:2] + tuple(size))
    for i in range(size[0]):
        r0, r1 = (i * x.shape[2]) // size[0], math.ceil((i + 1) * x.shape[2] / size[0])
        for j in range(size[1]):
            c0, c1 = (j * x.shape[3]) // size[1], math.ceil((j + 1) * x.shape[3] / size[1])
            y[:, :, i, j] = x[:, :, r0:r1, c0:c1].astype(np.float64).mean((2, 3))
    return y.astype(x.dtype)


CASES += [
    OpCase("adaptive_avg_pool2d", tf.ops.adaptive_avg_pool2d, np_adaptive_avg_pool2d,
           (S(A(2, 3, 6, 4), output_size=(3, 2)),
            S(A(2, 3, 7, 5), output_size=(3, 4)),
            S(A(1, 2, 5, 6, layout="T"), output_size=(None, 4)),
            S(A(2, 2, 5, 5), output_size=1)),
           dynamic=False, sugar=True,  # the windows depend on the static spatial size
           errors=(ErrorInput(S(A(2, 5, 5), output_size=2), ValueError,
                              r"^adaptive_avg_pool2d: the input must be 4-D \(N, C, H, W\), "
                              r"got shape \(2, 5, 5\)"),
                   ErrorInput(S(A(1, 1, 4, 4), output_size=0), ValueError,
                              r"^adaptive_avg_pool2d: output_size must be positive, got "
                              r"\(0, 0\)"))),
]
