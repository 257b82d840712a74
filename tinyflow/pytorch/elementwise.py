"""Elementwise math PyTorch has beyond the ops: the inverse and hyperbolic trigonometric
functions, trunc/frac, exp2, hypot, logaddexp, copysign, heaviside, nan_to_num, xlogy,
logit, addcmul/addcdiv, ...; each a composition of ops, so gradients, graphs and the JIT
work as for the ops. Integer inputs give float32, as PyTorch's floating functions.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError
from ..core.op import apply, as_tensor
from ..ops import special_functions
from ..ops.discrete import gcd, lcm, nextafter
from ..ops.special_functions import digamma, erfinv, i0, lgamma
from .inplace import write_out, with_out
from .logic import signbit


def floating(x):
    """x as a float tensor (integers and bools: PyTorch's default dtype)."""
    x = as_tensor(x)
    return x if x.dtype.is_floating else ops.cast(x, dtypes.DEFAULT_FLOAT)


def float_operands(input, other):  # noqa: A002
    """Both operands in the float type PyTorch's binary float functions give them: the
    promoted type (a 0-d float64 beside int tensors wins), ints and bools becoming float32."""
    x, y = ops.math.operands(as_tensor(input), other)
    dtype = dtypes.float_result(dtypes.promote(x.dtype, y.dtype))
    return ops.cast(x, dtype), ops.cast(y, dtype)


def _unary(compute, name: str, doc: str):
    def function(input, *, out=None):  # noqa: A002
        return write_out(compute(floating(input)), out)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _one_minus_square_root(x):
    return ops.sqrt(1 - x * x)


tan = _unary(lambda x: ops.sin(x) / ops.cos(x), "tan", "sin / cos.")
asin = _unary(lambda x: ops.atan2(x, _one_minus_square_root(x)), "asin", "arcsine.")
acos = _unary(lambda x: ops.atan2(_one_minus_square_root(x), x), "acos", "arccosine.")
atan = _unary(lambda x: ops.atan2(x, ops.ones_like(x)), "atan", "arctangent.")
sinh = _unary(lambda x: (ops.expm1(x) - ops.expm1(-x)) * 0.5, "sinh",
              "(e^x - e^-x) / 2, through expm1: exact near 0.")
cosh = _unary(lambda x: (ops.exp(x) + ops.exp(-x)) * 0.5, "cosh", "(e^x + e^-x) / 2.")
asinh = _unary(lambda x: ops.sign(x) * ops.log1p(ops.abs(x) + x * x / (
    1 + ops.sqrt(x * x + 1))), "asinh", "log(x + sqrt(x^2 + 1)), through log1p near 0.")
acosh = _unary(lambda x: ops.log(x + ops.sqrt(x * x - 1)), "acosh", "log(x + sqrt(x^2 - 1)).")
atanh = _unary(lambda x: 0.5 * ops.log1p(2 * x / (1 - x)), "atanh",
               "log((1 + x) / (1 - x)) / 2, through log1p near 0.")
exp2 = _unary(lambda x: ops.pow(2.0, x), "exp2", "2^x (exact at integers).")
deg2rad = _unary(lambda x: x * (math.pi / 180), "deg2rad", "degrees to radians.")
rad2deg = _unary(lambda x: x * (180 / math.pi), "rad2deg", "radians to degrees.")
erfc = special_functions.erfc   # an op of its own: 1 - erf(x) cancels to 0 for large x
expit = _unary(ops.sigmoid, "expit", "the logistic sigmoid (special.expit).")


def reciprocal(input, *, out=None):  # noqa: A002
    return write_out(1 / floating(input), out)


def trunc(input, *, out=None):  # noqa: A002
    """Round toward zero (integers stay as they are)."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        return write_out(x, out)
    return write_out(ops.where(ops.less(x, 0), ops.ceil(x), ops.floor(x)), out)


def frac(input, *, out=None):  # noqa: A002
    """x - trunc(x): the fractional part, with x's sign."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        raise RuntimeError(f"\"frac_cpu\" not implemented for '{x.dtype.name}'")
    return write_out(x - trunc(x), out)


def hypot(input, other, *, out=None):  # noqa: A002
    """sqrt(x^2 + y^2) of floats (integers refused, as PyTorch's)."""
    x, y = ops.math.operands(input, other)
    dtype = dtypes.promote(x.dtype, y.dtype)
    if not dtype.is_floating:
        raise DTypeError(f"hypot: not implemented for '{dtype.name}' (it takes floating-point "
                         f"tensors)")
    return write_out(ops.sqrt(x * x + y * y), out)


def logaddexp(input, other, *, out=None):  # noqa: A002
    """log(e^x + e^y) without overflow: max + log1p(e^-|x - y|)."""
    x, y = float_operands(input, other)
    top = ops.maximum(x, y)
    spread = ops.where(ops.equal(x, y), ops.zeros_like(x), -ops.abs(x - y))  # inf == inf
    return write_out(top + ops.log1p(ops.exp(spread)), out)


def logaddexp2(input, other, *, out=None):  # noqa: A002
    """log2(2^x + 2^y)."""
    ln2 = math.log(2)
    x, y = float_operands(input, other)
    return write_out(logaddexp(x * ln2, y * ln2) / ln2, out)


def copysign(input, other, *, out=None):  # noqa: A002
    """|input| with the sign of other (also of -0.0)."""
    x, y = float_operands(input, other)
    return write_out(ops.where(signbit(y), -ops.abs(x), ops.abs(x)), out)


def fmax(input, other, *, out=None):  # noqa: A002
    """The larger of the two, ignoring a NaN (NaN only where both are); a tie's gradient goes
    to input, as PyTorch's."""
    x, y = ops.math.operands(as_tensor(input), other)
    keep = ops.logical_or(ops.greater_equal(x, y), ops.not_equal(y, y))
    return write_out(ops.where(keep, x, y), out)


def fmin(input, other, *, out=None):  # noqa: A002
    """The smaller of the two, ignoring a NaN (NaN only where both are)."""
    x, y = ops.math.operands(as_tensor(input), other)
    keep = ops.logical_or(ops.less_equal(x, y), ops.not_equal(y, y))
    return write_out(ops.where(keep, x, y), out)


def heaviside(input, values, *, out=None):  # noqa: A002
    """0 where x < 0, values where x == 0, 1 where x > 0."""
    x, v = as_tensor(input), as_tensor(values)
    if x.dtype is not v.dtype:
        raise RuntimeError(f"heaviside: input is {x.dtype.name} and values {v.dtype.name}; "
                           f"give both one dtype")
    step = ops.cast(ops.greater(x, 0), x.dtype)
    return write_out(ops.where(ops.equal(x, 0), v, step), out)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):  # noqa: A002
    """NaN, +inf and -inf replaced by nan, posinf, neginf (the dtype's largest and smallest
    finite values by default)."""
    x = as_tensor(input)
    if not x.dtype.is_floating:
        return write_out(x, out)
    info = np.finfo(x.dtype.np)
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf
    y = ops.where(ops.not_equal(x, x), nan, x)
    y = ops.where(ops.equal(x, math.inf), high, y)
    return write_out(ops.where(ops.equal(x, -math.inf), low, y), out)


@with_out
def sgn(input):  # noqa: A002
    """sign for real tensors (0 at NaN, as PyTorch's)."""
    return ops.math.sign_nan_to_zero(input)


def xlogy(input, other, *, out=None):  # noqa: A002
    """x * log(y), 0 where x == 0 (unless y is NaN). Only the y whose log is not finite are
    replaced under x == 0, so the gradient wrt x there is log(y), as PyTorch's."""
    x, y = float_operands(input, other)
    return write_out(x * ops.log(_where_zero(x, y, bad=ops.logical_or(
        ops.less_equal(y, 0), ops.equal(y, math.inf)), safe=1.0)), out)


def _where_zero(x, y, bad, safe: float):
    """y, with `safe` where x == 0 and `bad`: x * f(y) is then 0 there, not NaN."""
    return ops.where(ops.logical_and(ops.equal(x, 0), bad), ops.zeros_like(y) + safe, y)


def logit(input, eps=None, *, out=None):  # noqa: A002
    """log(p / (1 - p)), p clamped to [eps, 1 - eps] when eps is given (one op: its
    gradient is PyTorch's at and beyond the edges)."""
    op = special_functions.Logit() if eps is None else special_functions.Logit(eps=float(eps))
    return write_out(apply(op, as_tensor(input)), out)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):  # noqa: A002
    """input + value * tensor1 * tensor2."""
    product = tensor1 * tensor2
    return write_out(input + (product if value == 1 else product * value), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):  # noqa: A002
    """input + value * tensor1 / tensor2."""
    quotient = tensor1 / tensor2
    return write_out(input + (quotient if value == 1 else quotient * value), out)


def sinc(input, *, out=None):  # noqa: A002
    """sin(pi x) / (pi x), 1 at 0 (gradient 0 there: the quotient is taken at a safe x)."""
    x = floating(input)
    zero = ops.equal(x, 0)
    scaled = ops.where(zero, 1.0, x) * math.pi
    return write_out(ops.where(zero, 1.0, ops.sin(scaled) / scaled), out)


def float_power(input, exponent, *, out=None):  # noqa: A002
    """pow in float64."""
    x = ops.cast(as_tensor(input), dtypes.float64)
    e = ops.cast(exponent, dtypes.float64) if hasattr(exponent, "dtype") else exponent
    return write_out(ops.pow(x, e), out)


METHODS = {
    "tan": tan, "asin": asin, "arcsin": asin, "acos": acos, "arccos": acos, "atan": atan,
    "arctan": atan, "sinh": sinh, "cosh": cosh, "asinh": asinh, "arcsinh": asinh,
    "acosh": acosh, "arccosh": acosh, "atanh": atanh, "arctanh": atanh, "exp2": exp2,
    "deg2rad": deg2rad, "rad2deg": rad2deg, "erf": ops.erf, "erfc": erfc,
    "reciprocal": reciprocal, "trunc": trunc, "fix": trunc, "frac": frac, "hypot": hypot,
    "logaddexp": logaddexp, "logaddexp2": logaddexp2, "copysign": copysign,
    "heaviside": heaviside, "fmax": fmax, "fmin": fmin, "nan_to_num": nan_to_num, "sgn": sgn, "xlogy": xlogy,
    "logit": logit, "addcmul": addcmul, "addcdiv": addcdiv, "float_power": float_power,
    "lgamma": lgamma, "digamma": digamma, "erfinv": erfinv, "i0": i0, "sinc": sinc,
    "gcd": gcd, "lcm": lcm, "nextafter": nextafter,
}
