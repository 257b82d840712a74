"""TF1's `tf.layers` functions: each opens a variable scope (`dense`, `dense_1`, ... unless
named) and gets its `kernel` and `bias` there with `tf.get_variable`, so a layer built again
under `variable_scope(..., reuse=True)` shares them. Channels last by default, as TF1."""
from __future__ import annotations

from .. import ops as _ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.shape import shape_of as _shape_of
from ..ops.shape import flatten as _flatten
from ..symbolic.variable_scope import get_variable, variable_scope, zeros_initializer
from . import tf_functions as _nn
from .tf_batch_norm import batch_normalization  # noqa: F401

__all__ = ["Dense", "average_pooling2d", "batch_normalization", "conv2d", "conv2d_transpose",
           "dense", "dropout", "flatten", "max_pooling2d"]


def _pair(value, what: str) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{what} must be an int or 2 ints, got {value!r}")
    return pair


def _format(data_format: str) -> str:
    formats = {"channels_last": "NHWC", "channels_first": "NCHW"}
    if data_format not in formats:
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return formats[data_format]


def _finish(out, bias, activation, layout="NHWC"):
    if bias is not None:
        out = _nn.bias_add(out, bias, data_format=layout)
    return activation(out) if activation is not None else out


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None,
          bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
          activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
          trainable=True, name=None, reuse=None):
    """inputs @ kernel [in, units] + bias over the last axis (leading axes kept)."""
    with variable_scope(name, default_name="dense", reuse=reuse):
        return _dense(inputs, units, activation, use_bias, kernel_initializer,
                      bias_initializer, kernel_regularizer, bias_regularizer, trainable)[0]


def _dense(inputs, units, activation, use_bias, kernel_initializer, bias_initializer,
           kernel_regularizer, bias_regularizer, trainable) -> tuple:
    """(output, kernel, bias) of a dense layer whose variables live in the open scope."""
    x = as_tensor(inputs)
    if x.ndim is None or x.shape[-1] is None:
        raise ValueError(f"dense: the last dimension of the inputs must be known, got shape "
                         f"{x.shape}")
    kernel = get_variable("kernel", [x.shape[-1], units], x.dtype, kernel_initializer,
                          kernel_regularizer, trainable=trainable)
    bias = get_variable("bias", [units], x.dtype, bias_initializer or zeros_initializer(),
                        bias_regularizer, trainable=trainable) if use_bias else None
    if x.ndim == 2:
        out = _ops.matmul(x, kernel)
    elif sum(d is None for d in x.shape[:-1]) > 1:   # [None, None, in]: no static flat
        out = _ops.matmul(x, kernel)                 # shape, a batched product
    else:
        out = _ops.reshape(_ops.matmul(_ops.reshape(x, (-1, x.shape[-1])), kernel),
                           tuple(-1 if d is None else d for d in x.shape[:-1]) + (units,))
    return _finish(out, bias, activation), kernel, bias


class Dense:
    """`tf.layers.Dense`: a layer object whose variables are made at its first call (in a
    scope `dense`, `dense_1`, ... unless named) and shared by its later calls."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None,
                 bias_initializer=None, kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 trainable=True, name=None, **kwargs) -> None:
        self.units, self.name, self.trainable = int(units), name, trainable
        self._options = (activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, trainable)
        self._scope = self.kernel = self.bias = None

    def __call__(self, inputs):
        built = self._scope is not None
        with variable_scope(self._scope if built else self.name, default_name="dense",
                            reuse=True if built else None) as scope:
            out, self.kernel, self.bias = _dense(inputs, self.units, *self._options)
        self._scope = scope
        return out

    apply = __call__

    @property
    def built(self) -> bool:
        return self._scope is not None

    @property
    def variables(self) -> list:
        return [v for v in (self.kernel, self.bias) if v is not None]

    trainable_variables = trainable_weights = weights = variables


def _conv_layer(transpose, inputs, filters, kernel_size, strides, padding, data_format,
                dilation_rate, activation, use_bias, kernel_initializer, bias_initializer,
                trainable, name, reuse, regularizers=(None, None)):
    x = as_tensor(inputs)
    layout = _format(data_format)
    channels = x.shape[3 if layout == "NHWC" else 1] if x.ndim == 4 else None
    if channels is None:
        raise ValueError(f"conv2d: the inputs must be 4-D with known channels, got shape "
                         f"{x.shape}")
    kh, kw = _pair(kernel_size, "kernel_size")
    stride = _pair(strides, "strides")
    shape = [kh, kw, filters, channels] if transpose else [kh, kw, channels, filters]
    with variable_scope(name, default_name="conv2d_transpose" if transpose else "conv2d",
                        reuse=reuse):
        kernel = get_variable("kernel", shape, x.dtype, kernel_initializer,
                              regularizers[0], trainable=trainable)
        bias = get_variable("bias", [filters], x.dtype,
                            bias_initializer or zeros_initializer(), regularizers[1],
                            trainable=trainable) if use_bias else None
        if not transpose:
            out = _nn.conv2d(x, kernel, strides=stride, padding=padding.upper(),
                             data_format=layout, dilations=_pair(dilation_rate, "dilation"))
            return _finish(out, bias, activation, layout)
        h, w = (1, 2) if layout == "NHWC" else (2, 3)
        size = [_transposed_size(x.shape[d], k, s, padding) for d, k, s in
                zip((h, w), (kh, kw), stride)]
        batch = x.shape[0] if x.shape[0] is not None else _shape_of(x)[0]
        out_shape = [batch, *size, filters] if layout == "NHWC" else [batch, filters, *size]
        out = _nn.conv2d_transpose(x, kernel, out_shape, stride, padding.upper(), layout)
        return _finish(out, bias, activation, layout)


def _transposed_size(n, k: int, s: int, padding: str) -> int:
    if n is None:
        raise ValueError("conv2d_transpose: the input's height and width must be known")
    if padding.lower() == "same":
        return n * s
    if padding.lower() == "valid":
        return n * s + max(k - s, 0)
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=None, kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
    return _conv_layer(False, inputs, filters, kernel_size, strides, padding, data_format,
                       dilation_rate, activation, use_bias, kernel_initializer,
                       bias_initializer, trainable, name, reuse,
                       (kernel_regularizer, bias_regularizer))


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=None, kernel_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):
    """A transposed convolution: out size n * stride ('same') or n * stride + max(k - stride,
    0) ('valid'); kernel [kH, kW, filters, in_channels]."""
    return _conv_layer(True, inputs, filters, kernel_size, strides, padding, data_format,
                       (1, 1), activation, use_bias, kernel_initializer, bias_initializer,
                       trainable, name, reuse, (kernel_regularizer, bias_regularizer))


def _pool(fn, inputs, pool_size, strides, padding, data_format, name):
    layout = _format(data_format)
    window, stride = _pair(pool_size, "pool_size"), _pair(strides, "strides")
    return fn(as_tensor(inputs), ksize=window, strides=stride, padding=padding.upper(),
              data_format=layout, name=name)


def max_pooling2d(inputs, pool_size, strides, padding="valid", data_format="channels_last",
                  name=None):
    return _pool(_nn.max_pool, inputs, pool_size, strides, padding, data_format, name)


def average_pooling2d(inputs, pool_size, strides, padding="valid",
                      data_format="channels_last", name=None):
    return _pool(_nn.avg_pool, inputs, pool_size, strides, padding, data_format, name)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """Drops a share `rate` (scaling the rest by 1 / (1 - rate)) when `training` is true: a
    Python bool, or a boolean tensor decided at each run."""
    x = as_tensor(inputs)
    if isinstance(training, Tensor):   # a scalar: a bare placeholder's rank is unknown
        return _ops.where(_ops.reshape(training, ()),
                          _nn.dropout(x, rate=rate, noise_shape=noise_shape), x, name=name)
    return _nn.dropout(x, rate=rate, noise_shape=noise_shape, name=name) if training else x


def flatten(inputs, name=None):
    """[batch, ...] to [batch, product of the rest]."""
    x = as_tensor(inputs)
    if x.ndim is None:
        raise ValueError("flatten: the input's rank must be known")
    return _flatten(x, 1)
