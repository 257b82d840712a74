"""TF1's streaming metrics (`tf.metrics`) and the train-state helpers around them: each
metric keeps its totals in local variables (`tf.local_variables_initializer` starts them at
0) and returns (value, update_op); running update_op over batches accumulates."""
from __future__ import annotations

import types

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.graph import GLOBAL_STEP, GLOBAL_VARIABLES, LOCAL_VARIABLES, get_default_graph
from ..core.op import as_tensor
from .variables import Variable, variables_initializer


def local_variables(graph=None) -> list:
    return (graph or get_default_graph()).get_collection(LOCAL_VARIABLES)


def local_variables_initializer() -> object:
    return variables_initializer(local_variables(), name="init_local")


def _total(name: str) -> Variable:
    return Variable(lambda: 0.0, trainable=False, name=name, collections=[LOCAL_VARIABLES])


def streaming_mean(values, weights=None, metrics_collections=None, updates_collections=None,
                   name=None):
    """The running (weighted) mean of `values` over every update."""
    values = ops.cast(as_tensor(values), dtypes.float32)
    weights = ops.ones_like(values) if weights is None else ops.multiply(
        ops.cast(as_tensor(weights), dtypes.float32), ops.ones_like(values))
    total, count = _total((name or "mean") + "/total"), _total((name or "mean") + "/count")
    update_total = ops.assign_add(total, ops.reduce_sum(ops.multiply(values, weights)))
    update_count = ops.assign_add(count, ops.reduce_sum(weights))
    value = ops.where(ops.greater(count, 0.0), total / ops.maximum(count, 1e-30),
                      ops.zeros_like(total))
    update = ops.where(ops.greater(update_count, 0.0),
                       update_total / ops.maximum(update_count, 1e-30),
                       ops.zeros_like(update_total))
    return value, update


def accuracy(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None):
    """The running share of predictions equal to labels."""
    predictions = as_tensor(predictions)
    labels = ops.cast(as_tensor(labels), predictions.dtype)
    hits = ops.cast(ops.equal(predictions, labels), dtypes.float32)
    return streaming_mean(hits, weights, name=name or "accuracy")


metrics = types.SimpleNamespace(accuracy=accuracy, mean=streaming_mean)


def get_global_step(graph=None):
    """The graph's global step variable (None if it has none)."""
    steps = (graph or get_default_graph()).get_collection(GLOBAL_STEP)
    return steps[0] if steps else None


def get_or_create_global_step(graph=None):
    """The global step: an int64 variable named `global_step`, made on first use."""
    step = get_global_step(graph)
    if step is None:
        step = Variable(lambda: np.int64(0), trainable=False, name="global_step",
                        collections=[GLOBAL_VARIABLES, GLOBAL_STEP])
    return step
