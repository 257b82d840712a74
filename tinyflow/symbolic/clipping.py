"""TF1's gradient and weight clipping (`tf.clip_by_norm`, `tf.global_norm`,
`tf.clip_by_global_norm`: max-norm regularization and exploding-gradient fixes) and the
small math functions the same programs use (`tf.add_n`, `tf.matrix_inverse`)."""
from __future__ import annotations

import functools

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from ..ops.matrix import matrix_inverse  # noqa: F401  (tf.matrix_inverse)
from .control_flow import identity


def add_n(inputs, name=None) -> Tensor:
    """The sum of a list of tensors of one shape and dtype."""
    inputs = [as_tensor(t) for t in inputs]
    if not inputs:
        raise ValueError("add_n: inputs must be a non-empty list of tensors")
    shapes = {t.shape for t in inputs if t.shape is not None and None not in t.shape}
    if len(shapes) > 1 or len({t.dtype for t in inputs}) > 1:
        raise ValueError(f"add_n: the inputs must have one shape and dtype, got "
                         f"{[(t.shape, t.dtype.name) for t in inputs]}")
    if len(inputs) == 1:
        return identity(inputs[0], name=name)
    return ops.add(functools.reduce(ops.add, inputs[:-1]), inputs[-1], name=name)


def clip_by_norm(t, clip_norm, axes=None, name=None) -> Tensor:
    """t * clip_norm / max(||t||, clip_norm), the L2 norm over `axes` (all by default):
    rows longer than clip_norm shrink to it, the others stay."""
    t = as_tensor(t)
    squares = ops.reduce_sum(ops.square(t), axes, keepdims=True)
    # sqrt only where the sum is positive: an all-zero row's gradient is 1, not NaN (TF1)
    positive = ops.greater(squares, 0)
    norm = ops.where(positive, ops.sqrt(ops.where(positive, squares, ops.ones_like(squares))),
                     squares)
    return ops.divide(t * clip_norm, ops.maximum(norm, clip_norm), name=name)


def global_norm(t_list, name=None) -> Tensor:
    """sqrt of the sum of the squares of every tensor in the list (None entries skipped)."""
    tensors = [as_tensor(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError("global_norm: t_list holds no tensors")
    total = functools.reduce(ops.add, [ops.reduce_sum(ops.square(t)) for t in tensors])
    return ops.sqrt(total, name=name)


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None) -> tuple:
    """(the tensors scaled by clip_norm / max(global norm, clip_norm), the global norm);
    None entries stay None, as TF1; an infinite or NaN norm makes every one NaN."""
    norm = global_norm(t_list) if use_norm is None else as_tensor(use_norm)
    scale = clip_norm / ops.maximum(norm, clip_norm) + (norm - norm)
    clipped = [None if t is None else ops.multiply(as_tensor(t), scale) for t in t_list]
    return clipped, norm
