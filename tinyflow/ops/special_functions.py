"""Special functions PyTorch has and NumPy lacks: lgamma (log |Gamma|), digamma (its
derivative), trigamma (digamma's derivative) and erfinv. Each derivative is the next function
or a composition of ops, so lgamma has two orders and erfinv every order."""
from __future__ import annotations

import math

from ..core.op import apply, as_tensor
from ..core.tensor import Tensor
from .math import Unary, exp


class Lgamma(Unary):
    name = "lgamma"
    saves_output = False

    def chain(self, k, v, out, x):
        return v * digamma(x)


class Digamma(Unary):
    name = "digamma"
    saves_output = False

    def chain(self, k, v, out, x):
        return v * trigamma(x)


class Trigamma(Unary):
    """The derivative of digamma; its own derivative is not provided."""
    name = "trigamma"
    differentiable = False


class Erfinv(Unary):
    """The inverse of erf on (-1, 1); d erfinv(x) = sqrt(pi) / 2 * exp(erfinv(x)^2) dx."""
    name = "erfinv"
    saves_inputs = False

    def chain(self, k, v, out, x):
        return v * ((math.sqrt(math.pi) / 2) * exp(out * out))


def _unary_op(op_cls):
    op = op_cls()

    def fn(x, name=None) -> Tensor:
        return apply(op, as_tensor(x), name=name)
    fn.__name__ = fn.__qualname__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name} (integers give float32)."
    return fn


lgamma = _unary_op(Lgamma)
digamma = _unary_op(Digamma)
trigamma = _unary_op(Trigamma)
erfinv = _unary_op(Erfinv)
