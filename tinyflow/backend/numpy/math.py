"""Elementwise kernels."""
import numpy as np

from ...core import dtypes
from ...core.dtypes import REDUCED_NUMPY
from ...core.errors import IntegerDivisionByZero
from ...core.kernels import widened
from ...ops import math as m
from . import _fast_math, parallel
from .registry import kernel

_BINARY = {m.Add: np.add, m.Sub: np.subtract, m.Mul: np.multiply, m.Div: np.true_divide,
           m.Pow: np.power, m.Maximum: np.maximum, m.Minimum: np.minimum, m.Equal: np.equal,
           m.NotEqual: np.not_equal, m.Less: np.less, m.LessEqual: np.less_equal,
           m.Greater: np.greater, m.GreaterEqual: np.greater_equal, m.Atan2: np.arctan2,
           m.LogicalAnd: np.logical_and,
           m.LogicalOr: np.logical_or, m.LogicalXor: np.logical_xor}
_UNARY = {m.Neg: np.negative, m.Square: np.square, m.Sqrt: np.sqrt, m.Exp: np.exp,
          m.Log: np.log, m.Sin: np.sin, m.Cos: np.cos, m.Tanh: np.tanh, m.Abs: np.abs,
          m.LogicalNot: np.logical_not, m.Floor: np.floor, m.Ceil: np.ceil,
          m.Round: np.round, m.Log1p: np.log1p, m.Expm1: np.expm1}


def _ufunc_kernel(ufunc, arity: int):
    """The kernel of a one-ufunc op, its operands spelled out: every eager `x * y` runs it,
    and a call through `*xs` and `out=None` costs more than a 16-element ufunc itself."""
    if arity == 2:
        def run(op, x, y, out=None):
            return ufunc(x, y) if out is None else ufunc(x, y, out=out)
    else:
        def run(op, x, out=None):
            return ufunc(x) if out is None else ufunc(x, out=out)
    run.__name__ = getattr(ufunc, "__name__", "ufunc")
    return run


def _register_ufuncs(table, arity: int):
    for op_cls, ufunc in table.items():
        kernel(op_cls, inplace=True)(_ufunc_kernel(ufunc, arity))


_register_ufuncs(_BINARY, 2)
_register_ufuncs(_UNARY, 1)


def _integer_divisor(ufunc):
    """// and % of integers by zero have no value: NumPy answers 0 with a warning, PyTorch
    and TensorFlow raise; so do these kernels ("ZeroDivisionError", as PyTorch says)."""
    def run(op, x, y, out=None):
        if y.dtype.kind in "iub" and not np.all(y):
            raise IntegerDivisionByZero(f"{op.name}: integer division by zero "
                                    f"(ZeroDivisionError)")
        return ufunc(x, y, out=out)
    return run


kernel(m.Remainder, inplace=True)(_integer_divisor(np.mod))
kernel(m.FloorDivide, inplace=True)(_integer_divisor(np.floor_divide))


@kernel(m.Sign, inplace=True)
def sign(op, x, out=None):
    """np.sign has no bool loop; the sign of a bool is itself (as PyTorch)."""
    if x.dtype == np.bool_:
        return np.copyto(out, x) or out if out is not None else x.copy()
    return np.sign(x, out=out)


@kernel(m.Sigmoid)
def sigmoid(op, x):
    # exp of -|x| never overflows; the two branches give the same value.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@kernel(m.Relu, inplace=True)
def relu(op, x, out=None):
    """Every MLP layer's: the tests inline (not in a `widened` or `parallel.ufunc` frame)."""
    zero = _ZEROS.get(x.dtype)
    if zero is None:
        if x.dtype in REDUCED_NUMPY:         # reduced floats: NumPy has no fast loop
            return _WIDE_RELU(op, x, out=out)
        return np.maximum(x, 0, out=out)
    if x.size < parallel.MIN_ELEMENTS:
        return np.maximum(x, zero, out=out)
    return parallel.ufunc(np.maximum, x, zero, out=out)   # large arrays on every thread


_ZEROS = {np.dtype(t): np.zeros((), t) for t in parallel.FLOATS}   # not one per call
_WIDE_RELU = widened(relu, 0)


@kernel(m.ReluGrad, inplace=True)
def relu_grad(op, g, x, out=None):
    if g.dtype == x.dtype and g.dtype in parallel.FLOATS and (out is None
                                                              or out.dtype == g.dtype):
        loop = _fast_math.ufunc("relu_grad", 64 if g.dtype == np.float64 else 32)
        return parallel.ufunc(loop, g, x, out=out)
    if out is not None and out.dtype not in (np.float32, np.float64):
        out[...] = _fast_math.call("relu_grad", g, x)
        return out
    result = _fast_math.call("relu_grad", g, x, out=out)   # float16 and bfloat16 in float32
    return result if result.dtype == g.dtype else result.astype(g.dtype)


@kernel(m.Cast, inplace=True)
def cast(op, x, out=None):
    if op.dtype.is_reduced:
        return _round(op.dtype, x, out)
    if out is None:
        return x.astype(op.dtype.np)
    np.copyto(out, x, casting="unsafe")
    return out


def _round(dtype, x, out):
    """A cast to a reduced float as PyTorch's: quiet overflow to inf, and float8_e4m3fn
    (which has no inf) saturating at +-448 where NumPy's cast would give NaN."""
    if dtype is dtypes.float8_e4m3fn:
        x = np.clip(x, -448, 448)
    with np.errstate(over="ignore"):
        if out is None:
            return x.astype(dtype.np)
        np.copyto(out, x, casting="unsafe")
    return out


@kernel(m.Where, out=True)
def where(op, cond, x, y, out=None):
    if out is None:
        return np.where(cond, x, y)
    np.copyto(out, y)
    np.copyto(out, x, where=cond)
    return out
