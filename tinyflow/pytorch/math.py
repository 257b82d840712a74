"""Elementwise math and linear algebra as PyTorch spells them, and the operators.

Most methods are the op functions of `tinyflow.ops` themselves (`x.exp()` is `ops.exp(x)`,
`x + y` is `ops.add(x, y)`: no extra call layer); the functions here add PyTorch's spellings
the ops do not have.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..core.op import as_tensor
from ..core.tensor import Tensor
from .inplace import write_out

# ---- elementwise -----------------------------------------------------------------------


def sub(x, y, alpha=1, out=None, name=None):
    return write_out(ops.subtract(x, y if alpha == 1 else y * alpha, name=name), out)


def mul(x, y, out=None, name=None):
    return write_out(ops.multiply(x, y, name=name), out)


def rsqrt(x): return 1 / ops.sqrt(x)
def log2(x): return ops.log(x) * (1 / np.log(2))
def log10(x): return ops.log(x) * (1 / np.log(10))
def lerp(x, end, weight): return x + weight * (end - x)
def clamp_min(x, min): return ops.clamp(x, min, None)  # noqa: A002
def clamp_max(x, max): return ops.clamp(x, None, max)  # noqa: A002
def isnan(x): return ops.not_equal(x, x)
def isinf(x): return ops.equal(ops.abs(x), np.inf)
def isfinite(x): return ops.less(ops.abs(x), np.inf)  # NaN compares False
def masked_fill(x, mask, value): return ops.where(mask, value, x)


def fmod(x, y):
    """C's remainder, with the sign of `x` (remainder's has the sign of `y`)."""
    r = ops.remainder(x, y)
    flip = ops.logical_and(ops.not_equal(r, 0),
                           ops.not_equal(ops.less(x, 0), ops.less(y, 0)))
    return ops.where(flip, r - y, r)


def keep_where(x, condition, other):
    """`x.where(condition, other)`: x where condition holds, else other."""
    return ops.where(condition, x, other)


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol, atol, equal_nan))


true_divide = ops.divide
div = ops.divide
neg = ops.negative

# ---- linear algebra --------------------------------------------------------------------


def mm(a, b, out=None):
    """PyTorch's `mm`: strictly 2-D by 2-D."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-D, got shapes {a.shape} and {b.shape}")
    return write_out(ops.matmul(a, b), out)


def bmm(a, b, out=None): return write_out(ops.matmul(a, b), out)
def outer(a, b): return ops.reshape(a, (-1, 1)) * ops.reshape(b, (1, -1))


def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {a.ndim}D and "
                           f"{b.ndim}D tensors")
    return ops.reduce_sum(a * b)


def addmm(x, mat1, mat2, beta=1, alpha=1):
    """beta * x + alpha * (mat1 @ mat2)."""
    return _scaled(x, beta) + _scaled(mm(mat1, mat2), alpha)


def _scaled(x, factor):
    return x if factor == 1 else x * factor


def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return x if x.ndim < 2 else ops.transpose(x, (1, 0))


def reversed_dims(x): return ops.transpose(x)
def matrix_transpose(x): return x.transpose(-2, -1)


# ---- operators whose operands come reversed (`2 - x`) or must be masks (`a & b`) -------
def radd(x, y): return ops.add(y, x)
def rsub(x, y): return ops.subtract(y, x)
def rmul(x, y): return ops.multiply(y, x)
def rtruediv(x, y): return ops.divide(y, x)
def rpow(x, y): return ops.pow(y, x)
def rmatmul(x, y): return ops.matmul(y, x)
def rfloordiv(x, y): return ops.floor_divide(y, x)
def rmod(x, y): return ops.remainder(y, x)
def mask_and(x, y): return ops.logical_and(*_bools(x, y, "&"))
def mask_rand(x, y): return ops.logical_and(*_bools(y, x, "&"))
def mask_or(x, y): return ops.logical_or(*_bools(x, y, "|"))
def mask_ror(x, y): return ops.logical_or(*_bools(y, x, "|"))
def mask_xor(x, y): return ops.logical_xor(*_bools(x, y, "^"))
def mask_rxor(x, y): return ops.logical_xor(*_bools(y, x, "^"))
def mask_not(x): return ops.logical_not(_bools(x, True, "~")[0])
def pos(x): return x


def _bools(x, y, symbol: str) -> tuple:
    """Operands of `&`, `|`, `^`, `~`: boolean tensors (masks) or Python bools. On integer
    tensors PyTorch means bitwise operations, which tinyflow does not have: refused rather
    than answered logically."""
    for v in (x, y):
        if isinstance(v, Tensor) and not v.dtype.is_bool or not isinstance(v, (Tensor, bool)):
            what = v.dtype.name if isinstance(v, Tensor) else type(v).__name__
            raise TypeError(f"'{symbol}' works on boolean tensors (masks) here, got {what}; "
                            f"bitwise operations on integers are not supported")
    return x, y


METHODS = {
    # elementwise: the op functions themselves where the spelling matches
    "exp": ops.exp, "log": ops.log, "sqrt": ops.sqrt, "tanh": ops.tanh,
    "sigmoid": ops.sigmoid, "relu": ops.relu, "abs": ops.abs, "neg": ops.negative,
    "sign": ops.sign, "floor": ops.floor, "ceil": ops.ceil, "log1p": ops.log1p,
    "expm1": ops.expm1, "sin": ops.sin, "cos": ops.cos, "square": ops.square, "pow": ops.pow,
    "atan2": ops.atan2, "remainder": ops.remainder, "floor_divide": ops.floor_divide,
    "logical_and": ops.logical_and, "logical_or": ops.logical_or,
    "logical_xor": ops.logical_xor, "logical_not": ops.logical_not,
    "maximum": ops.maximum, "minimum": ops.minimum, "div": ops.divide,
    "eq": ops.equal, "ne": ops.not_equal, "lt": ops.less, "le": ops.less_equal,
    "gt": ops.greater, "ge": ops.greater_equal, "tril": ops.tril, "triu": ops.triu,
    "sub": sub, "mul": mul, "rsqrt": rsqrt, "log2": log2, "log10": log10, "lerp": lerp,
    "fmod": fmod, "clamp_min": clamp_min, "clamp_max": clamp_max, "isnan": isnan,
    "isinf": isinf, "isfinite": isfinite, "masked_fill": masked_fill, "where": keep_where,
    # linear algebra
    "matmul": ops.matmul, "mm": mm, "bmm": bmm, "dot": dot, "outer": outer, "addmm": addmm,
    "t": t, "T": property(reversed_dims), "mT": property(matrix_transpose),
    # operators
    "__add__": ops.add, "__radd__": radd, "__sub__": ops.subtract, "__rsub__": rsub,
    "__mul__": ops.multiply, "__rmul__": rmul, "__truediv__": ops.divide,
    "__rtruediv__": rtruediv, "__pow__": ops.pow, "__rpow__": rpow,
    "__matmul__": ops.matmul, "__rmatmul__": rmatmul, "__floordiv__": ops.floor_divide,
    "__rfloordiv__": rfloordiv, "__mod__": ops.remainder, "__rmod__": rmod,
    "__and__": mask_and, "__rand__": mask_rand, "__or__": mask_or, "__ror__": mask_ror,
    "__xor__": mask_xor, "__rxor__": mask_rxor, "__invert__": mask_not,
    "__neg__": ops.negative, "__pos__": pos, "__abs__": ops.abs,
    "__eq__": ops.equal, "__ne__": ops.not_equal, "__lt__": ops.less, "__le__": ops.less_equal,
    "__gt__": ops.greater, "__ge__": ops.greater_equal,
}
