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


def traced(op, inputs) -> tuple:
    """op.compose(*xs) with its history recorded, and the xs to differentiate it by: an
    input itself where autograd records through it (higher derivatives stay connected),
    else a detached stand-in for an eager input."""
    xs = [x if x.kind != EAGER or (grad_mode.enabled and x.requires_grad)
          else Tensor._eager(x.array, requires_grad=True) for x in inputs]
    with set_grad_enabled(True):
        return op.compose(*xs), xs
