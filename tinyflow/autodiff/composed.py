"""Derivatives of a fused op by differentiating its composition from primitive ops.

An op with the `composed` trait (typically the gradient op of a fused op, needed only for
second order or forward-over-reverse) also writes itself with primitive ops, `compose`; the
reverse and forward sweeps differentiate that composition instead of calling its vjp/jvp.
The kernel stays one fast pass, higher derivatives need no hand-written rule, and the op
table checks the kernel against the same math.
"""
from __future__ import annotations

from ..core.modes import grad_mode, set_grad_enabled
from ..core.tensor import EAGER, Tensor
from ..ops.shape import copy


def traced(op, inputs) -> tuple:
    """op.compose(*xs) with its history recorded, and the xs to differentiate it by: a
    recorded copy of an input where autograd records through it (higher derivatives stay
    connected), else a detached stand-in for an eager input. A copy, not the input itself:
    differentiating the composition must stop at the op's inputs, and a gradient sweep goes
    on through an x to what it depends on, so where one input depends on another (the
    gradient op of a fused op, in a second-order sweep) that path counted twice."""
    recorded = [x.kind != EAGER or grad_mode.enabled and x.requires_grad for x in inputs]
    with set_grad_enabled(True):
        xs = [copy(x) if r else Tensor._eager(x.array, requires_grad=True)
              for x, r in zip(inputs, recorded)]
        return op.compose(*xs), xs
