"""TF1's batch-normalization layers, `tf.layers.batch_normalization` and
`tf.contrib.layers.batch_norm`: in training they normalize with the batch's moments and make
the ops that move the moving mean and variance (put in `tf.GraphKeys.UPDATE_OPS`, which a
program runs itself, usually as `with tf.control_dependencies(update_ops)` around its
optimizer); otherwise they normalize with the moving statistics. `training` may be a Python
bool or a boolean tensor decided at each run (then the update ops move nothing when false)."""
from __future__ import annotations

from .. import ops as _ops
from ..core.graph import UPDATE_OPS, get_default_graph
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.shape import shape_of as _shape_of
from ..symbolic.control_flow import control_dependencies, identity
from ..symbolic.variable_scope import (get_variable, ones_initializer, variable_scope,
                                       zeros_initializer)
from .tf_functions import batch_normalization as _normalize
from .tf_functions import moments as _moments


def _count(x: Tensor, axes: tuple) -> Tensor:
    """How many values each channel's moments average: static where the dims are known."""
    n = 1.0
    for a in axes:
        dim = x.shape[a]
        n = n * (float(dim) if dim is not None else _ops.cast(_shape_of(x)[a], x.dtype))
    return n


def batch_norm_layer(x, axis: int, momentum: float, epsilon: float, center: bool, scale: bool,
                     initializers: dict, regularizers: dict, training, trainable: bool,
                     bessel: bool, updates_collection, scope, default_name: str, reuse):
    """The layer both spellings share. `bessel`: the moving variance averages the batch's
    unbiased variance (TF1's fused kernel, used for 4-D inputs) rather than the biased one
    the output is normalized with. `updates_collection` None: the updates run with the
    output itself (contrib's `updates_collections=None`). `regularizers`: gamma's and beta's
    (their losses join REGULARIZATION_LOSSES through get_variable)."""
    x = as_tensor(x)
    if x.ndim is None or not -x.ndim <= axis < x.ndim or x.shape[axis] is None:
        raise ValueError(f"batch_normalization: axis {axis} of the inputs (shape {x.shape}) "
                         f"must exist and its size be known")
    axis %= x.ndim
    reduced = tuple(a for a in range(x.ndim) if a != axis)
    channels = [x.shape[axis]]
    with variable_scope(scope, default_name=default_name, reuse=reuse):
        gamma = get_variable("gamma", channels, x.dtype,
                             initializers.get("gamma") or ones_initializer(),
                             regularizer=regularizers.get("gamma"),
                             trainable=trainable) if scale else None
        beta = get_variable("beta", channels, x.dtype,
                            initializers.get("beta") or zeros_initializer(),
                            regularizer=regularizers.get("beta"),
                            trainable=trainable) if center else None
        moving_mean = get_variable("moving_mean", channels, x.dtype,
                                   initializers.get("moving_mean") or zeros_initializer(),
                                   trainable=False)
        moving_variance = get_variable("moving_variance", channels, x.dtype,
                                       initializers.get("moving_variance") or ones_initializer(),
                                       trainable=False)
        if training is False:
            return _output(x, axis, moving_mean, moving_variance, beta, gamma, epsilon)
        batch_mean, batch_variance = _moments(x, reduced)
        if isinstance(training, Tensor):
            training = _ops.reshape(training, ())   # a scalar (a bare placeholder's rank
            mean = _ops.where(training, batch_mean, moving_mean)   # is unknown)
            variance = _ops.where(training, batch_variance, moving_variance)
            rate = _ops.where(training, as_tensor(1.0 - momentum, dtype=x.dtype),
                              as_tensor(0.0, dtype=x.dtype))
        elif training is True:
            mean, variance, rate = batch_mean, batch_variance, 1.0 - momentum
        else:
            raise TypeError(f"batch_normalization: training is {training!r}; pass True, "
                            f"False or a bool tensor")
        out = _output(x, axis, mean, variance, beta, gamma, epsilon)
        if bessel:
            n = _count(x, reduced)
            batch_variance = batch_variance * (n / _ops.maximum(n - 1.0, 1.0))
        updates = [_ops.assign_sub(moving_mean, (moving_mean - batch_mean) * rate),
                   _ops.assign_sub(moving_variance, (moving_variance - batch_variance) * rate)]
        if updates_collection is None:
            with control_dependencies(updates):
                return identity(out)
        for update in updates:
            get_default_graph().add_to_collection(updates_collection, update)
        return out


def _output(x, axis, mean, variance, beta, gamma, epsilon):
    shape = [1] * x.ndim
    shape[axis] = -1
    if axis != x.ndim - 1:   # per channel: the vectors broadcast along the channel axis
        mean, variance = _ops.reshape(mean, shape), _ops.reshape(variance, shape)
        beta = None if beta is None else _ops.reshape(beta, shape)
        gamma = None if gamma is None else _ops.reshape(gamma, shape)
    return _normalize(x, mean, variance, beta, gamma, epsilon)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=None, gamma_initializer=None,
                        moving_mean_initializer=None, moving_variance_initializer=None,
                        beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                        gamma_constraint=None, training=False, trainable=True, name=None,
                        reuse=None, renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                        fused=None, virtual_batch_size=None, adjustment=None):
    """`tf.layers.batch_normalization`: variables gamma, beta, moving_mean, moving_variance
    in a scope `batch_normalization` (`_1`, ...); the fused form (a 4-D input normalized
    over axis 1 or 3, unless fused=False) averages the unbiased batch variance."""
    _refuse("tf.layers.batch_normalization", renorm=renorm,
            virtual_batch_size=virtual_batch_size, adjustment=adjustment,
            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
    x = as_tensor(inputs)
    fused_form = fused is not False and x.ndim == 4 and axis in (1, 3, -1)
    initializers = {"beta": beta_initializer, "gamma": gamma_initializer,
                    "moving_mean": moving_mean_initializer,
                    "moving_variance": moving_variance_initializer}
    regularizers = {"beta": beta_regularizer, "gamma": gamma_regularizer}
    return batch_norm_layer(x, axis, momentum, epsilon, center, scale, initializers,
                            regularizers, training, trainable, fused_form, UPDATE_OPS, name,
                            "batch_normalization", reuse)


def _refuse(what: str, **options) -> None:
    for option, value in options.items():
        if value is not None and value is not False:
            raise NotImplementedError(f"{what}: {option} is not supported by tinyflow")


def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001, activation_fn=None,
               param_initializers=None, param_regularizers=None,
               updates_collections=UPDATE_OPS, is_training=True, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format="NHWC",
               zero_debias_moving_mean=False, scope=None, renorm=False,
               renorm_clipping=None, renorm_decay=0.99, adjustment=None):
    """`tf.contrib.layers.batch_norm`: contrib's defaults (training, no gamma, decay 0.999,
    scope `BatchNorm`), the channel axis last (NHWC) or 1 (NCHW); its fused kernel (2-D and
    4-D inputs, unless fused=False) averages the unbiased batch variance."""
    _refuse("tf.contrib.layers.batch_norm", batch_weights=batch_weights, renorm=renorm,
            zero_debias_moving_mean=zero_debias_moving_mean, adjustment=adjustment)
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"batch_norm: data_format must be 'NHWC' or 'NCHW', got "
                         f"{data_format!r}")
    x = as_tensor(inputs)
    axis = 1 if data_format == "NCHW" and x.ndim is not None and x.ndim > 2 else -1
    fused_form = fused is not False and x.ndim in (2, 4)
    out = batch_norm_layer(x, axis, decay, epsilon, center, scale, param_initializers or {},
                           param_regularizers or {}, is_training, trainable, fused_form,
                           updates_collections, scope, "BatchNorm", reuse)
    return activation_fn(out) if activation_fn is not None else out
