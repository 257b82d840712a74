"""Special functions PyTorch has and NumPy lacks (or has without a derivative): lgamma
(log |Gamma|), digamma (its derivative), trigamma (digamma's derivative), erfinv, and the
modified Bessel functions i0 and i1 (i0's derivative) and their exponentially scaled
i0e, i1e (e^-|x| i0(x): finite where i0 overflows). Each derivative is the next function
or a composition of ops, so lgamma has two orders, the Bessel functions and erfinv every
order. erfc (1 - erf) and erfcx (e^(x^2) erfc(x)) are ops of their own: as compositions they
cancel to 0 for x beyond ~6 (float64) where the answer is ~1e-17 and below."""
from __future__ import annotations

import math

from typing import Optional

from ..core.op import apply, as_tensor
from ..core.tensor import Tensor
from .math import Unary, equal, exp, greater, less, logical_or, sign, where


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


class Erfc(Unary):
    """1 - erf(x) without the cancellation: erfc(10) is 2.1e-45, not 0;
    d erfc(x) = -2 / sqrt(pi) exp(-x^2) dx."""
    name = "erfc"
    saves_output = False

    def chain(self, k, v, out, x):
        return v * (-_TWO_OVER_SQRT_PI * exp(-(x * x)))


class Erfcx(Unary):
    """The scaled complement e^(x^2) erfc(x): ~1 / (x sqrt(pi)) for large x, where both
    factors would under- and overflow; d erfcx(x) = 2 x erfcx(x) - 2 / sqrt(pi)."""
    name = "erfcx"

    def chain(self, k, v, out, x):
        return v * (2.0 * x * out - _TWO_OVER_SQRT_PI)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


class I0(Unary):
    """The modified Bessel function of the first kind, order 0; its derivative is i1."""
    name = "i0"
    saves_output = False

    def chain(self, k, v, out, x):
        return v * i1(x)


class I1(Unary):
    """Order 1; d i1(x) = i0(x) - i1(x) / x (1/2 at 0)."""
    name = "i1"

    def chain(self, k, v, out, x):
        zero = equal(x, 0)
        slope = i0(x) - out / where(zero, 1.0, x)
        return v * where(zero, 0.5, slope)


class I0e(Unary):
    """e^-|x| i0(x), computed scaled (i0 overflows float32 beyond |x| ~ 90, float64 beyond
    ~ 713, where the product would be inf * 0); d i0e(x) = i1e(x) - sign(x) i0e(x)."""
    name = "i0e"

    def chain(self, k, v, out, x):
        return v * (i1e(x) - sign(x) * out)


class I1e(Unary):
    """e^-|x| i1(x); d i1e(x) = i0e(x) - i1e(x) (sign(x) + 1 / x) (1/2 at 0)."""
    name = "i1e"

    def chain(self, k, v, out, x):
        zero = equal(x, 0)
        slope = i0e(x) - out * (sign(x) + 1.0 / where(zero, 1.0, x))
        return v * where(zero, 0.5, slope)


class Logit(Unary):
    """log(p / (1 - p)), p first clamped to [eps, 1 - eps] when eps is given. An op so that
    its derivative 1 / (p (1 - p)) is PyTorch's at the edges: inf at 0 and 1, NaN outside
    [0, 1] without eps, 0 outside the clamp with it (a composition gives NaN at 0 and 1)."""
    name = "logit"
    saves_output = False
    eps: Optional[float] = None

    def chain(self, k, v, out, x):
        slope = v / (x * (1 - x))
        if self.eps is None:
            return where(logical_or(less(x, 0), greater(x, 1)), math.nan, slope)
        return where(logical_or(less(x, self.eps), greater(x, 1 - self.eps)), 0.0, slope)


def _unary_op(op_cls):
    op = op_cls()

    def fn(x, name=None, *, out=None) -> Tensor:
        return apply(op, as_tensor(x), name=name, out=out)
    fn.__name__ = fn.__qualname__ = op_cls.name
    fn.__doc__ = f"Elementwise {op_cls.name} (integers give float32)."
    return fn


lgamma = _unary_op(Lgamma)
digamma = _unary_op(Digamma)
trigamma = _unary_op(Trigamma)
erfinv = _unary_op(Erfinv)
erfc = _unary_op(Erfc)
erfcx = _unary_op(Erfcx)
i0 = _unary_op(I0)
i1 = _unary_op(I1)
i0e = _unary_op(I0e)
i1e = _unary_op(I1e)
