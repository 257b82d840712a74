"""TF1's `tf.nn` functions: softmax, activations and the fused cross-entropies (TF
spellings: `axis`, `labels=`/`logits=`); conv2d, pooling, bias_add, dropout and
batch_normalization (NHWC by default). PyTorch's F.* live in nn/functional.py."""
import numpy as np

from .. import ops as _ops
from ..core.op import apply as _apply
from ..core.op import as_tensor as _as_tensor
from ..core.tensor import Tensor as _Tensor
from ..ops.shape import flatten as _flatten
from ..ops.shape import shape_of as _shape_of
from . import functional as _F
from ..symbolic.deferred import DeferredVariable as _DeferredVariable
from ..ops import conv as _conv
from ..ops import pool as _pool
from ..ops.math import relu, sigmoid, tanh
from ..ops.nn import log_softmax, softmax
from ..ops.nn import softmax_cross_entropy as _softmax_cross_entropy
from ..ops.nn import sparse_softmax_cross_entropy as _sparse_softmax_cross_entropy

__all__ = ["log_softmax", "relu", "sigmoid", "softmax", "softmax_cross_entropy_with_logits",
           "softmax_cross_entropy_with_logits_v2", "sparse_softmax_cross_entropy_with_logits",
           "tanh"]


def softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, dim=-1,
                                      name=None, axis=None):
    """Per-example cross-entropy of `logits` against class probabilities `labels`."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("softmax_cross_entropy_with_logits: call it with named arguments "
                         "labels=... and logits=...")
    axis = dim if axis is None else axis
    if axis not in (-1, None) and axis != getattr(logits, "ndim", -1) - 1:
        raise ValueError("softmax_cross_entropy_with_logits: only the last axis is supported")
    return _softmax_cross_entropy(labels, logits, name=name)


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def sparse_softmax_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None,
                                             name=None):
    """Per-example cross-entropy of `logits` against integer class ids `labels`."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("sparse_softmax_cross_entropy_with_logits: call it with named "
                         "arguments labels=... and logits=...")
    return _sparse_softmax_cross_entropy(labels, logits, name=name)


# ---- convolution, pooling, bias, dropout, batch normalization (NHWC by default) ------------
# TF layouts are NHWC input and HWIO filters; the ops are NCHW / OIHW (PyTorch's), so these
# transpose in and out (views) and pass TF's padding as the ops' "same" mode, which is TF's
# asymmetric SAME rule (the odd pixel after) for any stride.

__all__ += ["avg_pool", "batch_normalization", "fused_batch_norm", "moments", "bias_add",
            "conv2d", "conv2d_transpose", "dropout", "max_pool"]


def _layout(data_format: str) -> str:
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
    return data_format


def _dims(data_format: str) -> tuple:
    """Positions of height, width and channels in a 4-D shape of `data_format`."""
    return (1, 2, 3) if data_format == "NHWC" else (2, 3, 1)


def _hw(value, data_format: str, what: str) -> tuple:
    """TF's strides, ksize or dilations (an int, or 1, 2 or 4 numbers) as (height, width)."""
    if isinstance(value, int):
        return (value, value)
    value = [int(v) for v in value]
    if len(value) in (1, 2):
        return (value[0], value[-1])
    if len(value) != 4:
        raise ValueError(f"{what} must be an int or a list of 1, 2 or 4 ints, got {value}")
    h, w, c = _dims(data_format)
    if value[0] != 1 or value[c] != 1:
        raise ValueError(f"{what} {value}: the batch and channel entries must be 1")
    return (value[h], value[w])


def _tf_padding(padding, data_format: str, explicit_ok: bool = True):
    """'SAME' / 'VALID', or (conv2d) explicit [[0, 0], [top, bottom], [left, right], [0, 0]]."""
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
        return _conv.padding_attr(padding.lower())
    pairs = [tuple(int(p) for p in pair) for pair in padding] if explicit_ok else []
    if len(pairs) != 4:
        raise ValueError(f"padding must be 'SAME', 'VALID' or 4 (before, after) pairs, got "
                         f"{padding!r}")
    h, w, c = _dims(data_format)
    if any(pairs[0]) or any(pairs[c]):
        raise ValueError(f"padding {padding}: the batch and channel dims cannot be padded")
    return _conv.padding_attr((pairs[h], pairs[w]))


# TF1's op types of the NCHW ops its NHWC functions apply (Operation.type)
_TF1_TYPES = {_conv.Conv2d: "Conv2D", _conv.Conv2dGradInput: "Conv2DBackpropInput",
              _pool.MaxPool2d: "MaxPool", _pool.AvgPool2d: "AvgPool"}


def _apply_nchw(op, x, data_format, name, *more):
    """Apply an NCHW op to x in `data_format`, and give back that format. The node given
    back is the one TF1's program sees: named `name` or TF1's op type, and of that type
    (`Conv2D`), so `op.type == 'Conv2D'` finds the convolution's output in x's layout."""
    tf1_type = _TF1_TYPES[type(op)]
    if data_format == "NCHW":
        out = _apply(op, x, *more, name=name or tf1_type)
    else:
        out = _apply(op, _ops.transpose(x, (0, 3, 1, 2)), *more)
        out = _ops.transpose(out, (0, 2, 3, 1), name=name or tf1_type)
    if out.is_symbolic:
        out._tf1_type = tf1_type
    return out


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True,
           data_format=None, dilations=None, name=None, filters=None, num_filter=None,
           ksize=None, no_bias=False):
    """tf.nn.conv2d: input [N, H, W, C] (or NCHW), filter [kH, kW, C / groups, O].

    A filter with fewer input channels than the input makes a grouped convolution, as in
    TF2; `use_cudnn_on_gpu` is accepted and ignored. With `num_filter` (and no filter) it is
    tqchen/tinyflow's layer instead: see `_tinyflow_conv2d`.
    """
    if num_filter is not None and filter is None and filters is None:
        return _tinyflow_conv2d(input, num_filter, ksize, strides, padding, name, no_bias)
    data_format = _layout(data_format or "NHWC")
    x = _as_tensor(input)
    filt = _as_tensor(filter if filter is not None else filters)
    if strides is None or padding is None:
        raise ValueError("conv2d: strides and padding are required")
    groups = 1
    channels = x.shape[_dims(data_format)[2]] if x.ndim == 4 else None
    per_group = filt.shape[2] if filt.ndim == 4 else None
    if channels and per_group and channels != per_group and channels % per_group == 0:
        groups = channels // per_group
    op = _conv.Conv2d(stride=_hw(strides, data_format, "strides"),
                      padding=_tf_padding(padding, data_format),
                      dilation=_hw(dilations or 1, data_format, "dilations"), groups=groups)
    return _apply_nchw(op, x, data_format, name, _ops.transpose(filt, (3, 2, 0, 1)))


def conv2d_transpose(value=None, filter=None, output_shape=None, strides=None,
                     padding="SAME", data_format="NHWC", name=None, input=None, filters=None,
                     dilations=None):
    """tf.nn.conv2d_transpose: the input gradient of a conv2d whose filter is `filter`
    [kH, kW, out_channels, in_channels] and whose input has `output_shape` (ints, scalar
    tensors such as tf.shape(x)[0], or a 1-D tensor)."""
    data_format = _layout(data_format)
    x = _as_tensor(value if value is not None else input)
    filt = _as_tensor(filter if filter is not None else filters)
    if output_shape is None or strides is None:
        raise ValueError("conv2d_transpose: output_shape and strides are required")
    if isinstance(output_shape, _Tensor):
        output_shape = [output_shape[k] for k in range(4)]
    h, w, c = _dims(data_format)
    nchw = [output_shape[0], output_shape[c], output_shape[h], output_shape[w]]
    if all(isinstance(d, (int, np.integer)) for d in nchw):
        ref = _ops.expand(_ops.as_tensor(np.zeros((), x.dtype.np)), [int(d) for d in nchw])
    elif all(isinstance(d, (int, np.integer)) for d in nchw[1:]):
        # the batch known only when run (it is the input's): zeros [N, 1, 1, 1] from x
        # broadcast against zeros [1, C, H, W] keep C, H and W known while building
        column = _ops.zeros_like(x[:, :1, :1, :1])
        ref = _ops.add(column, _ops.as_tensor(np.zeros([1, *nchw[1:]], x.dtype.np)))
    else:
        ref = _ops.fill(nchw, np.zeros((), x.dtype.np))
    op = _conv.Conv2dGradInput(stride=_hw(strides, data_format, "strides"),
                               padding=_tf_padding(padding, data_format),
                               dilation=_hw(dilations or 1, data_format, "dilations"),
                               groups=1)
    return _apply_nchw(op, x, data_format, name, _ops.transpose(filt, (3, 2, 0, 1)), ref)


def _tinyflow_conv2d(data, num_filter, ksize, strides, padding, name, no_bias):
    """tqchen/tinyflow's conv2d: NCHW data, `ksize` and `strides` as [1, kH, kW, 1] (stride
    1 by default), VALID unless padding='SAME' ((k - 1) // 2 each side, as its Torch
    backend), making `<name>_weight` [num_filter, C, kH, kW] and `<name>_bias`, whose
    shapes `tf.infer_variable_shapes` infers."""
    if ksize is None:
        raise ValueError("conv2d(num_filter=...): ksize=[1, kH, kW, 1] is required")
    kh, kw = _hw(ksize, "NHWC", "ksize")
    stride = _hw(strides or 1, "NHWC", "strides")
    same = str(padding or "VALID").upper() == "SAME"
    pads = ((kh - 1) // 2, (kw - 1) // 2) if same else (0, 0)
    x = _as_tensor(data)
    name = name or "conv2d"
    weight = _DeferredVariable(f"{name}_weight", x, lambda s: (int(num_filter), s[1], kh, kw))
    out = _apply(_conv.Conv2d(stride=stride, padding=_conv.padding_attr(pads),
                              dilation=(1, 1), groups=1), x, weight)
    if no_bias:
        return out
    bias = _DeferredVariable(f"{name}_bias", x, lambda s: (int(num_filter),))
    return _ops.add(out, _ops.reshape(bias, (-1, 1, 1)), name=name)


def _pool2d(op_cls, value, ksize, strides, padding, data_format, name, **attrs):
    data_format = _layout(data_format)
    op = op_cls(kernel=_hw(ksize, data_format, "ksize"),
                stride=_hw(strides, data_format, "strides"),
                padding=_tf_padding(padding, data_format, explicit_ok=False),
                dilation=(1, 1), ceil_mode=False, **attrs)
    return _apply_nchw(op, _as_tensor(value), data_format, name)


def max_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
             name=None, input=None):
    """tf.nn.max_pool: the maximum of each window; SAME padding never wins (it is -inf)."""
    return _pool2d(_pool.MaxPool2d, value if value is not None else input, ksize, strides,
                 padding, data_format, name)


def avg_pool(value=None, ksize=None, strides=None, padding=None, data_format="NHWC",
             name=None, input=None):
    """tf.nn.avg_pool: with SAME padding a window's mean is over its input elements only
    (TF divides by the valid count, not the window size)."""
    return _pool2d(_pool.AvgPool2d, value if value is not None else input, ksize, strides,
                 padding, data_format, name, count_include_pad=False)


def bias_add(value, bias, data_format=None, name=None):
    """value + bias along the channel dim: the last one, or dim 1 for 'NC...' formats."""
    x, b = _as_tensor(value), _as_tensor(bias)
    if b.ndim != 1:
        raise ValueError(f"bias_add: bias must be 1-D, got shape {b.shape}")
    channels_first = data_format is not None and data_format.startswith("NC")
    if x.ndim is not None and x.ndim < 2:
        raise ValueError(f"bias_add: value must have rank >= 2, got shape {x.shape}")
    axis = 1 if channels_first else -1
    c = None if x.shape is None else x.shape[axis]
    if c is not None and b.shape[0] is not None and c != b.shape[0]:
        raise ValueError(f"bias_add: bias of shape {b.shape} does not match the {c} channels "
                         f"of value {x.shape}")
    if channels_first:
        if x.ndim is None:
            raise ValueError("bias_add: data_format 'NC...' needs the value's rank known")
        b = _ops.reshape(b, (-1,) + (1,) * (x.ndim - 2))
    return _ops.add(x, b, name=name)


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Keep each element with probability keep_prob (= 1 - rate), scaled by 1 / keep_prob.

    The mask is a node of the graph when x is symbolic, so every Session.run draws anew.
    `noise_shape` (x's rank, 1 where the mask is shared) draws one value per broadcast slice.
    """
    if (keep_prob is None) == (rate is None):
        raise ValueError("dropout: give exactly one of keep_prob and rate")
    keep = keep_prob if rate is None else 1.0 - rate
    x = _as_tensor(x)
    if isinstance(keep, _Tensor):     # a placeholder: 1.0 at test time, 0.5 in training
        if not keep.dtype.is_floating:
            raise TypeError(f"dropout: keep_prob must be a float tensor, got "
                            f"{keep.dtype.name}")
        keep = _ops.cast(keep, x.dtype) if keep.dtype is not x.dtype else keep
    else:
        keep = float(keep)
        if not 0 < keep <= 1:
            raise ValueError(f"dropout: keep_prob must be in (0, 1], got {keep}")
        if keep == 1.0:
            return x
    source = x
    if noise_shape is not None:
        noise_shape = [int(d) for d in noise_shape]
        if x.ndim is not None and len(noise_shape) != x.ndim:
            raise ValueError(f"dropout: noise_shape {noise_shape} must have the rank of x "
                             f"{x.shape}")
        source = x[tuple(slice(0, 1) if d == 1 else slice(None) for d in noise_shape)]
    mask = _ops.random_mask(source, keep)
    return _ops.multiply(x, mask * (1.0 / keep), name=name)


def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """Elementwise logistic loss of `logits` against targets `labels` in [0, 1], computed as
    TF1 documents it for stability: max(x, 0) - x * z + log(1 + exp(-|x|))."""
    if _sentinel is not None or labels is None or logits is None:
        raise ValueError("sigmoid_cross_entropy_with_logits: call it with named arguments "
                         "labels=... and logits=...")
    x = _as_tensor(logits)
    z = _as_tensor(labels, dtype=x.dtype) if not isinstance(labels, _Tensor) else labels
    if x.shape is not None and z.shape is not None and x.shape != z.shape:
        raise ValueError(f"sigmoid_cross_entropy_with_logits: logits and labels must have "
                         f"the same shape ({x.shape} vs {z.shape})")
    if z.dtype is not x.dtype:
        raise TypeError(f"sigmoid_cross_entropy_with_logits: labels ({z.dtype.name}) and "
                        f"logits ({x.dtype.name}) must have the same dtype")
    return _ops.add(_ops.relu(x) - x * z, _ops.log1p(_ops.exp(-_ops.abs(x))), name=name)


__all__ += ["sigmoid_cross_entropy_with_logits"]


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """(x - mean) / sqrt(variance + eps) * scale + offset, folded as TF folds it:
    x * inv + (offset - mean * inv) with inv = scale / sqrt(variance + eps)."""
    inv = 1.0 / _ops.sqrt(_as_tensor(variance) + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    shift = -_as_tensor(mean) * inv
    if offset is not None:
        shift = shift + offset
    return _ops.add(_ops.multiply(x, inv), shift, name=name)


def fused_batch_norm(x, scale, offset, mean=None, variance=None, epsilon=0.001,
                     data_format="NHWC", is_training=True, name=None,
                     exponential_avg_factor=1.0):
    """TF1's fused batch norm of a 4-D x per channel: (y, batch_mean, batch_variance).
    Training normalizes by the batch's mean and biased variance and returns the variance
    with Bessel's correction (n / (n - 1), as TF's kernel, for the running average), mixed
    into the given mean and variance by exponential_avg_factor when it is not 1; inference
    normalizes by the given mean and variance and returns them. epsilon is raised to at
    least 1.001e-5, as TF's (its cuDNN kernels need that much)."""
    x = _as_tensor(x)
    epsilon = max(float(epsilon), 1.001e-5)
    if x.ndim != 4 or data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"fused_batch_norm: x must be 4-D NHWC or NCHW, got shape {x.shape} "
                         f"and data_format {data_format!r}")
    axes, view = ((0, 1, 2), (-1,)) if data_format == "NHWC" else ((0, 2, 3), (-1, 1, 1))
    if is_training:
        batch_mean, batch_var = moments(x, axes)
        dims = _ops.cast(_shape_of(x), batch_var.dtype)
        count = dims[axes[0]] * dims[axes[1]] * dims[axes[2]]   # entries per channel
    else:
        if mean is None or variance is None:
            raise ValueError("fused_batch_norm: inference (is_training=False) needs mean and "
                             "variance")
        batch_mean, batch_var = _as_tensor(mean), _as_tensor(variance)
    y = batch_normalization(x, _ops.reshape(batch_mean, view), _ops.reshape(batch_var, view),
                            _ops.reshape(offset, view), _ops.reshape(scale, view), epsilon,
                            name=name)
    if not is_training:
        return y, batch_mean, batch_var
    corrected = batch_var * count / _ops.maximum(count - 1.0, 1.0)
    if exponential_avg_factor != 1.0 and mean is not None and variance is not None:
        f = float(exponential_avg_factor)
        batch_mean = (1.0 - f) * _as_tensor(mean) + f * batch_mean
        corrected = (1.0 - f) * _as_tensor(variance) + f * corrected
    return y, batch_mean, corrected


def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """(mean, variance) over `axes`, the variance the biased one (divided by n), as TF1:
    the mean of (x - mean)^2 with the mean's gradient stopped there (the exact gradient,
    since the deviations sum to zero)."""
    x = _as_tensor(x)
    keep = bool(keepdims if keepdims is not None else keep_dims)
    axes = tuple(int(a) for a in ([axes] if isinstance(axes, int) else axes))
    mean = _ops.reduce_mean(x, axes, keepdims=True)
    deviation = _ops.subtract(x, _ops.stop_gradient(mean))
    variance = _ops.reduce_mean(_ops.square(deviation), axes, keepdims=True)
    if not keep:
        mean, variance = _ops.squeeze(mean, axes), _ops.squeeze(variance, axes)
    return mean, variance


# ---- activations TF1 has beyond relu/sigmoid/tanh (`features` is TF's argument name) ------

__all__ += ["elu", "l2_loss", "leaky_relu", "relu6", "selu", "softplus", "softsign"]


def leaky_relu(features, alpha=0.2, name=None):
    """x where x > 0, else alpha * x (at 0 the slope is alpha, as TF1's gradient)."""
    x = _as_tensor(features)
    return _ops.where(_ops.greater(x, 0), x, _ops.multiply(x, alpha), name=name)


def elu(features, name=None):
    return _F.elu(_as_tensor(features))


def selu(features, name=None):
    """scale * elu(x, alpha) with the self-normalizing constants of Klambauer et al."""
    return 1.0507009873554805 * _F.elu(_as_tensor(features), 1.6732632423543772)


def relu6(features, name=None):
    return _F.hardtanh(_as_tensor(features), 0.0, 6.0)


def softplus(features, name=None):
    return _F.softplus(_as_tensor(features))


def softsign(features, name=None):
    return _F.softsign(_as_tensor(features))


def l2_loss(t, name=None):
    """sum(t ** 2) / 2, the weight-decay term TF1 programs add to their loss."""
    return _ops.multiply(_ops.reduce_sum(_ops.square(_as_tensor(t))), 0.5, name=name)



# ---- tqchen/tinyflow's layers (its examples: tf.nn.linear, flatten_layer, the mean loss) -----

__all__ += ["flatten_layer", "linear", "mean_sparse_softmax_cross_entropy_with_logits"]


def linear(data, num_hidden: int, name=None, no_bias: bool = False):
    """tqchen/tinyflow's fully connected layer: data [N, K] @ weight [num_hidden, K]^T + bias,
    making the variables `<name>_weight` and `<name>_bias`, whose shapes are inferred
    (`tf.infer_variable_shapes`) when data's is not known yet."""
    x = _as_tensor(data)
    name = name or "linear"
    weight = _DeferredVariable(f"{name}_weight", x, lambda s: (int(num_hidden), s[-1]))
    out = _ops.matmul(x, _ops.transpose(weight))
    if no_bias:
        return out
    bias = _DeferredVariable(f"{name}_bias", x, lambda s: (int(num_hidden),))
    return _ops.add(out, bias, name=name)


def flatten_layer(data, name=None):
    """tqchen/tinyflow's flatten: [N, ...] to [N, product of the rest]."""
    x = _as_tensor(data)
    if x.ndim is None:
        raise ValueError("flatten_layer: the input's rank must be known (give the placeholder "
                         "a shape such as [None, 1, 28, 28])")
    return _flatten(x, 1)


def mean_sparse_softmax_cross_entropy_with_logits(logits, label, name=None):
    """tqchen/tinyflow's loss: the mean over the batch of the cross-entropy of `logits`
    against class ids `label` (given as floats there, so cast to int64)."""
    label = _as_tensor(label)
    if not label.dtype.is_integer:
        label = _ops.cast(label, "int64")
    return _ops.reduce_mean(_sparse_softmax_cross_entropy(label, _as_tensor(logits)),
                            name=name)


# ---- evaluation and embeddings (TF1 tutorials: mnist.py's in_top_k, word2vec) ---------------

__all__ += ["embedding_lookup", "in_top_k", "l2_normalize"]


def in_top_k(predictions, targets, k, name=None):
    """Whether each row's target class is among its k largest predictions; ties at the
    boundary count as in (fewer than k predictions are strictly larger), and a target out
    of range or a non-finite target prediction is out, as TF1 documents."""
    p = _as_tensor(predictions)
    t = _as_tensor(targets)
    if p.ndim != 2 or p.shape[1] is None or t.ndim not in (1, None):   # a `shape=(None)`
        raise ValueError(f"in_top_k: predictions must be [batch, classes] (classes known) "
                         f"and targets [batch], got shapes {p.shape} and {t.shape}")
    classes = p.shape[1]
    chosen = _ops.cast(_ops.one_hot(t, classes), "bool")
    score = _ops.reduce_sum(_ops.where(chosen, p, _ops.zeros_like(p)), 1, keepdims=True)
    larger = _ops.reduce_sum(_ops.cast(_ops.greater(p, score), "int32"), 1)
    valid = _ops.logical_and(_ops.logical_and(_ops.greater_equal(t, 0), _ops.less(t, classes)),
                             _ops.less(_ops.abs(_ops.squeeze(score, 1)), float("inf")))
    return _ops.logical_and(_ops.less(larger, int(k)), valid, name=name)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """x / sqrt(max(sum(x**2, axis), epsilon)), as TF1 computes it."""
    x = _as_tensor(x)
    axis = dim if axis is None else axis
    squares = _ops.reduce_sum(_ops.square(x), axis, keepdims=True)
    return _ops.multiply(x, 1.0 / _ops.sqrt(_ops.maximum(squares, epsilon)), name=name)


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True,
                     max_norm=None):
    """Rows of `params` picked by `ids` (a gather); one parameter tensor (TF1's sharded
    lists of several are refused by name)."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError(f"embedding_lookup: params split into {len(params)} "
                                      f"shards is not supported; pass one tensor")
        params = params[0]
    if max_norm is not None:
        raise NotImplementedError("embedding_lookup: max_norm is not supported")
    return _ops.take(params, ids, 0, name=name)


# ---- candidate sampling and NCE (word2vec) -------------------------------------------------

__all__ += ["log_uniform_candidate_sampler", "nce_loss", "sampled_softmax_loss"]


def _expected_count(classes, tries, num_sampled: int, range_max: int):
    """How often class `classes` is expected among the draws: p * num_sampled when no draw
    repeated, else 1 - (1 - p)^tries, with p the log-uniform probability (TF1's rule)."""
    k = _ops.cast(classes, "float32")
    p = (_ops.log(k + 2.0) - _ops.log(k + 1.0)) / float(np.log1p(range_max))
    tries = _ops.cast(tries, "float32")
    repeated = -_ops.expm1(tries * _ops.log1p(-p))
    return _ops.where(_ops.equal(tries, float(num_sampled)), p * float(num_sampled), repeated)


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max,
                                  seed=None, name=None):
    """TF1's (sampled_candidates, true_expected_count, sampled_expected_count), drawn anew on
    every run from the log-uniform distribution over [0, range_max)."""
    draws = _ops.log_uniform_candidates(num_sampled, range_max, unique, name=name)
    sampled, tries = draws[:num_sampled], draws[num_sampled]
    true_classes = _as_tensor(true_classes)
    return (sampled, _expected_count(true_classes, tries, num_sampled, range_max),
            _expected_count(sampled, tries, num_sampled, range_max))


def _sampled_logits(fn: str, weights, biases, labels, inputs, num_sampled, num_classes,
                    num_true, sampled_values, remove_accidental_hits):
    """(logits [batch, num_true + num_sampled], labels): each logit w_c . x + b_c - log(the
    expected count of c), the true classes' first (label 1/num_true), then the sampled ones
    (label 0); a sampled class that is one of the example's true classes gets a logit of
    the dtype's lowest value when remove_accidental_hits (TF1's), so it counts for nothing."""
    weights = weights[0] if isinstance(weights, (list, tuple)) and len(weights) == 1 else weights
    x = _as_tensor(inputs)
    labels = _ops.cast(_as_tensor(labels), "int64")
    if labels.ndim != 2 or labels.shape[1] != num_true:
        raise ValueError(f"{fn}: labels must be [batch, num_true={num_true}], got shape "
                         f"{labels.shape}")
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True,
                                                       num_classes)
    sampled, true_expected, sampled_expected = sampled_values
    sampled = _ops.cast(_as_tensor(sampled), "int64")
    true_w = _ops.take(weights, labels)                          # [batch, num_true, dim]
    true_logits = _ops.reduce_sum(_ops.multiply(_ops.expand_dims(x, 1), true_w), -1)
    true_logits = true_logits + _ops.take(biases, labels) - _ops.log(true_expected)
    sampled_logits = _ops.matmul(x, _ops.transpose(_ops.take(weights, sampled)))
    sampled_logits = sampled_logits + _ops.take(biases, sampled) - _ops.log(sampled_expected)
    if remove_accidental_hits:
        hits = _ops.equal(_ops.expand_dims(labels, 2), _ops.reshape(sampled, (1, 1, -1)))
        lowest = np.finfo(sampled_logits.dtype.np).min
        sampled_logits = _ops.where(_ops.reduce_max(_ops.cast(hits, "int32"), 1) > 0,
                                    _as_tensor(np.asarray(lowest, sampled_logits.dtype.np)),
                                    sampled_logits)
    logits = _ops.concat([true_logits, sampled_logits], 1)
    targets = _ops.concat([_ops.ones_like(true_logits) / float(num_true),
                           _ops.zeros_like(sampled_logits)], 1)
    return logits, targets


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1,
             sampled_values=None, remove_accidental_hits=False, partition_strategy="mod",
             name="nce_loss"):
    """Noise-contrastive estimation, per example, as TF1 computes it: logistic losses of the
    true classes' logits (label 1/num_true) and the sampled classes' (label 0), summed over
    the classes."""
    logits, targets = _sampled_logits("nce_loss", weights, biases, labels, inputs,
                                      num_sampled, num_classes, num_true, sampled_values,
                                      remove_accidental_hits)
    per_class = sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return _ops.reduce_sum(per_class, 1, name=name)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes,
                         num_true=1, sampled_values=None, remove_accidental_hits=True,
                         partition_strategy="mod", name="sampled_softmax_loss", seed=None):
    """TF1's sampled softmax, per example: the softmax cross-entropy of the true classes
    (label 1/num_true) against num_sampled classes drawn log-uniformly (or
    `sampled_values`), every logit corrected by log(its expected count)."""
    logits, targets = _sampled_logits("sampled_softmax_loss", weights, biases, labels,
                                      inputs, num_sampled, num_classes, num_true,
                                      sampled_values, remove_accidental_hits)
    return _softmax_cross_entropy(targets, logits, name=name)
