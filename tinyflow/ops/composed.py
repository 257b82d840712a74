"""Derivatives of a fused op by differentiating its composition from primitive ops."""
from __future__ import annotations

from ..core.op import grad_mode, set_grad_enabled
from ..core.tensor import EAGER, Tensor


class ComposedDerivatives:
    """Mixin for a fused op whose own derivatives are rarely asked for, typically the gradient
    op of a fused op (needed only for second order or forward-over-reverse): `compose` writes
    the op with primitive ops, and vjp/jvp differentiate that composition. The kernel stays
    one fast pass, higher derivatives need no hand-written rule, and the op table checks the
    kernel against the same math."""

    def compose(self, *inputs):
        raise NotImplementedError(f"{self.name} has no composition")

    def _traced(self, inputs) -> tuple:
        """compose(*xs) with its history recorded, and the xs to differentiate it by: an
        input itself where autograd records through it (higher derivatives stay connected),
        else a detached stand-in for an eager input."""
        xs = [x if x.kind != EAGER or (grad_mode.enabled and x.requires_grad)
              else Tensor._eager(x.array, requires_grad=True) for x in inputs]
        with set_grad_enabled(True):
            return self.compose(*xs), xs

    def vjp(self, g, out, *inputs):
        from ..autodiff.reverse import gradients
        y, xs = self._traced(inputs)
        return tuple(gradients(y, xs, grad_ys=g))

    def jvp(self, tangents, out, *inputs):
        from ..autodiff.forward import forward_gradients
        y, xs = self._traced(inputs)
        pairs = [(x, t) for x, t in zip(xs, tangents) if t is not None]
        return forward_gradients([y], [x for x, _ in pairs], [t for _, t in pairs])[0]
