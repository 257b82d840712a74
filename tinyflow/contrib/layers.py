"""`tf.contrib.layers`, the parts TF1 tutorials and books use: `flatten`, `batch_norm`,
the initializers `xavier_initializer` and `variance_scaling_initializer`, and the weight
regularizers `l1_regularizer` / `l2_regularizer`; any other name is refused by name."""
import math

from .. import ops
from ..nn.tf_batch_norm import batch_norm  # noqa: F401
from ..nn.tf_layers import flatten  # noqa: F401
from ..symbolic.variable_scope import glorot_uniform_initializer
from ..symbolic.variable_scope import variance_scaling_initializer as _variance_scaling

_TRUNCATED = 0.87962566103423978   # the stddev of a unit normal truncated at +-2


def xavier_initializer(uniform=True, seed=None, dtype=None):
    """Glorot (Xavier) uniform initialization; the normal form is not supported."""
    if not uniform:
        raise NotImplementedError("tf.contrib.layers.xavier_initializer(uniform=False) is "
                                  "not supported (use uniform=True)")
    return glorot_uniform_initializer()


def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None,
                                 dtype=None):
    """contrib's He initialization: a normal truncated at 2 stddev with stddev
    sqrt(1.3 * factor / n), or uniform in +-sqrt(3 * factor / n); n the fan in, out or
    their average."""
    modes = {"FAN_IN": "fan_in", "FAN_OUT": "fan_out", "FAN_AVG": "fan_avg"}
    if mode not in modes:
        raise TypeError(f"variance_scaling_initializer: mode must be FAN_IN, FAN_OUT or "
                        f"FAN_AVG, got {mode!r}")
    if uniform:
        return _variance_scaling(factor, modes[mode], "uniform")
    # the core initializer divides its stddev by _TRUNCATED; contrib's uses 1.3 instead
    return _variance_scaling(1.3 * factor * _TRUNCATED ** 2, modes[mode], "truncated_normal")


def _regularizer(scale, what: str, penalty):
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0.0 or (
            math.isnan(scale)):
        raise ValueError(f"{what}: scale must be a number >= 0, got {scale!r}")
    if scale == 0.0:
        return lambda weights: None       # TF1: a zero scale adds no loss
    return lambda weights: ops.multiply(penalty(weights), float(scale), name=what)


def l1_regularizer(scale, scope=None):
    """weights -> scale * sum(|weights|), for a layer's kernel_regularizer."""
    return _regularizer(scale, "l1_regularizer", lambda w: ops.reduce_sum(ops.abs(w)))


def l2_regularizer(scale, scope=None):
    """weights -> scale * sum(weights ** 2) / 2 (tf.nn.l2_loss)."""
    return _regularizer(scale, "l2_regularizer",
                        lambda w: ops.reduce_sum(ops.square(w)) * 0.5)


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"tf.contrib.layers.{name} is not supported by tinyflow (it has "
                         f"batch_norm, flatten, l1_regularizer, l2_regularizer, "
                         f"variance_scaling_initializer and xavier_initializer)")
