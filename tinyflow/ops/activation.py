"""GELU as one op, and its gradient as one op.

Composed from primitive ops, GELU and its gradient are ten elementwise passes over the
widest activation of a transformer block ([tokens, 4 d]); fused they are one pass each.
"""
from __future__ import annotations

import math

from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from ..core.dtypes import promote
from .math import Unary, check_floating, erf, exp, tanh

APPROXIMATIONS = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_CUBIC = 0.044715


def _check(op: Op, *xs: Tensor) -> None:
    if op.approximate not in APPROXIMATIONS:
        raise ValueError(f"approximate={op.approximate!r}; use 'none' or 'tanh'")
    check_floating(*xs)


def gelu_slope(x: Tensor, approximate: str) -> Tensor:
    """d gelu / dx written with primitive ops."""
    if approximate == "tanh":
        t = tanh(_SQRT_2_OVER_PI * (x + _CUBIC * x * x * x))
        du = _SQRT_2_OVER_PI * (1 + 3 * _CUBIC * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    return 0.5 * (1 + erf(x * (1 / math.sqrt(2)))) + x * exp(-0.5 * x * x) * (
        1 / math.sqrt(2 * math.pi))


class Gelu(Unary):
    """x Phi(x) with the normal CDF Phi (exact, via erf) or PyTorch's tanh approximation."""
    name = "gelu"
    saves_output = False
    approximate: str

    def infer(self, x):
        _check(self, x)
        return x.shape, x.dtype

    def chain(self, k, v, out, x):
        return apply(GeluGrad(approximate=self.approximate), v, x)


class GeluGrad(Op):
    """gelu_grad(g, x) = g * gelu'(x)."""
    name = "gelu_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    elementwise = True
    broadcasts = True
    approximate: str

    def infer(self, g, x):
        _check(self, g, x)
        return broadcast_shapes(g.shape, x.shape), promote(g.dtype, x.dtype)

    def compose(self, g, x):
        return g * gelu_slope(x, self.approximate)


def gelu(x, approximate: str = "none", name=None) -> Tensor:
    return apply(Gelu(approximate=approximate), as_tensor(x), name=name)
