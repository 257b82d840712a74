"""State: assignment to variables (TF1) or to eager tensors in place, and grouping."""
from __future__ import annotations

import numpy as np

from ..core.graph import get_default_graph, node_of
from ..core.op import Op, apply, apply2, apply3, as_tensor, field_names
from ..core.tensor import EAGER, NODE, Tensor
from .math import cast


class Assign(Op):
    """Write `value` into `target` and return the new value.

    Input 0 is written, not read: the runtime gives a TF1 variable its new buffer, and an
    eager tensor (a parameter referenced by a graph) is overwritten in place.
    """
    name = "assign"
    stateful = True
    differentiable = False
    writes_input = 0

    def infer(self, target, value):
        if target.kind not in ("variable", EAGER):
            raise TypeError(f"can only assign to a variable or an eager tensor, "
                            f"not {target.name}")
        if value.shape is not None and target.shape is not None:
            if len(value.shape) != len(target.shape) or not all(
                    v is None or v == t for v, t in zip(value.shape, target.shape)):
                raise ValueError(f"cannot assign a value of shape {value.shape} to "
                                 f"{target.name or 'a tensor'} of shape {target.shape}")
        return target.shape, target.dtype


class FusedUpdate(Op):
    """`assign(w, w - lr * matmul(a, b))` as one op: inputs (w, a, b, lr), writes w.

    The planned runtime puts it in place of an SGD update chain whose intermediates nothing
    else reads (passes/fuse_updates.py); its kernel computes the product a block of rows at a
    time and subtracts each block from w, so the full weight gradient never exists.
    `transpose_a`, `transpose_b` are the product's (as MatMul's); `lr_first` says whether the
    graph wrote `lr * g` or `g * lr` (the same operations in the same order, bit for bit).
    """
    name = "fused_update"
    stateful = True
    differentiable = False
    writes_input = 0
    transpose_a: bool = False
    transpose_b: bool = False
    lr_first: bool = True

    def infer(self, w, a, b, lr):
        if w.shape is not None and len(w.shape) != 2:
            raise ValueError(f"the updated value must be a matrix, got shape {w.shape}")
        if lr.shape is not None and lr.shape != ():
            raise ValueError(f"the learning rate must be a scalar, got shape {lr.shape}")
        if not (w.dtype is lr.dtype and a.dtype is b.dtype
                and (a.dtype is w.dtype or a.dtype.is_reduced)):
            raise TypeError(f"w, a, b and lr must share one dtype (a and b may share a "
                            f"reduced float under autocast), got {w.dtype.name}, "
                            f"{a.dtype.name}, {b.dtype.name}, {lr.dtype.name}")
        for t, what in ((a, "a"), (b, "b")):
            if t.shape is not None and len(t.shape) != 2:
                raise ValueError(f"{what} must be a matrix, got shape {t.shape}")
        if a.shape is not None and b.shape is not None:
            m, ka = a.shape[::-1] if self.transpose_a else a.shape
            kb, n = b.shape[::-1] if self.transpose_b else b.shape
            if ka is not None and kb is not None and ka != kb:
                raise ValueError(f"inner dimensions differ: {ka} (a) vs {kb} (b)")
            if w.shape is not None and not all(p is None or q is None or p == q
                                               for p, q in zip((m, n), w.shape)):
                raise ValueError(f"the product's shape {(m, n)} differs from the updated "
                                 f"value's {w.shape}")
        return w.shape, w.dtype


class AdamStep(Op):
    """One Adam(W) step of an eager parameter in a single pass: inputs (param, grad, exp_avg,
    exp_avg_sq); writes param and both moments in place and returns param. The per-element
    arithmetic is PyTorch's (`optim/rules.adam` with epsilon_hat=False), where the op-by-op
    rule reads and writes each parameter-sized array a dozen times. Eager only: a graph
    keeps the rule's ops (the planned runtime knows one written input per op)."""
    name = "adam_step"
    stateful = True
    differentiable = False
    writes_input = 0
    lr: float
    beta1: float
    beta2: float
    eps: float
    step: float
    weight_decay: float = 0.0   # decoupled (AdamW): param *= 1 - lr * weight_decay first
    coupled_decay: float = 0.0  # Adam's L2 penalty: g = g + coupled_decay * param
    maximize: bool = False      # g = -g first

    def infer(self, param, grad, exp_avg, exp_avg_sq):
        return _like_param(param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)


def _like_param(param, **others) -> tuple:
    """The (shape, dtype) of a floating-point parameter that all of `others` share."""
    if not param.dtype.is_floating:
        raise TypeError(f"needs a floating-point parameter, got {param.dtype.name}")
    for what, t in others.items():
        if t.shape != param.shape or t.dtype is not param.dtype:
            raise ValueError(f"{what} has shape {t.shape} and dtype {t.dtype.name}; the "
                             f"parameter has shape {param.shape} and dtype {param.dtype.name}")
    return param.shape, param.dtype


class MomentumStep(Op):
    """One SGD-with-momentum step of an eager parameter in a single pass: inputs (param,
    grad, momentum_buffer); the direction d = (-g if maximize) + weight_decay param, then
    v = momentum v + (1 - dampening) d (or v = d when `starts`: PyTorch's first step), then
    param -= lr v (or lr (d + momentum v), Nesterov), both in place; returns param. PyTorch's
    order (each product rounded: PyTorch's fused multiply-adds differ in the last bit), as
    `optim/rules.gradient` and `optim/rules.momentum` op by op; eager only, as `AdamStep`."""
    name = "momentum_step"
    stateful = True
    differentiable = False
    writes_input = 0
    lr: float
    momentum: float
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    maximize: bool = False
    starts: bool = False

    def infer(self, param, grad, buf):
        return _like_param(param, grad=grad, momentum_buffer=buf)


class SGDStep(Op):
    """Plain SGD's step of an eager parameter in one pass: inputs (param, grad); param -=
    lr d in place, d as `MomentumStep`'s; returns param. Eager only, as `AdamStep`."""
    name = "sgd_step"
    stateful = True
    differentiable = False
    writes_input = 0
    lr: float
    weight_decay: float = 0.0
    maximize: bool = False

    def infer(self, param, grad):
        return _like_param(param, grad=grad)


class NoOp(Op):
    """Does nothing; runs its control inputs (tf.group)."""
    name = "no_op"
    stateful = True
    differentiable = False

    def infer(self):
        return (), None


def assign(ref, value, name=None) -> Tensor:
    ref = as_tensor(ref)
    if ref.kind == "variable":
        _check_variable_value(ref, value)
    value = as_tensor(value, dtype=ref.dtype) if not isinstance(value, Tensor) else value
    if value.dtype is not ref.dtype:
        value = cast(value, ref.dtype)
    return apply(Assign(), ref, value, name=name)


def _check_variable_value(ref, value) -> None:
    """TF1 refuses, rather than converts, a value of another type for a variable: a float
    tensor into an int variable is an error there, not a silent truncation."""
    if isinstance(value, Tensor):
        if value.dtype is not ref.dtype:
            raise TypeError(f"Input 'value' of 'Assign' Op has type {value.dtype.name} that "
                            f"does not match type {ref.dtype.name} of argument 'ref' "
                            f"({ref.name})")
        return
    if not ref.dtype.is_floating and np.asarray(value).dtype.kind in "fc":
        raise TypeError(f"Expected {ref.dtype.name}, got {value!r} of type "
                        f"'{type(value).__name__}' instead (assigning to {ref.name})")


def assign_add(ref, value, name=None) -> Tensor:
    return assign(ref, ref + value, name=name)


def assign_sub(ref, value, name=None) -> Tensor:
    return assign(ref, ref - value, name=name)


def fused_update(w, a, b, lr, transpose_a=False, transpose_b=False, lr_first=True,
                 name=None) -> Tensor:
    """w -= lr * matmul(a, b) in place, as the planned runtime runs a fused SGD update."""
    return apply(FusedUpdate(transpose_a=transpose_a, transpose_b=transpose_b,
                             lr_first=lr_first), w, as_tensor(a), as_tensor(b),
                 as_tensor(lr, dtype=w.dtype), name=name)


def adam_step(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, *,
              lr: float, beta1: float, beta2: float, eps: float, step: float,
              weight_decay: float = 0.0, coupled_decay: float = 0.0,
              maximize: bool = False) -> Tensor:
    """Adam(W)'s update of eager `param` and its moments, in place (see `AdamStep`)."""
    tensors = (param, grad, exp_avg, exp_avg_sq)
    if any(t.kind != EAGER for t in tensors):
        raise TypeError("adam_step: needs eager tensors (a graph uses optim.rules.adam)")
    apply(AdamStep(lr=lr, beta1=beta1, beta2=beta2, eps=eps, step=step,
                   weight_decay=weight_decay, coupled_decay=coupled_decay, maximize=maximize),
          *tensors)
    for t in (param, exp_avg, exp_avg_sq):
        t._version[0] += 1
    return param


def momentum_step(param: Tensor, grad: Tensor, buf: Tensor, *, lr: float, momentum: float,
                  dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                  maximize: bool = False, starts: bool = False) -> Tensor:
    """SGD momentum's update of eager `param` and its buffer, in place (see `MomentumStep`)."""
    if param.kind != EAGER or grad.kind != EAGER or buf.kind != EAGER:
        raise TypeError("momentum_step: needs eager tensors (a graph uses optim.rules.momentum)")
    apply3(_reused(MomentumStep, lr, momentum, dampening, nesterov, weight_decay, maximize,
                   starts), param, grad, buf)
    param._version[0] += 1
    buf._version[0] += 1
    return param


def sgd_step(param: Tensor, grad: Tensor, *, lr: float, weight_decay: float = 0.0,
             maximize: bool = False) -> Tensor:
    """Plain SGD's update of eager `param`, in place (see `SGDStep`)."""
    if param.kind != EAGER or grad.kind != EAGER:
        raise TypeError("sgd_step: needs eager tensors (a graph uses optim.rules.sgd)")
    apply2(_reused(SGDStep, lr, weight_decay, maximize), param, grad)
    param._version[0] += 1
    return param


_LAST_STEP_OP: dict = {}


def _reused(cls, *values) -> Op:
    """The op `cls` with `values` (its fields in order) of the last call of `cls` again
    when the values are the same, types too (every parameter of a step, and every step
    without a schedule, shares one): one op, not one a parameter. Only the last is kept, as
    a schedule may give each step its own lr. (Positional and one tuple compared: this runs
    once per parameter per step, and keywords cost microseconds.)"""
    key = (values, tuple(map(type, values)))
    last = _LAST_STEP_OP.get(cls)
    if last is None or last[0] != key:
        last = _LAST_STEP_OP[cls] = (key, cls(**dict(zip(field_names(cls), values))))
    return last[1]


def group(*inputs, name=None) -> Tensor:
    """A node that, when run, runs every input (TF1 `tf.group`); its value is None."""
    deps = []
    for x in inputs:
        deps.extend(map(node_of, x if isinstance(x, (list, tuple)) else [x]))
    graph = next((d.graph for d in deps if d.kind != EAGER), get_default_graph())
    node = Tensor._symbolic(NODE, (), None, NoOp(), (), name=name or "group_deps", graph=graph)
    node.control_inputs += tuple(d for d in deps if d.kind != EAGER)
    return node
