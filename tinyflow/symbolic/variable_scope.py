"""TF1's variable scopes: `tf.variable_scope`, `tf.get_variable` and the initializers, so
layers made twice under `variable_scope(..., reuse=True)` share their variables (a GAN's
discriminator applied to real and generated images)."""
from __future__ import annotations

import contextlib
import math
import weakref

import numpy as np

from ..core import dtypes
from ..core.graph import REGULARIZATION_LOSSES, get_default_graph
from ..ops.creation import random_normal, random_uniform, tf1_constant, truncated_normal
from .variables import Variable

AUTO_REUSE = "AUTO_REUSE"   # tf.AUTO_REUSE: make the variable if missing, else reuse it


class VariableScope:
    """The open scope: its full `name` ('' at the top) and whether it reuses variables."""

    def __init__(self, name: str, reuse, initializer=None, dtype=None,
                 regularizer=None) -> None:
        self.name = name
        self.reuse = reuse
        self.initializer = initializer
        self.dtype = dtype
        self.regularizer = regularizer
        self.original_name_scope = ""

    def reuse_variables(self) -> None:
        self.reuse = True


class _Store:
    """A graph's variables by full name, its open scopes, and how often each default name
    (`dense`, `conv2d`) was used under each scope."""

    def __init__(self) -> None:
        self.variables: dict = {}
        self.stack = [VariableScope("", False)]
        self.counts: dict = {}


_STORES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _store():
    graph = get_default_graph()
    if graph not in _STORES:
        _STORES[graph] = _Store()
    return _STORES[graph]


def get_variable_scope() -> VariableScope:
    return _store().stack[-1]


@contextlib.contextmanager
def variable_scope(name_or_scope=None, default_name=None, values=None, initializer=None,
                   regularizer=None, reuse=None, dtype=None, custom_getter=None,
                   auxiliary_name_scope=True, **unused):
    """Variables made inside are named `scope/name`; `reuse=True` (inherited by inner
    scopes) makes `get_variable` return the existing ones. Entering a scope by name starts
    its default-name counts again, as TF1 does, so a second build of the same layers under
    `reuse=True` asks for the same names. Also opens a name scope for the ops."""
    store, graph = _store(), get_default_graph()
    parent = store.stack[-1]
    prefix = parent.name + "/" if parent.name else ""
    if isinstance(name_or_scope, VariableScope):
        full = name_or_scope.name
        base = full.rsplit("/", 1)[-1]
    elif name_or_scope or name_or_scope == "":   # "" at the top: the root scope, as TF1
        base = str(name_or_scope)
        full = prefix + base
    elif default_name:
        count = store.counts.get(prefix + default_name, 0)
        store.counts[prefix + default_name] = count + 1
        base = default_name if count == 0 else f"{default_name}_{count}"
        full = prefix + base
    else:
        raise ValueError("variable_scope: give a name or a default_name")
    if name_or_scope is not None:   # a named scope: its default names count from 0 again
        store.counts = {k: v for k, v in store.counts.items() if not k.startswith(full + "/")}
    # TF1: reuse is inherited (`reuse or parent.reuse`: an outer True or AUTO_REUSE cannot be
    # turned off inside); a scope object entered again brings its reuse, initializer, dtype
    source = name_or_scope if isinstance(name_or_scope, VariableScope) else parent
    reuse = reuse or parent.reuse or source.reuse
    scope = VariableScope(full, reuse,
                          source.initializer if initializer is None else initializer,
                          source.dtype if dtype is None else dtype,
                          source.regularizer if regularizer is None else regularizer)
    store.stack.append(scope)
    try:
        if auxiliary_name_scope and base:   # "" opens no name scope (TF1)
            with graph.name_scope(base) as ops_scope:
                scope.original_name_scope = ops_scope + "/"
                yield scope
        else:
            yield scope
    finally:
        store.stack.pop()


def get_variable(name, shape=None, dtype=None, initializer=None, regularizer=None,
                 trainable=True, collections=None, **unused):
    """The variable `scope/name`: made (initialized by `initializer`, by default Glorot
    uniform for floats, zeros otherwise) unless the scope reuses, then looked up. A new
    variable's `regularizer` (or the scope's) loss, unless None, joins
    `tf.GraphKeys.REGULARIZATION_LOSSES`."""
    store = _store()
    scope = store.stack[-1]
    full = f"{scope.name}/{name}" if scope.name else str(name)
    found = store.variables.get(full)
    if found is not None:
        if scope.reuse is False or scope.reuse is None:
            raise ValueError(f"get_variable: {full} exists already; to share it, open its "
                             f"variable_scope with reuse=True (or tf.AUTO_REUSE)")
        if shape is not None and tuple(found.shape) != tuple(int(d) for d in shape):
            raise ValueError(f"get_variable: {full} is shared with shape "
                             f"{list(found.shape)}, but shape {list(shape)} was asked for")
        return found
    if scope.reuse is True:
        raise ValueError(f"get_variable: reuse=True, but get_variable made no {full} "
                         f"yet; use reuse=tf.AUTO_REUSE to make it once")
    dtype = dtypes.as_dtype(dtype or scope.dtype or dtypes.float32)
    initializer = initializer if initializer is not None else scope.initializer
    if initializer is None:
        initializer = glorot_uniform_initializer() if dtype.is_floating else zeros_initializer()
    if callable(initializer):
        if shape is None:
            raise ValueError(f"get_variable {full}: the shape is needed with an initializer")
        value = initializer([int(d) for d in shape], dtype=dtype)
    else:
        value = tf1_constant(initializer, dtype)
    graph = get_default_graph()
    outer, graph._scope = graph._scope, ""   # the variable's name is the scope's, not the ops'
    try:
        variable = Variable(lambda: value, trainable=trainable, name=full, dtype=dtype)
    finally:
        graph._scope = outer
    store.variables[full] = variable
    regularizer = regularizer if regularizer is not None else scope.regularizer
    if regularizer is not None:
        with graph.name_scope(f"{full}/Regularizer"):
            loss = regularizer(variable)
        if loss is not None:
            graph.add_to_collection(REGULARIZATION_LOSSES, loss)
    return variable


# ---- initializers: called with (shape, dtype), they give the initial value -------------------

class _Initializer:
    def __init__(self, **attrs) -> None:
        self.__dict__.update(attrs)


class zeros_initializer(_Initializer):
    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        return tf1_constant(np.zeros(shape, dtypes.as_dtype(dtype).np))


class ones_initializer(_Initializer):
    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        return tf1_constant(np.ones(shape, dtypes.as_dtype(dtype).np))


class constant_initializer(_Initializer):
    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False) -> None:
        super().__init__(value=value)

    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        value = np.asarray(self.value, dtypes.as_dtype(dtype).np)
        return tf1_constant(np.broadcast_to(value, shape).copy() if value.size == 1
                            else value.reshape(shape))


class random_normal_initializer(_Initializer):
    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32) -> None:
        super().__init__(mean=mean, stddev=stddev)

    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        return random_normal(shape, self.mean, self.stddev, dtype)


class truncated_normal_initializer(random_normal_initializer):
    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        return truncated_normal(shape, self.mean, self.stddev, dtype)


class random_uniform_initializer(_Initializer):
    def __init__(self, minval=0.0, maxval=None, seed=None, dtype=dtypes.float32) -> None:
        super().__init__(minval=minval, maxval=1.0 if maxval is None else maxval)

    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        return random_uniform(shape, self.minval, self.maxval, dtype)


def _fans(shape: list) -> tuple:
    """(fan_in, fan_out) of a weight; a conv kernel [kH, kW, in, out]'s count the receptive
    field (TF1's rule)."""
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in = receptive * shape[-2] if len(shape) > 1 else shape[0] if shape else 1
    fan_out = receptive * shape[-1] if shape else 1
    return fan_in, fan_out


class glorot_uniform_initializer(_Initializer):
    """Uniform in +-sqrt(6 / (fan_in + fan_out))."""

    def __init__(self, seed=None, dtype=dtypes.float32) -> None:
        super().__init__()

    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        shape = [int(d) for d in shape]
        fan_in, fan_out = _fans(shape)
        limit = math.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return random_uniform(shape, -limit, limit, dtype)


class variance_scaling_initializer(_Initializer):
    """He / LeCun style: variance scale / n, n the fan in, out or their average ('fan_avg');
    drawn from a normal truncated at 2 stddev (its stddev corrected by 0.8796, TF1's
    'truncated_normal' and 'normal'), a plain normal ('untruncated_normal') or a uniform."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 dtype=dtypes.float32) -> None:
        if scale <= 0.0 or mode not in ("fan_in", "fan_out", "fan_avg") or distribution not in (
                "normal", "truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(f"variance_scaling_initializer: scale must be positive, mode "
                             f"fan_in/fan_out/fan_avg and distribution truncated_normal/"
                             f"untruncated_normal/uniform; got {scale}, {mode!r}, "
                             f"{distribution!r}")
        super().__init__(scale=scale, mode=mode, distribution=distribution)

    def __call__(self, shape, dtype=dtypes.float32, partition_info=None):
        shape = [int(d) for d in shape]
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, n[self.mode])
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return random_uniform(shape, -limit, limit, dtype)
        if self.distribution == "untruncated_normal":
            return random_normal(shape, 0.0, math.sqrt(variance), dtype)
        return truncated_normal(shape, 0.0, math.sqrt(variance) / 0.87962566103423978, dtype)
