"""Gradient clipping with PyTorch's semantics: `clip_grad_norm_` and `clip_grad_value_`."""
from __future__ import annotations

import math
from typing import Iterable, Optional, Union

import numpy as np

from ... import ops
from ...core import dtypes
from ...core.modes import trace_state
from ...core.tensor import Tensor

Parameters = Union[Tensor, Iterable[Tensor]]


def _grads(parameters: Parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(arr: np.ndarray, norm_type: float) -> np.ndarray:
    """The vector `norm_type`-norm of all of `arr`, in its own dtype. The 2-norm squares
    the elements as they are (one read; no copy of their absolute values: a language
    model's 33278 x 200 gradients are 27 MB each)."""
    if norm_type == 2 and arr.dtype.kind == "f":
        flat = arr.ravel()
        return np.sqrt(np.dot(flat, flat))
    a = np.abs(arr.ravel())
    if math.isinf(norm_type):
        return a.max(initial=0) if norm_type > 0 else a.min(initial=np.inf)
    if norm_type == 2:
        return np.sqrt(np.dot(a, a))
    if norm_type == 1:
        return a.sum()
    if norm_type == 0:
        return np.asarray(np.count_nonzero(a), arr.dtype)
    return (a ** norm_type).sum() ** (1.0 / norm_type)


def _nonfinite(norm_type: float) -> RuntimeError:
    return RuntimeError(f"clip_grad_norm_: the gradients' total {norm_type}-norm is inf or "
                        f"NaN, so there is no finite scale to clip them by; pass "
                        f"error_if_nonfinite=False to scale by it anyway")


def _scale(grad: Tensor, factor) -> None:
    """Multiply a gradient in place (a fresh buffer if it is a read-only view)."""
    if not grad.array.flags.writeable:
        grad.array = np.array(grad.array)
    grad.array *= factor
    grad._version[0] += 1


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    """Rescale all gradients together so their total norm is at most `max_norm`, taming
    exploding gradients; returns the total norm before clipping (`foreach` is ignored)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor._eager(np.array(0.0, dtypes.DEFAULT_FLOAT.np))
    if trace_state.active is not None:      # under compile: the same rule as graph ops
        return _clip_traced([p for p in parameters if p.grad is not None], max_norm,
                            norm_type, error_if_nonfinite)
    dtype = np.result_type(*[g.array.dtype for g in grads])
    norms = np.array([_norm(g.array, norm_type) for g in grads], dtype=dtype)
    total = np.asarray(_norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise _nonfinite(norm_type)
    coef = np.minimum(np.asarray(max_norm, dtype) / (total + np.asarray(1e-6, dtype)), 1.0)
    for g in grads:
        _scale(g, coef.astype(g.array.dtype))
    return Tensor._eager(total)


def _clip_traced(params: list, max_norm: float, norm_type: float,
                 error_if_nonfinite: bool) -> Tensor:
    """clip_grad_norm_ inside `tinyflow.compile`: the gradients are traced values, so the
    norms and the scaled gradients are ops of the compiled graph (`p.grad = g * coef`)."""
    grads = [p.grad for p in params]
    norms = ops.stack([_traced_norm(ops.reshape(g, (-1,)), norm_type) for g in grads])
    total = _traced_norm(norms, norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):   # a graph break: a value
        raise _nonfinite(norm_type)
    coef = ops.minimum(max_norm / (total + 1e-6), 1.0)
    for p, g in zip(params, grads):
        p.grad = g * ops.cast(coef, g.dtype)
    return total


def _traced_norm(v: Tensor, norm_type: float) -> Tensor:
    a = ops.abs(v)
    if math.isinf(norm_type):
        return ops.reduce_max(a) if norm_type > 0 else ops.reduce_min(a)
    if norm_type == 2:
        return ops.sqrt(ops.reduce_sum(a * a))
    if norm_type == 1:
        return ops.reduce_sum(a)
    if norm_type == 0:
        return ops.reduce_sum(ops.cast(ops.not_equal(a, 0.0), a.dtype))
    return ops.reduce_sum(a ** norm_type) ** (1.0 / norm_type)


def clip_grad_norm(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: Optional[bool] = None) -> Tensor:
    """The deprecated spelling of `clip_grad_norm_`, kept for old scripts."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: Parameters, clip_value: float,
                     foreach: Optional[bool] = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] (`foreach` is ignored)."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        if not g.array.flags.writeable:
            g.array = np.array(g.array)
        np.clip(g.array, -clip_value, clip_value, out=g.array)
        g._version[0] += 1
