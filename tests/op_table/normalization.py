"""The fused normalization over some axes and its gradient op (tinyflow/ops/normalization.py),
which layer, group and batch norm are built on."""
from __future__ import annotations

import numpy as np

import tinyflow as tf
from tinyflow.core.op import apply
from tinyflow.ops import normalization as normalization_ops

from .common import A, ErrorInput, OpCase, S, positive

CASES: list[OpCase] = []


def np_normalize(x, axes, eps=1e-5):
    x = x.astype(np.float64)
    centered = x - x.mean(axes, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axes, keepdims=True) + eps)


def np_normalize_grad(g, x, axes, eps=1e-5):
    """The textbook layer-norm backward: (g - mean(g) - y mean(g y)) / std."""
    g, x = g.astype(np.float64), x.astype(np.float64)
    y = np_normalize(x, axes, eps)
    std = np.sqrt(x.var(axes, keepdims=True) + eps)
    return (g - g.mean(axes, keepdims=True) - y * (g * y).mean(axes, keepdims=True)) / std


def normalize_grad(g, x, axes, eps=1e-5):
    return apply(normalization_ops.NormalizeGrad(axes=axes, eps=eps), g, x)


CASES += [
    OpCase("normalize", tf.ops.normalize, np_normalize,
           (S(A(3, 5), axes=(1,)), S(A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3),
            S(A(4, 3, layout="step"), axes=(0,))),
           errors=(ErrorInput(S(A(3, 4, dtype=tf.int32), axes=(1,)), tf.DTypeError,
                              r"^normalize: needs floating-point tensors, got int32"),
                   ErrorInput(S(A(3, 4), axes=(2,)), tf.ShapeError,
                              r"^normalize: axis 2 is out of range for rank 2"),
                   ErrorInput(S(A(3, 4), axes=(1, 1)), tf.ShapeError,
                              r"^normalize: repeated axis in \(1, 1\)"))),
    OpCase("normalize_grad", normalize_grad, np_normalize_grad,
           (S(A(3, 5), A(3, 5), axes=(1,)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4, layout="T"), axes=(1, 2), eps=1e-3))),
]


# ---- training-mode batch norm: per channel (axis 1), scale and shift folded in ----------

def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def np_normalize_channels(x, w, b, eps=1e-5):
    return np_normalize(x, _channel_axes(x), eps) * _per_channel(w, x) + _per_channel(b, x)


def np_batch_norm_grad(g, x, w, eps=1e-5):
    return np_normalize_grad(g, x, _channel_axes(x), eps) * _per_channel(w, x)


def np_batch_norm_param_grad(g, x, eps=1e-5):
    axes = _channel_axes(x)
    g = g.astype(np.float64)
    return np.stack([(g * np_normalize(x, axes, eps)).sum(axes), g.sum(axes)])


def np_channel_moments(x):
    x = x.astype(np.float64)
    axes = _channel_axes(x)
    return np.stack([x.mean(axes), x.var(axes)])


def channel_errors(name: str) -> tuple:
    """Bad inputs of an op on x [N, C, ...] with two per-channel vectors [C]."""
    return (ErrorInput(S(A(4, 3, 2, 2), A(3), A(4)), tf.ShapeError,
                       rf"^{name}: per-channel parameters of shape \(4,\) do not match the "
                       r"input's 3 channels"),
            ErrorInput(S(A(4), A(4), A(4)), tf.ShapeError,
                       rf"^{name}: needs an input of rank 2 or more"),
            ErrorInput(S(A(4, 3, dtype=tf.float64), A(3, dtype=tf.float32),
                         A(3, dtype=tf.float32)), tf.DTypeError,
                       rf"^{name}: the input \(float64\) and the per-channel parameters "
                       r"\(float32\) must have the same dtype"))


def np_channel_affine(x, a, b):
    return x * _per_channel(a, x) + _per_channel(b, x)


def np_batch_norm_eval(x, mean, var, w, b, eps=1e-5):
    x = x.astype(np.float64)
    return (x - _per_channel(mean, x)) / np.sqrt(_per_channel(var, x) + eps) * \
        _per_channel(w, x) + _per_channel(b, x)


def np_batch_norm_scale(var, w, eps=1e-5):
    return w.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)


def batch_norm_scale(var, w, eps=1e-5):
    return apply(normalization_ops.BatchNormScale(eps=eps), var, w)


def batch_norm_grad(g, x, w, eps=1e-5):
    return apply(normalization_ops.BatchNormGrad(eps=eps), g, x, w)


def batch_norm_param_grad(g, x, eps=1e-5):
    return apply(normalization_ops.BatchNormParamGrad(eps=eps), g, x)


def np_batch_norm_grads(g, x, w, eps=1e-5):
    return np.concatenate([np_batch_norm_grad(g, x, w, eps).ravel(),
                           np_batch_norm_param_grad(g, x, eps).ravel()]).astype(x.dtype)


def batch_norm_grads(g, x, w, eps=1e-5):
    return apply(normalization_ops.BatchNormGrads(eps=eps), g, x, w)


def batch_norm_grads_saved(g, x, w, saved=None, eps=1e-5):
    """The op given x's statistics as the forward saves them (float64 mean and 1 / std),
    computed here by an op no gradient flows through: the derivatives in x are then the
    op's own (its composition computes the statistics from x)."""
    if saved is None:
        moments = tf.ops.channel_moments(tf.ops.cast(x, tf.float64))
        saved = tf.ops.stack([tf.ops.getitem(moments, 0),
                              1 / tf.ops.sqrt(tf.ops.getitem(moments, 1) + eps)])
    return apply(normalization_ops.BatchNormGradsSaved(eps=eps), g, x, w, saved)


CASES += [
    OpCase("batch_norm", tf.ops.normalize_channels, np_normalize_channels,
           (S(A(4, 3, 5, 2), A(3), A(3)), S(A(6, 2), A(2), A(2), eps=1e-3),
            S(A(1, 3, 2, 5, layout="T"), A(3, layout="step"), A(3)),
            S(A(3, 2, 7, 3, layout="step"), A(2), A(2))),
           dynamic=False,  # reduces over every axis but 1: its derivatives need the rank
           errors=channel_errors("batch_norm")),
    OpCase("batch_norm_grad", batch_norm_grad, np_batch_norm_grad,
           (S(A(4, 3, 5, 2), A(4, 3, 5, 2, layout="T"), A(3)),
            S(A(5, 2), A(5, 2), A(2), eps=1e-3)), dynamic=False),
    OpCase("batch_norm_param_grad", batch_norm_param_grad, np_batch_norm_param_grad,
           (S(A(4, 3, 5, 2), A(4, 3, 5, 2, layout="step")), S(A(5, 2), A(5, 2))),
           dynamic=False),
    OpCase("batch_norm_grads", batch_norm_grads, np_batch_norm_grads,
           (S(A(4, 3, 5, 2), A(4, 3, 5, 2, layout="step"), A(3)),
            S(A(5, 2, layout="step"), A(5, 2), A(2), eps=1e-3),
            S(A(2, 3, 4, 3, layout="T"), A(2, 3, 4, 3), A(3))), dynamic=False),
    OpCase("batch_norm_grads_saved", batch_norm_grads_saved, np_batch_norm_grads,
           (S(A(4, 3, 5, 2), A(4, 3, 5, 2, layout="step"), A(3)),
            S(A(5, 2, layout="step"), A(5, 2), A(2), eps=1e-3)), dynamic=False,
           errors=(ErrorInput(S(A(4, 3), A(4, 3), A(3), A(2, 2, dtype=tf.float64)),
                              tf.ShapeError, r"^batch_norm_grads_saved: the saved statistics "
                              r"\(each channel's mean and 1 / std\) must be \[2, 3\], got "
                              r"shape \(2, 2\)"),
                   ErrorInput(S(A(4, 3), A(4, 3), A(3), A(2, 3)), tf.DTypeError,
                              r"^batch_norm_grads_saved: the saved statistics \(each "
                              r"channel's mean and 1 / std\) must be float64, got float32"))),
    OpCase("channel_affine", tf.ops.channel_affine, np_channel_affine,
           (S(A(4, 3, 5, 2), A(3), A(3)), S(A(6, 2, layout="T"), A(2, layout="step"), A(2)),
            S(A(2, 3, 2, 5, layout="step"), A(3), A(3, layout="step"))),
           dynamic=False,  # per channel on axis 1: its derivatives need the rank
           errors=channel_errors("channel_affine")),
    OpCase("batch_norm_eval", tf.ops.batch_norm_eval, np_batch_norm_eval,
           (S(A(4, 3, 5, 2), A(3), A(3, domain=positive), A(3), A(3)),
            S(A(6, 2, layout="T"), A(2, layout="step"), A(2, domain=positive), A(2), A(2),
              eps=1e-3),
            S(A(2, 3, 2, 5, layout="step"), A(3), A(3, domain=positive), A(3, layout="step"),
              A(3))),
           dynamic=False,  # per channel on axis 1: its derivatives need the rank
           errors=(ErrorInput(S(A(4, 3), A(3), A(3), A(2), A(3)), tf.ShapeError,
                              r"^batch_norm_eval: per-channel parameters of shape \(2,\) do "
                              r"not match the input's 3 channels"),
                   ErrorInput(S(A(4, 3, dtype=tf.float64), A(3, dtype=tf.float32),
                                A(3, dtype=tf.float64), A(3, dtype=tf.float64),
                                A(3, dtype=tf.float64)), tf.DTypeError,
                              r"^batch_norm_eval: the input \(float64\) and the per-channel "
                              r"parameters \(float32\) must have the same dtype"))),
    OpCase("batch_norm_scale", batch_norm_scale, np_batch_norm_scale,
           (S(A(3, domain=positive), A(3)), S(A(5, domain=positive, layout="step"), A(5),
                                              eps=1e-3)),
           errors=(ErrorInput(S(A(3, dtype=tf.float64), A(3, dtype=tf.float32)),
                              tf.DTypeError, r"^batch_norm_scale: the variance \(float64\) "
                              r"and the weight \(float32\) must have the same dtype"),)),
    OpCase("channel_moments", tf.ops.channel_moments, np_channel_moments,
           (S(A(4, 3, 5, 2)), S(A(6, 2, layout="T")), S(A(1, 3, 4, 4, layout="step"))),
           grad=False, op="batch_moments"),
]


# ---- layer norm: over the trailing dims of the scale's shape, scale and shift folded in ----

def _leading(x, w):
    return tuple(range(x.ndim - w.ndim))


def _trailing(x, dims):
    return tuple(range(x.ndim - dims, x.ndim))


def np_layer_norm(x, w, b, eps=1e-5):
    return np_normalize(x, _trailing(x, w.ndim), eps) * w + b


def np_layer_norm_grad(g, x, w, eps=1e-5):
    return np_normalize_grad(g.astype(np.float64) * w, x, _trailing(x, w.ndim), eps)


def np_layer_norm_param_grad(g, x, dims, eps=1e-5):
    g = g.astype(np.float64)
    lead = tuple(range(x.ndim - dims))
    return np.stack([(g * np_normalize(x, _trailing(x, dims), eps)).sum(lead), g.sum(lead)])


def layer_norm_grad(g, x, w, eps=1e-5):
    return apply(normalization_ops.LayerNormGrad(eps=eps), g, x, w)


def layer_norm_param_grad(g, x, dims, eps=1e-5):
    return apply(normalization_ops.LayerNormParamGrad(dims=dims, eps=eps), g, x)


def np_layer_norm_grads(g, x, w, eps=1e-5):
    dx = np_layer_norm_grad(g, x, w, eps).reshape((-1,) + w.shape)
    return np.concatenate([dx, np_layer_norm_param_grad(g, x, w.ndim, eps)]).astype(x.dtype)


def layer_norm_grads(g, x, w, eps=1e-5):
    return apply(normalization_ops.LayerNormGrads(eps=eps), g, x, w)


CASES += [
    OpCase("layer_norm", tf.ops.layer_norm, np_layer_norm,
           (S(A(3, 5), A(5), A(5)), S(A(2, 3, 4, layout="T"), A(3, 4), A(3, 4), eps=1e-3),
            S(A(4, 6, layout="step"), A(6, layout="step"), A(6)), S(A(5), A(5), A(5))),
           dynamic=False,  # normalizes the trailing dims: its derivatives need the rank
           errors=(ErrorInput(S(A(3, 4), A(3), A(3)), tf.ShapeError,
                              r"^layer_norm: a scale or shift of shape \(3,\) must be the "
                              r"input's trailing dims"),
                   ErrorInput(S(A(3, 4), A(4), A(3, 4)), tf.ShapeError,
                              r"^layer_norm: scale \(4,\) and shift \(3, 4\) must have one "
                              r"shape"),
                   ErrorInput(S(A(3, 4, dtype=tf.float64), A(4, dtype=tf.float32),
                                A(4, dtype=tf.float32)), tf.DTypeError,
                              r"^layer_norm: the input \(float64\) and the scale and shift "
                              r"\(float32\) must have the same dtype"))),
    OpCase("layer_norm_grad", layer_norm_grad, np_layer_norm_grad,
           (S(A(3, 5), A(3, 5, layout="T"), A(5)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4), A(3, 4), eps=1e-3)), dynamic=False),
    OpCase("layer_norm_param_grad", layer_norm_param_grad, np_layer_norm_param_grad,
           (S(A(3, 5), A(3, 5, layout="step"), dims=1),
            S(A(2, 3, 4), A(2, 3, 4, layout="T"), dims=2, eps=1e-3),
            S(A(4), A(4), dims=1)), dynamic=False),
    OpCase("layer_norm_grads", layer_norm_grads, np_layer_norm_grads,
           (S(A(3, 5), A(3, 5, layout="T"), A(5)),
            S(A(2, 3, 4, layout="step"), A(2, 3, 4), A(3, 4), eps=1e-3),
            S(A(40, 6), A(40, 6, layout="step"), A(6)), S(A(4), A(4), A(4))), dynamic=False),
]
