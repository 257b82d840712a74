"""Elementwise math and linear algebra as PyTorch spells them, and the operators.

Most methods are the op functions of `tinyflow.ops` themselves (`x.exp()` is `ops.exp(x)`,
`x + y` is `ops.add(x, y)`: no extra call layer); the functions here add PyTorch's spellings
the ops do not have.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes
from ..core.errors import DTypeError, ValueRuntimeError
from ..core.op import as_tensor
from ..ops.math import operands
from ..core.tensor import Tensor
from .inplace import check_fill, write_out, with_out
from .sparse import spmm

# ---- elementwise -----------------------------------------------------------------------


def sub(x, other, name=None, *, alpha=1, out=None):
    """`torch.sub(x, other, alpha=2)` (x - 2 other) or TF1's `tf.sub(x, y, name)`."""
    if alpha != 1 or type(alpha) is not int:
        x, other = times_alpha(x, other, alpha, subtract=True)
    return write_out(ops.subtract(x, other, name=name), out)


def times_alpha(x, other, alpha, subtract: bool = False) -> tuple:
    """(x, alpha * other) as torch's add and sub take alpha: in the result's dtype, so bools
    stay bools (alpha only says whether other counts); a float alpha with an integer result,
    or a bool alpha with a non-bool one, refused as PyTorch refuses them."""
    x, y = operands(x, other)
    dtype = dtypes.promote(x.dtype, y.dtype)
    if subtract and (x.dtype.is_bool or y.dtype.is_bool):
        return x, y   # subtract refuses bools by name
    if isinstance(alpha, bool) and not dtype.is_bool:
        raise RuntimeError(f"alpha={alpha} is a bool, but the result is {dtype.name}; a "
                           f"bool alpha is for bool tensors only")
    if isinstance(alpha, float) and not dtype.is_floating:
        raise RuntimeError(f"alpha={alpha} is a float, but the result is {dtype.name}; "
                           f"give an integer alpha, or float tensors")
    if dtype.is_bool:
        return x, (y if alpha else ops.zeros_like(y))
    return x, y * alpha


def mul(x, other, name=None, *, out=None):
    return write_out(ops.multiply(x, other, name=name), out)


@with_out
def rsqrt(x): return 1 / ops.sqrt(x)
@with_out
def log2(x): return ops.log(x) * (1 / np.log(2))
@with_out
def log10(x): return ops.log(x) * (1 / np.log(10))
@with_out
def lerp(x, end, weight):
    """x + weight (end - x), in x's float dtype: end, and a weight tensor with dims, of
    another dtype are refused, as PyTorch refuses them."""
    x = as_tensor(x)
    if not x.dtype.is_floating:
        raise DTypeError(f"lerp: not implemented for '{x.dtype.name}' (it takes floating-point "
                         f"tensors)")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype is not x.dtype and (name == "end" or t.ndim):
            raise DTypeError(f"lerp: expected dtype {x.dtype.name} for `{name}` but got dtype "
                             f"{t.dtype.name}")
    return x + weight * (end - x)
def clamp_min(x, min): return ops.clamp(x, min, None)  # noqa: A002
def clamp_max(x, max): return ops.clamp(x, None, max)  # noqa: A002
def isnan(x): return ops.not_equal(x, x)
def isinf(x): return ops.equal(ops.abs(x), np.inf)
def isfinite(x): return ops.less(ops.abs(x), np.inf)  # NaN compares False
def masked_fill(x, mask, value):
    """x with value where mask, in x's dtype (the value cast to it, as PyTorch's: 0.5 into
    ints gives 0, 0 into bools False; one it cannot hold, as -inf into ints, is refused)."""
    check_fill(value, x.dtype)
    out = ops.where(mask, value, x)
    return out if out.dtype is x.dtype else ops.cast(out, x.dtype)


@with_out
def fmod(x, other):
    """C's remainder, with the sign of `x` (remainder's has the sign of `other`); a finite x
    by an infinite `other` is x itself (remainder's would be inf or NaN)."""
    x, y = operands(x, other)
    infinite = None
    if dtypes.promote(x.dtype, y.dtype).is_floating:
        infinite = ops.logical_and(isinf(y), isfinite(x))
        y = ops.where(infinite, 1.0, y)
    r = ops.remainder(x, y)
    flip = ops.logical_and(ops.not_equal(r, 0),
                           ops.not_equal(ops.less(x, 0), ops.less(y, 0)))
    out = ops.where(flip, r - y, r)
    return out if infinite is None else ops.where(infinite, x, out)


def keep_where(x, condition, other):
    """`x.where(condition, other)`: x where condition holds, else other."""
    return ops.where(condition, x, other)


def div(x, other, name=None, *, rounding_mode=None, out=None):
    """`torch.div(x, y, rounding_mode=..., out=...)`: true division, or rounded toward
    zero ('trunc') or down ('floor'); `out=` as every PyTorch out= (resized if needed)."""
    if rounding_mode is None:
        return write_out(ops.divide(x, other, name=name), out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div: rounding_mode={rounding_mode!r} is unknown; use None, "
                           f"'trunc' or 'floor'")
    x, other = operands(x, other)
    exact = ops.divide(x, other)
    rounded = (ops.floor(exact) if rounding_mode == "floor" else
               ops.where(exact < 0, ops.ceil(exact), ops.floor(exact)))
    both_int = not x.dtype.is_floating and not other.dtype.is_floating
    if both_int:
        ops.floor_divide(x, other)   # integer division by zero raises, as PyTorch
        rounded = ops.cast(rounded, dtypes.promote(x.dtype, other.dtype))
    return write_out(rounded, out)


true_divide = div
neg = ops.negative

# ---- linear algebra --------------------------------------------------------------------


def mm(a, b, out=None):
    """PyTorch's `mm`: strictly 2-D by 2-D; a sparse operand multiplies without a dense copy."""
    if getattr(a, "is_sparse", False) or getattr(b, "is_sparse", False):
        return write_out(spmm(a, b), out)
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-D, got shapes {a.shape} and {b.shape}")
    return write_out(ops.matmul(a, b), out)


def bmm(a, b, out=None): return write_out(ops.matmul(a, b), out)


@with_out
def outer(a, b): return ops.reshape(a, (-1, 1)) * ops.reshape(b, (1, -1))


@with_out
def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {a.ndim}D and "
                           f"{b.ndim}D tensors")
    return ops.reduce_sum(a * b)


def vdot(a, b, *, out=None):
    """dot of 1-D tensors, the first conjugated (real tensors here: `dot`)."""
    return dot(a, b, out=out)


@with_out
def addmm(x, mat1, mat2, beta=1, alpha=1):
    """beta * x + alpha * (mat1 @ mat2)."""
    return _scaled(x, beta) + _scaled(mm(mat1, mat2), alpha)


def _scaled(x, factor):
    return x if factor == 1 else x * factor


def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t(): the tensor is {x.ndim}-D; t() transposes 0-D to 2-D "
                           f"tensors (use transpose or permute)")
    return x if x.ndim < 2 else ops.transpose(x, (1, 0))


def reversed_dims(x): return ops.transpose(x)
def matrix_transpose(x): return x.transpose(-2, -1)


# ---- operators whose operands come reversed (`2 - x`) or must be masks (`a & b`) -------
def radd(x, y): return ops.add(y, x)
def rsub(x, other, *, alpha=1):
    """`other - x` (`x.__rsub__`), and `torch.rsub`'s other - alpha * x."""
    return ops.subtract(other, x) if alpha == 1 else sub(other, x, alpha=alpha)
def rmul(x, y): return ops.multiply(y, x)
def rtruediv(x, y): return ops.divide(y, x)
def rpow(x, y): return ops.pow(y, x)
def rfloordiv(x, y): return ops.floor_divide(y, x)
def rmod(x, y): return ops.remainder(y, x)
def pos(x): return x


def _truth(v) -> bool:
    return v.dtype.is_bool if isinstance(v, Tensor) else isinstance(v, (bool, np.bool_))


def _bits(logical, bitwise, name: str, reflected: bool = False):
    """`&`, `|`, `^` as PyTorch: logical on two bool operands (masks; TF1's meaning too),
    bitwise on integers (the promoted dtype), refused on floats (by the bitwise op)."""
    def operator(x, y):
        if reflected:
            x, y = y, x
        return logical(x, y) if _truth(x) and _truth(y) else bitwise(x, y)
    operator.__name__ = operator.__qualname__ = name
    return operator


def invert(x):
    """`~x`: logical not of a mask, the bits flipped of an integer; floats are refused."""
    return ops.logical_not(x) if x.dtype.is_bool else ops.bitwise_not(x)


def rlshift(x, y): return ops.bitwise_left_shift(y, x)
def rrshift(x, y): return ops.bitwise_right_shift(y, x)


def with_other(function):
    """The method spelling of a binary function: PyTorch calls the operand `other`, so
    `x.maximum(other=y)` works as `x.maximum(y)` (keywords such as alpha= and out= pass on)."""
    def method(self, other, **kwargs):
        return function(self, other, **kwargs)
    method.__name__ = method.__qualname__ = function.__name__
    return method


def torch_pow(x, exponent):
    """`x ** n`: an integer tensor to a negative Python integer is refused before it runs, with
    PyTorch's message and class (NumPy's kernel would raise a plain ValueError)."""
    if (isinstance(exponent, (int, np.integer)) and not isinstance(exponent, bool)
            and exponent < 0 and isinstance(x, Tensor) and x.dtype.is_integer):
        raise ValueRuntimeError(f"pow: {x.dtype.name} tensor ** {exponent}: a negative "
                                f"power of an integer is not an integer; use float tensors")
    return ops.pow(x, exponent)


def power(x, exponent):
    """`x.pow(exponent=2)`: PyTorch's name for pow's second operand."""
    return torch_pow(x, exponent)


METHODS = {
    # elementwise: the op functions themselves where the spelling matches
    "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "tanh": ops.tanh,
    "sigmoid": ops.sigmoid, "relu": ops.relu, "abs": ops.abs, "neg": ops.negative,
    "sign": ops.math.sign_nan_to_zero, "floor": ops.floor, "ceil": ops.ceil, "log1p": ops.log1p,
    "expm1": ops.expm1, "sin": ops.sin, "cos": ops.cos, "square": ops.square, "pow": power,
    "logical_not": ops.logical_not, "tril": ops.tril, "triu": ops.triu,
    "rsqrt": rsqrt, "log2": log2, "log10": log10, "lerp": lerp, "clamp_min": clamp_min,
    "clamp_max": clamp_max, "isnan": isnan, "isinf": isinf, "isfinite": isfinite,
    "masked_fill": masked_fill, "where": keep_where,
    # binary, with PyTorch's keyword for the second operand (`other`)
    "sub": with_other(sub), "mul": with_other(mul), "div": with_other(div),
    "fmod": with_other(fmod), "atan2": with_other(ops.atan2),
    "remainder": with_other(ops.remainder), "floor_divide": with_other(ops.floor_divide),
    "logical_and": with_other(ops.logical_and), "logical_or": with_other(ops.logical_or),
    "logical_xor": with_other(ops.logical_xor), "maximum": with_other(ops.maximum),
    "bitwise_and": with_other(ops.bitwise_and), "bitwise_or": with_other(ops.bitwise_or),
    "bitwise_xor": with_other(ops.bitwise_xor), "bitwise_not": ops.bitwise_not,
    "bitwise_left_shift": with_other(ops.bitwise_left_shift),
    "bitwise_right_shift": with_other(ops.bitwise_right_shift),
    "minimum": with_other(ops.minimum), "eq": with_other(ops.equal),
    "ne": with_other(ops.not_equal), "lt": with_other(ops.less),
    "le": with_other(ops.less_equal), "gt": with_other(ops.greater),
    "ge": with_other(ops.greater_equal),
    # linear algebra
    "mm": with_other(mm), "bmm": bmm, "dot": dot, "outer": outer, "addmm": addmm,
    "t": t, "T": property(reversed_dims), "mT": property(matrix_transpose),
    # operators
    "__add__": ops.add, "__radd__": radd, "__sub__": ops.subtract, "__rsub__": rsub,
    "__mul__": ops.multiply, "__rmul__": rmul, "__truediv__": ops.divide,
    "__rtruediv__": rtruediv, "__pow__": torch_pow, "__rpow__": rpow,
    "__floordiv__": ops.floor_divide,
    "__rfloordiv__": rfloordiv, "__mod__": ops.remainder, "__rmod__": rmod,
    "__and__": _bits(ops.logical_and, ops.bitwise_and, "__and__"),
    "__rand__": _bits(ops.logical_and, ops.bitwise_and, "__rand__", reflected=True),
    "__or__": _bits(ops.logical_or, ops.bitwise_or, "__or__"),
    "__ror__": _bits(ops.logical_or, ops.bitwise_or, "__ror__", reflected=True),
    "__xor__": _bits(ops.logical_xor, ops.bitwise_xor, "__xor__"),
    "__rxor__": _bits(ops.logical_xor, ops.bitwise_xor, "__rxor__", reflected=True),
    "__invert__": invert, "__lshift__": ops.bitwise_left_shift, "__rlshift__": rlshift,
    "__rshift__": ops.bitwise_right_shift, "__rrshift__": rrshift,
    "__neg__": ops.negative, "__pos__": pos, "__abs__": ops.abs,
    "__eq__": ops.equal, "__ne__": ops.not_equal, "__lt__": ops.less, "__le__": ops.less_equal,
    "__gt__": ops.greater, "__ge__": ops.greater_equal,
}
