"""TF1's depthwise, separable, atrous and 1-D convolutions (`tf.nn.depthwise_conv2d`,
`separable_conv2d`, `atrous_conv2d`, `conv1d`): `tf.nn.conv2d` with groups and dilation,
so the one convolution op (and its gradients) serves them; and `tf.nn.swish`, `lrn`,
`weighted_cross_entropy_with_logits` and `zero_fraction`."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ._image import window_sum
from .tf_functions import conv2d


def _rate(rate, dilations):
    """TF's `rate` (an int or [rh, rw]) or `dilations`, as conv2d's dilations."""
    if rate is not None and dilations is not None:
        raise ValueError("give rate or dilations, not both")
    rate = dilations if rate is None else rate
    return None if rate is None else ([int(rate)] * 2 if isinstance(rate, int) else
                                      [int(r) for r in rate])


def depthwise_conv2d(input, filter, strides, padding, rate=None, name=None,  # noqa: A002
                     data_format=None, dilations=None) -> Tensor:
    """Each input channel c convolved with its own filters filter[:, :, c, :] ([kh, kw, C,
    multiplier]): output channel c * multiplier + m, a convolution with C groups."""
    x, filt = as_tensor(input), as_tensor(filter)
    channel = 1 if data_format == "NCHW" else 3
    if x.ndim != 4 or filt.ndim != 4 or None in filt.shape or \
            x.shape[channel] not in (None, filt.shape[2]):
        raise ValueError(f"depthwise_conv2d: input must be 4-D with the filter's channels "
                         f"(filter [kh, kw, in_channels, multiplier]), got input {x.shape} "
                         f"and filter {filt.shape}")
    kh, kw, channels, mult = filt.shape
    per_group = ops.reshape(filt, (kh, kw, 1, channels * mult))
    return conv2d(x, per_group, strides, padding, data_format=data_format,
                  dilations=_rate(rate, dilations), name=name or "depthwise")


def separable_conv2d(input, depthwise_filter, pointwise_filter, strides, padding,  # noqa: A002
                     rate=None, name=None, data_format=None, dilations=None) -> Tensor:
    """depthwise_conv2d, then a 1x1 convolution by pointwise_filter [1, 1, C * mult, out]."""
    point = as_tensor(pointwise_filter)
    if point.ndim != 4 or tuple(point.shape[:2]) != (1, 1):
        raise ValueError(f"separable_conv2d: pointwise_filter must be [1, 1, in, out], got "
                         f"{point.shape}")
    depth = depthwise_conv2d(input, depthwise_filter, strides, padding, rate,
                             data_format=data_format, dilations=dilations)
    return conv2d(depth, point, [1, 1, 1, 1], "VALID", data_format=data_format,
                  name=name or "separable_conv2d")


def atrous_conv2d(value, filters, rate, padding, name=None) -> Tensor:
    """conv2d of NHWC `value` with `filters` spread `rate` apart (dilated), stride 1."""
    if int(rate) < 1:
        raise ValueError(f"atrous_conv2d: rate must be >= 1, got {rate}")
    return conv2d(value, filters, [1, 1, 1, 1], padding, dilations=[int(rate)] * 2,
                  name=name or "atrous_conv2d")


def _width_entry(value, fmt: str, what: str) -> int:
    """conv1d's stride or dilations along the width: an int, [w], or [1, w, 1] (NWC) /
    [1, 1, w] (NCW) whose batch and channel entries are 1."""
    entries = [int(v) for v in np.ravel(value)]
    if len(entries) == 1:
        return entries[0]
    along = 1 if fmt == "NHWC" else 2
    if len(entries) == 3 and all(
            v == 1 for i, v in enumerate(entries) if i != along):
        return entries[along]
    raise ValueError(f"conv1d: {what} must be an int or 3 entries [1, w, 1] (NWC) / "
                     f"[1, 1, w] (NCW), got {value}")


def conv1d(value=None, filters=None, stride=None, padding=None, use_cudnn_on_gpu=None,
           data_format=None, name=None, input=None, dilations=None) -> Tensor:  # noqa: A002
    """value [batch, width, in] ("NWC") or [batch, in, width] ("NCW"), filters [kw, in,
    out]: conv2d over a height of 1."""
    x = as_tensor(value if value is not None else input)
    filt = as_tensor(filters)
    if x.ndim != 3 or filt.ndim != 3:
        raise ValueError(f"conv1d: value must be 3-D and filters [width, in, out], got "
                         f"{x.shape} and {filt.shape}")
    if stride is None or padding is None:
        raise ValueError("conv1d: stride and padding are required")
    fmt = "NCHW" if data_format in ("NCW", "NCHW") else "NHWC"
    step = _width_entry(stride, fmt, "stride")
    rate = None if dilations is None else [1, _width_entry(dilations, fmt, "dilations")]
    out = conv2d(ops.expand_dims(x, 1 if fmt == "NHWC" else 2), ops.expand_dims(filt, 0),
                 [1, step], padding, data_format=fmt, dilations=rate)
    return ops.squeeze(out, 1 if fmt == "NHWC" else 2, name=name)


def swish(features, beta=1.0, name=None) -> Tensor:
    """features * sigmoid(beta * features)."""
    x = as_tensor(features)
    return ops.multiply(x, ops.sigmoid(ops.multiply(x, beta)), name=name)


def lrn(input, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5, name=None) -> Tensor:  # noqa: A002
    """Local response normalization over the last (channel) axis: x / (bias + alpha *
    sum of x**2 over the 2 * depth_radius + 1 channels about each) ** beta."""
    x = as_tensor(input)
    if x.ndim != 4 or x.shape[3] is None:
        raise ValueError(f"lrn: input must be 4-D [batch, height, width, channels] with "
                         f"known channels, got {x.shape}")
    r = int(depth_radius)
    total = window_sum(ops.square(x), 3, r, r)
    return ops.divide(x, ops.pow(ops.add(ops.multiply(total, alpha), bias), beta), name=name)


def weighted_cross_entropy_with_logits(labels=None, logits=None, pos_weight=None, name=None,
                                       targets=None) -> Tensor:
    """Sigmoid cross entropy with the positive term weighted by pos_weight, in TF's stable
    form (1 - z) x + (1 + (q - 1) z) (log(1 + exp(-|x|)) + max(-x, 0))."""
    z = as_tensor(labels if labels is not None else targets)
    x = as_tensor(logits)
    if pos_weight is None:
        raise ValueError("weighted_cross_entropy_with_logits: pos_weight is required")
    weight = ops.add(ops.multiply(ops.subtract(pos_weight, 1.0), z), 1.0)
    softplus = ops.add(ops.log1p(ops.exp(ops.negative(ops.abs(x)))),
                       ops.maximum(ops.negative(x), 0.0))
    return ops.add(ops.multiply(ops.subtract(1.0, z), x), ops.multiply(weight, softplus),
                   name=name)


def zero_fraction(value, name=None) -> Tensor:
    """The fraction of value's entries that are zero (a float32 scalar)."""
    zeros = ops.cast(ops.equal(as_tensor(value), 0), "float32")
    return ops.reduce_mean(zeros, name=name)
