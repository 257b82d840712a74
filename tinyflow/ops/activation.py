"""GELU and leaky ReLU as one op each, and their gradients as one op each.

Composed from primitive ops, GELU and its gradient are ten elementwise passes over the
widest activation of a transformer block ([tokens, 4 d]); fused they are one pass each.
Leaky ReLU composed (a compare, a multiply and a `where`; backward two `where`s, a multiply
and an add) was 10 % of a DCGAN discriminator's training step.
"""
from __future__ import annotations

import math

from ..core.op import Op, apply, as_tensor
from ..core.shapes import broadcast_shapes
from ..core.tensor import Tensor
from ..core.dtypes import promote
from .math import ReadsInputOrOutput, Unary, check_floating, erf, exp, greater, tanh, where

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


class LeakyRelu(ReadsInputOrOutput, Unary):
    """x where x > 0, else slope * x, for a positive slope: then the output is positive
    exactly where x is, so the gradient may read either. It reads the input, as PyTorch's
    out of place (an output then written through `.data` or under no_grad keeps its right
    gradient; one read silently took 1 for the slope), and with `reads_output` the output,
    as PyTorch's in place: F.leaky_relu(inplace=True) copies it into the input, which the
    gradient then must not read. (PyTorch refuses a negative slope in place.)"""
    name = "leaky_relu"
    slope: float
    reads_output: bool = False

    def infer(self, x):
        if not self.slope > 0:
            raise ValueError(f"the op takes a positive slope, got {self.slope} "
                             f"(compose it from `where` otherwise)")
        check_floating(x)
        return x.shape, x.dtype

    def chain(self, k, v, out, x):
        return apply(LeakyReluGrad(slope=self.slope), v, out if self.reads_output else x)


class LeakyReluGrad(Op):
    """leaky_relu_grad(g, y) = g where y > 0, else slope * g (y: leaky_relu's input or
    output; at 0 and NaN the slope, as PyTorch's and TensorFlow's kernels, which test x > 0)."""
    name = "leaky_relu_grad"
    composed = True       # derivatives: autodiff differentiates compose()
    elementwise = True
    broadcasts = True
    slope: float

    def infer(self, g, y):
        check_floating(g, y)
        return broadcast_shapes(g.shape, y.shape), promote(g.dtype, y.dtype)

    def compose(self, g, y):
        return where(greater(y, 0.0), g, g * self.slope)


def leaky_relu(x, slope: float, reads_output: bool = False, name=None) -> Tensor:
    return apply(LeakyRelu(slope=float(slope), reads_output=reads_output), as_tensor(x),
                 name=name)
